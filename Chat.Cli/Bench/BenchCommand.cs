using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Chat.Cli.Bench;

internal sealed class BenchSettings : CommandSettings
{
    [CommandArgument(0, "<WORKLOAD>")]
    [Description("direct, offline or connections (group follows with groups)")]
    public string Workload { get; set; } = "";

    [CommandOption("-s|--server <HOST:PORT>")]
    [Description("The node to load (loopback only)")]
    public string Server { get; set; } = "127.0.0.1:7400";

    [CommandOption("--users <U>")] [DefaultValue(200)] [Description("Users logged in: U/2 sender→receiver pairs")]
    public int Users { get; set; } = 200;

    [CommandOption("--messages <M>")] [DefaultValue(500)] [Description("Texts each sender sends")]
    public int Messages { get; set; } = 500;

    [CommandOption("--size <BYTES>")] [DefaultValue(100)] [Description("Bytes of each text")]
    public int Size { get; set; } = 100;

    [CommandOption("--window <W>")] [DefaultValue(100)] [Description("Texts per sender sent but not yet received")]
    public int Window { get; set; } = 100;

    [CommandOption("--connections <C>")] [DefaultValue(10_000)] [Description("Idle logged-in connections (connections workload)")]
    public int Connections { get; set; } = 10_000;

    [CommandOption("--server-pid <PID>")] [Description("The node's process id, to report its memory")]
    public int? ServerPid { get; set; }

    [CommandOption("--timeout <SECONDS>")] [DefaultValue(300)] [Description("Stop and report what was seen after this long")]
    public int Timeout { get; set; } = 300;

    [CommandOption("--json")] [Description("End with one JSON line of the figures")]
    public bool Json { get; set; }

    public override ValidationResult Validate()
    {
        if (Workload is not ("direct" or "offline" or "connections"))
            return ValidationResult.Error($"unknown workload '{Workload}': use direct, offline or connections");
        var colon = Server.LastIndexOf(':');
        var host = colon > 0 ? Server[..colon] : "";
        if (host is not ("127.0.0.1" or "localhost" or "::1" or "[::1]") && !host.StartsWith("127.", StringComparison.Ordinal))
            return ValidationResult.Error("bench only targets loopback addresses (127.0.0.0/8, localhost, ::1)");
        if (Users < 2 || Messages < 1 || Size < 32 || Window < 1 || Connections < 1 || Timeout < 1)
            return ValidationResult.Error("users >= 2, messages >= 1, size >= 32, window >= 1, connections >= 1, timeout >= 1");
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
            Server = s.Server, Users = s.Users, Messages = s.Messages, Size = s.Size, Window = s.Window,
            Connections = s.Connections, ServerPid = s.ServerPid, Timeout = TimeSpan.FromSeconds(s.Timeout),
        };
        var output = console.Profile.Out.Writer;
        void Progress(string line) => output.WriteLine($"# {line}");
        var result = s.Workload switch
        {
            "direct" => await Workloads.DirectAsync(options, Progress),
            "offline" => await Workloads.OfflineAsync(options, Progress),
            _ => await Workloads.ConnectionsAsync(options, Progress),
        };
        foreach (var (name, value) in result.Fields) output.WriteLine($"{name,-34} {value}");
        if (result.TimedOut) output.WriteLine($"timed out after {s.Timeout} s: the figures are what was seen until then");
        if (s.Json) output.WriteLine(Workloads.ToJson(result));
        return result.TimedOut ? 1 : 0;
    }
}
