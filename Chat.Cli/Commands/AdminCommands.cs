using System.ComponentModel;
using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Chat.Cli.Commands;

// chat admin: a client of a node's admin endpoint (docs/operations.md, "Observing and steering a cluster").

/// <summary>Settings of every <c>chat admin</c> command: where the endpoint is, the token, and the output form.</summary>
internal class AdminSettings : CommandSettings
{
    [CommandOption("-n|--node <HOST:PORT>")]
    [Description("The node's admin endpoint, as its 'admin on HOST:PORT' line says (the node runs with --admin-port)")]
    public string Node { get; set; } = "";

    [CommandOption("--token-file <FILE>")]
    [Description("A file holding the node's admin token (its data directory's admin.token, or chat.admin.token)")]
    public string? TokenFile { get; set; }

    [CommandOption("--data <DIR>")]
    [Description("The node's data directory: the token is read from DIR/admin.token")]
    public string? Data { get; set; }

    [CommandOption("--json")]
    [Description("Print the node's JSON answer (one line) instead of tables")]
    public bool Json { get; set; }

    public override ValidationResult Validate()
    {
        if (string.IsNullOrWhiteSpace(Node)) return ValidationResult.Error("--node HOST:PORT is required: the node's admin endpoint");
        var colon = Node.LastIndexOf(':');
        return colon > 0 && int.TryParse(Node[(colon + 1)..], out var port) && port is > 0 and <= 65535
            ? ValidationResult.Success()
            : ValidationResult.Error($"--node must be HOST:PORT, not '{Node}'");
    }
}

internal sealed class AdminUserSettings : AdminSettings
{
    [CommandArgument(0, "<PHONE|ID>")]
    [Description("A phone number (+...) or a user id (u...)")]
    public string User { get; set; } = "";
}

internal sealed class AdminNodeSettings : AdminSettings
{
    [CommandArgument(0, "<ADDRESS>")]
    [Description("The member's cluster address, akka.tcp://chat@HOST:PORT or HOST:PORT (as 'chat admin status' lists it)")]
    public string Address { get; set; } = "";
}

/// <summary>
/// Base of the admin commands: asks the endpoint, then prints its JSON as is (--json) or as tables.
/// </summary>
internal abstract class AdminCommand<TSettings>(IAnsiConsole console) : AsyncCommand<TSettings> where TSettings : AdminSettings
{
    protected IAnsiConsole Console { get; } = console;
    private TextWriter Out => Console.Profile.Out.Writer;

    /// <summary>How long a call may take (a retention sweep takes long).</summary>
    protected virtual TimeSpan Timeout => TimeSpan.FromSeconds(60);

    protected abstract Task<string> CallAsync(AdminClient admin, TSettings settings, CancellationToken ct);

    protected abstract void Show(JsonElement answer);

    public override async Task<int> ExecuteAsync(CommandContext context, TSettings settings, CancellationToken cancellationToken)
    {
        using var admin = new AdminClient(settings.Node, AdminClient.ReadToken(settings.TokenFile, settings.Data), Timeout);
        var body = await CallAsync(admin, settings, cancellationToken);
        using var doc = JsonDocument.Parse(body);
        if (settings.Json)
        {
            Out.WriteLine(body.Trim()); // the node's answer as sent: one line
            return 0;
        }
        // redirected output is not a terminal of 80 columns: cluster addresses fit on one line
        if (!Console.Profile.Capabilities.Ansi) Console.Profile.Width = Math.Max(Console.Profile.Width, 160);
        Show(doc.RootElement);
        return 0;
    }

    protected void Say(string markup)
    {
        if (Console.Profile.Capabilities.Ansi) Console.MarkupLine(markup);
        else Out.WriteLine(Markup.Remove(markup));
    }

    protected static string Text(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) ? v.ValueKind switch
        {
            JsonValueKind.String => v.GetString() ?? "",
            JsonValueKind.Null or JsonValueKind.Undefined => "",
            JsonValueKind.True => "yes",
            JsonValueKind.False => "no",
            JsonValueKind.Array => string.Join(",", v.EnumerateArray().Select(x => x.ToString())),
            _ => v.ToString(),
        } : "";

