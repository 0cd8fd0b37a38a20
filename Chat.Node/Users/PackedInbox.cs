using System.Buffers;
using MessagePack;

namespace Chat.Node.Users;

/// <summary>
/// A user's inbox kept as MessagePack bytes in large chunks, with the newest entries not yet acknowledged also kept
/// as objects. Entries are numbered contiguously from <see cref="FirstSeq"/>.
/// </summary>
/// <remarks>
/// Why bytes: an inbox is long-lived and mostly read never again (an entry is pushed once, acknowledged, and read back
/// only by a device that syncs late, a read receipt, or a resend). Held as objects, every inbox is a web of records and
/// strings in the oldest generation that keeps gaining references to young objects, and each generation-0 collection
/// must trace through all of them (measured: tens of milliseconds per collection at 2,000 users). Bytes carry no
/// references, so the collector never looks inside them; an entry costs its encoded size (about a third of the objects).
/// Entries are decoded on demand; the unacknowledged tail stays decoded because acknowledgements read it at once.
/// </remarks>
internal sealed class PackedInbox
{
    /// <summary>
    /// Largest chunk. The inbox holds a bounded tail, whose oldest chunk is freed only once every entry in it has left: a
    /// chunk much larger than the tail would mostly hold nothing (measured: 64 KiB chunks held some 128 KiB per user for
    /// a 38 KB tail).
    /// </summary>
    public const int ChunkSize = 8 * 1024;
    /// <summary>Largest chunk while the inbox holds a short tail (its owner is offline): a few entries, a few KB.</summary>
    public const int SmallChunkSize = 1024;
    private const int FirstChunkSize = 512; // chunks double up to the largest: a user with a few entries holds little
    /// <summary>At most this many newest entries are also kept as objects, while a device may acknowledge them.</summary>
    public const int MaxDecoded = 64;

    private int _chunkMax = ChunkSize;
    private int _decodedMax = MaxDecoded;

    private static readonly MessagePackSerializerOptions Options = MessagePackSerializerOptions.Standard;
    [ThreadStatic] private static ArrayBufferWriter<byte>? _scratch;

    private readonly record struct Slot(long Chunk, int Offset, int Length, long Time);

    private readonly List<byte[]> _chunks = [];
    private long _chunkBase; // the absolute number of _chunks[0]
    private int _used; // bytes used in the last chunk
    private readonly List<Slot> _slots = [];
    /// <summary>The newest entries from <see cref="_decodedFrom"/> to the last, entry s at [s % length]; grows to <see cref="MaxDecoded"/>.</summary>
    private InboxEntry?[] _decoded = [];
    private long _decodedFrom = 1;

    public long FirstSeq { get; private set; } = 1;
    public int Count => _slots.Count;
    public long LastSeq => FirstSeq + _slots.Count - 1;

    /// <summary>Bytes of the chunks held, used or not.</summary>
    public long AllocatedBytes
    {
        get
        {
            long total = 0;
            foreach (var chunk in _chunks) total += chunk.Length;
            return total;
        }
    }

    /// <summary>Entries also held as objects.</summary>
    public int DecodedCount => _decoded.Count(e => e is not null);

    /// <summary>An empty inbox whose next entry is <paramref name="nextSeq"/>.</summary>
    public void Reset(long nextSeq)
    {
        _chunks.Clear();
        _slots.Clear();
        _decoded = [];
        _decodedFrom = nextSeq;
        _chunkBase = 0;
        _used = 0;
        FirstSeq = nextSeq;
    }

    public void Append(InboxEntry entry, long time)
    {
        if (entry.Seq != LastSeq + 1)
            throw new InvalidOperationException($"inbox entry {entry.Seq} does not follow {LastSeq}");
        var scratch = _scratch ??= new ArrayBufferWriter<byte>(1024);
        scratch.ResetWrittenCount();
        MessagePackSerializer.Serialize(scratch, entry, Options);
        var bytes = scratch.WrittenSpan;
        if (_chunks.Count == 0 || bytes.Length > _chunks[^1].Length - _used)
        {
            var size = _chunks.Count == 0 ? FirstChunkSize : Math.Min(_chunkMax, _chunks[^1].Length * 2);
            _chunks.Add(new byte[Math.Max(size, bytes.Length)]);
            _used = 0;
        }
        bytes.CopyTo(_chunks[^1].AsSpan(_used));
        _slots.Add(new Slot(_chunkBase + _chunks.Count - 1, _used, bytes.Length, time));
        _used += bytes.Length;
        KeepDecoded(entry);
        // scratch grows to the largest entry seen; do not keep a huge one around
        if (scratch.Capacity > 256 * 1024) _scratch = null;
    }

