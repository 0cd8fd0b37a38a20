using System.Diagnostics;
using System.Globalization;
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
    private sealed class DirectRun : LeanRun
    {
        private readonly BenchOptions _o;
        private readonly int _pairs;
        private readonly string[] _to;
        private readonly string _padding;
        private readonly Pair[] _state;
        private readonly Threshold _answered = new(); // delivered, or refused by the node
        private readonly Threshold _settled = new(); // accepted or refused
        private long _outOfOrder;

        /// <summary>One pair: the sender's window, and what its receiver has seen (under the pair's lock).</summary>
        private sealed class Pair(int window, int messages)
        {
            public readonly SendWindow Window = new(window, messages);
            public int Next = 1; // the message expected next at the receiver
            public readonly long[] SentAt = new long[messages + 1];
            public readonly bool[] Seen = new bool[messages + 1];
            public readonly List<double> Latencies = new(messages);
        }

        public DirectRun(BenchOptions o, LeanLink[] links, Account[] accounts, int pairs) : base(links, o.AckEvery)
        {
            _o = o;
            _pairs = pairs;
            _to = accounts[pairs..(2 * pairs)].Select(a => a.UserId).ToArray();
            _padding = new string('x', Math.Max(0, o.Size - 16));
            _state = Enumerable.Range(0, pairs).Select(_ => new Pair(o.Window, o.Messages)).ToArray();
            _answered.Expect((long)pairs * o.Messages);
        }

        public Task AllAnswered => _answered.Reached;
        public Task AllAcceptedOrRefused => _settled.Reached;

        /// <summary>Fills every pair's window.</summary>
        public void Begin()
        {
            MarkStart();
            _settled.Expect((long)_pairs * _o.Messages);
            for (var p = 0; p < _pairs; p++)
            {
                SendMore(p);
                Flush(Links[p]);
            }
        }

        /// <summary>
        /// Queues the pair's next messages on the sender's link while its window has room (request id n names message
        /// n); they leave with the sender link's next flush, at the end of the batch that made room for them.
        /// </summary>
        private void SendMore(int pair)
        {
            var s = _state[pair];
            s.Window.Fill(n =>
            {
                Volatile.Write(ref s.SentAt[n], Stopwatch.GetTimestamp());
                var text = string.Create(CultureInfo.InvariantCulture, $"{n}:{_padding}");
                Links[pair].Queue(new Send((uint)n, n.ToString(CultureInfo.InvariantCulture), _to[pair], text));
            });
        }

        /// <summary>Links 0 to pairs - 1 are the senders, the rest their receivers in the same order.</summary>
        public override void OnFrame(LeanLink link, Frame frame)
        {
            if (link.Index < _pairs) OnSenderFrame(link, frame);
            else OnReceiverFrame(link, frame);
        }

        /// <summary>A receiver's read is over: its acks go out, and the next texts its arrivals let its partner send.</summary>
        public override void OnBatchEnd(LeanLink link)
        {
            base.OnBatchEnd(link);
            if (link.Index >= _pairs) Flush(Links[link.Index - _pairs]);
        }

        /// <summary>A sender hears that its messages are accepted or refused, and reads its receipts as a client does.</summary>
        private void OnSenderFrame(LeanLink link, Frame frame)
        {
            switch (frame)
            {
                case Chat.Protocol.Accepted:
                    CountAccepted();
                    _settled.Increment();
                    return;
                case Error { RequestId: > 0 }:
                    // refused: its place in the window is free, and its partner will never receive it
                    _state[link.Index].Window.Release();
                    CountRefused();
                    _settled.Increment();
                    _answered.Increment();
                    SendMore(link.Index);
                    return;
                case Receipt or ReceiptSet:
                    Read(link, frame);
                    return;
            }
        }

        /// <summary>A receiver gets its partner's messages, checks each against the one before it and acknowledges it.</summary>
        private void OnReceiverFrame(LeanLink link, Frame frame)
        {
            if (frame is not (Message or Receipt or ReceiptSet or GroupNotice)) return;
            Read(link, frame);
            if (frame is not Message m || KeyOf(m.Text) is not (> 0 and var n) || n > _o.Messages) return;
            var pair = link.Index - _pairs;
            var s = _state[pair];
            var now = Stopwatch.GetTimestamp();
            lock (s)
            {
                if (s.Seen[n])
                {
                    CountDuplicate();
                    return;
                }
                s.Seen[n] = true;
                if (n != s.Next) Interlocked.Increment(ref _outOfOrder);
                s.Next = n + 1;
                s.Latencies.Add((now - Volatile.Read(ref s.SentAt[n])) * 1000.0 / Stopwatch.Frequency);
            }
            s.Window.Release();
            CountDelivered(now);
            _answered.Increment();
            SendMore(pair);
        }

        public BenchResult Figures(double loginSeconds)
        {
            var all = _state.SelectMany(s => s.Latencies).ToArray();
            Array.Sort(all);
            var expected = (long)_pairs * _o.Messages;
            var accepted = Accepted;
            var delivered = Delivered;
            var wall = WallSeconds;
            return new BenchResult("direct")
                .Add("users", _pairs * 2).Add("pairs", _pairs).Add("msgs_per_sender", _o.Messages).Add("window", _o.Window)
                .Add("ack_every", _o.AckEvery).Add("body_bytes", _o.Size).Add("login_s", Round(loginSeconds))
                .Add("sent_expected", expected).Add("accepted", accepted).Add("not_accepted", Refused)
                .Add("delivered", delivered).Add("lost", Math.Max(0, accepted - delivered))
                .Add("out_of_order", Interlocked.Read(ref _outOfOrder)).Add("duplicates", Duplicates)
                .Add("wall_s", Round(wall)).Add("delivered_per_s", Math.Round(wall > 0 ? delivered / wall : 0))
                .Add("lat_ms_p50", Percentile(all, 50)).Add("lat_ms_p90", Percentile(all, 90))
                .Add("lat_ms_p99", Percentile(all, 99)).Add("lat_ms_max", all.Length > 0 ? Round(all[^1]) : 0)
                .Add("acks_sent", EntryAcks.Total(Acks[_pairs..])).Add("receipt_acks_sent", EntryAcks.Total(Acks[.._pairs]));
        }
    }
}