    protected static Table NewTable(params string[] columns)
    {
        var table = new Table().Border(TableBorder.Simple);
        foreach (var c in columns) table.AddColumn(c);
        return table;
    }

    protected static string Cell(string text) => text.EscapeMarkup();

    protected static string Duration(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.TryGetDouble(out var seconds)
            ? TimeSpan.FromSeconds(seconds).ToString(seconds >= 86400 ? @"d\.hh\:mm\:ss" : @"hh\:mm\:ss", CultureInfo.InvariantCulture)
            : "";
}

/// <summary><c>chat admin status</c>: members, their roles, status and reachability, the leader; this node's uptime and version.</summary>
internal sealed class AdminStatusCommand(IAnsiConsole console) : AdminCommand<AdminSettings>(console)
{
    protected override Task<string> CallAsync(AdminClient admin, AdminSettings settings, CancellationToken ct) => admin.GetAsync("admin/status", ct);

    protected override void Show(JsonElement s)
    {
        Say($"[grey]node[/]    {Cell(Text(s, "self"))} (clients {Cell(Text(s, "clients"))})");
        Say($"[grey]version[/] {Cell(Text(s, "version"))}");
        Say($"[grey]uptime[/]  {Duration(s, "uptimeSeconds")}");
        Say($"[grey]leader[/]  {Cell(Text(s, "leader"))}");
        var table = NewTable("member", "status", "roles", "reachable", "leader");
        foreach (var m in s.GetProperty("members").EnumerateArray())
            table.AddRow(Cell(Text(m, "address")), Cell(Text(m, "status")), Cell(Text(m, "roles")), Text(m, "reachable"), m.GetProperty("leader").GetBoolean() ? "leader" : "");
        Console.Write(table);
    }
}

/// <summary><c>chat admin shards</c>: per shard region, the shards and running entities on each node.</summary>
internal sealed class AdminShardsCommand(IAnsiConsole console) : AdminCommand<AdminSettings>(console)
{
    protected override Task<string> CallAsync(AdminClient admin, AdminSettings settings, CancellationToken ct) => admin.GetAsync("admin/shards", ct);

    protected override void Show(JsonElement regions)
    {
        var table = NewTable("region", "node", "shards", "entities");
        foreach (var r in regions.EnumerateArray())
        {
            foreach (var n in r.GetProperty("nodes").EnumerateArray())
                table.AddRow(Cell(Text(r, "region")), Cell(Text(n, "address")), Text(n, "shards"), Text(n, "entities"));
            table.AddRow(Cell(Text(r, "region")), "[grey]all nodes[/]", Text(r, "shards"), Text(r, "entities"));
        }
        Console.Write(table);
    }
}

/// <summary><c>chat admin sessions</c>: connected clients and logged-in sessions on each node.</summary>
internal sealed class AdminSessionsCommand(IAnsiConsole console) : AdminCommand<AdminSettings>(console)
{
    protected override Task<string> CallAsync(AdminClient admin, AdminSettings settings, CancellationToken ct) => admin.GetAsync("admin/sessions", ct);

    protected override void Show(JsonElement s)
    {
        var table = NewTable("node", "clients at", "connections", "sessions", "uptime", "version");
        foreach (var n in s.GetProperty("nodes").EnumerateArray())
        {
            var error = Text(n, "error");
            table.AddRow(Cell(Text(n, "address")), Cell(Text(n, "clients")),
                error.Length > 0 ? $"[red]{Cell(error)}[/]" : Text(n, "connections"), error.Length > 0 ? "" : Text(n, "sessions"),
                error.Length > 0 ? "" : Duration(n, "uptimeSeconds"), Cell(Text(n, "version")));
        }
        table.AddRow("[grey]all nodes[/]", "", Text(s, "connections"), Text(s, "sessions"), "", "");
        Console.Write(table);
    }
}

/// <summary><c>chat admin user PHONE|ID</c>: a user's profile, devices online and inbox position; never message text.</summary>
internal sealed class AdminUserCommand(IAnsiConsole console) : AdminCommand<AdminUserSettings>(console)
{
    protected override Task<string> CallAsync(AdminClient admin, AdminUserSettings settings, CancellationToken ct) =>
        admin.GetAsync("admin/users/" + Uri.EscapeDataString(settings.User), ct);

