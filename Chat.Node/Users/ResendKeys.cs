namespace Chat.Node.Users;

/// <summary>
/// The keys by which an inbox recognises a resent message: a 64-bit hash of (sender, client message id) with the
/// inbox sequence of the message stored, for every message of the dedup window. A key set again takes the new
/// sequence; a hit is confirmed against the stored entry by the caller.
/// </summary>
/// <remarks>
/// An inbox holds one key per message of the window (a week by default), whether its owner is online or not, so the
/// keys are what an offline user's entity grows by. They are kept as two parallel arrays sorted by key, 16 bytes a key
/// and nothing for the collector to trace, plus a short list of the newest keys in arrival order that is merged into
/// them once full (a lookup searches both). A <c>Dictionary&lt;long, long&gt;</c> took some 46 bytes a key (measured:
/// 24-byte entries, buckets, and room to grow by doubling).
/// </remarks>
internal sealed class ResendKeys
{
    /// <summary>Newest keys held unsorted before a merge: a merge moves every key, so it waits for this many.</summary>
    private const int RecentMax = 64;

    private long[] _keys = [], _seqs = [];
    private int _count; // keys in _keys, sorted, each once
    private long[] _recentKeys = [], _recentSeqs = [];
    private int _recent;

    public int Count => _count + _recent;

    /// <summary>The message with key <paramref name="key"/> was stored at <paramref name="seq"/>.</summary>
    public void Set(long key, long seq)
    {
        // a key already held is set where it is (a hash shared by two messages of the window: the newer one answers)
        var at = Array.BinarySearch(_keys, 0, _count, key);
        if (at >= 0)
        {
            _seqs[at] = seq;
            return;
        }
        var recent = Array.IndexOf(_recentKeys, key, 0, _recent);
        if (recent >= 0)
        {
            _recentSeqs[recent] = seq;
            return;
        }
        if (_recent == _recentKeys.Length)
        {
            if (_recent == RecentMax) Merge();
            else
            {
                var size = Math.Min(RecentMax, Math.Max(4, _recentKeys.Length * 2));
                Array.Resize(ref _recentKeys, size);
                Array.Resize(ref _recentSeqs, size);
            }
        }
        _recentKeys[_recent] = key;
        _recentSeqs[_recent++] = seq;
    }

    /// <summary>The sequence of the message last stored with <paramref name="key"/>.</summary>
    public bool TryGet(long key, out long seq)
    {
        var at = Array.BinarySearch(_keys, 0, _count, key);
        if (at >= 0)
        {
            seq = _seqs[at];
            return true;
        }
        var recent = Array.IndexOf(_recentKeys, key, 0, _recent);
        seq = recent >= 0 ? _recentSeqs[recent] : 0;
        return recent >= 0;
    }

    /// <summary>Forgets the keys of messages stored before <paramref name="seq"/>.</summary>
    public void RemoveBefore(long seq)
    {
        var kept = 0;
        for (var i = 0; i < _count; i++)
            if (_seqs[i] >= seq) (_keys[kept], _seqs[kept++]) = (_keys[i], _seqs[i]);
        _count = kept;
        kept = 0;
        for (var i = 0; i < _recent; i++)
            if (_recentSeqs[i] >= seq) (_recentKeys[kept], _recentSeqs[kept++]) = (_recentKeys[i], _recentSeqs[i]);
        _recent = kept;
        // room left by a week of keys going is given back
        if (_keys.Length > 2 * _count + RecentMax) Resize(_count + Slack(_count));
    }

    /// <summary>Every key, with its sequence (for a snapshot; in no particular order).</summary>
    public (long[] Keys, long[] Seqs) ToArrays()
    {
        var keys = new long[Count];
        var seqs = new long[Count];
        Array.Copy(_keys, keys, _count);
        Array.Copy(_seqs, seqs, _count);
        Array.Copy(_recentKeys, 0, keys, _count, _recent);
        Array.Copy(_recentSeqs, 0, seqs, _count, _recent);
        return (keys, seqs);
    }

    /// <summary>Replaces every key with <paramref name="keys"/> and their <paramref name="seqs"/> (from a snapshot).</summary>
    public void Load(IReadOnlyList<long> keys, IReadOnlyList<long> seqs)
    {
        var n = Math.Min(keys.Count, seqs.Count);
        _keys = new long[n];
        _seqs = new long[n];
        for (var i = 0; i < n; i++) (_keys[i], _seqs[i]) = (keys[i], seqs[i]);
        _count = Distinct(_keys, _seqs, n);
        _recent = 0;
        _recentKeys = _recentSeqs = [];
    }

    /// <summary>Sorts the first <paramref name="n"/> pairs by key and keeps each key once, with its highest sequence; the count kept.</summary>
    private static int Distinct(long[] keys, long[] seqs, int n)
    {
        Array.Sort(keys, seqs, 0, n);
        var kept = 0;
        for (var i = 0; i < n; i++)
        {
            if (kept > 0 && keys[kept - 1] == keys[i]) seqs[kept - 1] = Math.Max(seqs[kept - 1], seqs[i]);
            else (keys[kept], seqs[kept++]) = (keys[i], seqs[i]);
        }
        return kept;
    }

    /// <summary>
    /// Moves the newest keys (none of them held in the sorted arrays, see <see cref="Set"/>) into the sorted arrays, in
    /// place from the end: no allocation while there is room.
    /// </summary>
    private void Merge()
    {
        Array.Sort(_recentKeys, _recentSeqs, 0, _recent);
        var fresh = _recent;
        var total = _count + fresh;
        if (_keys.Length < total) Resize(total + Slack(total));
        int a = _count - 1, b = fresh - 1;
        for (var k = total - 1; b >= 0; k--)
        {
            if (a >= 0 && _keys[a] > _recentKeys[b]) (_keys[k], _seqs[k]) = (_keys[a], _seqs[a--]);
            else (_keys[k], _seqs[k]) = (_recentKeys[b], _recentSeqs[b--]);
        }
        _count = total;
        _recent = 0;
    }

    /// <summary>Room to grow by: an eighth, so that a full inbox wastes little and a merge seldom reallocates.</summary>
    private static int Slack(int count) => Math.Max(RecentMax, count / 8);

    private void Resize(int size)
    {
        Array.Resize(ref _keys, size);
        Array.Resize(ref _seqs, size);
    }
}
