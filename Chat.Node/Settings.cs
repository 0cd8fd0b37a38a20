using Akka.Configuration;

namespace Chat.Node;

/// <summary>The <c>chat { }</c> section of the configuration, read once at start.</summary>
public sealed record ChatSettings
{
    public required string Host { get; init; }
    public required int Port { get; init; }
    public required string DataDirectory { get; init; }
    /// <summary>Text or JSON lines for the log and the node's own lines.</summary>
    public required Logs.LogFormat LogFormat { get; init; }
    public required int MaxFrameBytes { get; init; }
    /// <summary>The largest frame read before the connection has logged in.</summary>
    public required int MaxFrameBytesBeforeLogin { get; init; }
    /// <summary>Register requests per client address per hour (0: no limit).</summary>
    public required int RegistrationsPerAddress { get; init; }
    /// <summary>Lookup requests per user per minute (0: no limit).</summary>
    public required int LookupsPerUser { get; init; }
    /// <summary>WhoIs requests per user per minute (0: no limit).</summary>
    public required int WhoIsPerUser { get; init; }
    /// <summary>Send and SendGroup requests per user per minute, and the largest burst (0: no limit).</summary>
    public required int SendsPerUser { get; init; }
    /// <summary>Messages from strangers (people the recipient never wrote to) waiting unacknowledged in one inbox (0: no limit).</summary>
    public required int StrangerInboxMessages { get; init; }
    /// <summary>Bytes of text and thumbnails of those messages (0: no limit).</summary>
    public required long StrangerInboxBytes { get; init; }
    public required int MaxTextBytes { get; init; }
    public required int MaxInFlight { get; init; }
    public required int SyncBatch { get; init; }
    /// <summary>How often the node checks whether to give memory back after a burst (zero: never; <see cref="Hosting.MemoryTrimmer"/>).</summary>
    public required TimeSpan MemoryTrimInterval { get; init; }
    /// <summary>Bytes allocated between two checks below which the node counts as quiet.</summary>
    public required long MemoryTrimQuietBytes { get; init; }
    /// <summary>Compile the message path before listening (<see cref="Hosting.Warmup"/>).</summary>
    public required bool WarmUp { get; init; }
    public required int OutgoingHighWater { get; init; }
    /// <summary>Answers (not inbox entries) waiting for a client that does not read, in bytes, before its connection is dropped.</summary>
    public required long MaxQueuedBytes { get; init; }
    public required TimeSpan RequestTimeout { get; init; }
    public required TimeSpan HelloTimeout { get; init; }
    /// <summary>A connection that neither logs in nor registers for this long is closed.</summary>
    public required TimeSpan LoginTimeout { get; init; }
    /// <summary>Failed logins one connection may make; the next failure closes it.</summary>
    public required int MaxFailedLogins { get; init; }
    /// <summary>An unanswered send is told to its inbox or group again this often until <see cref="RequestTimeout"/>.</summary>
    public required TimeSpan ResendAfter { get; init; }
    public required TimeSpan IdleTimeout { get; init; }
    public required TimeSpan KeepAttachedInterval { get; init; }
    public required TimeSpan EntityIdleTimeout { get; init; }
    public required TimeSpan ReceiptRetryInterval { get; init; }
    public required int SnapshotEvery { get; init; }
    /// <summary>Newest inbox entries a user entity holds in memory and writes in its snapshots; older ones are read from the journal.</summary>
    public required int InboxTail { get; init; }
    /// <summary>
    /// Newest inbox entries a user entity holds in memory while none of the user's devices is connected (at most
    /// <see cref="InboxTail"/>): an offline user's inbox only grows, and whatever a device syncs later is read from the journal.
    /// </summary>
    public required int OfflineTail { get; init; }
    /// <summary>How long a (sender, client message id) is recognised, so that a resend is stored once.</summary>
    public required TimeSpan DedupWindow { get; init; }
    public required int MaxConnections { get; init; }
    /// <summary>Open connections from one IP address; 0 for no cap.</summary>
    public required int MaxConnectionsPerAddress { get; init; }
    public required int NameMaxChars { get; init; }
    public required int GroupMaxMembers { get; init; }
    public required int GroupsPerUser { get; init; }
    public required TimeSpan GroupFanoutRetryInterval { get; init; }
    public required MediaSettings Media { get; init; }
    public required VerificationSettings Verification { get; init; }
    /// <summary>Messages, receipts and media older than this are removed.</summary>
    public required TimeSpan RetentionMaxAge { get; init; }
    public required TimeSpan RetentionSweepInterval { get; init; }
    /// <summary>Entities swept at once (each is woken, trims itself and passivates again).</summary>
    public required int RetentionParallelism { get; init; }
    /// <summary>The admin endpoint (<c>chat.admin</c>).</summary>
    public required AdminSettings Admin { get; init; }
    /// <summary>Typing and presence (<c>chat.presence</c>).</summary>
    public required Presence.PresenceSettings Presence { get; init; }

