namespace Chat.Node.Persistence;

/// <summary>
/// Events committed to the embedded store's <c>events</c> table but not yet in its index by entity
/// (<c>entity_index</c>): each entity's sequence numbers with the rowids of their rows. Readers look here first, then
/// in the index. The writer adds rows after each commit and moves them into the index a generation at a time: every
/// row committed within about a second (<see cref="SqliteEventStore.IndexEvery"/>) forms one generation, which is then
/// written to the index in small transactions, each for a run of entities in key order, so that an entity that wrote
/// several events in that second costs the index one page write instead of one per event.
/// </summary>
/// <remarks>Thread-safe: the writer changes it, any reader reads it.</remarks>
internal sealed class PendingIndex
{
    internal readonly record struct Entry(long SequenceNr, long Ordering);

    private readonly object _lock = new();

    /// <summary>Rows of the generation being filled, by entity, each list in commit (so sequence) order.</summary>
    private Dictionary<string, List<Entry>> _current = new(StringComparer.Ordinal);

    /// <summary>Rows of the generation being written to the index; an entity leaves it once its run is committed.</summary>
    private Dictionary<string, List<Entry>> _flushing = new(StringComparer.Ordinal);

    private string[] _flushOrder = [];
    private int _flushNext;
    private int _currentRows;
    private long _currentSince;
    private long _currentFirstOrdering = long.MaxValue;

    /// <summary>Rows of both generations (what a read may have to fetch by rowid).</summary>
    public int Count
    {
        get
        {
            lock (_lock) return _currentRows + _flushing.Values.Sum(l => l.Count);
        }
    }

    /// <summary>True while a generation is being written to the index.</summary>
    public bool Flushing
    {
        get
        {
            lock (_lock) return _flushNext < _flushOrder.Length;
        }
    }

    /// <summary>True when nothing waits to be indexed.</summary>
    public bool Empty
    {
        get
        {
            lock (_lock) return _currentRows == 0 && _flushNext >= _flushOrder.Length;
        }
    }

    /// <summary>Rows just committed (the writer, after its commit).</summary>
    public void Add(List<(string PersistenceId, Entry Entry)> committed)
    {
        if (committed.Count == 0) return;
        lock (_lock)
        {
            if (_currentRows == 0)
            {
                _currentSince = Environment.TickCount64;
                _currentFirstOrdering = committed[0].Entry.Ordering;
            }
            foreach (var (id, entry) in committed)
            {
                if (!_current.TryGetValue(id, out var list)) _current[id] = list = [];
                list.Add(entry);
            }
            _currentRows += committed.Count;
        }
    }

    /// <summary>Whether the entity has a pending row with this sequence number.</summary>
    public bool Contains(string persistenceId, long sequenceNr)
    {
        lock (_lock) return IndexOf(_current, persistenceId, sequenceNr) >= 0 || IndexOf(_flushing, persistenceId, sequenceNr) >= 0;
    }

    private static int IndexOf(Dictionary<string, List<Entry>> generation, string persistenceId, long sequenceNr)
    {
        if (!generation.TryGetValue(persistenceId, out var list)) return -1;
        for (var i = list.Count - 1; i >= 0; i--)
            if (list[i].SequenceNr == sequenceNr) return i;
        return -1;
    }

    /// <summary>The entity's pending rows within the bounds, in sequence order (an empty list when none).</summary>
    public List<Entry> Find(string persistenceId, long from, long to)
    {
        var found = new List<Entry>();
        lock (_lock)
        {
            Collect(_flushing, persistenceId, from, to, found);
            Collect(_current, persistenceId, from, to, found);
        }
        if (found.Count > 1) found.Sort((a, b) => a.SequenceNr.CompareTo(b.SequenceNr));
        return found;
    }

    private static void Collect(Dictionary<string, List<Entry>> generation, string persistenceId, long from, long to, List<Entry> found)
    {
        if (!generation.TryGetValue(persistenceId, out var list)) return;
        foreach (var entry in list)
            if (entry.SequenceNr >= from && entry.SequenceNr <= to) found.Add(entry);
    }

