namespace Chat.Node.Presence;

/// <summary>
/// When each typist last had a <c>Typing</c> relayed to one conversation, kept by the entity that relays it: the
/// recipient's user entity for a one-to-one conversation, the group for a group. Sharding makes that entity one in the
/// cluster, so "at most one per <c>chat.presence.typing-interval</c>" holds for a user connected to several nodes, which
/// the session's own (node-wide) quota cannot see. Kept in memory only: typing is never stored, and an entity that
/// restarts only forgets who typed in the last few seconds.
/// </summary>
public sealed class TypingBound(TimeSpan interval)
{
    /// <summary>Typists remembered before those whose interval has passed are swept out.</summary>
    private const int SweepAbove = 32;

    private readonly Dictionary<UserId, long> _relayedAt = [];
    private readonly long _intervalMs = (long)interval.TotalMilliseconds;
    private int _sweepAt = SweepAbove;

    /// <summary>Typists remembered now (those of the last interval, and some older ones not yet swept).</summary>
    public int Count => _relayedAt.Count;

    /// <summary>
    /// True, and remembered, when <paramref name="typist"/>'s Typing at <paramref name="nowMs"/> may be relayed; false when
    /// one was relayed less than the interval before, with <paramref name="waitMs"/> until the next may be.
    /// </summary>
    public bool TryTake(UserId typist, long nowMs, out long waitMs)
    {
        if (_relayedAt.TryGetValue(typist, out var at) && nowMs - at < _intervalMs)
        {
            waitMs = _intervalMs - (nowMs - at);
            return false;
        }
        if (_relayedAt.Count >= _sweepAt) Sweep(nowMs);
        _relayedAt[typist] = nowMs;
        waitMs = 0;
        return true;
    }

    /// <summary>Forgets typists whose interval has passed; sweeping again only once as many more were added, so a crowd of typists costs amortised O(1) each.</summary>
    private void Sweep(long nowMs)
    {
        List<UserId>? old = null;
        foreach (var (typist, at) in _relayedAt)
            if (nowMs - at >= _intervalMs) (old ??= []).Add(typist);
        foreach (var typist in old ?? []) _relayedAt.Remove(typist);
        _sweepAt = Math.Max(SweepAbove, 2 * _relayedAt.Count);
    }
}
