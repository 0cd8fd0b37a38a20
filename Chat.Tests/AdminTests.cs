using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.RegularExpressions;
using Chat.Protocol;

namespace Chat.Tests;

/// <summary>The admin endpoint of one node and <c>chat admin</c> against it: every command, the token, the metrics.</summary>
public sealed class AdminTests : IAsyncLifetime
{
    private TestNode _node = null!;

    public async Task InitializeAsync() => _node = await TestNode.StartAsync(extraHocon: "chat.admin.port = 0");

    public async Task DisposeAsync() => await _node.DisposeAsync();

    private string Admin => $"127.0.0.1:{_node.Node.AdminEndpoint!.Port}";

    [Fact]
    public async Task Every_admin_command_describes_the_node_its_shards_sessions_users_and_retention()
    {
        await using var alice = await _node.NewUserAsync("Alice", device: "phone");
        await using var bob = await _node.NewUserAsync("Bob", device: "laptop");
        await bob.Client.SyncAsync(0);
        const string secret = "the text no operator may read";
        await alice.Client.SendAsync(bob.Id, secret);
        await bob.Client.NextAsync<Message>();

        var status = await AdminCli.JsonAsync("status", "--node", Admin, "--data", _node.DataDirectory);
        var self = status.GetProperty("self").GetString()!;
        Assert.Equal(self, status.GetProperty("leader").GetString());
        var member = Assert.Single(status.GetProperty("members").EnumerateArray());
        Assert.Equal("Up", member.GetProperty("status").GetString());
        Assert.True(member.GetProperty("reachable").GetBoolean());
        Assert.Equal(_node.Server, status.GetProperty("clients").GetString());
        Assert.False(string.IsNullOrEmpty(status.GetProperty("version").GetString()));
        Assert.True(status.GetProperty("uptimeSeconds").GetDouble() > 0);

        var shards = await AdminCli.JsonAsync("shards", "--node", Admin, "--data", _node.DataDirectory);
        var users = shards.EnumerateArray().Single(r => r.GetProperty("region").GetString() == "user");
        var onSelf = Assert.Single(users.GetProperty("nodes").EnumerateArray());
        Assert.Equal(self, onSelf.GetProperty("address").GetString());
        Assert.True(onSelf.GetProperty("entities").GetInt32() >= 2, $"user entities: {onSelf}");
        Assert.True(onSelf.GetProperty("shards").GetInt32() >= 1);
        Assert.Contains(shards.EnumerateArray(), r => r.GetProperty("region").GetString() == "phone");
        Assert.Contains(shards.EnumerateArray(), r => r.GetProperty("region").GetString() == "group");

        var sessions = await AdminCli.JsonAsync("sessions", "--node", Admin, "--data", _node.DataDirectory);
        var here = Assert.Single(sessions.GetProperty("nodes").EnumerateArray());
        Assert.Equal(2, here.GetProperty("sessions").GetInt32());
        Assert.Equal(2, here.GetProperty("connections").GetInt32());
        Assert.Equal(_node.Server, here.GetProperty("clients").GetString());

        var byPhone = await AdminCli.RunAsync("user", bob.Phone, "--node", Admin, "--data", _node.DataDirectory, "--json");
        Assert.Equal(0, byPhone.Code);
        Assert.DoesNotContain(secret, byPhone.Out);
        var user = JsonDocument.Parse(byPhone.Out).RootElement;
        Assert.Equal(bob.Id, user.GetProperty("id").GetString());
        Assert.Equal("Bob", user.GetProperty("name").GetString());
        Assert.Equal(bob.Phone, user.GetProperty("phone").GetString());
        Assert.Equal(["laptop"], user.GetProperty("devices").EnumerateArray().Select(d => d.GetString()));
        Assert.Equal(1, user.GetProperty("inboxLength").GetInt32());
        Assert.Equal(1, user.GetProperty("lastSeq").GetInt64());
        var byId = await AdminCli.JsonAsync("user", alice.Id, "--node", Admin, "--data", _node.DataDirectory);
        Assert.Equal(alice.Phone, byId.GetProperty("phone").GetString());
        Assert.Equal(1, (await AdminCli.RunAsync("user", Phones.Next(), "--node", Admin, "--data", _node.DataDirectory)).Code);

        var before = await AdminCli.JsonAsync("retention", "report", "--node", Admin, "--data", _node.DataDirectory);
        Assert.Equal(JsonValueKind.Null, before.GetProperty("report").ValueKind); // the first sweep is an hour away
        var run = await AdminCli.JsonAsync("retention", "run", "--node", Admin, "--data", _node.DataDirectory);
        Assert.True(run.GetProperty("report").GetProperty("entities").GetInt32() >= 2);
        var after = await AdminCli.JsonAsync("retention", "report", "--node", Admin, "--data", _node.DataDirectory);
        Assert.Equal(run.GetProperty("report").GetProperty("at").GetString(), after.GetProperty("report").GetProperty("at").GetString());

        // tables for people: the same facts
        var table = await AdminCli.RunAsync("status", "--node", Admin, "--data", _node.DataDirectory);
        Assert.Equal(0, table.Code);
        Assert.Contains(self, table.Out);
        Assert.Contains("Up", table.Out);
        var people = await AdminCli.RunAsync("user", bob.Phone, "--node", Admin, "--data", _node.DataDirectory);
        Assert.Contains("laptop", people.Out);
        Assert.DoesNotContain(secret, people.Out);

        // node leave/down name a member; a stranger is refused and nothing happens to this node
        Assert.Equal(1, (await AdminCli.RunAsync("node", "down", "127.0.0.1:1", "--node", Admin, "--data", _node.DataDirectory)).Code);
        Assert.Equal(2, (await AdminCli.RunAsync("node", "leave", "--node", Admin, "--data", _node.DataDirectory)).Code);
        Assert.Equal("Up", Assert.Single((await AdminCli.JsonAsync("status", "--node", Admin, "--data", _node.DataDirectory))
            .GetProperty("members").EnumerateArray()).GetProperty("status").GetString());
    }

