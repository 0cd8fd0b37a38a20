using System.Diagnostics;
using System.Net;
using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Hosting;
using Akka.Cluster.Sharding;
using Akka.Cluster.Tools.Singleton;
using Akka.Configuration;
using Akka.Hosting;
using Chat.Node.Directory;
using Chat.Node.Groups;
using Chat.Node.Media;
using Chat.Node.Persistence;
using Chat.Node.Retention;
using Chat.Node.Sessions;
using Chat.Node.Tcp;
using Chat.Node.Users;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Chat.Node.Hosting;

/// <summary>How to start a node: command-line flags, extra configuration files, and for tests a clock.</summary>
public sealed record NodeOptions
{
    public string? Host { get; init; }
    public int? Port { get; init; }
    public string? DataDirectory { get; init; }
    /// <summary>Seed nodes as <c>HOST:PORT</c> (cluster ports); empty: the node forms a cluster of its own.</summary>
    public IReadOnlyList<string>? Seeds { get; init; }
    /// <summary>The address other nodes reach this one at (akka.remote.dot-netty.tcp.hostname).</summary>
    public string? ClusterHost { get; init; }
    /// <summary>The cluster port; 0 picks a free one.</summary>
    public int? ClusterPort { get; init; }
    /// <summary>The admin endpoint's port (chat.admin.port); 0 picks a free one.</summary>
    public int? AdminPort { get; init; }
    /// <summary>Cluster roles of this node.</summary>
    public IReadOnlyList<string>? Roles { get; init; }
    /// <summary>HOCON files layered over hocon/, later files win.</summary>
    public IReadOnlyList<string> ConfigFiles { get; init; } = [];
    /// <summary>HOCON text layered over everything but the flags (tests use it).</summary>
    public string? ExtraHocon { get; init; }
    public TimeProvider Clock { get; init; } = TimeProvider.System;
    /// <summary>Receives the node's operator lines (retention sweeps, expired uploads, verification codes of the log sender, cluster
    /// start-up); the node's program prints them.</summary>
    public Action<OperatorLine>? Report { get; init; }
    /// <summary><c>text</c> or <c>json</c> (--log-format); null: <c>CHAT_LOG_FORMAT</c>, else <c>chat.log-format</c>.</summary>
    public string? LogFormat { get; init; }
    /// <summary>Where hocon/*.conf live; defaults to the folder next to the executable.</summary>
    public string? HoconDirectory { get; init; }
}

public sealed class UserRegion;
public sealed class PhoneRegion;
public sealed class GroupRegion;

/// <summary>A running node: the generic host with the actor system, sharding, persistence and the TCP edge.</summary>
public sealed class ChatNode : IAsyncDisposable
{
    private readonly IHost _host;
    private readonly EdgeService _edge;

    private ChatNode(IHost host, EdgeService edge, ChatSettings settings)
    {
        _host = host;
        _edge = edge;
        Settings = settings;
    }

    public ChatSettings Settings { get; }
    public IPEndPoint Endpoint => _edge.Endpoint!;
    public ActorSystem System => _host.Services.GetRequiredService<ActorSystem>();
    public TcpEdge Edge => _edge.Edge!;
    public IActorRef MediaJanitor => _edge.MediaJanitor;
    /// <summary>The retention sweeper: tell it <see cref="RetentionSweeper.SweepNow"/> to sweep at once.</summary>
    public IActorRef Retention => _edge.Retention;
    public IMediaStore Media => _host.Services.GetRequiredService<IMediaStore>();
    public IHost Host => _host;
    /// <summary>Where the admin endpoint listens; null when it is off (chat.admin.port = off).</summary>
    public IPEndPoint? AdminEndpoint => _host.Services.GetRequiredService<Admin.AdminEndpoint>().Endpoint;

