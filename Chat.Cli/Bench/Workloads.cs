using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Chat.Protocol;

namespace Chat.Cli.Bench;

/// <summary>Settings shared by the workloads; each workload reads the ones it needs.</summary>
public sealed record BenchOptions
{
    /// <summary>The node to load, or a comma-separated list of a cluster's nodes: users are spread over them round robin.</summary>
    public required string Server { get; init; }
    public int Users { get; init; } = 200;
    public int Messages { get; init; } = 500;
    public int Size { get; init; } = 100;
    public int Window { get; init; } = 100;
    public int Connections { get; init; } = 10_000;
    public int Groups { get; init; } = 10;
    public int GroupSize { get; init; } = 50;
    /// <summary>restart workload: "prepare" (create users with history, save their tokens) or "check" (log them all in after a restart).</summary>
    public string Phase { get; init; } = "prepare";
    /// <summary>restart workload: where the prepared accounts are kept between the phases.</summary>
    public string StateFile { get; init; } = "restart-accounts.txt";
    public int? ServerPid { get; init; }
    public int MediaBytes { get; init; } = 64 << 20;
    /// <summary>connections: keep them open and idle this long, measuring the node's CPU.</summary>
    public TimeSpan Hold { get; init; } = TimeSpan.Zero;
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(5);
    /// <summary>Registrations and logins at once.</summary>
    public int SetupConcurrency { get; init; } = 64;
    /// <summary>
    /// How the bench's clients acknowledge what they read (see <see cref="EntryAcks"/>): 1, every entry on its own;
    /// N &gt; 1, every N-th and the last; 0, the last of each read.
    /// </summary>
    public int AckEvery { get; init; } = 1;
    /// <summary>open: where to write the slowest 1 % of the measured messages (none when null).</summary>
    public string? SlowLog { get; init; }
    /// <summary>open: messages offered per second, all senders together.</summary>
    public int Rate { get; init; } = 1000;
    /// <summary>open: how long messages are offered.</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(20);
    /// <summary>
    /// open: how long messages are offered at the same rate before <see cref="Duration"/>, left out of the latency and
    /// CPU figures (still checked for loss, order and duplicates): the node's state after start-up, not during it.
    /// </summary>
    public TimeSpan Warmup { get; init; } = TimeSpan.Zero;
    /// <summary>open: how far the load generator may fall behind its timetable before it stops offering.</summary>
    public TimeSpan MaxLag { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>open: messages sent and not yet received beyond which it stops offering (default: <see cref="MaxLag"/> worth at <see cref="Rate"/>).</summary>
    public int? MaxInFlight { get; init; }
    /// <summary>open: how long after the last message was due the bench waits for the rest (and then for their receipts).</summary>
    public TimeSpan Grace { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>open: called on the timetable's thread as message k falls due, before it is sent; tests pause the load generator here.</summary>
    internal Action<int>? OnDue { get; init; }

    /// <summary>
    /// The address list for user (or connection) <paramref name="i"/>: every address of <see cref="Server"/>, starting
    /// at the i-th round robin, so users spread evenly over the nodes and each can still fail over to the others.
    /// </summary>
    public string ServerFor(int i)
    {
        var all = ServerAddress.ParseList(Server);
        var start = i % all.Count;
        return ServerAddress.Join(all.Skip(start).Concat(all.Take(start)));
    }
}

/// <summary>One workload's figures, in the field order the JSON line uses.</summary>
public sealed class BenchResult(string workload)
{
    public string Workload { get; } = workload;
    public List<KeyValuePair<string, object>> Fields { get; } = [];
    public bool TimedOut { get; set; }
    /// <summary>Why the workload stopped before doing all it was asked to (null when it did not): its figures cover less.</summary>
    public string? Stopped { get; private set; }

    public BenchResult Add(string name, object value)
    {
        Fields.Add(new(name, value));
        return this;
    }

    public BenchResult WithStop(string? reason)
    {
        Stopped = reason;
        return this;
    }

    public object this[string name] => Fields.First(f => f.Key == name).Value;
}

/// <summary>
/// Load generators driving a node over the real protocol with real <see cref="ChatClient"/>s (<see cref="LeanLink"/>s
/// for <c>direct</c> and <c>open</c>): every client logs in, acknowledges what it receives and drains its receipts, as
/// a real client does.
/// All loops are bounded by count and by <see cref="BenchOptions.Timeout"/>.
/// </summary>
public static partial class Workloads
{
    private sealed record Account(string UserId, string Token);

    public static async Task<BenchResult> OfflineAsync(BenchOptions o, Action<string>? progress = null)
    {
        var pairs = Math.Max(1, o.Users / 2);
        using var deadline = new CancellationTokenSource(o.Timeout);
        var accounts = await RegisterAsync(o, pairs * 2, "o", deadline.Token);
        var senders = await LoginAllAsync(o, accounts[..pairs], "bench", deadline.Token);
        progress?.Invoke($"{pairs} senders logged in; receivers offline");
        var padding = new string('x', Math.Max(0, o.Size - 16));
        var expected = (long)pairs * o.Messages;

        var senderAcks = senders.Select(c => new EntryAcks(c.Ack, o.AckEvery)).ToArray();
        var drains = Enumerable.Range(0, pairs).Select(i => DrainAsync(senders[i], senderAcks[i], deadline.Token)).ToList();
        var store = Stopwatch.StartNew();
        var timedOut = false;
        try
        {
            await Task.WhenAll(Enumerable.Range(0, pairs).Select(pair => Task.Run(async () =>
            {
                var gate = new SemaphoreSlim(o.Window);
                var sends = new List<Task>(o.Messages);
                for (var n = 1; n <= o.Messages; n++)
                {
                    await gate.WaitAsync(deadline.Token);
                    var send = senders[pair].SendAsync(accounts[pairs + pair].UserId, $"{n}:0:{padding}", $"o{n}", deadline.Token);
                    sends.Add(send.ContinueWith(_ => gate.Release(), TaskScheduler.Default));
                }
                await Task.WhenAll(sends);
            })));
        }
        catch (OperationCanceledException) { timedOut = true; }
        var storeSeconds = store.Elapsed.TotalSeconds;
        progress?.Invoke($"{expected} stored in {storeSeconds:0.0} s; receivers log in");

        long delivered = 0;
        var drain = Stopwatch.StartNew();
        ChatClient[] receivers = [];
        EntryAcks[] receiverAcks = [];
        if (!timedOut)
        {
            receivers = await LoginAllAsync(o, accounts[pairs..], "bench", deadline.Token);
            receiverAcks = receivers.Select(r => new EntryAcks(r.Ack, o.AckEvery)).ToArray();
            drain.Restart();
            try
            {
                await Task.WhenAll(receivers.Select((r, i) => Task.Run(async () =>
                {
                    await r.SyncAsync(0, deadline.Token);
                    var got = 0;
                    while (got < o.Messages && await r.Entries.WaitToReadAsync(deadline.Token))
                    {
                        while (r.Entries.TryRead(out var f))
                        {
                            receiverAcks[i].Read(ChatClient.SeqOf(f));
                            if (f is Message) { got++; Interlocked.Increment(ref delivered); }
                        }
                        receiverAcks[i].EndOfBatch();
                    }
                    receiverAcks[i].Finish();
                })));
            }
            catch (OperationCanceledException) { timedOut = true; }
        }
        var drainSeconds = drain.Elapsed.TotalSeconds;
        await deadline.CancelAsync();
        await Task.WhenAll(drains.Select(Quietly));
        await DisposeAllAsync(senders);
        await DisposeAllAsync(receivers);
        return new BenchResult("offline") { TimedOut = timedOut }
            .Add("sent", expected).Add("store_s", Round(storeSeconds))
            .Add("stored_per_s", Math.Round(expected / storeSeconds))
            .Add("drain_s", Round(drainSeconds)).Add("drained_per_s", Math.Round(delivered / drainSeconds))
            .Add("delivered", delivered).Add("lost", expected - delivered)
            .Add("ack_every", o.AckEvery).Add("acks_sent", EntryAcks.Total(receiverAcks)).Add("receipt_acks_sent", EntryAcks.Total(senderAcks));
    }

    /// <summary>
    /// Measures recovery. <c>prepare</c>: <see cref="BenchOptions.Users"/> users, each sent
    /// <see cref="BenchOptions.Messages"/> texts, tokens saved to <see cref="BenchOptions.StateFile"/>. Then the node is
    /// restarted (by bench/run.sh or by hand) and <c>check</c> logs every user in and syncs: the time until every
    /// user has been served its whole inbox is what a restart costs. Users stay connected until all are served, as
    /// clients do after a restart; the connections close after the measurement.
    /// </summary>
    public static async Task<BenchResult> RestartAsync(BenchOptions o, Action<string>? progress = null)
    {
        using var deadline = new CancellationTokenSource(o.Timeout);
        if (o.Phase == "prepare")
        {
            var accounts = await RegisterAsync(o, o.Users, "r", deadline.Token);
            var clock = Stopwatch.StartNew();
            await using (var sender = await ChatClient.ConnectAsync(o.ServerFor(0), cancellationToken: deadline.Token))
            {
                await sender.LoginAsync(accounts[0].Token, deadline.Token);
                var sends = new List<Task>();
                var gate = new SemaphoreSlim(Math.Max(1, o.Window));
                for (var m = 0; m < o.Messages; m++)
                    foreach (var a in accounts)
                    {
                        await gate.WaitAsync(deadline.Token);
                        sends.Add(sender.SendAsync(a.UserId, $"history {m}", $"r{m}-{a.UserId}", deadline.Token)
                            .ContinueWith(_ => gate.Release(), TaskScheduler.Default));
                    }
                await Task.WhenAll(sends);
            }
            await File.WriteAllLinesAsync(o.StateFile, accounts.Select(a => $"{a.UserId} {a.Token}"), deadline.Token);
            progress?.Invoke($"{accounts.Length} users with {o.Messages} messages each; accounts in {o.StateFile}; restart the node, then run --phase check");
            return new BenchResult("restart").Add("phase", "prepare").Add("users", accounts.Length)
                .Add("msgs_per_user", o.Messages).Add("prepare_s", Round(clock.Elapsed.TotalSeconds));
        }
        var saved = (await File.ReadAllLinesAsync(o.StateFile, deadline.Token))
            .Select(l => l.Split(' ')).Select(p => new Account(p[0], p[1])).ToArray();
        long served = 0, failures = 0, entries = 0;
        var links = new LeanLink?[saved.Length];
        var cpu = CpuMeter.Start(o.ServerPid);
        var watch = Stopwatch.StartNew();
        var timedOut = false;
        try
        {
            await Parallel.ForEachAsync(Enumerable.Range(0, saved.Length), new ParallelOptions { MaxDegreeOfParallelism = o.SetupConcurrency, CancellationToken = deadline.Token },
                async (i, ct) =>
                {
                    try
                    {
                        var (link, highest, last) = await LeanLink.OpenAndSyncAllAsync(o.ServerFor(i), i, saved[i].Token, "restart", ct);
                        links[i] = link;
                        Interlocked.Add(ref entries, highest);
                        // served: every stored entry up to the last the node reports arrived before its SyncComplete
                        if (highest == last) Interlocked.Increment(ref served);
                        else Interlocked.Increment(ref failures);
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        Interlocked.Increment(ref failures);
                    }
                });
        }
        catch (OperationCanceledException) { timedOut = true; }
        var seconds = watch.Elapsed.TotalSeconds;
        var used = cpu.Stop();
        foreach (var link in links)
            if (link is not null) await link.DisposeAsync();
        var result = new BenchResult("restart") { TimedOut = timedOut }.Add("phase", "check").Add("users", saved.Length)
            .Add("served", served).Add("failures", failures).Add("entries_synced", entries)
            .Add("serve_all_s", Round(seconds)).Add("users_per_s", Math.Round(served / seconds));
        // what a returning user costs each side: the node's figure is the one a restart's length follows
        return used.AddTo(result, ("user", served));
    }

    public static async Task<BenchResult> ConnectionsAsync(BenchOptions o, Action<string>? progress = null)
    {
        using var deadline = new CancellationTokenSource(o.Timeout);
        const int devicesPerUser = 50;
        var users = (o.Connections + devicesPerUser - 1) / devicesPerUser;
        var accounts = await RegisterAsync(o, users, "c", deadline.Token);
        long? rssBefore = o.ServerPid is { } pid ? Rss(pid) : null;
        var clients = new ConcurrentBag<ChatClient>();
        long failures = 0;
        var login = Stopwatch.StartNew();
        var timedOut = false;
        try
        {
            await Parallel.ForEachAsync(Enumerable.Range(0, o.Connections),
                new ParallelOptions { MaxDegreeOfParallelism = o.SetupConcurrency, CancellationToken = deadline.Token },
                async (i, ct) =>
                {
                    try
                    {
                        var c = await ChatClient.ConnectAsync(o.ServerFor(i), new ChatClientOptions { Device = $"d{i}", EntryBuffer = 16 }, ct);
                        await c.LoginAsync(accounts[i / devicesPerUser].Token, ct);
                        clients.Add(c);
                        if (clients.Count % 2000 == 0) progress?.Invoke($"{clients.Count} connections");
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        Interlocked.Increment(ref failures);
                    }
                });
        }
        catch (OperationCanceledException) { timedOut = true; }
        var loginSeconds = login.Elapsed.TotalSeconds;
        long? rssAfter = null;
        if (o.ServerPid is { } p)
        {
            await Task.Delay(1000); // let the node settle before reading its memory
            rssAfter = Rss(p);
        }
        var result = new BenchResult("connections") { TimedOut = timedOut }
            .Add("connections", clients.Count).Add("login_s", Round(loginSeconds))
            .Add("logins_per_s", Math.Round(clients.Count / loginSeconds)).Add("failures", failures);
        if (rssBefore is { } before && rssAfter is { } after)
            result.Add("server_rss_before_bytes", before).Add("server_rss_after_bytes", after)
                .Add("server_rss_delta_per_conn_bytes", clients.Count > 0 ? (after - before) / clients.Count : 0);
        if (o.ServerPid is { } server && o.Hold > TimeSpan.Zero && CpuMeter.ProcessSeconds(server) is { } cpuBefore)
        {
            // the connections stay open and idle (keep-alive pings only): what does the node spend on them?
            var held = Stopwatch.StartNew();
            await Task.Delay(o.Hold);
            if (CpuMeter.ProcessSeconds(server) is { } cpuAfter)
                result.Add("hold_s", Round(held.Elapsed.TotalSeconds))
                    .Add("server_idle_cpu_percent", Round(100 * (cpuAfter - cpuBefore) / held.Elapsed.TotalSeconds));
        }
        await DisposeAllAsync(clients.ToArray());
        return result;
    }

    /// <summary>
    /// One user uploads a file of <see cref="BenchOptions.MediaBytes"/> (an MP4 header, then random bytes) and downloads
    /// it again, verifying the hash; with a server pid, the node's resident memory is sampled every 20 ms throughout.
    /// </summary>
    public static async Task<BenchResult> MediaAsync(BenchOptions o, Action<string>? progress = null)
    {
        using var deadline = new CancellationTokenSource(o.Timeout);
        var account = (await RegisterAsync(o with { SetupConcurrency = 1 }, 1, "media", deadline.Token))[0];
        await using var client = await ChatClient.ConnectAsync(o.ServerFor(0), new ChatClientOptions { Device = "bench" }, deadline.Token);
        await client.LoginAsync(account.Token, deadline.Token);
        var data = new byte[o.MediaBytes];
        new Random(7).NextBytes(data);
        byte[] header = [0, 0, 0, 0x20, (byte)'f', (byte)'t', (byte)'y', (byte)'p', (byte)'i', (byte)'s', (byte)'o', (byte)'m'];
        header.CopyTo(data, 0);

        long? rssBefore = o.ServerPid is { } pid ? Rss(pid) : null;
        long rssPeak = rssBefore ?? 0;
        using var sampling = new CancellationTokenSource();
        var sampler = o.ServerPid is { } p
            ? Task.Run(async () =>
            {
                while (!sampling.IsCancellationRequested)
                {
                    if (Rss(p) is { } rss && rss > rssPeak) rssPeak = rss;
                    try { await Task.Delay(20, sampling.Token); } catch (OperationCanceledException) { }
                }
            })
            : Task.CompletedTask;
        var result = new BenchResult("media").Add("size_bytes", (long)data.Length);
        try
        {
            var upload = Stopwatch.StartNew();
            var done = await client.UploadAsync(new MemoryStream(data), "video/mp4", cancellationToken: deadline.Token);
            var uploadSeconds = upload.Elapsed.TotalSeconds;
            progress?.Invoke($"uploaded {done.MediaId} in {uploadSeconds:0.00} s");
            var download = Stopwatch.StartNew();
            using var copy = new MemoryStream(data.Length);
            await client.DownloadAsync(done.MediaId, copy, cancellationToken: deadline.Token);
            var downloadSeconds = download.Elapsed.TotalSeconds;
            var verified = copy.GetBuffer().AsSpan(0, (int)copy.Length).SequenceEqual(data);
            result.Add("upload_s", Round(uploadSeconds)).Add("upload_mib_per_s", Round(data.Length / 1048576.0 / uploadSeconds))
                .Add("download_s", Round(downloadSeconds)).Add("download_mib_per_s", Round(data.Length / 1048576.0 / downloadSeconds))
                .Add("verified", verified ? 1 : 0);
        }
        catch (OperationCanceledException)
        {
            result.TimedOut = true;
        }
        finally
        {
            sampling.Cancel();
            await sampler;
        }
        if (rssBefore is { } before)
            result.Add("server_rss_before_bytes", before).Add("server_rss_peak_bytes", rssPeak)
                .Add("server_rss_peak_delta_bytes", rssPeak - before);
        return result;
    }

    // ---------- helpers ----------

    private static async Task<Account[]> RegisterAsync(BenchOptions o, int count, string tag, CancellationToken ct)
    {
        var accounts = new Account[count];
        var run = Random.Shared.Next(100_000, 999_999);
        var connections = Enumerable.Range(0, Math.Min(o.SetupConcurrency, count)).ToArray();
        await Parallel.ForEachAsync(connections, new ParallelOptions { CancellationToken = ct }, async (lane, token) =>
        {
            await using var c = await ChatClient.ConnectAsync(o.ServerFor(lane), cancellationToken: token);
            for (var i = lane; i < count; i += connections.Length)
            {
                Registered r;
                try
                {
                    r = await c.RegisterAsync($"bench-{tag}{i}", $"+1{run}{i:D7}".Length <= 16 ? $"+1{run}{i:D7}" : $"+1{run}{i}", null, token);
                }
                catch (VerificationRequiredException)
                {
                    throw new CliException("the node sends verification codes to phones, and bench users have none: " +
                                           "run the node with chat.verification.mode = auto (bench/run.sh does)");
                }
                accounts[i] = new Account(r.UserId, r.Token);
            }
        });
        return accounts;
    }

    private static async Task<ChatClient[]> LoginAllAsync(BenchOptions o, Account[] accounts, string device, CancellationToken ct)
    {
        var clients = new ChatClient[accounts.Length];
        var severalNodes = ServerAddress.ParseList(o.Server).Count > 1;
        await Parallel.ForEachAsync(Enumerable.Range(0, accounts.Length),
            new ParallelOptions { MaxDegreeOfParallelism = o.SetupConcurrency, CancellationToken = ct },
            async (i, token) =>
            {
                // With several nodes a user's client reconnects to the next one, as a cluster's clients do, so a node
                // stopped during a run shows as a pause in the figures rather than lost users.
                var options = new ChatClientOptions { Device = device, AutoReconnect = severalNodes, CoalesceAcks = EntryAcks.Coalesce(o.AckEvery) };
                var c = await ChatClient.ConnectAsync(o.ServerFor(i), options, token);
                await c.LoginAsync(accounts[i].Token, token);
                clients[i] = c;
            });
        return clients;
    }

    /// <summary>Reads and acknowledges everything (receipts, for senders), as a client does.</summary>
    private static async Task DrainAsync(ChatClient c, EntryAcks acks, CancellationToken ct)
    {
        try
        {
            while (await c.Entries.WaitToReadAsync(ct))
            {
                while (c.Entries.TryRead(out var f)) acks.Read(ChatClient.SeqOf(f));
                acks.EndOfBatch();
            }
        }
        catch (OperationCanceledException) { }
        acks.Finish();
    }

    /// <summary>The number a bench text starts with ("k:..."), or -1.</summary>
    private static int KeyOf(string text)
    {
        var colon = text.IndexOf(':');
        return colon > 0 && int.TryParse(text.AsSpan(0, colon), NumberStyles.None, CultureInfo.InvariantCulture, out var k) ? k : -1;
    }

    private static (int N, long Ticks) Parse(string text)
    {
        var a = text.IndexOf(':');
        var b = text.IndexOf(':', a + 1);
        return (int.Parse(text.AsSpan(0, a)), long.Parse(text.AsSpan(a + 1, b - a - 1)));
    }

    private static async Task Quietly(Task t)
    {
        try { await t; } catch (Exception) { /* the figures say what was lost */ }
    }

    private static async Task DisposeAllAsync(IEnumerable<ChatClient> clients)
    {
        await Task.WhenAll(clients.Where(c => c is not null).Select(c => c.DisposeAsync().AsTask()));
    }

    private static double Round(double v) => Math.Round(v, 3);

    private static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? 0 : Round(sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p / 100.0 * sorted.Length) - 1)]);

    private static long? Rss(int pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        }
        catch (IOException) { }
        return null;
    }

    /// <summary>The result as one JSON object, fields in order.</summary>
    public static string ToJson(BenchResult r)
    {
        using var stream = new MemoryStream();
        using (var w = new System.Text.Json.Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            w.WriteString("workload", r.Workload);
            foreach (var (k, v) in r.Fields)
            {
                switch (v)
                {
                    case int i: w.WriteNumber(k, i); break;
                    case long l: w.WriteNumber(k, l); break;
                    case double d: w.WriteNumber(k, d); break;
                    default: w.WriteString(k, v.ToString()); break;
                }
            }
            w.WriteBoolean("timed_out", r.TimedOut);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }
}
