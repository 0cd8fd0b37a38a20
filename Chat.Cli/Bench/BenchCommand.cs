using System.ComponentModel;
using Chat.Protocol;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Chat.Cli.Bench;

internal sealed class BenchSettings : CommandSettings
{
    [CommandArgument(0, "<WORKLOAD>")]
    [Description("direct, group, offline, open, connections, restart or media")]
    public string Workload { get; set; } = "";

    [CommandOption("-s|--server <HOST:PORT>")]
    [Description("The node to load (loopback only), or a comma-separated list of a cluster's nodes: users are spread over them " +
                 "round robin, and each user's client is given the whole list (from its own node on) to fail over to")]
    public string Server { get; set; } = "127.0.0.1:7400";

    [CommandOption("--users <U>")] [Description("Users logged in: U/2 sender→receiver pairs (default 200; open: 2000)")]
    public int? Users { get; set; }

    [CommandOption("--messages <M>")] [Description("Texts each sender sends (default 500; group: 20 per member)")]
    public int? Messages { get; set; }

    [CommandOption("--size <BYTES>")] [DefaultValue(100)] [Description("Bytes of each text")]
    public int Size { get; set; } = 100;

    [CommandOption("--window <W>")] [Description("direct: texts per sender sent but not yet received (default 100); group: per member not yet accepted (default 1)")]
    public int? Window { get; set; }

    [CommandOption("--groups <G>")] [DefaultValue(10)] [Description("Groups (group workload)")]
    public int Groups { get; set; } = 10;

    [CommandOption("--size-members <S>")] [DefaultValue(50)] [Description("Members per group (group workload)")]
    public int GroupSize { get; set; } = 50;

    [CommandOption("--connections <C>")] [DefaultValue(10_000)] [Description("Idle logged-in connections (connections workload)")]
    public int Connections { get; set; } = 10_000;

    [CommandOption("--media-mib <MIB>")] [DefaultValue(64)] [Description("media: size of the uploaded video in MiB (at most the node's video limit)")]
    public int MediaMib { get; set; } = 64;

    [CommandOption("--hold <SECONDS>")] [DefaultValue(0)] [Description("connections: keep them open and idle this long and report the node's CPU use (needs --server-pid)")]
    public int Hold { get; set; }

    [CommandOption("--server-pid <PID>")] [Description("The node's process id, to report its memory and (direct, group, open, restart) its CPU per message or user")]
    public int? ServerPid { get; set; }

    [CommandOption("--rate <R>")] [DefaultValue(1000)] [Description("open: messages offered per second, all senders together, on a fixed timetable")]
    public int Rate { get; set; } = 1000;

    [CommandOption("--duration <SECONDS>")] [DefaultValue(20)] [Description("open: how long messages are offered")]
    public int Duration { get; set; } = 20;

    [CommandOption("--warmup <SECONDS>")] [DefaultValue(0)]
    [Description("open: offer at the same rate this long first, left out of the latency and CPU figures (still checked for loss and order)")]
    public int Warmup { get; set; }

    [CommandOption("--ack-every <N>")] [DefaultValue(1)]
    [Description("Receivers acknowledge every entry with its own Ack (1, as a client storing each message does), every N-th entry " +
                 "and the last, or (0) the last of each batch read at once")]
    public int AckEvery { get; set; } = 1;

    [CommandOption("--slow-log <FILE>")]
    [Description("open: write the slowest 1 % of the measured messages to FILE, one line each (due time in UTC, latency in ms), to match stalls with the node's log")]
    public string? SlowLog { get; set; }

    [CommandOption("--max-lag <SECONDS>")] [DefaultValue(5)] [Description("open: stop offering (and say so) when this far behind the timetable")]
    public int MaxLag { get; set; } = 5;

    [CommandOption("--max-in-flight <N>")] [Description("open: stop offering (and say so) when this many messages are sent and not received (default: rate × max-lag)")]
    public int? MaxInFlight { get; set; }

    [CommandOption("--grace <SECONDS>")] [DefaultValue(10)] [Description("open: after the last message was due, how long to wait for the rest (a message not received by then is lost), then for receipts")]
    public int Grace { get; set; } = 10;

    [CommandOption("--timeout <SECONDS>")] [DefaultValue(300)] [Description("Stop and report what was seen after this long")]
    public int Timeout { get; set; } = 300;

    [CommandOption("--phase <PHASE>")] [DefaultValue("prepare")] [Description("restart: prepare (users with history) or check (after the node restarted)")]
    public string Phase { get; set; } = "prepare";

    [CommandOption("--state <FILE>")] [DefaultValue("restart-accounts.txt")] [Description("restart: where prepare saves the accounts for check")]
    public string StateFile { get; set; } = "restart-accounts.txt";

