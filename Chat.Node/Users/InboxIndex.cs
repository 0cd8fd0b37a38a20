namespace Chat.Node.Users;

/// <summary>
/// Where a user's inbox entries are in the journal: a sparse index from inbox sequence to the journal sequence number
/// of the event that holds it, one point per <see cref="Stride"/> entries or so (the first entry of an event, once the
/// entries since the last point reach the stride), each with the time of that entry. Entries older than the tail held
/// in memory are read from the journal from the nearest point at or before them.
/// </summary>
/// <remarks>
/// Points are kept sorted by inbox sequence. Journal sequence numbers follow them except for entries carried into the
/// journal from a snapshot written before the index existed: those are written after newer ones, so what may be
/// deleted is computed over every point that still matters (<see cref="LowestSeqNrFrom"/>), not from the first alone.
/// </remarks>
public sealed class InboxIndex
{
    public const int Stride = 64;

    public readonly record struct Point(long Seq, long SeqNr, long Time);

    private readonly List<Point> _points = [];

    public int Count => _points.Count;
    public IReadOnlyList<Point> Points => _points;

    /// <summary>An event holding entries <paramref name="first"/>..<paramref name="last"/> is at <paramref name="seqNr"/> in the journal.</summary>
    public void Add(long first, long last, long seqNr, long time)
    {
        if (_points.Count > 0 && _points[^1].Seq < first && last < _points[^1].Seq + Stride) return;
        var point = new Point(first, seqNr, time);
        if (_points.Count == 0 || _points[^1].Seq < first) { _points.Add(point); return; }
        // entries carried from an old snapshot: older sequences written later
        var at = 0; // (a loop: a lambda capturing first cost a closure on every Add, the usual case included)
        while (_points[at].Seq < first) at++;
        if (_points[at].Seq == first) _points[at] = point;
        else _points.Insert(at, point);
    }

    /// <summary>The point to read from for <paramref name="seq"/>: the last one at or before it (null: none).</summary>
    public Point? Locate(long seq)
    {
        int lo = 0, hi = _points.Count - 1, found = -1;
        while (lo <= hi)
        {
            var mid = (lo + hi) / 2;
            if (_points[mid].Seq <= seq) { found = mid; lo = mid + 1; }
            else hi = mid - 1;
        }
        return found < 0 ? null : _points[found];
    }

    /// <summary>The point after the one that locates <paramref name="seq"/> (null: none).</summary>
    public Point? After(long seq)
    {
        foreach (var p in _points)
            if (p.Seq > seq) return p;
        return null;
    }

    /// <summary>
    /// The lowest journal sequence number among the points that locate <paramref name="seq"/> or later entries: events
    /// before it hold only entries before <paramref name="seq"/> (long.MaxValue: no point).
    /// </summary>
    public long LowestSeqNrFrom(long seq)
    {
        var from = Locate(seq)?.Seq ?? long.MinValue;
        var lowest = long.MaxValue;
        foreach (var p in _points)
            if (p.Seq >= from) lowest = Math.Min(lowest, p.SeqNr);
        return lowest;
    }

    /// <summary>The lowest journal sequence number among points after <paramref name="seq"/> (long.MaxValue: none).</summary>
    public long LowestSeqNrAfter(long seq)
    {
        var lowest = long.MaxValue;
        foreach (var p in _points)
            if (p.Seq > seq) lowest = Math.Min(lowest, p.SeqNr);
        return lowest;
    }

    /// <summary>The last point whose entry is older than <paramref name="cutoff"/> (null: none).</summary>
    public Point? LastOlderThan(long cutoff)
    {
        Point? last = null;
        foreach (var p in _points)
        {
            if (p.Time >= cutoff) break;
            last = p;
        }
        return last;
    }

    /// <summary>Entries before <paramref name="firstKept"/> are gone: points that only lead to them are dropped.</summary>
    public void RemoveBefore(long firstKept)
    {
        var keepFrom = Locate(firstKept)?.Seq ?? long.MinValue;
        _points.RemoveAll(p => p.Seq < keepFrom);
    }

    /// <summary>The points as one flat list (sequence, journal sequence number, time; three numbers each) for a snapshot.</summary>
    public long[] ToFlat()
    {
        var flat = new long[_points.Count * 3];
        for (var i = 0; i < _points.Count; i++) (flat[i * 3], flat[i * 3 + 1], flat[i * 3 + 2]) = _points[i];
        return flat;
    }

    public void LoadFlat(IReadOnlyList<long> flat)
    {
        _points.Clear();
        for (var i = 0; i + 2 < flat.Count; i += 3) _points.Add(new Point(flat[i], flat[i + 1], flat[i + 2]));
    }
}