    [Fact]
    public async Task Calls_without_the_token_or_with_a_wrong_one_are_refused_and_health_needs_none()
    {
        var tokenFile = Path.Combine(_node.DataDirectory, "admin.token");
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(tokenFile));
        var token = (await File.ReadAllTextAsync(tokenFile)).Trim();
        Assert.True(token.Length >= 32);

        using var http = new HttpClient { BaseAddress = new Uri($"http://{Admin}/") };
        foreach (var path in new[] { "admin/status", "admin/shards", "admin/sessions", $"admin/users/{Phones.Next()}", "admin/retention", "metrics" })
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync(path)).StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, (await Send(http, HttpMethod.Get, path, "wrong-" + token)).StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, (await Send(http, HttpMethod.Get, path, token[..^1])).StatusCode);
        }
        foreach (var path in new[] { "admin/retention/run", "admin/nodes/leave?address=127.0.0.1:1", "admin/nodes/down?address=127.0.0.1:1" })
            Assert.Equal(HttpStatusCode.Unauthorized, (await Send(http, HttpMethod.Post, path, "wrong")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Send(http, HttpMethod.Get, "admin/status", token)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("health/live")).StatusCode);
        var ready = await http.GetAsync("health/ready");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Contains("\"shardsRegistered\":true", await ready.Content.ReadAsStringAsync());

        var wrong = Path.Combine(_node.DataDirectory, "wrong.token");
        await File.WriteAllTextAsync(wrong, "0123456789abcdef0123456789abcdef");
        Assert.Equal(1, (await AdminCli.RunAsync("status", "--node", Admin, "--token-file", wrong)).Code);
        Assert.Equal(0, (await AdminCli.RunAsync("status", "--node", Admin, "--token-file", tokenFile)).Code);
        Assert.Equal(1, (await AdminCli.RunAsync("status", "--node", Admin)).Code); // no token at all
        Assert.Equal(1, (await AdminCli.RunAsync("status", "--node", $"127.0.0.1:{TestCluster.FreePort()}", "--data", _node.DataDirectory)).Code);
    }

    private static Task<HttpResponseMessage> Send(HttpClient http, HttpMethod method, string path, string token)
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return http.SendAsync(request);
    }

    [Fact]
    public async Task Metrics_are_Prometheus_text_and_count_the_messages_accepted_and_delivered()
    {
        var token = (await File.ReadAllTextAsync(Path.Combine(_node.DataDirectory, "admin.token"))).Trim();
        using var http = new HttpClient { BaseAddress = new Uri($"http://{Admin}/") };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        await using var alice = await _node.NewUserAsync("Alice");
        await using var bob = await _node.NewUserAsync("Bob");

        await alice.Client.SyncAsync(0);
        await bob.Client.SyncAsync(0);
        var before = Prometheus.Parse(await http.GetStringAsync("metrics"));
        const int sends = 5;
        for (var i = 0; i < sends; i++) await alice.Client.SendAsync(bob.Id, $"hello {i}");
        long seq = 0;
        for (var i = 0; i < sends; i++) seq = (await bob.Client.NextAsync<Message>()).Seq;
        bob.Client.Ack(seq);
        // delivered receipts (one may name several messages): the ack is stored
        for (var receipted = 0; receipted < sends;) receipted += (await alice.Client.NextOfAsync<Receipt>()).MessageIds.Count;

        var after = Prometheus.Parse(await http.GetStringAsync("metrics"));
        // other tests in this process send too: the counters move by at least what this test did
        Assert.True(after.Sum("chat_messages_accepted_total") - before.Sum("chat_messages_accepted_total") >= sends);
        Assert.True(after.Sum("chat_messages_delivered_total") - before.Sum("chat_messages_delivered_total") >= sends);
        Assert.True(after.Sum("chat_accept_duration_seconds_count") - before.Sum("chat_accept_duration_seconds_count") >= sends);
        Assert.True(after.Sum("chat_delivery_duration_seconds_count") - before.Sum("chat_delivery_duration_seconds_count") >= sends);
        Assert.True(after.Sum("chat_journal_commit_rows_count") > before.Sum("chat_journal_commit_rows_count"));
        Assert.True(after.Sum("chat_connections") >= 2);
        Assert.True(after.Sum("chat_sessions") >= 2);
        Assert.True(after.Sum("chat_entities", ("type", "user")) >= 2);
        Assert.Equal("counter", after.Types["chat_messages_accepted_total"]);
        Assert.Equal("histogram", after.Types["chat_accept_duration_seconds"]);
        Assert.Contains(after.Types.Keys, name => name.StartsWith("dotnet_gc_", StringComparison.Ordinal)); // the runtime's own

        // a rejected frame is counted by its error code
        await Assert.ThrowsAsync<ChatException>(() => alice.Client.SendAsync(bob.Id, ""));
        var rejected = Prometheus.Parse(await http.GetStringAsync("metrics"));
        Assert.True(rejected.Sum("chat_frames_rejected_total", ("code", "EmptyText")) > after.Sum("chat_frames_rejected_total", ("code", "EmptyText")));
    }
}