    /// <summary>Where media lives: the filesystem store's root.</summary>
    public string MediaDirectory => Path.Combine(DataDirectory, "media");

    /// <summary>
    /// Reads the <c>chat</c> section. Every setting must be present: <c>hocon/node.conf</c> holds each default, once,
    /// and a configuration without one is a broken installation, refused here rather than run on a guess.
    /// </summary>
    public static ChatSettings From(Config config)
    {
        var c = new Required(config, "chat");
        var settings = new ChatSettings
        {
            Host = c.String("host"),
            Port = c.Int("port"),
            DataDirectory = c.String("data-directory"),
            LogFormat = Logs.LogFormats.Parse(c.String("log-format"), "chat.log-format"),
            MaxFrameBytes = (int)c.Bytes("limits.max-frame-bytes"),
            MaxFrameBytesBeforeLogin = (int)c.Bytes("limits.max-frame-bytes-before-login"),
            RegistrationsPerAddress = c.Int("limits.registrations-per-address"),
            LookupsPerUser = c.Int("limits.lookups-per-user"),
            WhoIsPerUser = c.Int("limits.whois-per-user"),
            SendsPerUser = c.Int("limits.sends-per-user"),
            StrangerInboxMessages = c.Int("limits.stranger-inbox-messages"),
            StrangerInboxBytes = c.Bytes("limits.stranger-inbox-bytes"),
            MaxTextBytes = (int)c.Bytes("limits.max-text-bytes"),
            MaxInFlight = c.Int("limits.max-in-flight"),
            SyncBatch = c.Int("limits.sync-batch"),
            MemoryTrimInterval = c.Time("memory.trim-interval"),
            MemoryTrimQuietBytes = c.Bytes("memory.trim-quiet-bytes"),
            WarmUp = c.Bool("startup.warm-up"),
            OutgoingHighWater = c.Int("limits.outgoing-high-water"),
            MaxQueuedBytes = c.Bytes("limits.max-queued-bytes"),
            MaxConnections = c.Int("limits.max-connections"),
            MaxConnectionsPerAddress = c.Int("limits.max-connections-per-address"),
            NameMaxChars = c.Int("limits.name-max-chars"),
            RequestTimeout = c.Time("session.request-timeout"),
            HelloTimeout = c.Time("session.hello-timeout"),
            LoginTimeout = c.Time("session.login-timeout"),
            MaxFailedLogins = c.Int("session.max-failed-logins"),
            ResendAfter = c.Time("session.resend-after"),
            IdleTimeout = c.Time("session.idle-timeout"),
            KeepAttachedInterval = c.Time("session.keep-attached-interval"),
            EntityIdleTimeout = c.Time("users.idle-timeout"),
            ReceiptRetryInterval = c.Time("users.receipt-retry-interval"),
            SnapshotEvery = c.Int("users.snapshot-every"),
            InboxTail = c.Int("users.inbox-tail"),
            OfflineTail = c.Int("users.offline-tail"),
            DedupWindow = c.Time("users.dedup-window"),
            GroupMaxMembers = c.Int("groups.max-members"),
            GroupsPerUser = c.Int("groups.max-per-user"),
            GroupFanoutRetryInterval = c.Time("groups.fanout-retry-interval"),
            Media = MediaSettings.From(config),
            RetentionMaxAge = c.Time("retention.max-age"),
            RetentionSweepInterval = c.Time("retention.sweep-interval"),
            RetentionParallelism = c.Int("retention.parallelism"),
            Verification = VerificationSettings.From(config),
            Admin = AdminSettings.From(config),
            Presence = Chat.Node.Presence.PresenceSettings.From(config),
        };
        if (settings.WhoIsPerUser < 0) throw new ArgumentException("chat.limits.whois-per-user must be 0 (no limit) or positive");
        if (settings.SendsPerUser < 0) throw new ArgumentException("chat.limits.sends-per-user must be 0 (no limit) or positive");
        if (settings.StrangerInboxMessages < 0 || settings.StrangerInboxBytes < 0)
            throw new ArgumentException("chat.limits.stranger-inbox-messages and stranger-inbox-bytes must be 0 (no limit) or positive");
        if (settings.MaxConnectionsPerAddress < 0) throw new ArgumentException("chat.limits.max-connections-per-address must be 0 (no cap) or positive");
        if (settings.InboxTail < 1 || settings.OfflineTail < 1)
            throw new ArgumentException("chat.users.inbox-tail and chat.users.offline-tail must be at least 1");
        if (settings.RetentionMaxAge <= TimeSpan.Zero) throw new ArgumentException("chat.retention.max-age must be positive");
        if (settings.RetentionSweepInterval <= TimeSpan.Zero) throw new ArgumentException("chat.retention.sweep-interval must be positive");
        if (settings.MaxFrameBytesBeforeLogin is < 1024 || settings.MaxFrameBytesBeforeLogin > settings.MaxFrameBytes)
            throw new ArgumentException($"chat.limits.max-frame-bytes-before-login must be at least 1 KiB and at most chat.limits.max-frame-bytes ({settings.MaxFrameBytes})");
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
    public required VerificationMode Mode { get; init; }
    /// <summary><c>log</c> (the code goes to the node's log), or the assembly-qualified name of an <c>IVerificationSender</c>.</summary>
    public required string Sender { get; init; }
    public required TimeSpan CodeLifetime { get; init; }
    /// <summary>Wrong attempts one code takes; the last one voids it.</summary>
    public required int MaxAttempts { get; init; }
    /// <summary>Codes one phone may be sent in any hour.</summary>
    public required int MaxCodesPerHour { get; init; }
    /// <summary>A phone's directory entry with no code pending leaves memory after this long without requests.</summary>
    public required TimeSpan IdleTimeout { get; init; }

    /// <summary>Reads <c>chat.verification</c>; like <see cref="ChatSettings.From"/>, every setting must be present.</summary>
    public static VerificationSettings From(Config config)
    {
        var c = new Required(config, "chat.verification");
        var mode = c.String("mode").Trim().ToLowerInvariant() switch
        {
            "required" => VerificationMode.Required,
            "auto" => VerificationMode.Auto,
            "off" => VerificationMode.Off,
            var other => throw new ArgumentException($"chat.verification.mode must be required, auto or off, not '{other}'"),
        };
        var settings = new VerificationSettings
        {
            Mode = mode,
            Sender = c.String("sender").Trim(),
            CodeLifetime = c.Time("code-lifetime"),
            MaxAttempts = c.Int("max-attempts"),
            MaxCodesPerHour = c.Int("max-codes-per-hour"),
            IdleTimeout = c.Time("idle-timeout"),
        };
        if (settings.CodeLifetime <= TimeSpan.Zero) throw new ArgumentException("chat.verification.code-lifetime must be positive");
        if (settings.MaxAttempts < 1) throw new ArgumentException("chat.verification.max-attempts must be at least 1");
        if (settings.IdleTimeout <= TimeSpan.Zero) throw new ArgumentException("chat.verification.idle-timeout must be positive");
        if (settings.MaxCodesPerHour < 1) throw new ArgumentException("chat.verification.max-codes-per-hour must be at least 1");
        if (settings.Sender.Length == 0) throw new ArgumentException("chat.verification.sender must be log or a type name");
        return settings;
    }
}

/// <summary>The <c>chat.admin { }</c> section: the HTTP endpoint for health checks, metrics and <c>chat admin</c>.</summary>
public sealed record AdminSettings
{
    /// <summary>The port; null when the endpoint is off, 0 for any free port.</summary>
    public required int? Port { get; init; }
    public required string Host { get; init; }
    /// <summary>The bearer token; empty: generated into (then read from) <c>admin.token</c> in the data directory.</summary>
    public required string Token { get; init; }

