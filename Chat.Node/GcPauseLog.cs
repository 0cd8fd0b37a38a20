using System.Diagnostics.Tracing;

namespace Chat.Node;

/// <summary>
/// A diagnostic for latency work: with <c>CHAT_GC_TRACE=1</c> the node prints one line per garbage collection to
/// standard error (generation, how long threads were being suspended, how long the collection took, the whole pause).
/// A tail of tens of milliseconds that recurs every few seconds at a steady load is usually this.
/// </summary>
internal sealed class GcPauseLog : EventListener
{
    private DateTime _suspendBegin, _suspendEnd, _gcStart, _gcEnd;
    private int _generation;

    public static GcPauseLog? FromEnvironment() =>
        Environment.GetEnvironmentVariable("CHAT_GC_TRACE") == "1" ? new GcPauseLog() : null;

    protected override void OnEventSourceCreated(EventSource source)
    {
        if (source.Name == "Microsoft-Windows-DotNETRuntime")
            EnableEvents(source, EventLevel.Informational, (EventKeywords)0x1); // the GC keyword
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        var at = e.TimeStamp;
        switch (e.EventName)
        {
            case "GCSuspendEEBegin_V1": _suspendBegin = at; break;
            case "GCSuspendEEEnd_V1": _suspendEnd = at; break;
            case "GCStart_V2": _gcStart = at; _generation = Convert.ToInt32(e.Payload![1]); break;
            case "GCEnd_V1": _gcEnd = at; break;
            case "GCRestartEEEnd_V1":
                Console.Error.WriteLine($"gc: gen{_generation} suspend {(_suspendEnd - _suspendBegin).TotalMilliseconds:0.0} ms, " +
                    $"collect {(_gcEnd - _gcStart).TotalMilliseconds:0.0} ms, pause {(at - _suspendBegin).TotalMilliseconds:0.0} ms");
                break;
        }
    }
}
