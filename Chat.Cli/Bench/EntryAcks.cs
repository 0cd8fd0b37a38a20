using Chat.Protocol;

namespace Chat.Cli.Bench;

/// <summary>
/// Acknowledges the inbox entries one bench client reads (through <c>ack</c>, its client's <see cref="ChatClient.Ack"/> or a
/// lean link's Ack frame), as <see cref="BenchOptions.AckEvery"/> says. With 1 (the
/// default) every entry gets its own Ack the moment it is read, even when several came in one read, as from a client
/// that stores and acknowledges each message in turn; its client is made with <see cref="ChatClientOptions.CoalesceAcks"/>
/// off so each of them reaches the wire. With N &gt; 1, every N-th entry and, at the end, the last one read. With 0, the
/// last entry of each batch the client had ready at once (one Ack per read, coalesced by the client as usual).
/// </summary>
/// <remarks>Not thread-safe: used by one reader of the client's entries at a time.</remarks>
internal sealed class EntryAcks(Action<long> ack, int every)
{
    private long _last;
    private long _acked;
    private int _unacked;

    /// <summary>Acks this client was told to send.</summary>
    public long Sent { get; private set; }

    /// <summary>Whether the bench clients coalesce acks: only when acknowledging once per read.</summary>
    public static bool Coalesce(int every) => every == 0;

    public void Read(long seq)
    {
        if (seq <= _last) return;
        _last = seq;
        if (every > 0 && ++_unacked >= every) Send();
    }

    /// <summary>The batch the client had ready has been read.</summary>
    public void EndOfBatch()
    {
        if (every == 0) Send();
    }

    /// <summary>The run is over: whatever was read and not yet acknowledged is.</summary>
    public void Finish() => Send();

    private void Send()
    {
        _unacked = 0;
        if (_last <= _acked) return;
        ack(_last);
        _acked = _last;
        Sent++;
    }

    public static long Total(IEnumerable<EntryAcks?> all)
    {
        long sum = 0;
        foreach (var a in all) sum += a?.Sent ?? 0;
        return sum;
    }
}