    protected override void Show(JsonElement u)
    {
        Say($"[grey]user id[/]        {Cell(Text(u, "id"))}");
        Say($"[grey]name[/]           {Cell(Text(u, "name"))}");
        Say($"[grey]phone[/]          {Cell(Text(u, "phone"))}{(u.GetProperty("closed").GetBoolean() ? " [red](account closed)[/]" : "")}");
        var devices = Text(u, "devices");
        Say($"[grey]devices online[/] {(devices.Length == 0 ? "none" : Cell(devices))}");
        Say($"[grey]inbox[/]          {Text(u, "inboxLength")} entries, last sequence {Text(u, "lastSeq")}, acknowledged up to {Text(u, "ackedSeq")}");
        Say($"[grey]groups[/]         {Text(u, "groups")}");
    }
}

/// <summary><c>chat admin retention report</c> and <c>run</c>: the last sweep's report, or a sweep now.</summary>
internal abstract class AdminRetentionCommand(IAnsiConsole console) : AdminCommand<AdminSettings>(console)
{
    protected override void Show(JsonElement answer)
    {
        if (answer.GetProperty("report") is not { ValueKind: JsonValueKind.Object } r)
        {
            Say("no sweep yet: the first runs one chat.retention.sweep-interval after the cluster started (or run one: chat admin retention run)");
            return;
        }
        Say($"[grey]swept at[/]   {Cell(Text(r, "at"))} (took {Text(r, "seconds")} s)");
        Say($"[grey]cutoff[/]     {Cell(Text(r, "cutoff"))}");
        Say($"[grey]entries[/]    {Text(r, "entries")} removed from {Text(r, "compacted")} of {Text(r, "entities")} users and groups");
        Say($"[grey]media[/]      {Text(r, "media")} files ({Text(r, "mediaBytes")} bytes) removed");
        Say($"[grey]failures[/]   {Text(r, "failures")}");
        Say($"[grey]reclaimed[/]  {Text(r, "reclaimed")}");
    }
}

internal sealed class AdminRetentionReportCommand(IAnsiConsole console) : AdminRetentionCommand(console)
{
    protected override Task<string> CallAsync(AdminClient admin, AdminSettings settings, CancellationToken ct) => admin.GetAsync("admin/retention", ct);
}

internal sealed class AdminRetentionRunCommand(IAnsiConsole console) : AdminRetentionCommand(console)
{
    protected override TimeSpan Timeout => TimeSpan.FromMinutes(31);

    protected override Task<string> CallAsync(AdminClient admin, AdminSettings settings, CancellationToken ct) => admin.PostAsync("admin/retention/run", ct);
}

/// <summary><c>chat admin node leave|down ADDRESS</c>: a member leaves gracefully, or is marked down.</summary>
internal abstract class AdminNodeCommand(IAnsiConsole console, string action) : AdminCommand<AdminNodeSettings>(console)
{
    protected override Task<string> CallAsync(AdminClient admin, AdminNodeSettings settings, CancellationToken ct) =>
        admin.PostAsync($"admin/nodes/{action}?address={Uri.EscapeDataString(settings.Address)}", ct);

    protected override void Show(JsonElement a) =>
        Say($"{Cell(Text(a, "address"))}: {action} requested (it was {Cell(Text(a, "status"))}); chat admin status shows the progress");
}

internal sealed class AdminNodeLeaveCommand(IAnsiConsole console) : AdminNodeCommand(console, "leave");

internal sealed class AdminNodeDownCommand(IAnsiConsole console) : AdminNodeCommand(console, "down");