/// <summary>Runs <c>chat admin ...</c> through the CLI's real entry point.</summary>
internal static class AdminCli
{
    public static async Task<(int Code, string Out)> RunAsync(params string[] args)
    {
        var output = new StringWriter();
        var code = await global::Chat.Cli.Program.Run(["admin", .. args], output);
        return (code, output.ToString());
    }

    /// <summary>Runs the command with --json; fails unless it succeeds; returns the parsed answer.</summary>
    public static async Task<JsonElement> JsonAsync(params string[] args)
    {
        var (code, output) = await RunAsync([.. args, "--json"]);
        Assert.True(code == 0, $"chat admin {string.Join(' ', args)} exited with {code}: {output}");
        return JsonDocument.Parse(output).RootElement.Clone();
    }
}

/// <summary>
/// A strict reader of the Prometheus text exposition format (version 0.0.4): every line is a comment (# HELP, # TYPE)
/// or a sample <c>name{label="value",...} number</c>; anything else fails the test.
/// </summary>
internal sealed partial class Prometheus
{
    public sealed record Sample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);

    public List<Sample> Samples { get; } = [];
    public Dictionary<string, string> Types { get; } = [];

    [GeneratedRegex("""^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( -?\d+)?$""")]
    private static partial Regex SampleLine();

    [GeneratedRegex("""([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?""")]
    private static partial Regex Label();

    [GeneratedRegex("""^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) ?(.*)$""")]
    private static partial Regex Comment();

    public static Prometheus Parse(string text)
    {
        var result = new Prometheus();
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0) continue;
            if (line.StartsWith('#'))
            {
                var c = Comment().Match(line);
                Assert.True(c.Success, $"not a Prometheus comment: {line}");
                if (c.Groups[1].Value == "TYPE")
                {
                    Assert.Contains(c.Groups[3].Value, new[] { "counter", "gauge", "histogram", "summary", "untyped" });
                    result.Types[c.Groups[2].Value] = c.Groups[3].Value;
                }
                continue;
            }
            var m = SampleLine().Match(line);
            Assert.True(m.Success, $"not a Prometheus sample: {line}");
            var labels = new Dictionary<string, string>();
            var body = m.Groups[3].Value;
            var matched = 0;
            foreach (Match l in Label().Matches(body))
            {
                labels[l.Groups[1].Value] = l.Groups[2].Value;
                matched += l.Length;
            }
            Assert.True(matched == body.Length, $"malformed labels: {line}");
            var value = m.Groups[4].Value switch
            {
                "+Inf" => double.PositiveInfinity,
                "-Inf" => double.NegativeInfinity,
                "NaN" => double.NaN,
                var v => double.Parse(v, NumberStyles.Float, CultureInfo.InvariantCulture),
            };
            result.Samples.Add(new Sample(m.Groups[1].Value, labels, value));
        }
        Assert.NotEmpty(result.Samples);
        return result;
    }

    /// <summary>The sum of the samples of a name (0 when there are none yet), optionally those with one label value.</summary>
    public double Sum(string name, (string Key, string Value)? label = null) =>
        Samples.Where(s => s.Name == name && (label is not { } l || s.Labels.GetValueOrDefault(l.Key) == l.Value)).Sum(s => s.Value);
}