    public InboxEntry? Get(long seq)
    {
        var index = seq - FirstSeq;
        if (index < 0 || index >= _slots.Count) return null;
        if (seq >= _decodedFrom && _decoded.Length > 0 && _decoded[seq % _decoded.Length] is { } decoded && decoded.Seq == seq)
            return decoded;
        var slot = _slots[(int)index];
        var chunk = _chunks[(int)(slot.Chunk - _chunkBase)];
        return MessagePackSerializer.Deserialize<InboxEntry>(chunk.AsMemory(slot.Offset, slot.Length), Options);
    }

    /// <summary>When the entry at <paramref name="index"/> (0 = oldest) was stored or sent (Unix ms).</summary>
    public long TimeAt(int index) => _slots[index].Time;

    /// <summary>Entries up to <paramref name="seq"/> are acknowledged: they need not stay decoded.</summary>
    public void Acknowledged(long seq)
    {
        seq = Math.Min(seq, LastSeq);
        for (var s = _decodedFrom; s <= seq && _decoded.Length > 0; s++) _decoded[s % _decoded.Length] = null;
        _decodedFrom = Math.Max(_decodedFrom, seq + 1);
    }

    /// <summary>
    /// How the inbox holds what it holds: chunks of at most <paramref name="chunkMax"/> bytes, and at most
    /// <paramref name="decodedMax"/> newest entries also as objects. Going smaller copies the entries held into chunks of
    /// their exact size and lets the objects go, so an inbox whose owner went offline keeps no room it no longer needs.
    /// </summary>
    public void Limit(int chunkMax, int decodedMax)
    {
        var smaller = chunkMax < _chunkMax || decodedMax < _decodedMax;
        (_chunkMax, _decodedMax) = (Math.Max(FirstChunkSize, chunkMax), Math.Max(0, decodedMax));
        if (!smaller) return;
        if (_decoded.Length > _decodedMax)
        {
            _decoded = [];
            _decodedFrom = LastSeq + 1;
        }
        Repack();
    }

    /// <summary>Copies the entries held into one chunk of their size (the old chunks may hold entries gone or room unused).</summary>
    private void Repack()
    {
        if (_slots.Count == 0)
        {
            _chunks.Clear();
            _chunkBase = 0;
            _used = 0;
            _slots.TrimExcess();
            return;
        }
        var total = 0;
        foreach (var slot in _slots) total += slot.Length;
        var packed = new byte[total];
        var at = 0;
        for (var i = 0; i < _slots.Count; i++)
        {
            var slot = _slots[i];
            _chunks[(int)(slot.Chunk - _chunkBase)].AsSpan(slot.Offset, slot.Length).CopyTo(packed.AsSpan(at));
            _slots[i] = slot with { Chunk = 0, Offset = at };
            at += slot.Length;
        }
        _chunks.Clear();
        _chunks.Add(packed);
        _chunks.TrimExcess();
        _chunkBase = 0;
        _used = total;
        _slots.TrimExcess();
    }

    private void KeepDecoded(InboxEntry entry)
    {
        if (_decodedMax == 0) return;
        var seq = entry.Seq;
        var held = seq - _decodedFrom + 1; // entries from _decodedFrom to seq
        if (held > _decoded.Length && _decoded.Length < _decodedMax)
        {
            var grown = new InboxEntry?[Math.Min(_decodedMax, Math.Max(4, _decoded.Length * 2))];
            foreach (var e in _decoded)
                if (e is not null) grown[e.Seq % grown.Length] = e;
            _decoded = grown;
        }
        if (held > _decoded.Length)
        {
            // the oldest decoded entry makes room: it stays readable from its bytes
            _decoded[_decodedFrom % _decoded.Length] = null;
            _decodedFrom = seq - _decoded.Length + 1;
        }
        _decoded[seq % _decoded.Length] = entry;
    }

    /// <summary>Removes the oldest entries, up to and including <paramref name="seq"/>.</summary>
    public void RemoveUpTo(long seq)
    {
        var count = (int)Math.Clamp(seq - FirstSeq + 1, 0, _slots.Count);
        if (count == 0) return;
        _slots.RemoveRange(0, count);
        FirstSeq += count;
        Acknowledged(seq);
        // chunks before the one holding the oldest remaining entry are free (all of them when none remains)
        var keepFrom = _slots.Count > 0 ? _slots[0].Chunk : _chunkBase + _chunks.Count;
        var drop = (int)(keepFrom - _chunkBase);
        if (drop <= 0) return;
        _chunks.RemoveRange(0, drop);
        _chunkBase += drop;
        if (_chunks.Count == 0) _used = 0;
    }
}