    /// <summary>The entity's highest pending sequence number, 0 when it has none.</summary>
    public long HighestSequenceNr(string persistenceId)
    {
        lock (_lock) return Math.Max(Highest(_current, persistenceId), Highest(_flushing, persistenceId));
    }

    private static long Highest(Dictionary<string, List<Entry>> generation, string persistenceId)
    {
        if (!generation.TryGetValue(persistenceId, out var list)) return 0;
        var max = 0L;
        foreach (var entry in list) max = Math.Max(max, entry.SequenceNr);
        return max;
    }

    /// <summary>Forgets the entity's pending rows up to <paramref name="toSequenceNr"/> (their rows were deleted and committed).</summary>
    public void Remove(string persistenceId, long toSequenceNr)
    {
        lock (_lock)
        {
            _currentRows -= RemoveFrom(_current, persistenceId, toSequenceNr);
            RemoveFrom(_flushing, persistenceId, toSequenceNr);
        }
    }

    private static int RemoveFrom(Dictionary<string, List<Entry>> generation, string persistenceId, long toSequenceNr)
    {
        if (!generation.TryGetValue(persistenceId, out var list)) return 0;
        var removed = list.RemoveAll(e => e.SequenceNr <= toSequenceNr);
        if (list.Count == 0) generation.Remove(persistenceId);
        return removed;
    }

    /// <summary>
    /// Starts writing the generation being filled to the index when it is <paramref name="age"/> old or holds
    /// <paramref name="rows"/> rows (or at once, when <paramref name="now"/>); false when there is nothing to start.
    /// </summary>
    public bool StartFlush(TimeSpan age, int rows, bool now)
    {
        lock (_lock)
        {
            if (_flushNext < _flushOrder.Length || _currentRows == 0) return false;
            if (!now && _currentRows < rows && Environment.TickCount64 - _currentSince < age.TotalMilliseconds) return false;
            // a finished generation leaves its dictionary empty (each run takes its entities whole): it is reused
            (_flushing, _current) = (_current, _flushing);
            _currentRows = 0;
            _currentFirstOrdering = long.MaxValue;
            _flushOrder = [.. _flushing.Keys];
            Array.Sort(_flushOrder, StringComparer.Ordinal); // the index's key order
            _flushNext = 0;
            return true;
        }
    }

    /// <summary>
    /// The next run of entities of the generation being written, in key order, about <paramref name="rows"/> rows (an
    /// entity's rows are never split); empty when the generation is done. <paramref name="last"/>: the run ends it.
    /// </summary>
    public List<(string PersistenceId, List<Entry> Rows)> NextRun(int rows, out bool last)
    {
        var run = new List<(string, List<Entry>)>();
        lock (_lock)
        {
            var taken = 0;
            var i = _flushNext;
            for (; i < _flushOrder.Length && taken < rows; i++)
            {
                if (!_flushing.TryGetValue(_flushOrder[i], out var list)) continue; // all its rows deleted meanwhile
                run.Add((_flushOrder[i], [.. list]));
                taken += list.Count;
            }
            last = i >= _flushOrder.Length;
        }
        return run;
    }

    /// <summary>The run's rows are committed to the index: readers find them there from now on.</summary>
    public void Indexed(List<(string PersistenceId, List<Entry> Rows)> run)
    {
        lock (_lock)
        {
            // a run takes an entity's entries whole, and nothing adds to the generation being written: its entities are done
            foreach (var (id, _) in run) _flushing.Remove(id);
            while (_flushNext < _flushOrder.Length && !_flushing.ContainsKey(_flushOrder[_flushNext])) _flushNext++;
        }
    }

    /// <summary>
    /// The lowest rowid that may still be missing from the index once the generation being written is done: the first
    /// row of the generation being filled, or <paramref name="next"/> when it is empty.
    /// </summary>
    public long IndexedBelow(long next)
    {
        lock (_lock) return _currentRows == 0 ? next : Math.Min(_currentFirstOrdering, next);
    }
}
