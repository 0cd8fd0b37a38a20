using Akka.Configuration;

namespace Chat.Node;

/// <summary>The <c>chat { }</c> section of the configuration, read once at start.</summary>
public sealed record ChatSettings
{
    public string Host { get; init; } = "127.0.0.1";
    public int Port { get; init; } = 7400;
    public string DataDirectory { get; init; } = "data";
    public int MaxFrameBytes { get; init; } = 1 << 20;
    public int MaxTextBytes { get; init; } = 64 * 1024;
    public int MaxInFlight { get; init; } = 256;
    public int SyncBatch { get; init; } = 500;
    public int OutgoingHighWater { get; init; } = 2_000;
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);
    public TimeSpan HelloTimeout { get; init; } = TimeSpan.FromSeconds(10);
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromMinutes(5);
    public TimeSpan KeepAttachedInterval { get; init; } = TimeSpan.FromSeconds(15);
    public TimeSpan EntityIdleTimeout { get; init; } = TimeSpan.FromMinutes(2);
    public TimeSpan ReceiptRetryInterval { get; init; } = TimeSpan.FromSeconds(5);
    public int SnapshotEvery { get; init; } = 1_000;
    public int MaxConnections { get; init; } = 100_000;
    public int NameMaxChars { get; init; } = 64;
    public int GroupMaxMembers { get; init; } = 1024;
    public int GroupsPerUser { get; init; } = 256;
    public TimeSpan GroupFanoutRetryInterval { get; init; } = TimeSpan.FromSeconds(2);

    public static ChatSettings From(Config config)
    {
        var c = config.GetConfig("chat");
        return new ChatSettings
        {
            Host = c.GetString("host", "127.0.0.1"),
            Port = c.GetInt("port", 7400),
            DataDirectory = c.GetString("data-directory", "data"),
            MaxFrameBytes = (int)(c.GetByteSize("limits.max-frame-bytes") ?? (1 << 20)),
            MaxTextBytes = (int)(c.GetByteSize("limits.max-text-bytes") ?? 64 * 1024),
            MaxInFlight = c.GetInt("limits.max-in-flight", 256),
            SyncBatch = c.GetInt("limits.sync-batch", 500),
            OutgoingHighWater = c.GetInt("limits.outgoing-high-water", 2_000),
            MaxConnections = c.GetInt("limits.max-connections", 100_000),
            NameMaxChars = c.GetInt("limits.name-max-chars", 64),
            RequestTimeout = c.GetTimeSpan("session.request-timeout", TimeSpan.FromSeconds(10)),
            HelloTimeout = c.GetTimeSpan("session.hello-timeout", TimeSpan.FromSeconds(10)),
            IdleTimeout = c.GetTimeSpan("session.idle-timeout", TimeSpan.FromMinutes(5)),
            KeepAttachedInterval = c.GetTimeSpan("session.keep-attached-interval", TimeSpan.FromSeconds(15)),
            EntityIdleTimeout = c.GetTimeSpan("users.idle-timeout", TimeSpan.FromMinutes(2)),
            ReceiptRetryInterval = c.GetTimeSpan("users.receipt-retry-interval", TimeSpan.FromSeconds(5)),
            SnapshotEvery = c.GetInt("users.snapshot-every", 1_000),
            GroupMaxMembers = c.GetInt("groups.max-members", 1024),
            GroupsPerUser = c.GetInt("groups.max-per-user", 256),
            GroupFanoutRetryInterval = c.GetTimeSpan("groups.fanout-retry-interval", TimeSpan.FromSeconds(2)),
        };
    }
}
