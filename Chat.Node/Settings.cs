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
    /// <summary>Where media is kept: <c>file</c> (the data directory) or <c>s3</c> (an S3-compatible object store, <see cref="S3"/>).</summary>
    public string Store { get; init; } = "file";
    public S3Settings S3 { get; init; } = new();

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
            Store = c.GetString("store", d.Store).Trim().ToLowerInvariant(),
            S3 = S3Settings.From(c.GetConfig("s3")),
        };
        if (settings.MaxChunkBytes is < 1024 or > 4 << 20)
            throw new ArgumentException("chat.media.max-chunk-bytes must be between 1 KiB and 4 MiB");
        if (settings.Store is not ("file" or "s3"))
            throw new ArgumentException($"chat.media.store must be file or s3, not '{settings.Store}'");
        if (settings.Store == "s3") settings.S3.Check();
        return settings;
    }
}

/// <summary>The <c>chat.media.s3 { }</c> section: the object store used when <c>chat.media.store = s3</c>.</summary>
public sealed record S3Settings
{
    /// <summary>The smallest part S3 accepts in a multipart upload (all but the last part).</summary>
    public const long MinPartSize = 5L << 20;

    /// <summary>The store's URL (<c>http://127.0.0.1:9000</c>); empty for AWS S3 itself, found by <see cref="Region"/>.</summary>
    public string Endpoint { get; init; } = "";
    public string Bucket { get; init; } = "";
    public string Region { get; init; } = "us-east-1";
    /// <summary>Requests name the bucket in the path (<c>host/bucket/key</c>) rather than the host name: most self-hosted stores need it.</summary>
    public bool ForcePathStyle { get; init; }
    /// <summary>Empty: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or the SDK's other usual sources.</summary>
    public string AccessKey { get; init; } = "";
    public string SecretKey { get; init; } = "";
    /// <summary>Bytes per multipart part when an upload is assembled (and so the most one completion holds in memory).</summary>
    public long PartSize { get; init; } = 8L << 20;

    public static S3Settings From(Config? c)
    {
        var d = new S3Settings();
        if (c is null || c.IsEmpty) return d;
        return new S3Settings
        {
            Endpoint = c.GetString("endpoint", d.Endpoint).Trim(),
            Bucket = c.GetString("bucket", d.Bucket).Trim(),
            Region = c.GetString("region", d.Region).Trim(),
            ForcePathStyle = c.GetBoolean("force-path-style", d.ForcePathStyle),
            AccessKey = c.GetString("access-key", d.AccessKey),
            SecretKey = c.GetString("secret-key", d.SecretKey),
            PartSize = c.GetByteSize("part-size") ?? d.PartSize,
        };
    }

    /// <summary>Refuses settings the store cannot work with (the node does not start).</summary>
    public void Check()
    {
        if (Bucket.Length == 0)
            throw new ArgumentException("chat.media.store = s3 needs a bucket: set chat.media.s3.bucket");
        if (Endpoint.Length > 0 && !(Uri.TryCreate(Endpoint, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"))
            throw new ArgumentException($"chat.media.s3.endpoint must be an http:// or https:// URL, not '{Endpoint}'");
        if (Region.Length == 0)
            throw new ArgumentException("chat.media.s3.region must not be empty (us-east-1 suits most self-hosted stores)");
        if ((AccessKey.Length == 0) != (SecretKey.Length == 0))
            throw new ArgumentException("chat.media.s3.access-key and chat.media.s3.secret-key go together: set both, or neither to use AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
        if (PartSize is < MinPartSize or > 1L << 30)
            throw new ArgumentException($"chat.media.s3.part-size must be 5 MiB to 1 GiB (S3 refuses smaller parts), not {PartSize}");
    }
}