    /// <summary>Reads <c>chat.admin</c>; like <see cref="ChatSettings.From"/>, every setting must be present.</summary>
    public static AdminSettings From(Config config)
    {
        var c = new Required(config, "chat.admin");
        var port = c.String("port").Trim();
        var settings = new AdminSettings
        {
            Port = port.Equals("off", StringComparison.OrdinalIgnoreCase) ? null
                : int.TryParse(port, out var p) && p is >= 0 and <= 65535 ? p
                : throw new ArgumentException($"chat.admin.port must be off or a port number 0-65535, not '{port}'"),
            Host = c.String("host").Trim(),
            Token = c.String("token").Trim(),
        };
        if (settings.Host.Length == 0) throw new ArgumentException("chat.admin.host must be an address, e.g. 127.0.0.1");
        if (settings.Token.Length is > 0 and < 16) throw new ArgumentException("chat.admin.token must be at least 16 characters (or empty to generate one)");
        return settings;
    }
}

/// <summary>The <c>chat.media { }</c> section: what may be uploaded, how big, and how long unfinished uploads are kept.</summary>
public sealed record MediaSettings
{
    public required IReadOnlyList<string> AllowedTypes { get; init; }
    public required long MaxImageBytes { get; init; }
    public required long MaxVideoBytes { get; init; }
    public required int MaxChunkBytes { get; init; }
    public required int MaxThumbnailBytes { get; init; }
    public required int MaxChunksInFlight { get; init; }
    public required TimeSpan UploadExpiry { get; init; }
    public required TimeSpan JanitorInterval { get; init; }
    /// <summary>Where media is kept: <c>file</c> (the data directory) or <c>s3</c> (an S3-compatible object store, <see cref="S3"/>).</summary>
    public required string Store { get; init; }
    public required S3Settings S3 { get; init; }

