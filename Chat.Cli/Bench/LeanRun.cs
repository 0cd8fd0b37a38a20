using System.Diagnostics;
using System.Net.Sockets;
using Chat.Protocol;

namespace Chat.Cli.Bench;

/// <summary>
/// What the closed-loop workloads on <see cref="LeanLink"/>s share: the acks each connection owes, the frames one read
/// causes written together at its end, and the end of the run when a connection cannot be written to.
/// </summary>
internal abstract class LeanRun : LeanLink.IReader
{
    private readonly TaskCompletionSource _broken = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _start;
    private long _lastArrival;
    private long _accepted;
    private long _refused;
    private long _delivered;
    private long _duplicates;

    protected LeanRun(LeanLink[] links, int ackEvery)
    {
        Links = links;
        Acks = links.Select(link => new EntryAcks(seq => link.Queue(new Ack(seq)), ackEvery)).ToArray();
    }

    /// <summary>Every connection of the run, by <see cref="LeanLink.Index"/>.</summary>
    protected LeanLink[] Links { get; }

    /// <summary>What each connection acknowledges, by <see cref="LeanLink.Index"/>; taken under its own lock.</summary>
    protected EntryAcks[] Acks { get; }

    /// <summary>Completes when a connection could not be written to: what it carried is never answered.</summary>
    public Task Broken => _broken.Task;

    public long Accepted => Interlocked.Read(ref _accepted);
    public long Refused => Interlocked.Read(ref _refused);
    public long Delivered => Interlocked.Read(ref _delivered);
    public long Duplicates => Interlocked.Read(ref _duplicates);

    /// <summary>Seconds from <see cref="MarkStart"/> to the last arrival.</summary>
    protected double WallSeconds => (Interlocked.Read(ref _lastArrival) - Interlocked.Read(ref _start)) / (double)Stopwatch.Frequency;

    protected void MarkStart() => Interlocked.Exchange(ref _start, Stopwatch.GetTimestamp());
    protected void CountAccepted() => Interlocked.Increment(ref _accepted);
    protected void CountRefused() => Interlocked.Increment(ref _refused);
    protected void CountDuplicate() => Interlocked.Increment(ref _duplicates);

    protected void CountDelivered(long at)
    {
        Interlocked.Exchange(ref _lastArrival, at);
        Interlocked.Increment(ref _delivered);
    }

    public abstract void OnFrame(LeanLink link, Frame frame);

    /// <summary>A batch read at once is over: the acks and sends it caused on this connection go out in one write.</summary>
    public virtual void OnBatchEnd(LeanLink link)
    {
        var acks = Acks[link.Index];
        lock (acks) acks.EndOfBatch();
        Flush(link);
    }

    /// <summary>An inbox entry the connection read, to be acknowledged as <c>--ack-every</c> says.</summary>
    protected void Read(LeanLink link, Frame entry)
    {
        var acks = Acks[link.Index];
        lock (acks) acks.Read(ChatClient.SeqOf(entry));
    }

    /// <summary>Writes what is queued on <paramref name="link"/>; a connection that is gone ends the run.</summary>
    protected void Flush(LeanLink link)
    {
        try
        {
            link.Flush();
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            _broken.TrySetResult(); // the figures say what is missing
        }
    }

    /// <summary>The run is over: whatever was read and not yet acknowledged is.</summary>
    public void FinishAcks()
    {
        foreach (var link in Links)
        {
            var acks = Acks[link.Index];
            lock (acks) acks.Finish();
            try
            {
                link.Flush();
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException) { /* closed: nothing to acknowledge on */ }
        }
    }

    /// <summary>One sender's numbered sends, 1 to <paramref name="messages"/>, at most <paramref name="window"/> of them open.</summary>
    protected sealed class SendWindow(int window, int messages)
    {
        private readonly Lock _gate = new();
        private int _sent;
        private int _open;

        /// <summary>
        /// Calls <paramref name="send"/> with the number of each send the window has room for, in order, under the
        /// window's lock: when an arrival and a refusal make room at once, their sends still leave in number order.
        /// </summary>
        public void Fill(Action<int> send)
        {
            lock (_gate)
            {
                while (_open < window && _sent < messages)
                {
                    _open++;
                    send(++_sent);
                }
            }
        }

        /// <summary>A send was answered (received, accepted or refused): its place is free.</summary>
        public void Release()
        {
            lock (_gate) _open--;
        }
    }
}
