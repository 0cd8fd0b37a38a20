using Microsoft.Diagnostics.Tracing.Etlx;
using Microsoft.Diagnostics.Tracing.Parsers.Clr;

// The allocations sampled in a trace (one sample per ~100 KB), by type and by the stack that made them. The trace:
//   dotnet-trace collect -p PID --providers Microsoft-Windows-DotNETRuntime:0x1:5 --duration 00:00:00:10 -o alloc.nettrace
//   dotnet run -c Release --project bench/tools/AllocationStacks -- alloc.nettrace [type name part] [frames]
if (args.Length < 1)
{
    Console.Error.WriteLine("usage: AllocationStacks TRACE.nettrace [type name part] [frames]");
    return 2;
}
var only = args.Length > 1 && args[1].Length > 0 ? args[1] : null;
var depth = args.Length > 2 ? int.Parse(args[2]) : 6;
using var log = new TraceLog(TraceLog.CreateFromEventPipeDataFile(args[0]));
var byType = new Dictionary<string, long>();
var byStack = new Dictionary<string, long>();
long total = 0;
foreach (var e in log.Events)
{
    if (e is not GCAllocationTickTraceData tick) continue;
    total += tick.AllocationAmount64;
    byType[tick.TypeName] = byType.GetValueOrDefault(tick.TypeName) + tick.AllocationAmount64;
    if (only is not null && !tick.TypeName.Contains(only, StringComparison.Ordinal)) continue;
    var frames = new List<string>();
    for (var frame = e.CallStack(); frame is not null && frames.Count < depth; frame = frame.Caller)
        if (frame.CodeAddress.FullMethodName is { Length: > 0 } name) frames.Add(name.Length > 140 ? name[..140] : name);
    var key = $"{tick.TypeName} <- {string.Join(" <- ", frames)}";
    byStack[key] = byStack.GetValueOrDefault(key) + tick.AllocationAmount64;
}
Console.WriteLine($"{total / 1048576.0:0.0} MB sampled");
foreach (var (type, bytes) in byType.OrderByDescending(p => p.Value).Take(25)) Console.WriteLine($"{100.0 * bytes / total,5:0.0}% {type}");
Console.WriteLine("--- by stack");
foreach (var (stack, bytes) in byStack.OrderByDescending(p => p.Value).Take(30)) Console.WriteLine($"{100.0 * bytes / total,5:0.0}% {stack}");
return 0;
