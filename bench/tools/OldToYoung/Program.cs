using Microsoft.Diagnostics.Runtime;

// Counts the references from old objects (generation 2, large and pinned objects) to young ones (generations 0 and 1)
// in a running node, by holder type and field, and the card table's set bytes under old objects, by the types lying on
// them: what the next young collection will read through.
// With --young, it prints instead what generations 0 and 1 hold, by type (bytes, objects): what the last collections
// promoted and what the next ones will find, dead or alive.
// Attaching suspends the process for a few seconds.
//   dotnet run -c Release --project bench/tools/OldToYoung -- PID [--young] [path of libmscordaccore.so]
var young = args.Contains("--young");
args = args.Where(a => a != "--young").ToArray();
if (args.Length < 1 || !int.TryParse(args[0], out var pid))
{
    Console.Error.WriteLine("usage: OldToYoung PID [--young] [libmscordaccore.so]");
    return 2;
}
var dac = args.Length > 1 ? args[1]
    : Path.Combine(Path.GetDirectoryName(typeof(object).Assembly.Location)!, "libmscordaccore.so");
using var target = DataTarget.AttachToProcess(pid, suspend: true);
// the runtime's own DAC, whatever version it reports (the node and this tool run on the same runtime)
using var runtime = target.ClrVersions[0].CreateRuntime(dac, ignoreMismatch: true);
var heap = runtime.Heap;
if (young)
{
    var census = new Dictionary<(Generation Generation, string Type), (long Objects, long Bytes)>();
    foreach (var obj in heap.EnumerateObjects())
    {
        var generation = heap.GetSegmentByAddress(obj.Address)?.GetGeneration(obj.Address);
        if (generation is not (Generation.Generation0 or Generation.Generation1)) continue;
        var key = (generation.Value, obj.Type?.Name ?? "?");
        var (n, bytes) = census.GetValueOrDefault(key);
        census[key] = (n + 1, bytes + (long)obj.Size);
    }
    foreach (var generation in new[] { Generation.Generation1, Generation.Generation0 })
    {
        var held = census.Where(p => p.Key.Generation == generation).OrderByDescending(p => p.Value.Bytes).ToList();
        Console.WriteLine($"{generation}: {held.Sum(p => p.Value.Bytes) / 1048576.0:0.0} MB in {held.Sum(p => p.Value.Objects)} objects");
        Console.WriteLine("     bytes   objects  type");
        foreach (var ((_, type), (n, bytes)) in held.Take(30)) Console.WriteLine($"{bytes,10} {n,9}  {Short(type)}");
    }
    return 0;
}
var byHolder = new Dictionary<string, (long Refs, long Holders)>();
var byField = new Dictionary<string, long>();
var cards = new HashSet<ulong>();
var youngAt = new List<ulong>(); // where old objects hold young ones: their card bytes must be set (a check of the reading below)
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
        youngAt.Add(obj.Address + (ulong)IntPtr.Size + (ulong)reference.Offset);
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

// The card table at this moment: each byte covers 2 KiB of the heap and is set by the write barrier when a reference to
// a young object is stored there (and cleared by a collection that finds none left). Old objects on set bytes are what
// the next young collection will read through, whether or not they still hold anything young: by type, the set bytes
// they lie on (an object on several counts each; a byte shared by several objects counts for each of them).
var cardTable = heap.SubHeaps[0].CardTable;
var dirtyBytes = new HashSet<ulong>();
var onDirty = new Dictionary<string, long>();
var buffer = new byte[1];
foreach (var obj in heap.EnumerateObjects())
{
    if (!IsOld(heap, obj.Address) || obj.Type is not { ContainsPointers: true } type) continue;
    var first = obj.Address >> 11;
    var last = (obj.Address + Math.Max(obj.Size, 1) - 1) >> 11;
    for (var card = first; card <= last; card++)
    {
        if (target.DataReader.Read(cardTable + card, buffer) != 1 || buffer[0] == 0) continue;
        dirtyBytes.Add(card);
        onDirty[type.Name ?? "?"] = onDirty.GetValueOrDefault(type.Name ?? "?") + 1;
    }
}
var marked = youngAt.Count(at => target.DataReader.Read(cardTable + (at >> 11), buffer) == 1 && buffer[0] != 0);
Console.WriteLine($"card table: {dirtyBytes.Count} bytes set under old objects ({dirtyBytes.Count * 2} KiB to read through); " +
    $"{marked} of the {youngAt.Count} old->young references lie on a set byte (all of them, if the table is read right)");
Console.WriteLine("set bytes  old object type on them");
foreach (var (typeName, count) in onDirty.OrderByDescending(p => p.Value).Take(40))
    Console.WriteLine($"{count,9}  {Short(typeName)}");
return 0;

static bool IsOld(ClrHeap heap, ulong address) =>
    heap.GetSegmentByAddress(address)?.GetGeneration(address) is Generation.Generation2 or Generation.Large or Generation.Pinned;

static bool IsYoung(ClrHeap heap, ulong address) =>
    heap.GetSegmentByAddress(address)?.GetGeneration(address) is Generation.Generation0 or Generation.Generation1;

static string Short(string s) => s.Length > 110 ? s[..110] : s;