    /// <summary>Layers the configuration: flags over extra HOCON over --config files over hocon/.</summary>
    public static Config LoadConfig(NodeOptions options)
    {
        var dir = options.HoconDirectory ?? Path.Combine(AppContext.BaseDirectory, "hocon");
        var config = ConfigurationFactory.ParseString(File.ReadAllText(Path.Combine(dir, "node.conf")));
        var persistence = new Required(config, "chat").String("persistence");
        foreach (var file in options.ConfigFiles) // each over those before it: the last one wins
        {
            if (!File.Exists(file)) throw new FileNotFoundException($"configuration file {file} not found", file);
            config = ConfigurationFactory.ParseString(File.ReadAllText(file)).WithFallback(config);
        }
        if (options.ExtraHocon is not null) config = ConfigurationFactory.ParseString(options.ExtraHocon).WithFallback(config);
        persistence = Environment.GetEnvironmentVariable("CHAT_PERSISTENCE") is { Length: > 0 } fromEnvironment
            ? fromEnvironment
            : new Required(config, "chat").String("persistence");
        config = ConfigurationFactory.ParseString($"chat.persistence = {Quote(persistence)}").WithFallback(config);
        var backend = Path.Combine(dir, persistence + ".conf");
        if (!File.Exists(backend)) throw new ArgumentException($"chat.persistence = {persistence}: no {backend}");
        config = config.WithFallback(ConfigurationFactory.ParseString(File.ReadAllText(backend)));

        var overrides = new List<string>();
        var host = options.Host ?? Environment.GetEnvironmentVariable("CHAT_HOST");
        var port = options.Port?.ToString() ?? Environment.GetEnvironmentVariable("CHAT_PORT");
        var data = options.DataDirectory ?? Environment.GetEnvironmentVariable("CHAT_DATA");
        if (host is not null) overrides.Add($"chat.host = {Quote(host)}");
        if (port is not null) overrides.Add($"chat.port = {ParsePort(port, "CHAT_PORT")}");
        if (data is not null) overrides.Add($"chat.data-directory = {Quote(data)}");
        var adminPort = options.AdminPort?.ToString() ?? Environment.GetEnvironmentVariable("CHAT_ADMIN_PORT");
        if (adminPort is not null) overrides.Add($"chat.admin.port = {ParsePort(adminPort, "CHAT_ADMIN_PORT")}");
        var logFormat = options.LogFormat ?? Environment.GetEnvironmentVariable("CHAT_LOG_FORMAT");
        if (logFormat is { Length: > 0 })
            overrides.Add($"chat.log-format = {Logs.LogFormats.Parse(logFormat, options.LogFormat is null ? "CHAT_LOG_FORMAT" : "--log-format").ToString().ToLowerInvariant()}");
        overrides.AddRange(ClusterOverrides(options));
        if (overrides.Count > 0) config = ConfigurationFactory.ParseString(string.Join("\n", overrides)).WithFallback(config);
        RefuseUnsharedStore(config);
        return config;
    }

    /// <summary>
    /// The embedded SQLite file belongs to one node: a second node with its own file would recover the same users from
    /// different histories, and shards moving between them would lose messages. A node given seed nodes other than
    /// itself must use a store every node shares (PostgreSQL).
    /// </summary>
    private static void RefuseUnsharedStore(Config config)
    {
        var persistence = new Required(config, "chat").String("persistence");
        if (persistence is not ("sqlite" or "sqlite-sql")) return;
        var self = $"akka.tcp://{SystemName}@{config.GetString("akka.remote.dot-netty.tcp.hostname")}:{config.GetInt("akka.remote.dot-netty.tcp.port")}";
        var others = config.GetStringList("akka.cluster.seed-nodes").Where(seed => seed != self).ToList();
        if (others.Count == 0) return;
        throw new ArgumentException(
            $"chat.persistence = {persistence} keeps messages in this node's own file, but seed nodes ({string.Join(", ", others)}) make it " +
            "part of a cluster whose nodes must share one store: set chat.persistence = postgres and CHAT_POSTGRES " +
            "(docs/operations.md, Running a cluster)");
    }

    /// <summary>The actor system's name: part of every cluster address (akka.tcp://chat@host:port).</summary>
    public const string SystemName = "chat";

    /// <summary>Cluster host, port, seeds and roles from flags, else from CHAT_CLUSTER_HOST, CHAT_CLUSTER_PORT, CHAT_SEEDS, CHAT_ROLES.</summary>
    private static IEnumerable<string> ClusterOverrides(NodeOptions options)
    {
        static IReadOnlyList<string>? List(string? value) =>
            value is null ? null : value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var clusterHost = options.ClusterHost ?? Environment.GetEnvironmentVariable("CHAT_CLUSTER_HOST");
        var clusterPort = options.ClusterPort?.ToString() ?? Environment.GetEnvironmentVariable("CHAT_CLUSTER_PORT");
        var seeds = options.Seeds ?? List(Environment.GetEnvironmentVariable("CHAT_SEEDS"));
        var roles = options.Roles ?? List(Environment.GetEnvironmentVariable("CHAT_ROLES"));
        if (clusterHost is not null) yield return $"akka.remote.dot-netty.tcp.hostname = {Quote(clusterHost)}";
        if (clusterPort is not null) yield return $"akka.remote.dot-netty.tcp.port = {ParsePort(clusterPort, "CHAT_CLUSTER_PORT")}";
        if (seeds is not null)
            yield return $"akka.cluster.seed-nodes = [{string.Join(", ", seeds.Select(seed => Quote(SeedAddress(seed))))}]";
        if (roles is not null) yield return $"akka.cluster.roles = [{string.Join(", ", roles.Select(Quote))}]";
    }

