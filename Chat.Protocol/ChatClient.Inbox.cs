namespace Chat.Protocol;

// The inbox: Sync (stored entries, then live ones on Entries), cumulative acks, and read marks.
public sealed partial class ChatClient
{
    /// <summary>Marks every message from <paramref name="with"/> up to inbox sequence <paramref name="upTo"/> read.</summary>
    public async Task ReadAsync(string with, long upTo, CancellationToken cancellationToken = default)
        => await RequestAsync(id => new Read(id, with, upTo), cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// Requests every inbox entry after <paramref name="after"/>; they arrive on <see cref="Entries"/>.
    /// Completes with the last stored sequence once the stored entries have been received; live entries follow.
    /// </summary>
    public async Task<long> SyncAsync(long after, CancellationToken cancellationToken = default)
    {
        var done = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        _syncDone = done;
        Interlocked.Exchange(ref _lastSeq, after);
        _syncing = true;
        Current().Enqueue(new Sync(after));
        return await done.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Acknowledges every inbox entry up to <paramref name="seq"/>. Cheap: acks are coalesced (unless
    /// <see cref="ChatClientOptions.CoalesceAcks"/> is off). An ack made while the client is reconnecting is not
    /// sent then: the highest ack is sent again after every reconnect (a node that crashed may have lost the acks it
    /// had not yet written, docs/protocol.md 9.4).
    /// </summary>
    public void Ack(long seq)
    {
        var known = Interlocked.Read(ref _highestAck);
        while (seq > known && Interlocked.CompareExchange(ref _highestAck, seq, known) is var seen && seen != known) known = seen;
        LoggedInTarget()?.Enqueue(new Ack(seq));
    }

    private long _highestAck;

    /// <summary>The inbox sequence of an inbox entry frame (Message, Receipt, ReceiptSet, GroupNotice), else 0.</summary>
    public static long SeqOf(Frame frame) => frame switch
    {
        Message m => m.Seq,
        Receipt r => r.Seq,
        ReceiptSet s => s.Seq,
        GroupNotice n => n.Seq,
        _ => 0,
    };
}
