namespace Chat.Node.Tcp;

/// <summary>
/// Decides when a recurring warning is written: the first occurrence at once, then at most one summary per interval.
/// A flood (an attacker's connections, a full descriptor table) would otherwise cost a log line per event, and the
/// logging itself becomes the load.
/// </summary>
/// <remarks>Used by one thread at a time (the accept loop).</remarks>
public sealed class LogThrottle(TimeSpan interval, TimeProvider clock)
{
    private long _lastWritten;
    private bool _written;
    private int _unwritten;

    /// <summary>Records one occurrence.</summary>
    /// <param name="count">Occurrences since the previous line, this one included.</param>
    /// <param name="since">Time since the previous line (zero for the first line ever).</param>
    /// <returns>Whether a line is due now.</returns>
    public bool Occurred(out int count, out TimeSpan since)
    {
        _unwritten++;
        var now = clock.GetTimestamp();
        since = _written ? clock.GetElapsedTime(_lastWritten, now) : TimeSpan.Zero;
        count = _unwritten;
        if (_written && since < interval) return false;
        _written = true;
        _lastWritten = now;
        _unwritten = 0;
        return true;
    }
}
