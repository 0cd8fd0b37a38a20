using System.Buffers.Text;
using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using Chat.Protocol;
using MessagePack;

namespace Chat.Cli.Bench;

public static partial class Workloads
{
    /// <summary>The most messages one open-loop run offers: each has its text made before the run.</summary>
    public const int MaxOpenMessages = 1_000_000;

    /// <summary>
    /// Open loop, the shape of real traffic: <see cref="BenchOptions.Users"/> users in fixed sender→receiver pairs,
    /// messages offered at <see cref="BenchOptions.Rate"/> per second in total for <see cref="BenchOptions.Duration"/>.
    /// Message k (from 0) is due at start + k / rate and goes from sender k mod pairs, so each sender sends every
    /// pairs / rate seconds; it is sent when due whether or not earlier ones were answered. Latency counts from the due
    /// time, so a stall anywhere (the node, the network, the load generator itself) delays every message behind it
    /// and shows in the tail. The generator stops offering, and says so, when it falls more than
    /// <see cref="BenchOptions.MaxLag"/> behind its timetable or more than <see cref="BenchOptions.MaxInFlight"/>
    /// messages are sent and not received. Afterwards it waits up to <see cref="BenchOptions.Grace"/> for what is
    /// missing, then as long again for the delivered receipts the receivers' acks cause. Each user is a
    /// <see cref="LeanLink"/>, not a <see cref="ChatClient"/>: the generator's CPU is taken from the node's two cores.
    /// </summary>
    /// <remarks>
    /// Fixed pairs rather than random recipients: order is promised per sender and recipient, and with a fixed partner
    /// every message of a conversation can be checked against the one before it; the load still spreads evenly over
    /// all users' entities, as many one-to-one conversations do.
    /// </remarks>
    public static async Task<BenchResult> OpenAsync(BenchOptions o, Action<string>? progress = null)
    {
        var pairs = Math.Max(1, o.Users / 2);
        var total = (int)Math.Clamp(Math.Round(o.Rate * (o.Warmup + o.Duration).TotalSeconds), 1, MaxOpenMessages);
        var warm = (int)Math.Clamp(Math.Round(o.Rate * o.Warmup.TotalSeconds), 0, total - 1);
        var maxInFlight = o.MaxInFlight ?? (int)Math.Max(100, Math.Min(int.MaxValue, o.Rate * o.MaxLag.TotalSeconds));
        using var deadline = new CancellationTokenSource(o.Timeout);
        var setup = Stopwatch.StartNew();
        var accounts = await RegisterAsync(o, pairs * 2, "p", deadline.Token);
        var links = await OpenLinksAsync(o, accounts, deadline.Token);
        var loginSeconds = setup.Elapsed.TotalSeconds;
        progress?.Invoke($"{links.Length} users logged in in {loginSeconds:0.0} s; offering {o.Rate} messages/s for {o.Duration.TotalSeconds:0.#} s" +
            (warm > 0 ? $" after {o.Warmup.TotalSeconds:0.#} s of warm-up" : ""));

        var run = new OpenRun(o, links, accounts, pairs, total, warm, maxInFlight);
        foreach (var link in links) link.Start(run);

        // A thread of its own: the timetable keeps time even when the thread pool is busy with the connections.
        await Task.Factory.StartNew(() => run.KeepTimetable(deadline.Token), CancellationToken.None,
            TaskCreationOptions.LongRunning, TaskScheduler.Default);
        var timedOut = deadline.IsCancellationRequested;

        run.ExpectEverythingSent();
        timedOut |= !await Within(run.AllReceived, o.Grace, deadline.Token);
        run.FinishReceiverAcks(); // receivers acknowledge what they have left unacknowledged (--ack-every N)
        run.ExpectReceiptsForEverythingReceived();
        timedOut |= !await Within(run.AllReceipted, o.Grace, deadline.Token);
        var used = run.StopCpu();

        var result = run.Figures(loginSeconds);
        result.TimedOut = timedOut;
        used.AddTo(result, ("msg", run.MeasuredReceived));
        await deadline.CancelAsync();
        foreach (var link in links) await link.DisposeAsync();
        return result;
    }

