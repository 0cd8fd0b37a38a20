using System.Diagnostics.Tracing;

namespace Chat.Node;

/// <summary>
/// A diagnostic for latency work: with <c>CHAT_GC_TRACE=1</c> the node prints one line per garbage collection to
/// standard error (generation, how long threads were being suspended, how long the collection took, the whole pause).
/// A tail of tens of milliseconds that recurs every few seconds at a steady load is usually this. With
/// <c>CHAT_GC_STEPS=1</c> too, it adds the runtime's events inside each collection (the marking from each kind of root
/// among them) and, after each, the bytes promoted and the size of each generation.
/// With <c>CHAT_GC_TRACE=alloc</c> it also samples allocations (one sample per ~100 KB allocated) and prints the
/// types allocated most in each 10 s: where the bytes that fill generation 0 come from.
/// </summary>
internal sealed class GcPauseLog : EventListener
{
    private DateTime _suspendBegin, _suspendEnd, _gcStart, _gcEnd;
    private int _generation;
    private bool _inGc;
    private static readonly bool Steps = Environment.GetEnvironmentVariable("CHAT_GC_STEPS") == "1";
    /// <summary>
    /// Static, not passed in: the base constructor may enable the runtime's events (<see cref="OnEventSourceCreated"/>)
    /// before this constructor runs, and a level raised afterwards did not always take (no allocation samples came in a
    /// node that had started itself again with the collector's settings).
    /// </summary>
    private static readonly bool s_allocations = Environment.GetEnvironmentVariable("CHAT_GC_TRACE") == "alloc";
    private readonly Dictionary<string, long> _sampled = [];
    private long _sampledTotal;
    private DateTime _lastReport = DateTime.UtcNow;

    private GcPauseLog()
    {
    }

    public static GcPauseLog? FromEnvironment() => Environment.GetEnvironmentVariable("CHAT_GC_TRACE") switch
    {
        "1" or "alloc" => new GcPauseLog(),
        _ => null,
    };

    protected override void OnEventSourceCreated(EventSource source) => Enable(source);

    private void Enable(EventSource source)
    {
        if (source.Name == "Microsoft-Windows-DotNETRuntime")
            EnableEvents(source, s_allocations ? EventLevel.Verbose : EventLevel.Informational, (EventKeywords)0x1); // the GC keyword
    }

    private void Sample(EventWrittenEventArgs e)
    {
        var names = e.PayloadNames!;
        var type = (string?)e.Payload![names.IndexOf("TypeName")] ?? "?";
        var amount = Convert.ToInt64(e.Payload[names.IndexOf("AllocationAmount64")]);
        lock (_sampled)
        {
            _sampled[type] = _sampled.GetValueOrDefault(type) + amount;
            _sampledTotal += amount;
            if (DateTime.UtcNow - _lastReport < TimeSpan.FromSeconds(10)) return;
            _lastReport = DateTime.UtcNow;
            Console.Error.WriteLine($"alloc: {_sampledTotal / 1048576.0:0.0} MB sampled; the most allocated types:");
            foreach (var (name, bytes) in _sampled.OrderByDescending(p => p.Value).Take(70))
                Console.Error.WriteLine($"alloc: {100.0 * bytes / _sampledTotal,5:0.0}% {name}");
            // each report covers its own 10 s, so a steady load is not mixed with the start-up's allocations
            _sampled.Clear();
            _sampledTotal = 0;
        }
    }

    /// <summary>
    /// After each collection: what it promoted out of generations 0 and 1, and the size of each generation then (the
    /// older generations' size is what a young collection may have to look through for references to young objects).
    /// </summary>
    private static void HeapStats(EventWrittenEventArgs e)
    {
        var names = e.PayloadNames!;
        double Mb(string name) => Convert.ToInt64(e.Payload![names.IndexOf(name)]) / 1048576.0;
        Console.Error.WriteLine($"gcheap: promoted from gen0 {Mb("TotalPromotedSize0"):0.00} MB, from gen1 {Mb("TotalPromotedSize1"):0.00} MB; " +
            $"gen1 {Mb("GenerationSize1"):0.0} MB, gen2 {Mb("GenerationSize2"):0.0} MB, large objects {Mb("GenerationSize3"):0.0} MB");
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        var at = e.TimeStamp;
        switch (e.EventName)
        {
            case { } name when name.StartsWith("GCAllocationTick", StringComparison.Ordinal): Sample(e); break;
            case "GCSuspendEEBegin_V1": _suspendBegin = at; break;
            case "GCSuspendEEEnd_V1": _suspendEnd = at; break;
            case "GCStart_V2": _gcStart = at; _generation = Convert.ToInt32(e.Payload![1]); _inGc = true; break;
            case "GCEnd_V1": _gcEnd = at; _inGc = false; break;
            case "GCRestartEEEnd_V1":
                Console.Error.WriteLine($"gc: {_gcStart:HH:mm:ss.fff} gen{_generation} suspend {(_suspendEnd - _suspendBegin).TotalMilliseconds:0.0} ms, " +
                    $"collect {(_gcEnd - _gcStart).TotalMilliseconds:0.0} ms, pause {(at - _suspendBegin).TotalMilliseconds:0.0} ms");
                break;
            case "GCHeapStats_V2" when Steps: HeapStats(e); break;
            case { } other when _inGc && Steps:
                Console.Error.WriteLine($"gcstep: +{(at - _gcStart).TotalMilliseconds:0.00} ms {other} {string.Join(',', e.Payload ?? [])}");
                break;
        }
    }
}
