using Microsoft.Diagnostics.Runtime;

// Counts the references from old objects (generation 2, large and pinned objects) to young ones (generations 0 and 1)
// in a running node, by holder type and field: what a young collection must find through the card table at that moment.
// Attaching suspends the process for a few seconds.
//   dotnet run -c Release --project bench/tools/OldToYoung -- PID [path of libmscordaccore.so]
if (args.Length < 1 || !int.TryParse(args[0], out var pid))
{
    Console.Error.WriteLine("usage: OldToYoung PID [libmscordaccore.so]");
    return 2;
}
var dac = args.Length > 1 ? args[1]
    : Path.Combine(Path.GetDirectoryName(typeof(object).Assembly.Location)!, "libmscordaccore.so");
using var target = DataTarget.AttachToProcess(pid, suspend: true);
// the runtime's own DAC, whatever version it reports (the node and this tool run on the same runtime)
using var runtime = target.ClrVersions[0].CreateRuntime(dac, ignoreMismatch: true);
var heap = runtime.Heap;
var byHolder = new Dictionary<string, (long Refs, long Holders)>();
var byField = new Dictionary<string, long>();
var cards = new HashSet<ulong>();
long objects = 0, old = 0, references = 0;
foreach (var obj in heap.EnumerateObjects())
{
    objects++;
    if (!IsOld(heap, obj.Address)) continue;
    old++;
    var holder = obj.Type?.Name ?? "?";
    long found = 0;
    foreach (var reference in obj.EnumerateReferencesWithFields(carefully: false, considerDependantHandles: false))
    {
        if (!IsYoung(heap, reference.Object.Address)) continue;
        found++;
        cards.Add((obj.Address + (ulong)IntPtr.Size + (ulong)reference.Offset) >> 8); // 256-byte cards
        var key = $"{Short(holder)}.{reference.Field?.Name ?? "[]"} -> {Short(reference.Object.Type?.Name ?? "?")}";
        byField[key] = byField.GetValueOrDefault(key) + 1;
    }
    if (found == 0) continue;
    references += found;
    var (refs, holders) = byHolder.GetValueOrDefault(holder);
    byHolder[holder] = (refs + found, holders + 1);
}
Console.WriteLine($"objects {objects}, old {old}, old->young references {references} on {cards.Count} cards of 256 bytes");
Console.WriteLine("references  holders  holder type");
foreach (var (type, (refs, holders)) in byHolder.OrderByDescending(p => p.Value.Refs).Take(30))
    Console.WriteLine($"{refs,10} {holders,8}  {Short(type)}");
Console.WriteLine("references  holder.field -> young type");
foreach (var (key, count) in byField.OrderByDescending(p => p.Value).Take(40))
    Console.WriteLine($"{count,10}  {key}");
return 0;

static bool IsOld(ClrHeap heap, ulong address) =>
    heap.GetSegmentByAddress(address)?.GetGeneration(address) is Generation.Generation2 or Generation.Large or Generation.Pinned;

static bool IsYoung(ClrHeap heap, ulong address) =>
    heap.GetSegmentByAddress(address)?.GetGeneration(address) is Generation.Generation0 or Generation.Generation1;

static string Short(string s) => s.Length > 110 ? s[..110] : s;
