using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using Chat.Protocol;

namespace Chat.Cli.Bench;

public static partial class Workloads
{
    /// <summary>
    /// Closed loop: <see cref="BenchOptions.Users"/> users in sender→receiver pairs, each sender with at most
    /// <see cref="BenchOptions.Window"/> messages sent and not yet received by its partner; the next one goes out the
    /// moment one arrives. Latency counts from the send to the arrival. Each user is a <see cref="LeanLink"/>, and the
    /// next send is written on the receive loop that saw the arrival, so the generator adds no hand-offs of its own to
    /// the round trip it measures.
    /// </summary>
    public static async Task<BenchResult> DirectAsync(BenchOptions o, Action<string>? progress = null)
    {
        var pairs = Math.Max(1, o.Users / 2);
        using var deadline = new CancellationTokenSource(o.Timeout);
        var setup = Stopwatch.StartNew();
        var accounts = await RegisterAsync(o, pairs * 2, "d", deadline.Token);
        var links = await OpenLinksAsync(o, accounts, deadline.Token);
        var loginSeconds = setup.Elapsed.TotalSeconds;
        progress?.Invoke($"{links.Length} users logged in in {loginSeconds:0.0} s");

        var run = new DirectRun(o, links, accounts, pairs);
        foreach (var link in links) link.Start(run);
        var cpu = CpuMeter.Start(o.ServerPid);
        run.Begin();
        var timedOut = !await Within(Task.WhenAny(run.AllAnswered, run.Broken), o.Timeout, deadline.Token) || deadline.IsCancellationRequested;
        // a text can reach its receiver before its Accepted reaches the sender: a little longer for the last answers
        if (!timedOut && !run.Broken.IsCompleted) await Within(run.AllAcceptedOrRefused, TimeSpan.FromSeconds(10), deadline.Token);
        var used = cpu.Stop();
        run.FinishAcks();
        await deadline.CancelAsync();
        foreach (var link in links) await link.DisposeAsync();
        var result = run.Figures(loginSeconds).WithStop(run.Broken.IsCompleted ? "a connection to the node closed during the run" : null);
        result.TimedOut = timedOut;
        return used.AddTo(result, ("msg", run.Delivered));
    }

    /// <summary>One closed-loop run: each pair's window, and what happened to each message.</summary>
    private sealed class DirectRun : LeanLink.IReader
    {
        private readonly BenchOptions _o;
        private readonly int _pairs;
        private readonly LeanLink[] _senders;
        private readonly LeanLink[] _receivers;
        private readonly EntryAcks[] _senderAcks;
        private readonly EntryAcks[] _receiverAcks;
        private readonly string[] _to;
        private readonly string _padding;
        private readonly Pair[] _state;
        private readonly Threshold _answered = new(); // delivered, or refused by the node
        private readonly Threshold _settled = new(); // accepted or refused
        private readonly TaskCompletionSource _broken = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private long _start;
        private long _lastArrival;
        private long _accepted;
        private long _refused;
        private long _delivered;
        private long _duplicates;
        private long _outOfOrder;

        /// <summary>One pair's send position and what its receiver has seen; each touched under its own lock.</summary>
        private sealed class Pair(int messages)
        {
            public int Sent; // messages 1..Sent are out
            public int Open; // sent, neither received nor refused
            public int Next = 1; // the message expected next at the receiver
            public readonly long[] SentAt = new long[messages + 1];
            public readonly bool[] Seen = new bool[messages + 1];
            public readonly List<double> Latencies = new(messages);
        }

        public DirectRun(BenchOptions o, LeanLink[] links, Account[] accounts, int pairs)
        {
            _o = o;
            _pairs = pairs;
            _senders = links[..pairs];
            _receivers = links[pairs..(2 * pairs)];
            _senderAcks = _senders.Select(AcksOf).ToArray();
            _receiverAcks = _receivers.Select(AcksOf).ToArray();
            _to = accounts[pairs..(2 * pairs)].Select(a => a.UserId).ToArray();
            _padding = new string('x', Math.Max(0, o.Size - 16));
            _state = Enumerable.Range(0, pairs).Select(_ => new Pair(o.Messages)).ToArray();
            _answered.Expect((long)pairs * o.Messages);
        }

        private EntryAcks AcksOf(LeanLink link) => new(seq => link.Queue(new Ack(seq)), _o.AckEvery);

        public Task AllAnswered => _answered.Reached;

        /// <summary>Completes when a connection could not be written to.</summary>
        public Task Broken => _broken.Task;
        public Task AllAcceptedOrRefused => _settled.Reached;
        public long Delivered => Interlocked.Read(ref _delivered);

        /// <summary>Fills every pair's window.</summary>
        public void Begin()
        {
            _start = Stopwatch.GetTimestamp();
            _settled.Expect((long)_pairs * _o.Messages);
            for (var p = 0; p < _pairs; p++)
            {
                SendMore(p);
                Flush(_senders[p]);
            }
        }

        /// <summary>
        /// Queues the pair's next messages on the sender's link while its window has room (request id n names message
        /// n); they leave with the sender link's next flush, at the end of the batch that made room for them.
        /// </summary>
        private void SendMore(int pair)
        {
            var s = _state[pair];
            while (true)
            {
                int n;
                lock (s)
                {
                    if (s.Open >= _o.Window || s.Sent >= _o.Messages) return;
                    n = ++s.Sent;
                    s.Open++;
                    s.SentAt[n] = Stopwatch.GetTimestamp();
                }
                var text = string.Create(CultureInfo.InvariantCulture, $"{n}:{_padding}");
                _senders[pair].Queue(new Send((uint)n, n.ToString(CultureInfo.InvariantCulture), _to[pair], text));
            }
        }