    /// <summary>Logs every account in on a <see cref="LeanLink"/> of its own (spread over the nodes given), a few at a time.</summary>
    private static async Task<LeanLink[]> OpenLinksAsync(BenchOptions o, Account[] accounts, CancellationToken ct)
    {
        var links = new LeanLink[accounts.Length];
        try
        {
            await Parallel.ForEachAsync(Enumerable.Range(0, accounts.Length),
                new ParallelOptions { MaxDegreeOfParallelism = o.SetupConcurrency, CancellationToken = ct },
                async (i, token) => links[i] = await LeanLink.OpenAsync(o.ServerFor(i), i, accounts[i].Token, "bench", token));
        }
        catch
        {
            foreach (var link in links) if (link is not null) await link.DisposeAsync();
            throw;
        }
        return links;
    }

    /// <summary>Waits for <paramref name="done"/> at most <paramref name="grace"/>; false only if the run's deadline passed.</summary>
    private static async Task<bool> Within(Task done, TimeSpan grace, CancellationToken deadline)
    {
        try
        {
            await done.WaitAsync(grace, deadline);
        }
        catch (TimeoutException) { /* what is missing is reported */ }
        catch (OperationCanceledException) { return false; }
        return true;
    }

    /// <summary>One open-loop run: the timetable, what happened to each message, and the loops that watch it happen.</summary>
    private sealed class OpenRun : LeanLink.IPayloadReader
    {
        private readonly BenchOptions _o;
        private readonly int _pairs;
        private readonly int _total;
        private readonly int _warm; // messages before this one are the warm-up
        private readonly int _maxInFlight;
        private CpuMeter? _cpu; // started when the first measured message falls due
        private readonly LeanLink[] _senders;
        private readonly LeanLink[] _receivers;
        private readonly EntryAcks[] _senderAcks;
        private readonly EntryAcks[] _receiverAcks;
        private readonly int[] _latest; // per receiver, the newest message it received
        // per sender, the messages it has a delivered receipt for, by a 64-bit hash of the id: the ids themselves, kept for
        // the whole run, made every young collection of the generator copy them (a pause of ~8 ms at 6,000/s)
        private readonly HashSet<ulong>[] _receipted;
        private readonly string[] _to;
        // Made before the run so that sending costs no formatting: message k's text starts with "k:", its client message id is k.
        private readonly string[] _texts;
        private readonly string[] _ids;
        // Stopwatch timestamps per message; 0 while it has not happened.
        private readonly long[] _sentAt;
        private readonly long[] _acceptedAt;
        private readonly long[] _receivedAt;
        private readonly double _ticksPerMessage;
        private readonly Threshold _received = new();
        private readonly Threshold _receipts = new();
        private long _start;
        private DateTime _startUtc; // the wall clock at _start, for the slow log
        private int _sent;
        private int _inFlightMax;
        private long _refused;
        private long _duplicates;
        private long _outOfOrder;
        private long _duplicateReceipts;
        private string _stopped = "no";

        public OpenRun(BenchOptions o, LeanLink[] links, Account[] accounts, int pairs, int total, int warm, int maxInFlight)
        {
            _o = o;
            _warm = warm;
            _pairs = pairs;
            _total = total;
            _maxInFlight = maxInFlight;
            _senders = links[..pairs];
            _receivers = links[pairs..(2 * pairs)];
            _senderAcks = _senders.Select(AcksOf).ToArray();
            _receiverAcks = _receivers.Select(AcksOf).ToArray();
            _latest = Enumerable.Repeat(-1, pairs).ToArray();
            _receipted = Enumerable.Range(0, pairs).Select(_ => new HashSet<ulong>()).ToArray();
            _to = accounts[pairs..(2 * pairs)].Select(a => a.UserId).ToArray();
            _texts = new string[total];
            _ids = new string[total];
            for (var k = 0; k < total; k++)
            {
                _ids[k] = k.ToString(CultureInfo.InvariantCulture);
                _texts[k] = _ids[k] + ":" + new string('x', Math.Max(1, o.Size - _ids[k].Length - 1));
            }
            _sentAt = new long[total];
            _acceptedAt = new long[total];
            _receivedAt = new long[total];
            _ticksPerMessage = (double)Stopwatch.Frequency / o.Rate;
        }

        private EntryAcks AcksOf(LeanLink link) => new(seq => link.Write(new Ack(seq)), _o.AckEvery);

