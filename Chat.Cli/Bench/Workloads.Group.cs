using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using Chat.Protocol;

namespace Chat.Cli.Bench;

public static partial class Workloads
{
    /// <summary>
    /// <see cref="BenchOptions.Groups"/> groups of <see cref="BenchOptions.GroupSize"/> members; every member posts
    /// <see cref="BenchOptions.Messages"/> texts with at most <see cref="BenchOptions.Window"/> unaccepted (the next goes
    /// out when one is accepted); every other member must receive each once. A delivery is one text arriving at one
    /// member; its latency counts from the post. Each member is a <see cref="LeanLink"/>; the groups are made by their
    /// first members through a reference client of their own before the run.
    /// </summary>
    public static async Task<BenchResult> GroupAsync(BenchOptions o, Action<string>? progress = null)
    {
        using var deadline = new CancellationTokenSource(o.Timeout);
        var size = Math.Max(2, o.GroupSize);
        var total = o.Groups * size;
        var accounts = await RegisterAsync(o, total, "g", deadline.Token);
        var links = await OpenLinksAsync(o, accounts, deadline.Token);
        var run = new GroupRun(o, links, accounts, size);
        foreach (var link in links) link.Start(run);
        for (var g = 0; g < o.Groups; g++)
        {
            await using var creator = await ChatClient.ConnectAsync(o.ServerFor(g * size), new ChatClientOptions { Device = "setup" }, deadline.Token);
            await creator.LoginAsync(accounts[g * size].Token, deadline.Token);
            run.GroupIds[g] = await creator.CreateGroupAsync($"bench {g}",
                Enumerable.Range(g * size + 1, size - 1).Select(i => accounts[i].UserId).ToList(), deadline.Token);
        }
        progress?.Invoke($"{o.Groups} groups of {size} members ready");

        var cpu = CpuMeter.Start(o.ServerPid);
        run.Begin();
        var timedOut = !await Within(Task.WhenAny(run.AllAnswered, run.Broken), o.Timeout, deadline.Token) || deadline.IsCancellationRequested;
        var used = cpu.Stop();
        run.FinishAcks();
        await deadline.CancelAsync();
        foreach (var link in links) await link.DisposeAsync();
        var result = run.Figures().WithStop(run.Broken.IsCompleted ? "a connection to the node closed during the run" : null);
        result.TimedOut = timedOut;
        return used.AddTo(result, ("post", run.Accepted), ("delivery", run.Delivered));
    }

    /// <summary>One group run: each member's window of unaccepted posts, and the deliveries each member saw.</summary>
    private sealed class GroupRun : LeanLink.IReader
    {
        private readonly BenchOptions _o;
        private readonly int _size;
        private readonly LeanLink[] _links;
        private readonly string[] _userIds;
        private readonly EntryAcks[] _acks;
        private readonly Member[] _members;
        private readonly string _padding;
        private readonly long _expected;
        private readonly Threshold _answered = new(); // deliveries, and the deliveries a refused post will never make
        private readonly TaskCompletionSource _broken = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private long _start;
        private long _lastArrival;
        private long _accepted;
        private long _refused;
        private long _delivered;
        private long _duplicates;

        /// <summary>One member's posts and what it received; each touched under its own lock.</summary>
        private sealed class Member(int expected)
        {
            public int Posted; // posts 1..Posted are out
            public int Open; // posted, neither accepted nor refused
            public readonly HashSet<string> Seen = new(expected);
            public readonly List<double> Latencies = new(expected);
        }

        public GroupRun(BenchOptions o, LeanLink[] links, Account[] accounts, int size)
        {
            _o = o;
            _size = size;
            _links = links;
            _userIds = accounts.Select(a => a.UserId).ToArray();
            _acks = links.Select(link => new EntryAcks(seq => link.Queue(new Ack(seq)), o.AckEvery)).ToArray();
            _members = links.Select(_ => new Member(o.Messages * (size - 1))).ToArray();
            _padding = new string('x', Math.Max(0, o.Size - 32));
            _expected = (long)links.Length * o.Messages * (size - 1);
            GroupIds = new string[o.Groups];
        }

        public string[] GroupIds { get; }
        public Task AllAnswered => _answered.Reached;
        public Task Broken => _broken.Task;
        public long Accepted => Interlocked.Read(ref _accepted);
        public long Delivered => Interlocked.Read(ref _delivered);