        /// <summary>Writes what is queued on <paramref name="link"/>; if its connection is gone, its queued sends count as refused.</summary>
        private void Flush(LeanLink link)
        {
            try
            {
                link.Flush();
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                _broken.TrySetResult(); // what it carried is never answered: the run ends, and the figures say what is missing
            }
        }

        /// <summary>A send the node refused, or that could not be written, frees its place in the window.</summary>
        private void CountRefused(int pair)
        {
            var s = _state[pair];
            lock (s) s.Open--;
            Interlocked.Increment(ref _refused);
            _settled.Increment();
            _answered.Increment();
        }

        public void OnFrame(LeanLink link, Frame frame)
        {
            if (link.Index < _pairs) OnSenderFrame(link.Index, frame);
            else OnReceiverFrame(link.Index - _pairs, frame);
        }

        /// <summary>A batch read at once is over: the acks it caused and, for a receiver, its partner's next sends go out.</summary>
        public void OnBatchEnd(LeanLink link)
        {
            var acks = link.Index < _pairs ? _senderAcks[link.Index] : _receiverAcks[link.Index - _pairs];
            lock (acks) acks.EndOfBatch();
            Flush(link);
            if (link.Index >= _pairs) Flush(_senders[link.Index - _pairs]);
        }

        /// <summary>A sender hears that its messages are accepted or refused, and reads its receipts as a client does.</summary>
        private void OnSenderFrame(int pair, Frame frame)
        {
            switch (frame)
            {
                case Accepted:
                    Interlocked.Increment(ref _accepted);
                    _settled.Increment();
                    return;
                case Error { RequestId: > 0 }:
                    CountRefused(pair);
                    SendMore(pair);
                    return;
                case Receipt or ReceiptSet:
                    var acks = _senderAcks[pair];
                    lock (acks) acks.Read(ChatClient.SeqOf(frame));
                    return;
            }
        }

        /// <summary>A receiver gets its partner's messages, checks each against the one before it and acknowledges it.</summary>
        private void OnReceiverFrame(int pair, Frame frame)
        {
            if (frame is not (Message or Receipt or ReceiptSet or GroupNotice)) return;
            var acks = _receiverAcks[pair];
            lock (acks) acks.Read(ChatClient.SeqOf(frame));
            if (frame is not Message m || KeyOf(m.Text) is not (> 0 and var n) || n > _o.Messages) return;
            var s = _state[pair];
            var now = Stopwatch.GetTimestamp();
            lock (s)
            {
                if (s.Seen[n])
                {
                    Interlocked.Increment(ref _duplicates);
                    return;
                }
                s.Seen[n] = true;
                if (n != s.Next) Interlocked.Increment(ref _outOfOrder);
                s.Next = n + 1;
                s.Latencies.Add((now - s.SentAt[n]) * 1000.0 / Stopwatch.Frequency);
                s.Open--;
            }
            Interlocked.Exchange(ref _lastArrival, now);
            Interlocked.Increment(ref _delivered);
            _answered.Increment();
            SendMore(pair);
        }

        /// <summary>The run is over: whatever was read and not yet acknowledged is.</summary>
        public void FinishAcks()
        {
            for (var p = 0; p < _pairs; p++)
            {
                foreach (var (link, acks) in new[] { (_receivers[p], _receiverAcks[p]), (_senders[p], _senderAcks[p]) })
                {
                    lock (acks) acks.Finish();
                    try
                    {
                        link.Flush();
                    }
                    catch (Exception e) when (e is SocketException or ObjectDisposedException) { /* closed: nothing to acknowledge on */ }
                }
            }
        }

        public BenchResult Figures(double loginSeconds)
        {
            var all = _state.SelectMany(s => s.Latencies).ToArray();
            Array.Sort(all);
            var expected = (long)_pairs * _o.Messages;
            var accepted = Interlocked.Read(ref _accepted);
            var delivered = Delivered;
            var wall = (Interlocked.Read(ref _lastArrival) - _start) / (double)Stopwatch.Frequency;
            return new BenchResult("direct")
                .Add("users", _pairs * 2).Add("pairs", _pairs).Add("msgs_per_sender", _o.Messages).Add("window", _o.Window)
                .Add("ack_every", _o.AckEvery).Add("body_bytes", _o.Size).Add("login_s", Round(loginSeconds))
                .Add("sent_expected", expected).Add("accepted", accepted).Add("not_accepted", Interlocked.Read(ref _refused))
                .Add("delivered", delivered).Add("lost", Math.Max(0, accepted - delivered))
                .Add("out_of_order", Interlocked.Read(ref _outOfOrder)).Add("duplicates", Interlocked.Read(ref _duplicates))
                .Add("wall_s", Round(wall)).Add("delivered_per_s", Math.Round(wall > 0 ? delivered / wall : 0))
                .Add("lat_ms_p50", Percentile(all, 50)).Add("lat_ms_p90", Percentile(all, 90))
                .Add("lat_ms_p99", Percentile(all, 99)).Add("lat_ms_max", all.Length > 0 ? Round(all[^1]) : 0)
                .Add("acks_sent", EntryAcks.Total(_receiverAcks)).Add("receipt_acks_sent", EntryAcks.Total(_senderAcks));
        }
    }
}