    /// <summary><c>HOST:PORT</c> → <c>akka.tcp://chat@HOST:PORT</c>; a full akka.tcp address passes unchanged.</summary>
    public static string SeedAddress(string seed)
    {
        if (seed.StartsWith("akka.tcp://", StringComparison.Ordinal)) return seed;
        var colon = seed.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(seed[(colon + 1)..], out var port) || port is < 1 or > 65535)
            throw new ArgumentException($"seed node '{seed}' must be HOST:PORT (the other node's cluster port)");
        return $"akka.tcp://{SystemName}@{seed[..colon]}:{port}";
    }

    private static int ParsePort(string value, string name) =>
        int.TryParse(value, out var port) && port is >= 0 and <= 65535
            ? port
            : throw new ArgumentException($"{name} must be a port number 0-65535, not '{value}'");

    private static string Quote(string value) => "\"" + value.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";


    public static IHost BuildHost(NodeOptions options, out ChatSettings settings)
    {
        var config = LoadConfig(options);
        var s = ChatSettings.From(config);
        settings = s;
        DataDirectory.EnsureWritable(s.DataDirectory);
        // sqlite: the file in the data directory; postgres: the shared database named by chat.postgres / CHAT_POSTGRES
        var persistence = PersistenceBackend.From(config, s);
        config = persistence.Config.WithFallback(Akka.Persistence.Sql.SqlPersistence.DefaultConfiguration);
        var shards = config.GetInt("akka.cluster.sharding.number-of-shards", 100);
        // JSON logs: Akka's events go through the node's JSON logger instead of its text logger, and what Akka writes
        // before its loggers start and after they stop goes through a JSON minimal logger, so that no text line slips out
        if (s.LogFormat == Logs.LogFormat.Json)
            config = ConfigurationFactory.ParseString($"akka.loggers = [\"{Logs.JsonLogger.TypeName}\"]\n" +
                                                      $"akka.stdout-logger-class = \"{Logs.JsonStandardOutLogger.TypeName}\"").WithFallback(config);

        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            DisableDefaults = true,
        });
        builder.Logging.ClearProviders();
        // the node's program owns SIGTERM and Ctrl-C (Program.Main); the host's default console lifetime would also
        // act on them, stopping the actor system behind the program's back
        builder.Services.AddSingleton<IHostLifetime, ProgramLifetime>();
        builder.Services.AddSingleton(options.Clock);
        builder.Services.AddSingleton(s);
        // file: the data directory (one node, or nodes sharing it); s3: the bucket every node of a cluster reaches
        builder.Services.AddSingleton<IMediaStore>(_ => s.Media.Store == "s3" ? S3MediaStore.Connect(s.Media.S3) : new FileMediaStore(s.MediaDirectory));
        var report = new OperatorReport(options.Report ?? (_ => { }));
        builder.Services.AddSingleton(report);
        builder.Services.AddSingleton(VerificationSenders.Create(s.Verification, config.GetConfig("chat.verification") ?? Config.Empty, report));
        builder.Services.AddSingleton(persistence.Maintenance);
        builder.Services.AddAkka(SystemName, (akka, sp) =>
        {
            akka.AddHocon(config, HoconAddMode.Prepend)
                .AddSetup(persistence.Setup)
                .WithShardRegion<UserRegion>(UserEntity.RegionName,
                    entityId => UserEntity.Props(entityId, s, options.Clock),
                    new UserMessageExtractor(shards),
                    new ShardOptions
                    {
                        ShouldPassivateIdleEntities = false, RememberEntities = false, StateStoreMode = StateStoreMode.DData,
                        HandOffStopMessage = DurableOrderActor.StopWhenDurable.Instance,
                    })
                .WithShardRegion<GroupRegion>(GroupEntity.RegionName,
                    entityId => GroupEntity.Props(entityId, s, options.Clock),
                    new GroupMessageExtractor(shards),
                    // remembered: a group whose fan-out was interrupted by a crash starts again with the node
                    // and finishes it (a group passivates, and is forgotten, only once its fan-out is complete)
                    new ShardOptions
                    {
                        ShouldPassivateIdleEntities = false, RememberEntities = true,
                        RememberEntitiesStore = RememberEntitiesStore.Eventsourced, StateStoreMode = StateStoreMode.DData,
                        HandOffStopMessage = DurableOrderActor.StopWhenDurable.Instance,
                    })
                .WithShardRegion<PhoneRegion>(PhoneClaim.RegionName,
                    phone => PhoneClaim.Props(phone, s.Verification, sp.GetRequiredService<IVerificationSender>(), options.Clock),
                    new PhoneMessageExtractor(shards),
                    new ShardOptions { ShouldPassivateIdleEntities = false, RememberEntities = false, StateStoreMode = StateStoreMode.DData });
        });
        builder.Services.AddSingleton<EdgeService>();
        // the admin endpoint starts before the edge joins the cluster: its health checks answer while the node waits
        builder.Services.AddSingleton<Admin.AdminEndpoint>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<Admin.AdminEndpoint>());
        builder.Services.AddHostedService(sp => sp.GetRequiredService<EdgeService>());
        return builder.Build();
    }

    /// <summary>Starts a node and returns once it accepts clients.</summary>
    public static async Task<ChatNode> StartAsync(NodeOptions options, CancellationToken cancellationToken = default)
    {
        var host = BuildHost(options, out var settings);
        if (settings.WarmUp) _ = Warmup.StartOnce(); // alongside the actor system's start; the edge awaits it
        try
        {
            await host.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            // what did start (the actor system, the admin endpoint's port) stops with the failed start
            try { await host.StopAsync(CancellationToken.None).ConfigureAwait(false); }
            catch (Exception) { /* the start's own failure is the one to report */ }
            host.Dispose();
            throw;
        }
        return new ChatNode(host, host.Services.GetRequiredService<EdgeService>(), settings);
    }

    public async Task StopAsync()
    {
        await _host.StopAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        try { await StopAsync().ConfigureAwait(false); }
        finally { _host.Dispose(); }
    }

    /// <summary>A host lifetime that leaves signals to the program.</summary>
    private sealed class ProgramLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    /// <summary>
    /// Starts after the actor system: joins the cluster (itself, when no seed nodes are configured),
    /// waits until this member is up, then opens the client port. Stops first: the port closes and
    /// sessions are told before the actor system goes down.
    /// </summary>
    internal sealed class EdgeService(ActorSystem system, ChatSettings settings, IActorRegistry registry, TimeProvider clock, IMediaStore media,
        IJournalMaintenance journal, OperatorReport report) : IHostedService
    {
        public IActorRef Retention { get; private set; } = ActorRefs.Nobody;
        public TcpEdge? Edge { get; private set; }
        public IActorRef MediaJanitor { get; private set; } = ActorRefs.Nobody;
        public IPEndPoint? Endpoint { get; private set; }

        public async Task StartAsync(CancellationToken cancellationToken)
        {
            report.NodeAddress = Cluster.Get(system).SelfAddress.ToString();
            await JoinAsync(cancellationToken).ConfigureAwait(false);
            var users = await registry.GetAsync<UserRegion>(cancellationToken).ConfigureAwait(false);
            var phones = await registry.GetAsync<PhoneRegion>(cancellationToken).ConfigureAwait(false);
            var groups = await registry.GetAsync<GroupRegion>(cancellationToken).ConfigureAwait(false);
            foreach (var region in new[] { users, phones, groups }) await ShardingReadyAsync(region, cancellationToken).ConfigureAwait(false);
            // one sweeper and one janitor per cluster: each runs on the oldest node and moves when that node leaves;
            // every node talks to them through a proxy
            Retention = Singleton("retention", RetentionSweeper.Props(settings, users, groups, media, journal, clock, report));
            MediaJanitor = Singleton("media-janitor", Chat.Node.Media.MediaJanitor.Props(media, settings.Media, clock, report));
            if (settings.Verification.Mode == VerificationMode.Auto)
                report.Write(new OperatorLine("verification-auto",
                    "verification: chat.verification.mode = auto hands every code back to the client, so anyone can take any phone number; for tests only")
                    { Level = "warning" });
            SendRates.Start(system, settings.SendsPerUser, clock); // before any session asks for it
            if (settings.WarmUp) await WarmedUpAsync(cancellationToken).ConfigureAwait(false);
            Edge = new TcpEdge(system, settings, connection => Session.Props(connection, settings, users, phones, groups, clock, media));
            Endpoint = Edge.Start();
            var edge = Edge;
            system.ActorOf(Admin.NodeProbe.Props($"{Endpoint.Address}:{Endpoint.Port}", () => edge.OpenConnections), Admin.NodeProbe.Name);
            if (MemoryTrimmer.Props(settings.MemoryTrimInterval, settings.MemoryTrimQuietBytes, report) is { } trimmer)
                system.ActorOf(trimmer, "memory-trimmer");
        }

        public async Task StopAsync(CancellationToken cancellationToken)
        {
            if (Edge is not null) await Edge.StopAsync().ConfigureAwait(false);
        }

        /// <summary>
        /// Joins the cluster (itself, when no seed nodes are configured) and waits until this member is up. Seeds that
        /// cannot be reached are retried for as long as it takes (Akka retries the join); a line says so every 10 s.
        /// </summary>
        private async Task JoinAsync(CancellationToken cancellationToken)
        {
            var cluster = Cluster.Get(system);
            var seeds = system.Settings.Config.GetStringList("akka.cluster.seed-nodes");
            if (seeds.Count == 0) cluster.Join(cluster.SelfAddress);
            var up = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            cluster.RegisterOnMemberUp(() => up.TrySetResult());
            var waited = Stopwatch.StartNew();
            while (true)
            {
                var tick = Task.Delay(TimeSpan.FromSeconds(10), cancellationToken);
                if (await Task.WhenAny(up.Task, tick).ConfigureAwait(false) == up.Task) break;
                cancellationToken.ThrowIfCancellationRequested();
                report.Write(new OperatorLine("cluster-not-joined",
                    $"cluster: not joined after {waited.Elapsed.TotalSeconds:0} s; still trying seed nodes {string.Join(", ", seeds)} " +
                    $"(this node is {cluster.SelfAddress}, status {cluster.SelfMember.Status})",
                    [new("seconds", Math.Round(waited.Elapsed.TotalSeconds)), new("seeds", string.Join(",", seeds)), new("status", cluster.SelfMember.Status.ToString())])
                    { Level = "warning" });
            }
            if (seeds.Count > 0)
                report.Write("cluster-joined", $"cluster: joined as {cluster.SelfAddress} in {waited.Elapsed.TotalSeconds:0.0} s",
                    [new("seconds", Math.Round(waited.Elapsed.TotalSeconds, 1))]);
        }

        /// <summary>
        /// Waits until the region's coordinator runs and knows this node's region, so that the first requests of the
        /// first clients are routed at once rather than waiting (and perhaps timing out) while the cluster forms.
        /// </summary>
        private async Task ShardingReadyAsync(IActorRef region, CancellationToken cancellationToken)
        {
            var self = Cluster.Get(system).SelfAddress;
            var waited = Stopwatch.StartNew();
            var reported = TimeSpan.Zero;
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                try
                {
                    var current = await region.Ask<CurrentRegions>(GetCurrentRegions.Instance, TimeSpan.FromSeconds(2), cancellationToken).ConfigureAwait(false);
                    if (current.Regions.Contains(self)) return;
                }
                catch (AskTimeoutException)
                {
                    // the coordinator is still starting
                }
                if (waited.Elapsed - reported >= TimeSpan.FromSeconds(10))
                {
                    reported = waited.Elapsed;
                    report.Write(new OperatorLine("sharding-not-ready",
                        $"cluster: sharding of {region.Path.Name} not ready after {waited.Elapsed.TotalSeconds:0} s; still waiting for its coordinator",
                        [new("region", region.Path.Name), new("seconds", Math.Round(waited.Elapsed.TotalSeconds))]) { Level = "warning" });
                }
                await Task.Delay(100, cancellationToken).ConfigureAwait(false);
            }
        }

        /// <summary>
        /// Waits for the warm-up started with the node (<see cref="Warmup"/>) and says what it did. A warm-up that
        /// fails only leaves the first messages to compile on their way: the node starts all the same.
        /// </summary>
        private async Task WarmedUpAsync(CancellationToken cancellationToken)
        {
            Warmup.Result done;
            try
            {
                done = await Warmup.StartOnce().WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                report.Write(new OperatorLine("warm-up-failed", $"warm-up failed, the first messages compile on their way: {e.Message}",
                    [new("reason", e.Message)]) { Level = "warning" });
                return;
            }
            report.Write(new OperatorLine("warmed-up",
                $"compiled {done.Methods} methods and {done.Formatters} message formatters in {done.Took.TotalSeconds:0.0} s before listening",
                [new("methods", done.Methods), new("formatters", done.Formatters), new("seconds", Math.Round(done.Took.TotalSeconds, 2))]));
        }

        private IActorRef Singleton(string name, Props props)
        {
            system.ActorOf(ClusterSingletonManager.Props(props, PoisonPill.Instance, ClusterSingletonManagerSettings.Create(system)), name);
            return system.ActorOf(ClusterSingletonProxy.Props($"/user/{name}", ClusterSingletonProxySettings.Create(system)), name + "-proxy");
        }
    }
}
