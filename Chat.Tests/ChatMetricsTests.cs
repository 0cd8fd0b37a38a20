using System.Text.RegularExpressions;
using Chat.Node.Admin;
using Chat.Protocol;

namespace Chat.Tests;

/// <summary>The node's metrics cost the message path no allocation, and every one of them is documented.</summary>
public sealed class ChatMetricsTests
{
    [Fact]
    public async Task Recording_on_the_message_path_allocates_nothing_while_the_exporter_listens()
    {
        // a node with its admin endpoint: OpenTelemetry's exporter listens to the meter
        await using var node = await TestNode.StartAsync(extraHocon: "chat.admin.port = 0");
        void RecordAll()
        {
            ChatMetrics.MessageAccepted(0.002);
            ChatMetrics.MessageDelivered(0.5);
            ChatMetrics.JournalCommitted(0.0004, 12);
            ChatMetrics.FrameRejected(ErrorCode.RateLimited);
            ChatMetrics.EntityStarted(ChatMetrics.EntityType.Group);
            ChatMetrics.EntityStopped(ChatMetrics.EntityType.Group);
            ChatMetrics.MediaBytesReceived(1000);
            ChatMetrics.MediaBytesSent(1000);
        }
        for (var i = 0; i < 1_000; i++) RecordAll(); // the exporter sets up each series on first use
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100_000; i++) RecordAll();
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated == 0, $"800,000 recordings allocated {allocated} bytes");
    }

    [Fact]
    public void A_listener_that_starts_after_entities_did_still_counts_them()
    {
        // 1,000 phone entries start before anyone listens (other tests in this process start and stop a few meanwhile)
        const int early = 1_000;
        for (var i = 0; i < early; i++) ChatMetrics.EntityStarted(ChatMetrics.EntityType.Phone);
        try
        {
            long seen = 0;
            using var listener = new System.Diagnostics.Metrics.MeterListener();
            listener.InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == ChatMetrics.MeterName && instrument.Name == "chat.entities") l.EnableMeasurementEvents(instrument);
            };
            listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
            {
                foreach (var tag in tags)
                    if (tag is { Key: "type", Value: "phone" }) seen += value;
            });
            listener.Start();
            listener.RecordObservableInstruments();
            Assert.True(seen >= early - 100, $"a late listener counted {seen} phone entries running, not the {early}+ there are");
        }
        finally
        {
            for (var i = 0; i < early; i++) ChatMetrics.EntityStopped(ChatMetrics.EntityType.Phone);
        }
    }

    [Fact]
    public void Every_metric_of_the_node_is_documented_and_the_dashboard_uses_only_documented_names()
    {
        var root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "ChatAkka.sln"))) root = Path.GetDirectoryName(root)!;
        var source = File.ReadAllText(Path.Combine(root, "Chat.Node", "Admin", "ChatMetrics.cs"));
        var operations = File.ReadAllText(Path.Combine(root, "docs", "operations.md"));
        var dashboard = File.ReadAllText(Path.Combine(root, "docs", "grafana-dashboard.json"));

        // instrument names as created (chat.messages.accepted) and their units decide the Prometheus names
        var instruments = Regex.Matches(source, """Create\w+(?:<\w+>)?\("(chat\.[a-z.]+)", (?:[^,]+, )?"([^"]+)",""")
            .Select(m => (Name: m.Groups[1].Value, Unit: m.Groups[2].Value)).ToList();
        Assert.True(instruments.Count >= 13, $"found {instruments.Count} instruments");
        foreach (var (name, unit) in instruments)
        {
            var prometheus = name.Replace('.', '_') + unit switch { "s" => "_seconds", "By" => "_bytes", _ => "" };
            Assert.True(operations.Contains($"`{prometheus}", StringComparison.Ordinal), $"{prometheus} ({name}) is not in docs/operations.md");
        }
        var used = Regex.Matches(dashboard, @"\b(chat_[a-z_]+|dotnet_[a-z_]+)").Select(m => m.Groups[1].Value)
            .Select(n => Regex.Replace(n, "_(bucket|sum|count)$", "")).Distinct().ToList();
        Assert.NotEmpty(used);
        foreach (var name in used)
            Assert.True(operations.Contains(name, StringComparison.Ordinal), $"the dashboard uses {name}, which docs/operations.md does not list");
    }
}