        public Task AllReceived => _received.Reached;
        public Task AllReceipted => _receipts.Reached;
        public long Received => _received.Count;

        /// <summary>Messages received that were due after the warm-up.</summary>
        public long MeasuredReceived
        {
            get
            {
                long n = 0;
                for (var k = _warm; k < _total; k++) if (Volatile.Read(ref _receivedAt[k]) != 0) n++;
                return n;
            }
        }

        /// <summary>CPU used since the first measured message fell due (nothing if the run stopped before it).</summary>
        public CpuUse StopCpu() => (Volatile.Read(ref _cpu) ?? CpuMeter.Start(_o.ServerPid)).Stop();

        private long Due(int k) => _start + (long)(k * _ticksPerMessage);

        /// <summary>Sends every message when it is due, on this thread, until the last one or until it has to stop.</summary>
        public void KeepTimetable(CancellationToken ct)
        {
            var maxLag = (long)(_o.MaxLag.TotalSeconds * Stopwatch.Frequency);
            _start = Stopwatch.GetTimestamp();
            _startUtc = DateTime.UtcNow;
            for (var k = 0; k < _total && !ct.IsCancellationRequested; k++)
            {
                var due = Due(k);
                DueTimeWait.Until(due);
                if (k == _warm) Volatile.Write(ref _cpu, CpuMeter.Start(_o.ServerPid));
                _o.OnDue?.Invoke(k);
                var now = Stopwatch.GetTimestamp();
                if (now - due > maxLag)
                {
                    _stopped = "lag";
                    return;
                }
                var inFlight = (int)(k - _received.Count);
                if (inFlight > _inFlightMax) _inFlightMax = inFlight;
                if (inFlight >= _maxInFlight)
                {
                    _stopped = "in_flight";
                    return;
                }
                var pair = k % _pairs;
                _sentAt[k] = now;
                try
                {
                    // request id k + 1: the Accepted (or Error) names the message without a table of pending sends
                    _senders[pair].Write(new Send((uint)k + 1, _ids[k], _to[pair], _texts[k]));
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException)
                {
                    Interlocked.Increment(ref _refused); // the connection is gone: this one is not sent
                }
                Volatile.Write(ref _sent, k + 1);
            }
        }

        /// <summary>What a user's connection received, decoded; payloads come to <see cref="OnPayload"/> instead.</summary>
        public void OnFrame(LeanLink link, Frame frame)
        {
            if (link.Index < _pairs) OnSenderFrame(link.Index, frame);
            else OnReceiverFrame(link.Index - _pairs, frame);
        }

        /// <summary>
        /// What a user's connection received, on that connection's receive loop, one frame at a time: the fields the
        /// run counts, read where they lie in the payload (docs/protocol.md, sections 3 and 5), so that no object is made.
        /// </summary>
        public void OnPayload(LeanLink link, ReadOnlyMemory<byte> payload)
        {
            var r = new MessagePackReader(payload);
            r.ReadArrayHeader();
            var opcode = r.ReadInt32();
            r.ReadArrayHeader();
            if (link.Index < _pairs) OnSenderPayload(link.Index, opcode, ref r);
            else OnReceiverPayload(link.Index - _pairs, opcode, ref r);
        }

        private void OnSenderPayload(int pair, int opcode, ref MessagePackReader r)
        {
            long seq;
            switch (opcode)
            {
                case Opcodes.Accepted:
                    var requestId = r.ReadUInt32();
                    if (requestId - 1 < (uint)_total) Volatile.Write(ref _acceptedAt[requestId - 1], Stopwatch.GetTimestamp());
                    return;
                case Opcodes.Error:
                    if (r.ReadUInt32() > 0) Interlocked.Increment(ref _refused);
                    return;
                case Opcodes.Receipt: // [Seq, Status, By, MessageIds, At]
                    seq = r.ReadInt64();
                    var status = r.ReadInt32();
                    r.Skip();
                    CountReceipt(ref r, status == (int)ReceiptStatus.Delivered, _receipted[pair]);
                    break;
                case Opcodes.ReceiptSet: // [Seq, [[Status, By, MessageIds, Group?], ...], At]
                    seq = r.ReadInt64();
                    for (var items = r.ReadArrayHeader(); items > 0; items--)
                    {
                        var fields = r.ReadArrayHeader();
                        var itemStatus = r.ReadInt32();
                        r.Skip();
                        CountReceipt(ref r, itemStatus == (int)ReceiptStatus.Delivered, _receipted[pair]);
                        for (var f = 3; f < fields; f++) r.Skip();
                    }
                    break;
                case Opcodes.Message or Opcodes.GroupNotice:
                    seq = r.ReadInt64();
                    break;
                default:
                    return; // not an inbox entry
            }
            var acks = _senderAcks[pair];
            lock (acks) acks.Read(seq);
        }

