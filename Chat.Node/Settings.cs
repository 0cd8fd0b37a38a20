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
    /// <summary>Answers (not inbox entries) waiting for a client that does not read, in bytes, before its connection is dropped.</summary>
    public long MaxQueuedBytes { get; init; } = 16L << 20;
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);
    public TimeSpan HelloTimeout { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>A connection that neither logs in nor registers for this long is closed.</summary>
    public TimeSpan LoginTimeout { get; init; } = TimeSpan.FromSeconds(60);
    /// <summary>Failed logins one connection may make; the next failure closes it.</summary>
    public int MaxFailedLogins { get; init; } = 5;
    /// <summary>An unanswered send is told to its inbox or group again this often until <see cref="RequestTimeout"/>.</summary>
    public TimeSpan ResendAfter { get; init; } = TimeSpan.FromSeconds(1);
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromMinutes(5);
    public TimeSpan KeepAttachedInterval { get; init; } = TimeSpan.FromSeconds(15);
    public TimeSpan EntityIdleTimeout { get; init; } = TimeSpan.FromMinutes(2);
    public TimeSpan ReceiptRetryInterval { get; init; } = TimeSpan.FromSeconds(5);
    public int SnapshotEvery { get; init; } = 1_000;
    public int MaxConnections { get; init; } = 100_000;
    /// <summary>Open connections from one IP address; 0 for no cap.</summary>
    public int MaxConnectionsPerAddress { get; init; } = 4096;
    public int NameMaxChars { get; init; } = 64;
    public int GroupMaxMembers { get; init; } = 1024;
    public int GroupsPerUser { get; init; } = 256;
    public TimeSpan GroupFanoutRetryInterval { get; init; } = TimeSpan.FromSeconds(2);
    public MediaSettings Media { get; init; } = new();
    public VerificationSettings Verification { get; init; } = new();
    /// <summary>Messages, receipts and media older than this are removed.</summary>
    public TimeSpan RetentionMaxAge { get; init; } = TimeSpan.FromDays(30);
    public TimeSpan RetentionSweepInterval { get; init; } = TimeSpan.FromHours(1);
    /// <summary>Entities swept at once (each is woken, trims itself and passivates again).</summary>
    public int RetentionParallelism { get; init; } = 8;

    /// <summary>Where media lives: the filesystem store's root.</summary>
    public string MediaDirectory => Path.Combine(DataDirectory, "media");

    public static ChatSettings From(Config config)
    {
        var c = config.GetConfig("chat");
        var settings = new ChatSettings
        {
            Host = c.GetString("host", "127.0.0.1"),
            Port = c.GetInt("port", 7400),
            DataDirectory = c.GetString("data-directory", "data"),
            MaxFrameBytes = (int)(c.GetByteSize("limits.max-frame-bytes") ?? (1 << 20)),
            MaxTextBytes = (int)(c.GetByteSize("limits.max-text-bytes") ?? 64 * 1024),
            MaxInFlight = c.GetInt("limits.max-in-flight", 256),
            SyncBatch = c.GetInt("limits.sync-batch", 500),
            OutgoingHighWater = c.GetInt("limits.outgoing-high-water", 2_000),
            MaxQueuedBytes = c.GetByteSize("limits.max-queued-bytes") ?? 16L << 20,
            MaxConnections = c.GetInt("limits.max-connections", 100_000),
            MaxConnectionsPerAddress = c.GetInt("limits.max-connections-per-address", 4096),
            NameMaxChars = c.GetInt("limits.name-max-chars", 64),
            RequestTimeout = c.GetTimeSpan("session.request-timeout", TimeSpan.FromSeconds(10)),
            HelloTimeout = c.GetTimeSpan("session.hello-timeout", TimeSpan.FromSeconds(10)),
            LoginTimeout = c.GetTimeSpan("session.login-timeout", TimeSpan.FromSeconds(60)),
            MaxFailedLogins = c.GetInt("session.max-failed-logins", 5),
            ResendAfter = c.GetTimeSpan("session.resend-after", TimeSpan.FromSeconds(1)),
            IdleTimeout = c.GetTimeSpan("session.idle-timeout", TimeSpan.FromMinutes(5)),
            KeepAttachedInterval = c.GetTimeSpan("session.keep-attached-interval", TimeSpan.FromSeconds(15)),
            EntityIdleTimeout = c.GetTimeSpan("users.idle-timeout", TimeSpan.FromMinutes(2)),
            ReceiptRetryInterval = c.GetTimeSpan("users.receipt-retry-interval", TimeSpan.FromSeconds(5)),
            SnapshotEvery = c.GetInt("users.snapshot-every", 1_000),
            GroupMaxMembers = c.GetInt("groups.max-members", 1024),
            GroupsPerUser = c.GetInt("groups.max-per-user", 256),
            GroupFanoutRetryInterval = c.GetTimeSpan("groups.fanout-retry-interval", TimeSpan.FromSeconds(2)),
            Media = MediaSettings.From(c.GetConfig("media")),
            Verification = VerificationSettings.From(c.GetConfig("verification")),
            RetentionMaxAge = c.GetTimeSpan("retention.max-age", TimeSpan.FromDays(30)),
            RetentionSweepInterval = c.GetTimeSpan("retention.sweep-interval", TimeSpan.FromHours(1)),
            RetentionParallelism = c.GetInt("retention.parallelism", 8),
        };
        if (settings.MaxConnectionsPerAddress < 0) throw new ArgumentException("chat.limits.max-connections-per-address must be 0 (no cap) or positive");
        if (settings.RetentionMaxAge <= TimeSpan.Zero) throw new ArgumentException("chat.retention.max-age must be positive");
        if (settings.RetentionSweepInterval <= TimeSpan.Zero) throw new ArgumentException("chat.retention.sweep-interval must be positive");
        if (settings.Media.MaxChunkBytes + 1024 > settings.MaxFrameBytes)
            throw new ArgumentException($"chat.media.max-chunk-bytes ({settings.Media.MaxChunkBytes}) plus 1 KiB must fit in chat.limits.max-frame-bytes ({settings.MaxFrameBytes})");
        return settings;
    }
}