    [CommandOption("--json")] [Description("End with one JSON line of the figures")]
    public bool Json { get; set; }

    public override ValidationResult Validate()
    {
        if (Workload is not ("direct" or "group" or "offline" or "open" or "connections" or "restart" or "media"))
            return ValidationResult.Error($"unknown workload '{Workload}': use direct, group, offline, open, connections, restart or media");
        if (MediaMib is < 1 or > 1024) return ValidationResult.Error("--media-mib is 1 to 1024");
        if (Phase is not ("prepare" or "check")) return ValidationResult.Error("--phase is prepare or check");
        IReadOnlyList<ServerAddress> servers;
        try
        {
            servers = ServerAddress.ParseList(Server);
        }
        catch (ArgumentException)
        {
            return ValidationResult.Error($"--server must be HOST:PORT or a comma-separated list of them, got '{Server}'");
        }
        foreach (var host in servers.Select(s => s.Host))
            if (host is not ("127.0.0.1" or "localhost" or "::1" or "[::1]") && !host.StartsWith("127.", StringComparison.Ordinal))
                return ValidationResult.Error("bench only targets loopback addresses (127.0.0.0/8, localhost, ::1)");
        if (Users < 2 || Messages < 1 || Size < 32 || Window < 1 || Connections < 1 || Timeout < 1 || Groups < 1 || GroupSize < 2)
            return ValidationResult.Error("users >= 2, messages >= 1, size >= 32, window >= 1, connections >= 1, timeout >= 1, groups >= 1, size-members >= 2");
        if (Rate < 1 || Duration < 1 || Warmup < 0 || AckEvery < 0 || MaxLag < 1 || MaxInFlight < 1 || Grace < 1)
            return ValidationResult.Error("rate >= 1, duration >= 1, warmup >= 0, ack-every >= 0, max-lag >= 1, max-in-flight >= 1, grace >= 1");
        if ((long)Rate * ((long)Duration + Warmup) > Workloads.MaxOpenMessages)
            return ValidationResult.Error($"open offers at most {Workloads.MaxOpenMessages:N0} messages (rate × (warmup + duration))");
        return ValidationResult.Success();
    }
}

/// <summary><c>chat bench WORKLOAD</c>: drives a running node and prints what it measured.</summary>
internal sealed class BenchCommand(IAnsiConsole console) : AsyncCommand<BenchSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, BenchSettings s, CancellationToken cancellationToken)
    {
        var options = new BenchOptions
        {
            Server = s.Server, Users = s.Users ?? (s.Workload == "open" ? 2000 : 200), Size = s.Size,
            Messages = s.Messages ?? (s.Workload == "group" ? 20 : 500),
            Window = s.Window ?? (s.Workload == "group" ? 1 : 100),
            Groups = s.Groups, GroupSize = s.GroupSize, Phase = s.Phase, StateFile = s.StateFile,
            Connections = s.Connections, ServerPid = s.ServerPid, MediaBytes = s.MediaMib << 20, Hold = TimeSpan.FromSeconds(s.Hold), Timeout = TimeSpan.FromSeconds(s.Timeout),
            AckEvery = s.AckEvery, Rate = s.Rate, Duration = TimeSpan.FromSeconds(s.Duration), Warmup = TimeSpan.FromSeconds(s.Warmup), MaxLag = TimeSpan.FromSeconds(s.MaxLag),
            MaxInFlight = s.MaxInFlight, SlowLog = s.SlowLog, Grace = TimeSpan.FromSeconds(s.Grace),
        };
        var output = console.Profile.Out.Writer;
        void Progress(string line) => output.WriteLine($"# {line}");
        var result = s.Workload switch
        {
            "direct" => await Workloads.DirectAsync(options, Progress),
            "group" => await Workloads.GroupAsync(options, Progress),
            "restart" => await Workloads.RestartAsync(options, Progress),
            "offline" => await Workloads.OfflineAsync(options, Progress),
            "media" => await Workloads.MediaAsync(options, Progress),
            "open" => await Workloads.OpenAsync(options, Progress),
            _ => await Workloads.ConnectionsAsync(options, Progress),
        };
        foreach (var (name, value) in result.Fields) output.WriteLine($"{name,-34} {value}");
        if (result.TimedOut) output.WriteLine($"timed out after {s.Timeout} s: the figures are what was seen until then");
        if (result.Stopped is { } why) output.WriteLine($"stopped early: {why}; the figures cover what was sent until then");
        if (s.Json) output.WriteLine(Workloads.ToJson(result));
        return result.TimedOut || result.Stopped is not null ? 1 : 0;
    }
}