        private void OnReceiverPayload(int pair, int opcode, ref MessagePackReader r)
        {
            if (opcode is not (Opcodes.Message or Opcodes.Receipt or Opcodes.ReceiptSet or Opcodes.GroupNotice)) return;
            var seq = r.ReadInt64();
            if (opcode == Opcodes.Message) // [Seq, MessageId, From, Text, ...]: the text starts with "k:"
            {
                r.Skip();
                r.Skip();
                if (r.TryReadStringSpan(out var text) && KeyOf(text) is var k && (uint)k < (uint)_total) Arrived(pair, k);
            }
            var acks = _receiverAcks[pair];
            lock (acks) acks.Read(seq);
        }

        /// <summary>The number before the first ':' of a message's text (UTF-8), or -1.</summary>
        private static int KeyOf(ReadOnlySpan<byte> text)
        {
            var colon = text.IndexOf((byte)':');
            return colon > 0 && Utf8Parser.TryParse(text[..colon], out int k, out var used) && used == colon ? k : -1;
        }

        private void CountReceipt(ref MessagePackReader r, bool delivered, HashSet<ulong> named)
        {
            for (var ids = r.ReadArrayHeader(); ids > 0; ids--)
            {
                if (!delivered || !r.TryReadStringSpan(out var id))
                {
                    r.Skip();
                    continue;
                }
                if (named.Add(Fnv1a(id))) _receipts.Increment();
                else Interlocked.Increment(ref _duplicateReceipts);
            }
        }

        public void OnBatchEnd(LeanLink link)
        {
            var acks = link.Index < _pairs ? _senderAcks[link.Index] : _receiverAcks[link.Index - _pairs];
            lock (acks) acks.EndOfBatch();
        }

        /// <summary>A sender hears that its messages are accepted (or refused) and that they were delivered.</summary>
        private void OnSenderFrame(int pair, Frame frame)
        {
            switch (frame)
            {
                case Accepted accepted when accepted.RequestId - 1 < (uint)_total:
                    Volatile.Write(ref _acceptedAt[accepted.RequestId - 1], Stopwatch.GetTimestamp());
                    return;
                case Error { RequestId: > 0 }:
                    Interlocked.Increment(ref _refused);
                    return;
                case Receipt { Status: ReceiptStatus.Delivered } receipt:
                    CountReceipt(receipt.MessageIds, _receipted[pair]);
                    break;
                case ReceiptSet set:
                    foreach (var item in set.Items)
                        if (item.Status == ReceiptStatus.Delivered) CountReceipt(item.MessageIds, _receipted[pair]);
                    break;
                case Receipt:
                    break;
                default:
                    return; // not an inbox entry
            }
            var acks = _senderAcks[pair];
            lock (acks) acks.Read(ChatClient.SeqOf(frame));
        }

        /// <summary>A receiver gets its partner's messages, each checked against the one before it, and acknowledges them.</summary>
        private void OnReceiverFrame(int pair, Frame frame)
        {
            if (frame is not (Message or Receipt or ReceiptSet or GroupNotice)) return;
            if (frame is Message m && Workloads.KeyOf(m.Text) is var k && (uint)k < (uint)_total) Arrived(pair, k);
            var acks = _receiverAcks[pair];
            lock (acks) acks.Read(ChatClient.SeqOf(frame));
        }

        /// <summary>Message <paramref name="k"/> reached its receiver: once, and after the ones sent before it, or counted as not.</summary>
        private void Arrived(int pair, int k)
        {
            if (_receivedAt[k] != 0)
            {
                Interlocked.Increment(ref _duplicates);
                return;
            }
            _receivedAt[k] = Stopwatch.GetTimestamp();
            if (k < _latest[pair]) Interlocked.Increment(ref _outOfOrder);
            else _latest[pair] = k;
            _received.Increment();
        }

