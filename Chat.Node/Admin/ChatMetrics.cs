using System.Collections.Frozen;
using System.Diagnostics.Metrics;
using Chat.Protocol;

namespace Chat.Node.Admin;

/// <summary>
/// The node's metrics, one <see cref="Meter"/> named <see cref="MeterName"/>; the admin endpoint serves them as
/// Prometheus text at /metrics (docs/operations.md lists each with its Prometheus name). Recording sits on the message
/// path, so every call here is allocation-free and lock-free: counters without tags, or with a tag taken from a table
/// built once; histograms of plain numbers; gauges read plain fields only when scraped. With no listener (the admin
/// endpoint off) each call costs next to nothing.
/// </summary>
public static class ChatMetrics
{
    public const string MeterName = "ChatAkka.Node";

    private static readonly Meter Meter = new(MeterName, typeof(ChatMetrics).Assembly.GetName().Version?.ToString());

    // seconds: a send is answered in about a millisecond on one node and within request-timeout (10 s) at worst;
    // a delivery waits for the recipient to come online, so its buckets reach into days
    private static readonly double[] AcceptBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    private static readonly double[] DeliveryBuckets = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 300, 3600, 86400];
    private static readonly double[] CommitBuckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];
    private static readonly long[] RowBuckets = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 4000];

    private static readonly Counter<long> Accepted = Meter.CreateCounter<long>("chat.messages.accepted", "{message}",
        "Messages (direct and group) answered Accepted: durable in the recipient's inbox or the group's log");
    private static readonly Counter<long> Delivered = Meter.CreateCounter<long>("chat.messages.delivered", "{message}",
        "Messages acknowledged by a device of their recipient for the first time (the sender is sent a delivered receipt)");
    private static readonly Histogram<double> AcceptDuration = Meter.CreateHistogram<double>("chat.accept.duration", "s",
        "From a Send or SendGroup read off the connection to its Accepted answer", tags: null, advice: new() { HistogramBucketBoundaries = AcceptBuckets });
    private static readonly Histogram<double> DeliveryDuration = Meter.CreateHistogram<double>("chat.delivery.duration", "s",
        "From a message's acceptance (its server time) to its first acknowledgement by a device of the recipient",
        tags: null, advice: new() { HistogramBucketBoundaries = DeliveryBuckets });
    private static readonly Histogram<double> CommitDuration = Meter.CreateHistogram<double>("chat.journal.commit.duration", "s",
        "One transaction of the embedded store's writer (chat.persistence = sqlite)", tags: null, advice: new() { HistogramBucketBoundaries = CommitBuckets });
    private static readonly Histogram<long> CommitRows = Meter.CreateHistogram<long>("chat.journal.commit.rows", "{row}",
        "Events and snapshots written by one transaction of the embedded store's writer", tags: null, advice: new() { HistogramBucketBoundaries = RowBuckets });
    private static readonly Counter<long> RetentionRemoved = Meter.CreateCounter<long>("chat.retention.removed", "{item}",
        "What retention sweeps run on this node removed: inbox and group log entries (kind=entries), media files (kind=media)");
    private static readonly Counter<long> MediaReceived = Meter.CreateCounter<long>("chat.media.received", "By",
        "Media bytes received in upload chunks");
    private static readonly Counter<long> MediaSent = Meter.CreateCounter<long>("chat.media.sent", "By",
        "Media bytes sent in download chunks");
    private static readonly Counter<long> Rejected = Meter.CreateCounter<long>("chat.frames.rejected", "{frame}",
        "Error frames sent to clients, by error code (code=TextTooLong, RateLimited, ...)");

    private static int _connections;
    private static int _sessions;
    /// <summary>
    /// Entities running, by <see cref="EntityType"/>. Observed like the connections, not added up by the listener: a
    /// listener that starts after entities did (an exporter started late, or a second host in one process) would
    /// otherwise count only the changes it saw, and go below zero as earlier entities stop.
    /// </summary>
    private static readonly long[] _entities = new long[3];

    static ChatMetrics()
    {
        Meter.CreateObservableUpDownCounter("chat.connections", () => Volatile.Read(ref _connections), "{connection}",
            "Client TCP connections open on this node");
        Meter.CreateObservableUpDownCounter("chat.sessions", () => Volatile.Read(ref _sessions), "{session}",
            "Logged-in sessions on this node");
        Meter.CreateObservableUpDownCounter("chat.entities", ObserveEntities, "{entity}",
            "Entities running on this node, by type (user, group, phone)");
    }

    private static IEnumerable<Measurement<long>> ObserveEntities() => Enum.GetValues<EntityType>()
        .Select(t => new Measurement<long>(Volatile.Read(ref _entities[(int)t]), EntityTags[(int)t]));

    public enum EntityType { User, Group, Phone }

    private static readonly KeyValuePair<string, object?>[] EntityTags =
        [new("type", "user"), new("type", "group"), new("type", "phone")];
    private static readonly KeyValuePair<string, object?> EntriesTag = new("kind", "entries");
    private static readonly KeyValuePair<string, object?> MediaTag = new("kind", "media");
    private static readonly FrozenDictionary<ErrorCode, KeyValuePair<string, object?>> CodeTags =
        Enum.GetValues<ErrorCode>().ToFrozenDictionary(c => c, c => new KeyValuePair<string, object?>("code", c.ToString()));
    private static readonly KeyValuePair<string, object?> OtherCodeTag = new("code", "other");

    /// <summary>A send answered Accepted, <paramref name="seconds"/> after it was read.</summary>
    public static void MessageAccepted(double seconds)
    {
        Accepted.Add(1);
        AcceptDuration.Record(seconds);
    }

    /// <summary>A message first acknowledged by its recipient, <paramref name="seconds"/> after it was accepted.</summary>
    public static void MessageDelivered(double seconds)
    {
        Delivered.Add(1);
        DeliveryDuration.Record(seconds);
    }

    public static void JournalCommitted(double seconds, int rows)
    {
        CommitDuration.Record(seconds);
        CommitRows.Record(rows);
    }

    /// <summary>Entities running on this node, of every type.</summary>
    public static long EntitiesRunning => Volatile.Read(ref _entities[0]) + Volatile.Read(ref _entities[1]) + Volatile.Read(ref _entities[2]);

    public static void EntityStarted(EntityType type) => Interlocked.Increment(ref _entities[(int)type]);
    public static void EntityStopped(EntityType type) => Interlocked.Decrement(ref _entities[(int)type]);

    public static void RetentionRemovedEntries(long entries) { if (entries > 0) RetentionRemoved.Add(entries, EntriesTag); }
    public static void RetentionRemovedMedia(long files) { if (files > 0) RetentionRemoved.Add(files, MediaTag); }

    public static void MediaBytesReceived(long bytes) => MediaReceived.Add(bytes);
    public static void MediaBytesSent(long bytes) => MediaSent.Add(bytes);

    /// <summary>An Error frame written to a client.</summary>
    public static void FrameRejected(ErrorCode code) =>
        Rejected.Add(1, CodeTags.TryGetValue(code, out var tag) ? tag : OtherCodeTag);

    public static void ConnectionOpened() => Interlocked.Increment(ref _connections);
    public static void ConnectionClosed() => Interlocked.Decrement(ref _connections);
    public static void SessionStarted() => Interlocked.Increment(ref _sessions);
    public static void SessionEnded() => Interlocked.Decrement(ref _sessions);
}
