using System.Diagnostics;
using System.Globalization;
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
    private sealed class GroupRun : LeanRun
    {
        private readonly BenchOptions _o;
        private readonly int _size;
        private readonly string[] _userIds;
        private readonly Member[] _members;
        private readonly string _padding;
        private readonly long _expected;
        private readonly Threshold _answered = new(); // deliveries, and the deliveries a refused post will never make

        /// <summary>One member: its window of posts, and the posts it received (under its lock).</summary>
        private sealed class Member(int window, int messages, int expected)
        {
            public readonly SendWindow Window = new(window, messages);
            public readonly HashSet<string> Seen = new(expected);
            public readonly List<double> Latencies = new(expected);
        }

        public GroupRun(BenchOptions o, LeanLink[] links, Account[] accounts, int size) : base(links, o.AckEvery)
        {
            _o = o;
            _size = size;
            _userIds = accounts.Select(a => a.UserId).ToArray();
            _members = links.Select(_ => new Member(o.Window, o.Messages, o.Messages * (size - 1))).ToArray();
            _padding = new string('x', Math.Max(0, o.Size - 32));
            _expected = (long)links.Length * o.Messages * (size - 1);
            GroupIds = new string[o.Groups];
        }

        public string[] GroupIds { get; }
        public Task AllAnswered => _answered.Reached;

        /// <summary>Every member posts its first window.</summary>
        public void Begin()
        {
            MarkStart();
            _answered.Expect(_expected);
            foreach (var link in Links)
            {
                PostMore(link);
                Flush(link);
            }
        }

        /// <summary>Queues the member's next posts while its window has room; request id n names post n.</summary>
        private void PostMore(LeanLink link) => _members[link.Index].Window.Fill(n =>
        {
            var text = string.Create(CultureInfo.InvariantCulture, $"{n}:{Stopwatch.GetTimestamp()}:{_padding}");
            link.Queue(new SendGroup((uint)n, "g" + n.ToString(CultureInfo.InvariantCulture), GroupIds[link.Index / _size], text));
        });

        /// <summary>What a member's connection received; on that connection's receive loop, one frame at a time.</summary>
        public override void OnFrame(LeanLink link, Frame frame)
        {
            switch (frame)
            {
                case Chat.Protocol.Accepted:
                    CountAccepted();
                    _members[link.Index].Window.Release();
                    PostMore(link);
                    return;
                case Error { RequestId: > 0 }:
                    CountRefused();
                    for (var i = 0; i < _size - 1; i++) _answered.Increment(); // deliveries that will not happen
                    _members[link.Index].Window.Release();
                    PostMore(link);
                    return;
                case Message or Receipt or ReceiptSet or GroupNotice:
                    Read(link, frame);
                    break;
                default:
                    return;
            }
            if (frame is not Message { Group: not null } text || text.From == _userIds[link.Index]) return;
            var now = Stopwatch.GetTimestamp();
            var m = _members[link.Index];
            lock (m)
            {
                if (!m.Seen.Add(text.MessageId))
                {
                    CountDuplicate();
                    return;
                }
                m.Latencies.Add((now - Parse(text.Text).Ticks) * 1000.0 / Stopwatch.Frequency);
            }
            CountDelivered(now);
            _answered.Increment();
        }

        public BenchResult Figures()
        {
            var all = _members.SelectMany(m => m.Latencies).ToArray();
            Array.Sort(all);
            var accepted = Accepted;
            var delivered = Delivered;
            var wall = WallSeconds;
            return new BenchResult("group")
                .Add("groups", _o.Groups).Add("members", _size).Add("msgs_per_member", _o.Messages).Add("window", _o.Window)
                .Add("ack_every", _o.AckEvery).Add("deliveries_expected", _expected).Add("posts_accepted", accepted)
                .Add("posts_not_accepted", Refused)
                .Add("delivered", delivered).Add("lost", Math.Max(0, accepted * (_size - 1) - delivered))
                .Add("duplicates", Duplicates).Add("wall_s", Round(wall))
                .Add("deliveries_per_s", Math.Round(wall > 0 ? delivered / wall : 0))
                .Add("lat_ms_p50", Percentile(all, 50)).Add("lat_ms_p99", Percentile(all, 99))
                .Add("acks_sent", EntryAcks.Total(Acks));
        }
    }
}
