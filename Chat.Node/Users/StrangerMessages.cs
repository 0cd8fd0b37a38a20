namespace Chat.Node.Users;

/// <summary>
/// Messages from strangers waiting unacknowledged in one inbox, oldest first: their inbox sequence, size and source
/// (the stranger, and the group for a group post or notice). What the stranger quota counts.
/// </summary>
/// <remarks>
/// Every waiting message of an offline user is counted here, so this grows with the inbox as the dedup keys do. A
/// message is 16 bytes: its sequence, its size and the number of its source in a table that holds each source once
/// (messages of one inbox come from few senders). Each message holding its own sender and group took 40 bytes, and
/// every message brings its own copy of the sender's id string, which a table of sources keeps once.
/// </remarks>
internal sealed class StrangerMessages
{
    private readonly Queue<(long Seq, int Bytes, int Source)> _waiting = new();
    private readonly List<(UserId From, GroupId? Group)> _sources = [];
    private readonly Dictionary<(UserId From, GroupId? Group), int> _sourceOf = [];

    public int Count => _waiting.Count;
    public long Bytes { get; private set; }

    public void Add(long seq, UserId from, int bytes, GroupId? group)
    {
        if (!_sourceOf.TryGetValue((from, group), out var source))
        {
            // sources of messages no longer waiting are dropped once they are most of the table
            if (_sources.Count >= 64 && _sources.Count > 2 * _waiting.Count) Keep((_, _) => true);
            _sourceOf[(from, group)] = source = _sources.Count;
            _sources.Add((from, group));
        }
        _waiting.Enqueue((seq, bytes, source));
        Bytes += bytes;
    }

    /// <summary>Messages up to <paramref name="seq"/> were acknowledged (or removed): they wait no more.</summary>
    public void ForgetUpTo(long seq)
    {
        while (_waiting.TryPeek(out var oldest) && oldest.Seq <= seq) Bytes -= _waiting.Dequeue().Bytes;
        if (_waiting.Count > 0) return;
        _sources.Clear();
        _sourceOf.Clear();
        if (_waiting.EnsureCapacity(0) > 64) _waiting.TrimExcess();
    }

    /// <summary>Whether a waiting message may come from a source that matches (true may also mean one that no longer waits).</summary>
    public bool AnySource(Func<UserId, GroupId?, bool> match)
    {
        foreach (var (from, group) in _sources)
            if (match(from, group)) return true;
        return false;
    }

    /// <summary>Keeps only the waiting messages whose source <paramref name="keep"/> accepts.</summary>
    public void Keep(Func<UserId, GroupId?, bool> keep)
    {
        var kept = this.All().Where(m => keep(m.From, m.Group)).ToList();
        _waiting.Clear();
        _sources.Clear();
        _sourceOf.Clear();
        Bytes = 0;
        foreach (var m in kept) Add(m.Seq, m.From, m.Bytes, m.Group);
        _waiting.TrimExcess();
    }

    /// <summary>Every waiting message, oldest first.</summary>
    public IEnumerable<(long Seq, UserId From, int Bytes, GroupId? Group)> All()
    {
        foreach (var (seq, bytes, source) in _waiting)
        {
            var (from, group) = _sources[source];
            yield return (seq, from, bytes, group);
        }
    }
}
