using Chat.Node.Hosting;

namespace Chat.Node;

public static class Program
{
    private const string Usage = """
        usage: chat-node [--host ADDR] [--port PORT] [--data DIR] [--config FILE]... [--admin-port PORT]
                         [--cluster-host ADDR] [--cluster-port PORT] [--seeds HOST:PORT,...] [--roles R,...]
          --host ADDR          address to accept clients on (default 127.0.0.1; env CHAT_HOST)
          --port PORT          client port, 0 picks a free one (default 7400; env CHAT_PORT)
          --data DIR           data directory: SQLite database and media (default ./data; env CHAT_DATA)
          --config FILE        HOCON file layered over hocon/ (repeatable; later files win)
          --admin-port PORT    admin endpoint (health, metrics, chat admin), 0 picks a free one (default off; env CHAT_ADMIN_PORT)
        cluster (docs/operations.md, "Running a cluster"):
          --cluster-host ADDR  address the other nodes reach this node at (default 127.0.0.1; env CHAT_CLUSTER_HOST)
          --cluster-port PORT  cluster port, 0 picks a free one (default 0; env CHAT_CLUSTER_PORT)
          --seeds LIST         seed nodes' cluster addresses, HOST:PORT,HOST:PORT (default none: a cluster of one;
                               env CHAT_SEEDS); a node whose seeds cannot be reached keeps trying
          --roles LIST         cluster roles of this node, comma-separated (env CHAT_ROLES)
        A cluster of several nodes needs a shared store: chat.persistence = postgres with CHAT_POSTGRES.
        Exit codes: 0 stopped by SIGTERM or Ctrl-C, 1 cannot start, 2 bad arguments, 3 removed from the cluster.
        """;

    public static async Task<int> Main(string[] args)
    {
        using var gcPauses = GcPauseLog.FromEnvironment();
        NodeOptions options;
        try
        {
            options = Parse(args);
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine(e.Message);
            Console.Error.WriteLine(Usage);
            return 2;
        }
        if (options is null)
        {
            Console.WriteLine(Usage);
            return 0;
        }
        // signals are taken before start: a node still waiting for its seed nodes stops cleanly too
        // (cancelled off the signal's thread: cancelling runs the start-up's continuations, which may end Main while the
        // handler still runs; the source is never disposed for the same reason)
        var stopping = new CancellationTokenSource();
        var stopRequested = false;
        void Stop()
        {
            Volatile.Write(ref stopRequested, true);
            ThreadPool.QueueUserWorkItem(_ => stopping.Cancel());
        }
        using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(
            System.Runtime.InteropServices.PosixSignal.SIGTERM, ctx => { ctx.Cancel = true; Stop(); });
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; Stop(); };
        ChatNode node;
        try
        {
            node = await ChatNode.StartAsync(options, stopping.Token);
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or FileNotFoundException or ArgumentException or StartupException)
        {
            Console.Error.WriteLine($"cannot start: {e.Message}");
            return 1;
        }
        catch (OperationCanceledException)
        {
            // by our handler or by the host's own console lifetime, whichever saw the signal first
            Console.WriteLine("stopped before start-up finished");
            return 0;
        }
        if (node.AdminEndpoint is { } admin) Console.WriteLine($"admin on {admin.Address}:{admin.Port}");
        Console.WriteLine($"listening on {node.Endpoint.Address}:{node.Endpoint.Port}");
        Console.Out.Flush();
        var signalled = Task.Delay(Timeout.Infinite, stopping.Token).ContinueWith(_ => { }, TaskScheduler.Default);
        // the actor system also ends when the cluster downs this node (the split-brain resolver keeps the other side);
        // such a node cannot serve anyone, so it exits with an error and its supervisor starts it again
        // (Akka also hears SIGTERM and may stop the actor system before the handler above runs: that is a stop, and the
        // actor system's shutdown reason tells the two apart)
        if (await Task.WhenAny(signalled, node.System.WhenTerminated) != signalled && !Volatile.Read(ref stopRequested) &&
            Akka.Actor.CoordinatedShutdown.Get(node.System).ShutdownReason is Akka.Actor.CoordinatedShutdown.ClusterDowningReason)
        {
            Console.Error.WriteLine("the node was removed from the cluster (downed by the split-brain resolver or an operator); exiting");
            await node.DisposeAsync();
            return 3;
        }
        Console.WriteLine("stopping");
        await node.DisposeAsync();
        Console.WriteLine("stopped");
        return 0;
    }

    private static NodeOptions Parse(string[] args)
    {
        var options = new NodeOptions();
        var configs = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--host": options = options with { Host = Value() }; break;
                case "--port":
                    var p = Value();
                    if (!int.TryParse(p, out var port) || port is < 0 or > 65535) throw new ArgumentException($"--port must be 0-65535, not '{p}'");
                    options = options with { Port = port };
                    break;
                case "--data": options = options with { DataDirectory = Value() }; break;
                case "--admin-port":
                    var ap = Value();
                    if (!int.TryParse(ap, out var adminPort) || adminPort is < 0 or > 65535) throw new ArgumentException($"--admin-port must be 0-65535, not '{ap}'");
                    options = options with { AdminPort = adminPort };
                    break;
                case "--config": configs.Add(Path.GetFullPath(Value())); break;
                case "--cluster-host": options = options with { ClusterHost = Value() }; break;
                case "--cluster-port":
                    var cp = Value();
                    if (!int.TryParse(cp, out var clusterPort) || clusterPort is < 0 or > 65535)
                        throw new ArgumentException($"--cluster-port must be 0-65535, not '{cp}'");
                    options = options with { ClusterPort = clusterPort };
                    break;
                case "--seeds": options = options with { Seeds = List(Value()) }; break;
                case "--roles": options = options with { Roles = List(Value()) }; break;
                case "-h" or "--help": return null!;
                default: throw new ArgumentException($"unknown argument '{args[i]}'");
            }
        }
        static string[] List(string value) => value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return options with { ConfigFiles = configs, Report = line => Console.WriteLine($"{DateTime.UtcNow:yyyy-MM-dd HH:mm:ss}Z {line}") };
    }
}
