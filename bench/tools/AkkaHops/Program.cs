using System.Diagnostics;
using Akka.Actor;

// Akka.NET alone, no node: ACTORS plain actors; RATE messages a second, each passed along HOPS of them (from a random
// one); after a third of SECONDS, the process CPU per message and per hop, the young collections and their mean pause,
// and the latency. With KEEP=0 an actor keeps no reference to the last message it handled (by default it does, as an
// actor with state does). Shows what a collection pays per actor touched since the last one.
//   dotnet run -c Release --project bench/tools/AkkaHops -- 2000 10000 10 15
if (args.Length < 4)
{
    Console.Error.WriteLine("usage: AkkaHops ACTORS RATE HOPS SECONDS");
    return 2;
}
int count = int.Parse(args[0]), rate = int.Parse(args[1]), hops = int.Parse(args[2]), seconds = int.Parse(args[3]);
var keep = Environment.GetEnvironmentVariable("KEEP") != "0";
using var system = ActorSystem.Create("hops", "akka.loglevel = WARNING");
var actors = new IActorRef[count];
var latencies = new List<double>();
for (var i = 0; i < count; i++) actors[i] = system.ActorOf(Props.Create(() => new HopActor(actors, latencies, keep)), "a" + i);
var process = Process.GetCurrentProcess();
var random = new Random(1);
var clock = Stopwatch.StartNew();
long sent = 0, warm = seconds / 3 * (long)rate;
var cpu = TimeSpan.Zero;
var paused = TimeSpan.Zero;
int gen0 = 0, gen1 = 0;
while (clock.Elapsed.TotalSeconds < seconds)
{
    for (var due = (long)(clock.Elapsed.TotalSeconds * rate); sent < due; sent++)
    {
        if (sent == warm)
        {
            process.Refresh();
            (cpu, paused, gen0, gen1) = (process.TotalProcessorTime, GC.GetTotalPauseDuration(), GC.CollectionCount(0), GC.CollectionCount(1));
            lock (latencies) latencies.Clear();
        }
        actors[random.Next(count)].Tell(new Hop(hops, Stopwatch.GetTimestamp(), random.Next(count)));
    }
    Thread.Sleep(1);
}
Thread.Sleep(500);
process.Refresh();
var measured = sent - warm;
var perMessage = (process.TotalProcessorTime - cpu).TotalMilliseconds * 1000 / measured;
var collections = GC.CollectionCount(0) - gen0;
double[] sorted;
lock (latencies) sorted = [.. latencies.Order()];
Console.WriteLine($"actors {count}, {rate}/s, {hops} hops, keep {keep}: {perMessage:0.0} µs CPU per message ({perMessage / hops:0.0} per hop); " +
    $"{collections} young collections ({GC.CollectionCount(1) - gen1} of generation 1), mean pause " +
    $"{(GC.GetTotalPauseDuration() - paused).TotalMilliseconds / Math.Max(1, collections):0.00} ms; latency p50 " +
    $"{sorted[sorted.Length / 2]:0.00} ms, p99 {sorted[(int)(sorted.Length * 0.99)]:0.00} ms");
return 0;

internal sealed record Hop(int Left, long Start, int Next);

internal sealed class HopActor : ReceiveActor
{
    private object? _last;

    public HopActor(IActorRef[] all, List<double> latencies, bool keep) => Receive<Hop>(hop =>
    {
        if (keep) _last = hop;
        if (hop.Left > 1)
        {
            all[hop.Next].Tell(new Hop(hop.Left - 1, hop.Start, (hop.Next * 7919 + 13) % all.Length));
            return;
        }
        var ms = (Stopwatch.GetTimestamp() - hop.Start) * 1000.0 / Stopwatch.Frequency;
        lock (latencies) latencies.Add(ms);
    });

    public object? Last => _last;
}