        /// <summary>The wait for messages is over: each receiver acknowledges what it has left unacknowledged.</summary>
        public void FinishReceiverAcks()
        {
            foreach (var acks in _receiverAcks) lock (acks) acks.Finish();
        }

        private void CountReceipt(IReadOnlyList<string> messageIds, HashSet<ulong> named)
        {
            Span<byte> utf8 = stackalloc byte[64];
            for (var i = 0; i < messageIds.Count; i++)
            {
                var id = messageIds[i];
                var bytes = System.Text.Encoding.UTF8.GetMaxByteCount(id.Length) <= utf8.Length ? utf8[..System.Text.Encoding.UTF8.GetBytes(id, utf8)] : System.Text.Encoding.UTF8.GetBytes(id);
                if (named.Add(Fnv1a(bytes))) _receipts.Increment();
                else Interlocked.Increment(ref _duplicateReceipts);
            }
        }

        /// <summary>FNV-1a, 64 bits, of a message id's bytes: two of a run's ids alike by chance about once in 10⁹ runs.</summary>
        private static ulong Fnv1a(ReadOnlySpan<byte> id)
        {
            var hash = 14695981039346656037UL;
            foreach (var b in id) hash = (hash ^ b) * 1099511628211UL;
            return hash;
        }

        /// <summary>Every message sent is now expected at its receiver.</summary>
        public void ExpectEverythingSent() => _received.Expect(Volatile.Read(ref _sent));

        /// <summary>Every message received is now expected to come back to its sender as a delivered receipt.</summary>
        public void ExpectReceiptsForEverythingReceived() => _receipts.Expect(_received.Count);

        /// <summary>The slowest 1 % of the measured messages, in the order they were due: stalls show as runs of due times.</summary>
        private void WriteSlowLog(string path, List<(int K, double Ms)> measured)
        {
            var slowest = measured.OrderByDescending(m => m.Ms).Take(Math.Max(1, measured.Count / 100)).OrderBy(m => m.K);
            using var w = new StreamWriter(path);
            w.WriteLine("# due (UTC)\tlatency ms\tmessage\tsent late by ms\taccepted after ms (-1: not accepted)");
            foreach (var (k, ms) in slowest)
                w.WriteLine(FormattableString.Invariant($"{_startUtc.AddSeconds(k / (double)_o.Rate):HH:mm:ss.fff}\t{ms:0.0}\t{k}\t{Ms(_sentAt[k] - Due(k)):0.0}\t{(_acceptedAt[k] == 0 ? -1 : Ms(_acceptedAt[k] - Due(k))):0.0}"));
        }