        /// <summary>Every member posts its first window.</summary>
        public void Begin()
        {
            _start = Stopwatch.GetTimestamp();
            _answered.Expect(_expected);
            for (var i = 0; i < _links.Length; i++)
            {
                PostMore(i);
                Flush(_links[i]);
            }
        }

        /// <summary>Queues the member's next posts while its window has room; request id n names post n.</summary>
        private void PostMore(int member)
        {
            var m = _members[member];
            while (true)
            {
                int n;
                lock (m)
                {
                    if (m.Open >= _o.Window || m.Posted >= _o.Messages) return;
                    n = ++m.Posted;
                    m.Open++;
                }
                var text = string.Create(CultureInfo.InvariantCulture, $"{n}:{Stopwatch.GetTimestamp()}:{_padding}");
                _links[member].Queue(new SendGroup((uint)n, "g" + n.ToString(CultureInfo.InvariantCulture), GroupIds[member / _size], text));
            }
        }

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

        /// <summary>What a member's connection received; on that connection's receive loop, one frame at a time.</summary>
        public void OnFrame(LeanLink link, Frame frame)
        {
            var member = link.Index;
            switch (frame)
            {
                case Chat.Protocol.Accepted:
                    Interlocked.Increment(ref _accepted);
                    Answered(member);
                    return;
                case Error { RequestId: > 0 }:
                    Interlocked.Increment(ref _refused);
                    for (var i = 0; i < _size - 1; i++) _answered.Increment(); // deliveries that will not happen
                    Answered(member);
                    return;
                case Message or Receipt or ReceiptSet or GroupNotice:
                    var acks = _acks[member];
                    lock (acks) acks.Read(ChatClient.SeqOf(frame));
                    break;
                default:
                    return;
            }
            if (frame is not Message { Group: not null } text || text.From == _userIds[member]) return;
            var now = Stopwatch.GetTimestamp();
            var m = _members[member];
            lock (m)
            {
                if (!m.Seen.Add(text.MessageId))
                {
                    Interlocked.Increment(ref _duplicates);
                    return;
                }
                m.Latencies.Add((now - Parse(text.Text).Ticks) * 1000.0 / Stopwatch.Frequency);
            }
            Interlocked.Exchange(ref _lastArrival, now);
            Interlocked.Increment(ref _delivered);
            _answered.Increment();
        }

        /// <summary>A post was accepted or refused: its place in the window is free.</summary>
        private void Answered(int member)
        {
            var m = _members[member];
            lock (m) m.Open--;
            PostMore(member);
        }

        /// <summary>A batch read at once is over: the acks and posts it caused go out in one write.</summary>
        public void OnBatchEnd(LeanLink link)
        {
            var acks = _acks[link.Index];
            lock (acks) acks.EndOfBatch();
            Flush(link);
        }

        /// <summary>The run is over: whatever was read and not yet acknowledged is.</summary>
        public void FinishAcks()
        {
            for (var i = 0; i < _links.Length; i++)
            {
                lock (_acks[i]) _acks[i].Finish();
                try
                {
                    _links[i].Flush();
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException) { /* closed: nothing to acknowledge on */ }
            }
        }

        public BenchResult Figures()
        {
            var all = _members.SelectMany(m => m.Latencies).ToArray();
            Array.Sort(all);
            var accepted = Accepted;
            var delivered = Delivered;
            var wall = (Interlocked.Read(ref _lastArrival) - _start) / (double)Stopwatch.Frequency;
            return new BenchResult("group")
                .Add("groups", _o.Groups).Add("members", _size).Add("msgs_per_member", _o.Messages).Add("window", _o.Window)
                .Add("ack_every", _o.AckEvery).Add("deliveries_expected", _expected).Add("posts_accepted", accepted)
                .Add("posts_not_accepted", Interlocked.Read(ref _refused))
                .Add("delivered", delivered).Add("lost", Math.Max(0, accepted * (_size - 1) - delivered))
                .Add("duplicates", Interlocked.Read(ref _duplicates)).Add("wall_s", Round(wall))
                .Add("deliveries_per_s", Math.Round(wall > 0 ? delivered / wall : 0))
                .Add("lat_ms_p50", Percentile(all, 50)).Add("lat_ms_p99", Percentile(all, 99))
                .Add("acks_sent", EntryAcks.Total(_acks));
        }
    }
}
