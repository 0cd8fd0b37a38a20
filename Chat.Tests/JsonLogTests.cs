using System.Collections.Concurrent;
using System.Text.Json;
using Akka.Configuration;
using Akka.Event;
using Akka.TestKit.Xunit2;
using Chat.Node.Hosting;
using Chat.Node.Logs;
using Chat.Protocol;

namespace Chat.Tests;

/// <summary><c>--log-format json</c>: every line the node prints is one JSON object a log collector can read.</summary>
public sealed class JsonLogTests
{
    [Fact]
    public async Task With_log_format_json_every_line_is_a_json_object_with_the_node_address_akka_events_included()
    {
        var lines = new ConcurrentQueue<string>();
        var data = TestNode.NewDataDirectory();
        // INFO: Akka's own start-up events (remoting, cluster, sharding) are logged, as a node at WARNING logs its warnings
        var config = Path.Combine(Path.GetTempPath(), $"chat-json-log-{Guid.NewGuid():N}.conf");
        await File.WriteAllTextAsync(config, "akka.loglevel = INFO\n");
        try
        {
            await using (var node = await NodeProcess.StartAsync(data, extraArgs: ["--log-format", "json", "--config", config], output: lines.Enqueue))
            {
                // a client's work on the node, so that the lines cover more than start-up
                await using var client = await ChatClient.ConnectAsync("127.0.0.1", node.Port);
                var registered = await client.RegisterAsync("Ada", Phones.Next());
                await client.LoginAsync(registered.Token);
                Assert.Equal(0, await node.TerminateAsync());
            }

            Assert.NotEmpty(lines);
            var parsed = lines.Select(line =>
            {
                try
                {
                    return JsonDocument.Parse(line).RootElement;
                }
                catch (JsonException e)
                {
                    throw new Xunit.Sdk.XunitException($"not a JSON line: {line} ({e.Message})");
                }
            }).ToList();
            foreach (var o in parsed)
            {
                Assert.Equal(JsonValueKind.Object, o.ValueKind);
                Assert.True(DateTime.TryParse(o.GetProperty("timestamp").GetString(), null, System.Globalization.DateTimeStyles.RoundtripKind, out var at));
                Assert.Equal(DateTimeKind.Utc, at.Kind);
                Assert.Contains(o.GetProperty("level").GetString(), new[] { "debug", "info", "warning", "error" });
                Assert.False(string.IsNullOrEmpty(o.GetProperty("logger").GetString()));
                Assert.Equal(JsonValueKind.String, o.GetProperty("message").ValueKind);
            }

            static string? Str(JsonElement o, string name) => o.TryGetProperty(name, out var v) ? v.GetString() : null;
            var listening = Assert.Single(parsed, o => Str(o, "event") == "listening");
            var address = Str(listening, "node");
            Assert.Matches(@"^akka\.tcp://chat@127\.0\.0\.1:[0-9]+$", address);
            Assert.StartsWith("listening on 127.0.0.1:", Str(listening, "message"));
            // Akka's own events, written by the same formatter and carrying the same address
            Assert.Contains(parsed, o => Str(o, "event") is null && Str(o, "node") == address && Str(o, "message")!.StartsWith("Remoting started"));
            Assert.Contains(parsed, o => Str(o, "event") is null && Str(o, "node") == address && Str(o, "logger")!.Contains("/system/sharding/"));
            Assert.Contains(parsed, o => Str(o, "event") == "verification-auto" && Str(o, "level") == "warning");
        }
        finally
        {
            File.Delete(config);
            try { System.IO.Directory.Delete(data, recursive: true); } catch (IOException) { }
        }
    }
}

/// <summary>The JSON line of an Akka log event names the user or group it concerns, where that is known.</summary>
public sealed class JsonLoggerSpecs() : TestKit(ConfigurationFactory.ParseString("akka.loglevel = DEBUG"))
{
    private static readonly string User = "u" + new string('a', 16);
    private static readonly string Group = "g" + new string('b', 16);

    private static JsonElement Parse(LogEvent e, string? node = null) => JsonDocument.Parse(JsonLogger.Format(e, node)).RootElement;

    [Fact]
    public void An_event_of_a_user_entity_names_the_user_and_the_node()
    {
        var line = Parse(new Warning($"akka://chat/system/sharding/user/42/{User}", typeof(JsonLoggerSpecs), "journal write failed"),
            "akka.tcp://chat@127.0.0.1:1");
        Assert.Equal(User, line.GetProperty("user").GetString());
        Assert.False(line.TryGetProperty("group", out _));
        Assert.Equal("warning", line.GetProperty("level").GetString());
        Assert.Equal("journal write failed", line.GetProperty("message").GetString());
        Assert.Equal("akka.tcp://chat@127.0.0.1:1", line.GetProperty("node").GetString());
    }

    [Fact]
    public void An_error_of_a_group_entity_names_the_group_and_carries_the_exception()
    {
        var line = Parse(new Akka.Event.Error(new InvalidOperationException("boom"), $"akka://chat/system/sharding/group/7/{Group}", typeof(JsonLoggerSpecs),
            "fan-out failed"));
        Assert.Equal(Group, line.GetProperty("group").GetString());
        Assert.Equal("error", line.GetProperty("level").GetString());
        Assert.Equal("System.InvalidOperationException", line.GetProperty("exception").GetProperty("type").GetString());
        Assert.Equal("boom", line.GetProperty("exception").GetProperty("message").GetString());
    }

    [Fact]
    public void A_user_id_or_group_id_among_the_arguments_becomes_a_field()
    {
        Sys.EventStream.Subscribe(TestActor, typeof(Warning));
        Logging.GetLogger(Sys, "session").Warning("request of {0} to {1} failed", new Chat.Node.UserId(User), new Chat.Node.GroupId(Group));
        var line = Parse(ExpectMsg<Warning>());
        Assert.Equal(User, line.GetProperty("user").GetString());
        Assert.Equal(Group, line.GetProperty("group").GetString());
        Assert.Equal($"request of {User} to {Group} failed", line.GetProperty("message").GetString());
    }
}

/// <summary>Where the log format comes from: the flag, else <c>CHAT_LOG_FORMAT</c>, else <c>chat.log-format</c> (text by default).</summary>
public sealed class LogFormatSettingTests
{
    private static LogFormat FormatOf(NodeOptions options) => Chat.Node.ChatSettings.From(ChatNode.LoadConfig(options)).LogFormat;

    [Fact]
    public void Text_by_default_json_from_the_configuration_and_the_flag_over_the_configuration()
    {
        Assert.Equal(LogFormat.Text, FormatOf(new NodeOptions()));
        Assert.Equal(LogFormat.Json, FormatOf(new NodeOptions { ExtraHocon = "chat.log-format = json" }));
        Assert.Equal(LogFormat.Json, FormatOf(new NodeOptions { LogFormat = "JSON" }));
        Assert.Equal(LogFormat.Text, FormatOf(new NodeOptions { LogFormat = "text", ExtraHocon = "chat.log-format = json" }));
    }

    [Fact]
    public void A_format_other_than_text_or_json_is_refused_with_where_it_came_from()
    {
        Assert.Contains("--log-format must be text or json, not 'xml'",
            Assert.Throws<ArgumentException>(() => FormatOf(new NodeOptions { LogFormat = "xml" })).Message);
        Assert.Contains("chat.log-format must be text or json, not 'yaml'",
            Assert.Throws<ArgumentException>(() => FormatOf(new NodeOptions { ExtraHocon = "chat.log-format = yaml" })).Message);
    }
}