        public BenchResult Figures(double loginSeconds)
        {
            var sent = Volatile.Read(ref _sent);
            var latency = new List<double>(sent);
            var accept = new List<double>(sent);
            var measuredFrom = Math.Min(_warm, sent);
            var lag = new double[sent - measuredFrom];
            var slow = new List<(int K, double Ms)>();
            var fromSend = new List<double>(sent);
            long accepted = 0, lost = 0;
            long firstArrival = long.MaxValue, lastArrival = 0, lastSent = sent > 0 ? _sentAt[sent - 1] : _start;
            for (var k = 0; k < sent; k++)
            {
                // loss counts over the whole run; times only after the warm-up
                var measured = k >= measuredFrom;
                var due = Due(k);
                if (measured) lag[k - measuredFrom] = Ms(_sentAt[k] - due);
                var acceptedAt = Volatile.Read(ref _acceptedAt[k]);
                var receivedAt = _receivedAt[k];
                if (acceptedAt != 0)
                {
                    accepted++;
                    if (measured) accept.Add(Ms(acceptedAt - due));
                    if (receivedAt == 0) lost++;
                }
                if (receivedAt == 0 || !measured) continue;
                latency.Add(Ms(receivedAt - due));
                fromSend.Add(Ms(receivedAt - _sentAt[k]));
                if (_o.SlowLog is not null) slow.Add((k, Ms(receivedAt - due)));
                firstArrival = Math.Min(firstArrival, receivedAt);
                lastArrival = Math.Max(lastArrival, receivedAt);
            }
            var received = _received.Count;
            var refused = Interlocked.Read(ref _refused);
            var slot = 1.0 / _o.Rate; // one message's share of the timetable: n messages take n slots
            // Rates over the span in which messages went out / came in: at a steady latency both equal the offered rate.
            var sentMeasured = sent - measuredFrom;
            var sentPerSecond = sentMeasured > 0 ? sentMeasured / ((lastSent - _sentAt[measuredFrom]) / (double)Stopwatch.Frequency + slot) : 0;
            var achieved = latency.Count > 0 ? latency.Count / ((lastArrival - firstArrival) / (double)Stopwatch.Frequency + slot) : 0;
            var lat = Sorted(latency);
            if (_o.SlowLog is { } path) WriteSlowLog(path, slow);
            var acc = Sorted(accept);
            var toReceived = Sorted(fromSend);
            Array.Sort(lag);
            return new BenchResult("open")
                .Add("users", _pairs * 2).Add("pairs", _pairs).Add("rate_offered", _o.Rate)
                .Add("duration_s", Round(_o.Duration.TotalSeconds)).Add("warmup_s", Round(_o.Warmup.TotalSeconds))
                .Add("measured", (long)latency.Count).Add("body_bytes", _o.Size).Add("ack_every", _o.AckEvery)
                .Add("login_s", Round(loginSeconds)).Add("scheduled", (long)_total).Add("sent", (long)sent)
                .Add("stopped_early", _stopped).Add("max_in_flight", _maxInFlight).Add("in_flight_max", _inFlightMax)
                .Add("accepted", accepted).Add("not_accepted", refused).Add("unanswered", Math.Max(0, sent - accepted - refused))
                .Add("received", received).Add("lost", lost).Add("duplicates", Interlocked.Read(ref _duplicates))
                .Add("out_of_order", Interlocked.Read(ref _outOfOrder))
                .Add("sent_per_s", Math.Round(sentPerSecond)).Add("achieved_per_s", Math.Round(achieved))
                .Add("lat_ms_p50", Percentile(lat, 50)).Add("lat_ms_p99", Percentile(lat, 99))
                .Add("lat_ms_p999", Percentile(lat, 99.9)).Add("lat_ms_max", Max(lat))
                .Add("sent_to_received_ms_p99", Percentile(toReceived, 99)).Add("sent_to_received_ms_p999", Percentile(toReceived, 99.9))
                .Add("accept_ms_p50", Percentile(acc, 50)).Add("accept_ms_p99", Percentile(acc, 99))
                .Add("accept_ms_p999", Percentile(acc, 99.9)).Add("accept_ms_max", Max(acc))
                .Add("send_lag_ms_p99", Percentile(lag, 99)).Add("send_lag_ms_max", Max(lag))
                .Add("acks_sent", EntryAcks.Total(_receiverAcks)).Add("receipt_acks_sent", EntryAcks.Total(_senderAcks))
                .Add("receipts_delivered", _receipts.Count).Add("receipts_missing", Math.Max(0, received - _receipts.Count))
                .Add("duplicate_receipts", Interlocked.Read(ref _duplicateReceipts))
                .WithStop(_stopped switch
                {
                    "lag" => $"the load generator fell more than {_o.MaxLag.TotalSeconds:0.#} s behind its timetable",
                    "in_flight" => $"{_maxInFlight} messages were in flight (sent, not received): the node fell behind",
                    _ => null,
                });
        }

        private static double Ms(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;

        private static double[] Sorted(List<double> values)
        {
            var array = values.ToArray();
            Array.Sort(array);
            return array;
        }

        private static double Max(double[] sorted) => sorted.Length > 0 ? Round(sorted[^1]) : 0;
    }

    /// <summary>A count that completes <see cref="Reached"/> once it reaches a target, which may be set after counting began.</summary>
    private sealed class Threshold
    {
        private readonly TaskCompletionSource _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private long _count;
        private long _target = long.MaxValue;

        public Task Reached => _reached.Task;
        public long Count => Interlocked.Read(ref _count);

        public void Increment()
        {
            if (Interlocked.Increment(ref _count) >= Interlocked.Read(ref _target)) _reached.TrySetResult();
        }

        public void Expect(long target)
        {
            Interlocked.Exchange(ref _target, target);
            if (Interlocked.Read(ref _count) >= target) _reached.TrySetResult();
        }
    }
}
