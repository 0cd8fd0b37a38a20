using Chat.Node.Hosting;
using Chat.Node.Logs;

namespace Chat.Node;

public static class Program
{
    private const string Usage = """
        usage: chat-node [--host ADDR] [--port PORT] [--data DIR] [--config FILE]... [--admin-port PORT]
                         [--cluster-host ADDR] [--cluster-port PORT] [--seeds HOST:PORT,...] [--roles R,...]
                         [--log-format text|json]
          --host ADDR          address to accept clients on (default 127.0.0.1; env CHAT_HOST)
          --port PORT          client port, 0 picks a free one (default 7400; env CHAT_PORT)
          --data DIR           data directory: SQLite database and media (default ./data; env CHAT_DATA)
          --config FILE        HOCON file layered over hocon/ (repeatable; later files win)
          --admin-port PORT    admin endpoint (health, metrics, chat admin), 0 picks a free one (default off; env CHAT_ADMIN_PORT)
          --log-format FORMAT  text (default) or json: one JSON object per line, Akka's log events and the node's own
                               lines alike (env CHAT_LOG_FORMAT; docs/operations.md, "Logs")
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
        // first: it may start the program again, and nothing done before it would be kept
        CollectorSettings.Ensure();
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
        var console = new OperatorConsole(LogFormatOf(options));
        options = options with { Report = console.Report };
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
            console.Fail(new OperatorLine("cannot-start", $"cannot start: {e.Message}", [new("reason", e.Message)]));
            return 1;
        }
        catch (OperationCanceledException)
        {
            // by our handler or by the host's own console lifetime, whichever saw the signal first
            console.Say(new OperatorLine("stopped-before-start", "stopped before start-up finished"));
            return 0;
        }
        console.NodeAddress = Akka.Cluster.Cluster.Get(node.System).SelfAddress.ToString();
        var collector = CollectorSettings.Describe();
        console.Say(new OperatorLine("collector", $"garbage collector: {collector}", [new("collector", collector)]));
        if (node.AdminEndpoint is { } admin)
            console.Say(new OperatorLine("admin", $"admin on {admin.Address}:{admin.Port}",
                [new("host", admin.Address.ToString()), new("port", admin.Port)]));
        console.Say(new OperatorLine("listening", $"listening on {node.Endpoint.Address}:{node.Endpoint.Port}",
            [new("host", node.Endpoint.Address.ToString()), new("port", node.Endpoint.Port)]));
        Console.Out.Flush();
        var signalled = Task.Delay(Timeout.Infinite, stopping.Token).ContinueWith(_ => { }, TaskScheduler.Default);
        // the actor system also ends when the cluster downs this node (the split-brain resolver keeps the other side);
        // such a node cannot serve anyone, so it exits with an error and its supervisor starts it again
        // (Akka also hears SIGTERM and may stop the actor system before the handler above runs: that is a stop, and the
        // actor system's shutdown reason tells the two apart)
        if (await Task.WhenAny(signalled, node.System.WhenTerminated) != signalled && !Volatile.Read(ref stopRequested) &&
            Akka.Actor.CoordinatedShutdown.Get(node.System).ShutdownReason is Akka.Actor.CoordinatedShutdown.ClusterDowningReason)
        {
            console.Fail(new OperatorLine("removed-from-cluster",
                "the node was removed from the cluster (downed by the split-brain resolver or an operator); exiting"));
            await node.DisposeAsync();
            return 3;
        }
        console.Say(new OperatorLine("stopping", "stopping"));
        await node.DisposeAsync();
        console.Say(new OperatorLine("stopped", "stopped"));
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
                case "--log-format":
                    var format = Value();
                    LogFormats.Parse(format, "--log-format");
                    options = options with { LogFormat = format };
                    break;
                case "-h" or "--help": return null!;
                default: throw new ArgumentException($"unknown argument '{args[i]}'");
            }
        }
        static string[] List(string value) => value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return options with { ConfigFiles = configs };
    }

    /// <summary>
    /// The log format the node will use (flag, else environment, else configuration), known before start so that a
    /// failure to start is written in it too; a configuration that cannot be read is reported in text unless the flag
    /// or the environment said otherwise.
    /// </summary>
    private static LogFormat LogFormatOf(NodeOptions options)
    {
        try
        {
            return ChatSettings.From(ChatNode.LoadConfig(options)).LogFormat;
        }
        catch (Exception)
        {
            var named = options.LogFormat ?? Environment.GetEnvironmentVariable("CHAT_LOG_FORMAT");
            return named?.Trim().ToLowerInvariant() == "json" ? LogFormat.Json : LogFormat.Text;
        }
    }
}
