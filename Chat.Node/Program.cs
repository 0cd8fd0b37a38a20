using Chat.Node.Hosting;

namespace Chat.Node;

public static class Program
{
    private const string Usage = """
        usage: chat-node [--host ADDR] [--port PORT] [--data DIR] [--config FILE]...
          --host ADDR     address to accept clients on (default 127.0.0.1; env CHAT_HOST)
          --port PORT     client port, 0 picks a free one (default 7400; env CHAT_PORT)
          --data DIR      data directory for the SQLite database (default ./data; env CHAT_DATA)
          --config FILE   HOCON file layered over hocon/ (repeatable; later files win)
        """;

    public static async Task<int> Main(string[] args)
    {
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
        ChatNode node;
        try
        {
            node = await ChatNode.StartAsync(options);
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or FileNotFoundException or ArgumentException)
        {
            Console.Error.WriteLine($"cannot start: {e.Message}");
            return 1;
        }
        Console.WriteLine($"listening on {node.Endpoint.Address}:{node.Endpoint.Port}");
        Console.Out.Flush();
        var stop = new TaskCompletionSource();
        using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(
            System.Runtime.InteropServices.PosixSignal.SIGTERM, ctx => { ctx.Cancel = true; stop.TrySetResult(); });
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.TrySetResult(); };
        await stop.Task;
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
                case "--config": configs.Add(Path.GetFullPath(Value())); break;
                case "-h" or "--help": return null!;
                default: throw new ArgumentException($"unknown argument '{args[i]}'");
            }
        }
        return options with { ConfigFiles = configs, Report = line => Console.WriteLine($"{DateTime.UtcNow:yyyy-MM-dd HH:mm:ss}Z {line}") };
    }
}
