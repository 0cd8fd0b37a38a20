using System.Net.Sockets;
using Chat.Cli.Commands;
using Chat.Protocol;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Chat.Cli;

/// <summary>
/// Entry point of the <c>chat</c> terminal client. <see cref="Run"/> is self-contained (a new console,
/// profile store and command app per call), so tests can call it many times in one process.
/// </summary>
public static class Program
{
    /// <summary>Exit code of expected failures: server errors, connection problems, missing profiles.</summary>
    public const int Failed = 1;
    /// <summary>Exit code of bad command lines: unknown commands or options, missing or invalid values.</summary>
    public const int BadArguments = 2;
    /// <summary>Exit code when cancelled (Ctrl-C) outside of listen, where Ctrl-C is the normal way to stop.</summary>
    public const int Cancelled = 130;

    public static async Task<int> Main(string[] args)
    {
        if (args is ["bench", "open" or "direct" or "group", ..]) AnswerOnTheSocketThread();
        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            if (cancel.IsCancellationRequested) return; // a second Ctrl-C kills the process
            e.Cancel = true;
            cancel.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            return await Run(args, cancellationToken: cancel.Token);
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    /// <summary>
    /// Has the runtime run what follows a socket read on the thread that saw the socket ready, instead of handing it to
    /// the thread pool. The connections of <c>chat bench open</c>, <c>direct</c> and <c>group</c>
    /// (<see cref="Bench.LeanLink"/>) decode, count, acknowledge and send the next message without ever blocking, so the
    /// hand-off is pure cost: measured for <c>open</c> at 6,000 messages/s, 72 µs of the generator's CPU per message
    /// instead of 99 (bench/RESULTS.md). Read once, when the process first uses a socket; a value already set in the
    /// environment is left as it is.
    /// </summary>
    private static void AnswerOnTheSocketThread()
    {
        const string inline = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";
        if (Environment.GetEnvironmentVariable(inline) is null) Environment.SetEnvironmentVariable(inline, "1");
    }

    /// <summary>Runs one command line. Output for scripts and people goes to <paramref name="stdout"/>
    /// (default: the current <see cref="Console.Out"/>), errors to the current <see cref="Console.Error"/>; what a command
    /// asks for (the verification code of <c>register</c>) is read from <paramref name="stdin"/> (default: <see cref="Console.In"/>).</summary>
    public static Task<int> Run(string[] args, TextWriter? stdout = null, CancellationToken cancellationToken = default, TextReader? stdin = null)
    {
        var console = CreateConsole(stdout ?? Console.Out, terminal: stdout is null && !Console.IsOutputRedirected);
        var stderr = Console.Error;
        // `chat` alone in a terminal opens the chat when the default profile exists (help otherwise, as before)
        if (args.Length == 0 && stdout is null && !Console.IsInputRedirected && !Console.IsOutputRedirected
            && ProfileStore.FromEnvironment().Exists("default"))
            args = ["open"];
        var app = new CommandApp();
        app.Configure(config =>
        {
            config.SetApplicationName("chat");
            config.ConfigureConsole(console);
            config.Settings.Registrar.RegisterInstance(ProfileStore.FromEnvironment());
            config.Settings.Registrar.RegisterInstance(new CodeInput(stdin ?? Console.In));
            config.SetExceptionHandler((e, _) => Report(e, stderr));
            AddCommands(config);
        });
        return app.RunAsync(args, cancellationToken);
    }

    private static void AddCommands(IConfigurator config)
    {
        config.AddCommand<RegisterCommand>("register")
            .WithDescription("Create a user on a server and save it as a profile: asks for the code sent to the phone (or --code); prints the user id")
            .WithExample("register", "--server", "localhost:7400", "--profile", "alice", "--name", "Alice", "--phone", "+4915112345678")
            .WithExample("register", "--server", "a:7400,b:7400,c:7400", "--profile", "bob", "--name", "Bob", "--phone", "+4915187654321")
            .WithExample("register", "--server", "localhost:7400", "--profile", "alice", "--name", "Alice", "--phone", "+4915112345678", "--code", "123456");
        config.AddCommand<SendCommand>("send")
            .WithDescription("Send a text, image or video (--file) to a phone number (+...), a user id or a group (--group); prints the message id")
            .WithExample("send", "--profile", "alice", "--to", "+4915187654321", "hello", "bob")
            .WithExample("send", "--profile", "alice", "--group", "gabcdefghijklmnop", "hello", "all")
            .WithExample("send", "--profile", "alice", "--to", "+4915187654321", "--file", "beach.jpg", "--caption", "look!");
        config.AddCommand<DownloadCommand>("download")
            .WithDescription("Download an image or video by media id (from listen) and check it; prints its type and size")
            .WithExample("download", "--profile", "bob", "mabcdefghijklmnopqrstuvwxyz", "--out", "beach.jpg");
        config.AddCommand<ListenCommand>("listen")
            .WithDescription("Print inbox entries after the profile's saved position, acknowledge them and remember the position")
            .WithExample("listen", "--profile", "bob", "--count", "1", "--timeout", "10", "--json");
        config.AddCommand<ReadCommand>("read")
            .WithDescription("Mark every message from a user, or in a group, read, up to the newest inbox entry")
            .WithExample("read", "--profile", "bob", "--with", "+4915112345678")
            .WithExample("read", "--profile", "bob", "--with", "gabcdefghijklmnop");
        config.AddCommand<OpenCommand>("open")
            .WithDescription("Chat full-screen in the terminal: conversations, names, ticks, groups (? lists the keys). " +
                             "Plain `chat` opens the default profile when there is one")
            .WithExample("open", "--profile", "alice");
        config.AddCommand<WhoamiCommand>("whoami")
            .WithDescription("Show the profile's user id, name, phone and server (or a cluster's servers)");
        config.AddCommand<Bench.BenchCommand>("bench")
            .WithDescription("Load a node on loopback (direct, group, offline, open, connections, restart, media) and print the figures")
            .WithExample("bench", "direct", "--server", "127.0.0.1:7400", "--json")
            .WithExample("bench", "open", "--rate", "1000", "--users", "2000", "--duration", "20", "--server", "127.0.0.1:7400", "--json")
            .WithExample("bench", "direct", "--server", "127.0.0.1:7400,127.0.0.1:7401", "--json");

        config.AddBranch<ProfileSettings>("group", group =>
        {
            group.SetDescription("Create groups, manage their members and admins, and show them");
            group.AddCommand<GroupCreateCommand>("create")
                .WithDescription("Create a group with you as admin; prints the group id")
                .WithExample("group", "create", "--profile", "alice", "--name", "Friends", "--members", "+4915187654321,+4915100000000");
            group.AddCommand<GroupAddCommand>("add")
                .WithDescription("Add members (admins only)")
                .WithExample("group", "add", "--profile", "alice", "--group", "gabcdefghijklmnop", "--members", "+4915187654321");
            group.AddCommand<GroupRemoveCommand>("remove")
                .WithDescription("Remove members (admins only)")
                .WithExample("group", "remove", "--profile", "alice", "--group", "gabcdefghijklmnop", "--members", "+4915187654321");
            group.AddCommand<GroupLeaveCommand>("leave")
                .WithDescription("Leave a group")
                .WithExample("group", "leave", "--profile", "bob", "--group", "gabcdefghijklmnop");
            group.AddCommand<GroupRenameCommand>("rename")
                .WithDescription("Rename a group (any member)")
                .WithExample("group", "rename", "--profile", "bob", "--group", "gabcdefghijklmnop", "--name", "Hikers");
            group.AddCommand<GroupImageCommand>("image")
                .WithDescription("Set the group's picture from an image file (any member), or remove it with --clear; prints the media id")
                .WithExample("group", "image", "--profile", "bob", "--group", "gabcdefghijklmnop", "--file", "hikers.jpg");
            group.AddCommand<GroupPromoteCommand>("promote")
                .WithDescription("Make a member an admin (admins only)")
                .WithExample("group", "promote", "--profile", "alice", "--group", "gabcdefghijklmnop", "--member", "+4915187654321");
            group.AddCommand<GroupDemoteCommand>("demote")
                .WithDescription("Make an admin a plain member (admins only)")
                .WithExample("group", "demote", "--profile", "alice", "--group", "gabcdefghijklmnop", "--member", "+4915187654321");
            group.AddCommand<GroupInfoCommand>("info")
                .WithDescription("Show a group's name, members and admins (members only)")
                .WithExample("group", "info", "--profile", "alice", "--group", "gabcdefghijklmnop", "--json");
            group.AddCommand<GroupListCommand>("list")
                .WithDescription("List the groups you belong to")
                .WithExample("group", "list", "--profile", "alice", "--json");
        });

        config.AddBranch<AdminSettings>("admin", admin =>
        {
            admin.SetDescription("Observe and steer a cluster through a node's admin endpoint (the node runs with --admin-port)");
            admin.AddCommand<AdminStatusCommand>("status")
                .WithDescription("Members, their roles, status and reachability, the leader; this node's uptime and version")
                .WithExample("admin", "status", "--node", "127.0.0.1:7401", "--data", "data");
            admin.AddCommand<AdminShardsCommand>("shards")
                .WithDescription("Per shard region (user, group, phone): shards and running entities on each node")
                .WithExample("admin", "shards", "--node", "127.0.0.1:7401", "--token-file", "admin.token", "--json");
            admin.AddCommand<AdminSessionsCommand>("sessions")
                .WithDescription("Connected clients and logged-in sessions on each node")
                .WithExample("admin", "sessions", "--node", "127.0.0.1:7401", "--data", "data");
            admin.AddCommand<AdminUserCommand>("user")
                .WithDescription("A user's id, name, phone, devices online, inbox length and last sequence number (never message text)")
                .WithExample("admin", "user", "+4915112345678", "--node", "127.0.0.1:7401", "--data", "data");
            admin.AddBranch<AdminSettings>("retention", retention =>
            {
                retention.SetDescription("The retention sweep: its last report, or a sweep now");
                retention.AddCommand<AdminRetentionReportCommand>("report")
                    .WithDescription("The last sweep's report")
                    .WithExample("admin", "retention", "report", "--node", "127.0.0.1:7401", "--data", "data");
                retention.AddCommand<AdminRetentionRunCommand>("run")
                    .WithDescription("Sweep now and print the report")
                    .WithExample("admin", "retention", "run", "--node", "127.0.0.1:7401", "--data", "data");
            });
            admin.AddBranch<AdminSettings>("node", node =>
            {
                node.SetDescription("Make a member leave the cluster, or mark it down");
                node.AddCommand<AdminNodeLeaveCommand>("leave")
                    .WithDescription("The member hands its shards and singletons to the others, then stops")
                    .WithExample("admin", "node", "leave", "127.0.0.1:4053", "--node", "127.0.0.1:7401", "--data", "data");
                node.AddCommand<AdminNodeDownCommand>("down")
                    .WithDescription("Mark a member down (one that crashed or is cut off; its shards restart on the others)")
                    .WithExample("admin", "node", "down", "akka.tcp://chat@10.0.0.7:4053", "--node", "127.0.0.1:7401", "--data", "data");
            });
        });
    }

    private static IAnsiConsole CreateConsole(TextWriter writer, bool terminal) => AnsiConsole.Create(new AnsiConsoleSettings
    {
        Out = new AnsiConsoleOutput(writer),
        Ansi = terminal ? AnsiSupport.Detect : AnsiSupport.No,
        ColorSystem = terminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
        Interactive = terminal ? InteractionSupport.Detect : InteractionSupport.No,
    });

    /// <summary>Prints an error without a stack trace (unless it is a bug) and chooses the exit code.</summary>
    private static int Report(Exception error, TextWriter stderr)
    {
        switch (error)
        {
            case CommandAppException bad: // parse and validation errors
                if (bad.Pretty is { } pretty)
                    CreateConsole(stderr, terminal: !Console.IsErrorRedirected && ReferenceEquals(stderr, Console.Error)).Write(pretty);
                else
                    stderr.WriteLine($"error: {bad.Message}");
                return BadArguments;
            case OperationCanceledException:
                return Cancelled;
            case ChatException chat:
                stderr.WriteLine($"error: {chat.Code}: {chat.Message}");
                return Failed;
            case CliException or IOException or UnauthorizedAccessException:
                stderr.WriteLine($"error: {error.Message}");
                return Failed;
            case TimeoutException:
                stderr.WriteLine("error: the server did not answer in time");
                return Failed;
            case SocketException socket:
                stderr.WriteLine($"error: network: {socket.Message}");
                return Failed;
            default:
                stderr.WriteLine($"error: unexpected failure, please report it: {error}");
                return Failed;
        }
    }
}