    public long MaxBytesFor(string contentType) =>
        contentType.StartsWith("video/", StringComparison.Ordinal) ? MaxVideoBytes : MaxImageBytes;

    /// <summary>Reads <c>chat.media</c>; like <see cref="ChatSettings.From"/>, every setting must be present.</summary>
    public static MediaSettings From(Config config)
    {
        var c = new Required(config, "chat.media");
        var types = c.StringList("allowed-types").Select(t => t.Trim().ToLowerInvariant()).ToList();
        foreach (var t in types)
            if (!Media.MediaTypes.IsKnown(t))
                throw new ArgumentException($"chat.media.allowed-types: '{t}' has no known leading-bytes check; known types: {string.Join(", ", Media.MediaTypes.Known)}");
        var settings = new MediaSettings
        {
            AllowedTypes = types,
            MaxImageBytes = c.Bytes("max-image-bytes"),
            MaxVideoBytes = c.Bytes("max-video-bytes"),
            MaxChunkBytes = (int)c.Bytes("max-chunk-bytes"),
            MaxThumbnailBytes = (int)c.Bytes("max-thumbnail-bytes"),
            MaxChunksInFlight = c.Int("max-chunks-in-flight"),
            UploadExpiry = c.Time("upload-expiry"),
            JanitorInterval = c.Time("janitor-interval"),
            Store = c.String("store").Trim().ToLowerInvariant(),
            S3 = S3Settings.From(config),
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
    public required string Endpoint { get; init; }
    public required string Bucket { get; init; }
    public required string Region { get; init; }
    /// <summary>Requests name the bucket in the path (<c>host/bucket/key</c>) rather than the host name: most self-hosted stores need it.</summary>
    public required bool ForcePathStyle { get; init; }
    /// <summary>Empty: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or the SDK's other usual sources.</summary>
    public required string AccessKey { get; init; }
    public required string SecretKey { get; init; }
    /// <summary>Bytes per multipart part when an upload is assembled (and so the most one completion holds in memory).</summary>
    public required long PartSize { get; init; }

    /// <summary>Reads <c>chat.media.s3</c> (read whichever store is chosen, so that a missing setting is found at once).</summary>
    public static S3Settings From(Config config)
    {
        var c = new Required(config, "chat.media.s3");
        return new S3Settings
        {
            Endpoint = c.String("endpoint").Trim(),
            Bucket = c.String("bucket").Trim(),
            Region = c.String("region").Trim(),
            ForcePathStyle = c.Bool("force-path-style"),
            AccessKey = c.String("access-key"),
            SecretKey = c.String("secret-key"),
            PartSize = c.Bytes("part-size"),
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

/// <summary>
/// Reads settings under a section and refuses a missing one, naming it: the defaults live in <c>hocon/node.conf</c>
/// alone, so code never carries a second copy to fall back on.
/// </summary>
public readonly struct Required(Config config, string section)
{
    private string Path(string key) => section.Length == 0 ? key : section + "." + key;

    private string Present(string key)
    {
        var path = Path(key);
        if (!config.HasPath(path))
            throw new ConfigurationException($"setting {path} is missing: hocon/node.conf sets every chat setting, and a file layered over it may change one but not remove it");
        return path;
    }

    public string String(string key) => config.GetString(Present(key));
    public int Int(string key) => config.GetInt(Present(key));
    public long Bytes(string key) => config.GetByteSize(Present(key)) ?? throw new ConfigurationException($"setting {Path(key)} is not a size");
    public TimeSpan Time(string key) => config.GetTimeSpan(Present(key));
    public IList<string> StringList(string key) => config.GetStringList(Present(key));
    public bool Bool(string key) => config.GetBoolean(Present(key));
}