/// <summary>How a phone number becomes an account's (<c>chat.verification.mode</c>).</summary>
public enum VerificationMode
{
    /// <summary>A code goes to the phone through the sender; the number is the account's once Verify brings it back.</summary>
    Required,
    /// <summary>For tests: as <see cref="Required"/>, but the code is handed back in CodeSent instead of being sent.</summary>
    Auto,
    /// <summary>No verification: Register creates the account at once, first come first served.</summary>
    Off,
}

/// <summary>The <c>chat.verification { }</c> section: phone number verification.</summary>
public sealed record VerificationSettings
{
    public VerificationMode Mode { get; init; } = VerificationMode.Required;
    /// <summary><c>log</c> (the code goes to the node's log), or the assembly-qualified name of an <c>IVerificationSender</c>.</summary>
    public string Sender { get; init; } = "log";
    public TimeSpan CodeLifetime { get; init; } = TimeSpan.FromMinutes(10);
    /// <summary>Wrong attempts one code takes; the last one voids it.</summary>
    public int MaxAttempts { get; init; } = 5;
    /// <summary>Codes one phone may be sent in any hour.</summary>
    public int MaxCodesPerHour { get; init; } = 5;

    public static VerificationSettings From(Config? c)
    {
        var d = new VerificationSettings();
        if (c is null || c.IsEmpty) return d;
        var mode = c.GetString("mode", "required").Trim().ToLowerInvariant() switch
        {
            "required" => VerificationMode.Required,
            "auto" => VerificationMode.Auto,
            "off" => VerificationMode.Off,
            var other => throw new ArgumentException($"chat.verification.mode must be required, auto or off, not '{other}'"),
        };
        var settings = new VerificationSettings
        {
            Mode = mode,
            Sender = c.GetString("sender", d.Sender).Trim(),
            CodeLifetime = c.GetTimeSpan("code-lifetime", d.CodeLifetime),
            MaxAttempts = c.GetInt("max-attempts", d.MaxAttempts),
            MaxCodesPerHour = c.GetInt("max-codes-per-hour", d.MaxCodesPerHour),
        };
        if (settings.CodeLifetime <= TimeSpan.Zero) throw new ArgumentException("chat.verification.code-lifetime must be positive");
        if (settings.MaxAttempts < 1) throw new ArgumentException("chat.verification.max-attempts must be at least 1");
        if (settings.MaxCodesPerHour < 1) throw new ArgumentException("chat.verification.max-codes-per-hour must be at least 1");
        if (settings.Sender.Length == 0) throw new ArgumentException("chat.verification.sender must be log or a type name");
        return settings;
    }
}

/// <summary>The <c>chat.media { }</c> section: what may be uploaded, how big, and how long unfinished uploads are kept.</summary>
public sealed record MediaSettings
{
    public IReadOnlyList<string> AllowedTypes { get; init; } =
        ["image/jpeg", "image/png", "image/webp", "image/gif", "video/mp4", "video/webm"];
    public long MaxImageBytes { get; init; } = 16L << 20;
    public long MaxVideoBytes { get; init; } = 64L << 20;
    public int MaxChunkBytes { get; init; } = 256 * 1024;
    public int MaxThumbnailBytes { get; init; } = 16 * 1024;
    public int MaxChunksInFlight { get; init; } = 8;
    public TimeSpan UploadExpiry { get; init; } = TimeSpan.FromHours(24);
    public TimeSpan JanitorInterval { get; init; } = TimeSpan.FromMinutes(10);

    public long MaxBytesFor(string contentType) =>
        contentType.StartsWith("video/", StringComparison.Ordinal) ? MaxVideoBytes : MaxImageBytes;

    public static MediaSettings From(Config? c)
    {
        var d = new MediaSettings();
        if (c is null || c.IsEmpty) return d;
        var types = c.HasPath("allowed-types") ? c.GetStringList("allowed-types").Select(t => t.Trim().ToLowerInvariant()).ToList() : d.AllowedTypes;
        foreach (var t in types)
            if (!Media.MediaTypes.IsKnown(t))
                throw new ArgumentException($"chat.media.allowed-types: '{t}' has no known leading-bytes check; known types: {string.Join(", ", Media.MediaTypes.Known)}");
        var settings = new MediaSettings
        {
            AllowedTypes = types,
            MaxImageBytes = c.GetByteSize("max-image-bytes") ?? d.MaxImageBytes,
            MaxVideoBytes = c.GetByteSize("max-video-bytes") ?? d.MaxVideoBytes,
            MaxChunkBytes = (int)(c.GetByteSize("max-chunk-bytes") ?? d.MaxChunkBytes),
            MaxThumbnailBytes = (int)(c.GetByteSize("max-thumbnail-bytes") ?? d.MaxThumbnailBytes),
            MaxChunksInFlight = c.GetInt("max-chunks-in-flight", d.MaxChunksInFlight),
            UploadExpiry = c.GetTimeSpan("upload-expiry", d.UploadExpiry),
            JanitorInterval = c.GetTimeSpan("janitor-interval", d.JanitorInterval),
        };
        if (settings.MaxChunkBytes is < 1024 or > 4 << 20)
            throw new ArgumentException("chat.media.max-chunk-bytes must be between 1 KiB and 4 MiB");
        return settings;
    }
}
