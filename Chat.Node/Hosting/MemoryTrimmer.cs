using Akka.Actor;

namespace Chat.Node.Hosting;

/// <summary>
/// Gives memory back after a burst. Entities that passivate leave their objects in the oldest generation, and a node
/// that then goes quiet allocates too little to start a full collection: the memory stays committed. Measured: 99,000
/// users registered, then idle, held 1,072 MB resident for as long as the node stayed quiet, over a live heap of 18 MB;
/// a full collection brought it to 173-203 MB. Every <c>chat.memory.trim-interval</c> this looks at the node: when it was
/// quiet, and at least half of the most entities it saw running since the last full collection (and at least
/// <see cref="MinEntitiesGone"/>) have stopped since, it runs one compacting full collection that also returns the
/// freed memory to the system.
/// </summary>
public sealed class MemoryTrimmer : ReceiveActor, IWithTimers
{
    private sealed class Check : INoSerializationVerificationNeeded
    {
        public static readonly Check Instance = new();
    }

    /// <summary>Fewer stopped entities than this are not worth a full collection, whatever their share.</summary>
    public const long MinEntitiesGone = 1_000;

    public ITimerScheduler Timers { get; set; } = null!;

    private readonly long _quietBytes;
    private readonly OperatorReport _report;
    private readonly Func<long> _entities;
    private readonly Func<int> _fullCollections;
    private long _allocatedAtLastCheck = GC.GetTotalAllocatedBytes();
    private long _entitiesAtLastFull;
    private int _lastFullIndex;

    /// <param name="fullCollections">How many full collections have run (the runtime's count unless a test says).</param>
    public MemoryTrimmer(TimeSpan interval, long quietBytes, OperatorReport report, Func<long> entities, Func<int>? fullCollections = null)
    {
        _quietBytes = quietBytes;
        _report = report;
        _entities = entities;
        _fullCollections = fullCollections ?? (static () => GC.CollectionCount(2));
        _entitiesAtLastFull = entities();
        _lastFullIndex = FullCollections();
        Receive<Check>(_ => OnCheck());
        Timers.StartPeriodicTimer("check", Check.Instance, interval);
    }

    /// <summary>Null when <paramref name="interval"/> is zero (trimming off).</summary>
    public static Props? Props(TimeSpan interval, long quietBytes, OperatorReport report) =>
        interval <= TimeSpan.Zero ? null
            : Akka.Actor.Props.Create(() => new MemoryTrimmer(interval, quietBytes, report, () => Admin.ChatMetrics.EntitiesRunning));

    /// <summary>
    /// Whether to collect: the node allocated less than <paramref name="quietBytes"/> since the last check (it is quiet:
    /// no collection would come soon by itself, and the pause troubles nobody), and at least half the entities that ran
    /// at the last full collection, and at least <see cref="MinEntitiesGone"/>, have stopped since (what they held is
    /// garbage in the oldest generation).
    /// </summary>
    public static bool ShouldTrim(long allocatedSinceLastCheck, long quietBytes, long entitiesAtLastFull, long entitiesNow)
    {
        var gone = entitiesAtLastFull - entitiesNow;
        return allocatedSinceLastCheck < quietBytes && gone >= MinEntitiesGone && gone * 2 >= entitiesAtLastFull;
    }

    private void OnCheck()
    {
        var allocated = GC.GetTotalAllocatedBytes();
        var since = allocated - _allocatedAtLastCheck;
        _allocatedAtLastCheck = allocated;
        var entities = _entities();
        if (FullCollections() != _lastFullIndex)
        {
            // a full collection ran since the last check: what ran then is about what runs now
            _lastFullIndex = FullCollections();
            _entitiesAtLastFull = entities;
            return;
        }
        // entities that started since the last full collection leave as much garbage when they stop as those that ran
        // then: the most seen at a check since counts. (Under the server collector with capped young heaps a node can go
        // a whole burst of registrations without any full collection, and then none had "run at the last one".)
        _entitiesAtLastFull = Math.Max(_entitiesAtLastFull, entities);
        if (!ShouldTrim(since, _quietBytes, _entitiesAtLastFull, entities)) return;
        var gone = _entitiesAtLastFull - entities;
        var before = GC.GetGCMemoryInfo(GCKind.Any).TotalCommittedBytes;
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        var took = System.Diagnostics.Stopwatch.GetElapsedTime(started);
        var after = GC.GetGCMemoryInfo(GCKind.Any);
        _allocatedAtLastCheck = GC.GetTotalAllocatedBytes();
        _lastFullIndex = FullCollections();
        _entitiesAtLastFull = entities;
        _report.Write("memory-trimmed",
            $"memory: {gone} entities stopped while the node was quiet; a full collection took " +
            $"{took.TotalMilliseconds:0} ms and brought the memory held from {Mb(before)} MB to {Mb(after.TotalCommittedBytes)} MB " +
            $"({Mb(after.HeapSizeBytes)} MB alive)",
            [new("committed_before_bytes", before), new("committed_after_bytes", after.TotalCommittedBytes),
             new("heap_after_bytes", after.HeapSizeBytes), new("pause_ms", Math.Round(took.TotalMilliseconds, 1))]);
    }

    private int FullCollections() => _fullCollections();

    private static long Mb(long bytes) => bytes >> 20;
}
