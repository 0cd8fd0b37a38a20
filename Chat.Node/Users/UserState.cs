using Chat.Protocol;

namespace Chat.Node.Users;

/// <summary>A decision: the events to persist, or the error to answer with.</summary>
public readonly record struct Decision<TEvent>(TEvent? Event, ErrorCode? Error = null, string? Reason = null)
    where TEvent : class
{
    public static Decision<TEvent> Fail(ErrorCode code, string reason) => new(null, code, reason);
    public static Decision<TEvent> Nothing => new(null);
}

/// <summary>
/// A user's profile and inbox. Decisions (<c>Decide*</c>) are pure: they read the state and return the event
/// to persist or an error. <see cref="Apply"/> folds an event into the state. The collections are mutable
/// on purpose: the inbox takes tens of thousands of entries a second and persistent collections
/// would allocate on every one. Nothing outside <see cref="Apply"/> changes them.
/// </summary>
public sealed class UserState
{
    private readonly List<InboxEntry> _inbox = [];
    private readonly Dictionary<(UserId From, string ClientMessageId), long> _sent = [];
    private readonly Dictionary<UserId, long> _readUpTo = [];
    private readonly List<ReceiptBatch> _outbox = [];
    private readonly Dictionary<UserId, long> _lastBatchTo = [];
    private readonly Dictionary<UserId, long> _lastBatchFrom = [];

    public UserRegistered? Profile { get; private set; }
    public bool Exists => Profile is not null;
    /// <summary>Sequence of the newest inbox entry (0 when empty).</summary>
    public long LastSeq { get; private set; }
    /// <summary>Highest sequence acknowledged by any of the user's devices.</summary>
    public long AckedSeq { get; private set; }
    public IReadOnlyList<ReceiptBatch> Outbox => _outbox;
    public int InboxCount => _inbox.Count;

    /// <summary>Message ids in one receipt, so a receipt frame stays far below any frame limit.</summary>
    public const int MaxIdsPerReceipt = 1_000;

    private long FirstSeq => _inbox.Count == 0 ? LastSeq + 1 : _inbox[0].Seq;

    public InboxEntry? EntryAt(long seq)
    {
        var index = seq - FirstSeq;
        return index >= 0 && index < _inbox.Count ? _inbox[(int)index] : null;
    }

    /// <summary>Entries with a sequence in (after, upTo], at most <paramref name="max"/>.</summary>
    public List<InboxEntry> Range(long after, long upTo, int max)
    {
        var result = new List<InboxEntry>(Math.Min(max, 64));
        var start = Math.Max(after + 1, FirstSeq);
        for (var seq = start; seq <= upTo && result.Count < max; seq++)
            result.Add(_inbox[(int)(seq - FirstSeq)]);
        return result;
    }

    // ---------- decisions ----------

    public Decision<UserRegistered> DecideCreate(CreateUser cmd, long now)
    {
        if (Profile is null)
            return new(new UserRegistered(cmd.UserId, cmd.Name, cmd.Phone, cmd.Email, cmd.TokenHash, now));
        return Profile.Phone == cmd.Phone && Profile.TokenHash.AsSpan().SequenceEqual(cmd.TokenHash)
            ? Decision<UserRegistered>.Nothing // the same creation, retried
            : Decision<UserRegistered>.Fail(ErrorCode.InvalidArgument, "user already exists");
    }

    public bool CheckToken(byte[] hash) =>
        Profile is not null && System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(Profile.TokenHash, hash);

    /// <summary>
    /// A text for this user. Returns the stored entry when (from, clientMessageId) was seen before,
    /// so a resend is answered identically and stored once.
    /// </summary>
    public Decision<MessageStored> DecideDeliver(DeliverText cmd, string newMessageId, long now, out InboxMessage? existing)
    {
        existing = null;
        if (Profile is null) return Decision<MessageStored>.Fail(ErrorCode.UnknownUser, $"no user {cmd.UserId}");
        if (_sent.TryGetValue((cmd.From, cmd.ClientMessageId), out var seq) && EntryAt(seq) is InboxMessage stored)
        {
            existing = stored;
            return Decision<MessageStored>.Nothing;
        }
        return new(new MessageStored(new InboxMessage(LastSeq + 1, newMessageId, cmd.From, cmd.Text, now, cmd.ClientMessageId)));
    }

    /// <summary>A cumulative ack: delivered receipts for every message newly covered, one batch per sender.</summary>
    public Decision<Acknowledged> DecideAck(long upTo, long now)
    {
        upTo = Math.Min(upTo, LastSeq);
        if (upTo <= AckedSeq) return Decision<Acknowledged>.Nothing;
        var bySender = new Dictionary<UserId, List<string>>();
        foreach (var entry in Range(AckedSeq, upTo, int.MaxValue))
        {
            if (entry is not InboxMessage m) continue;
            if (!bySender.TryGetValue(m.From, out var ids)) bySender[m.From] = ids = [];
            ids.Add(m.MessageId);
        }
        var batches = new List<ReceiptBatch>(bySender.Count);
        foreach (var (sender, ids) in bySender)
        {
            var next = NextBatchTo(sender);
            foreach (var chunk in ids.Chunk(MaxIdsPerReceipt))
                batches.Add(new ReceiptBatch(sender, next++, ReceiptStatus.Delivered, chunk, now));
        }
        return new(new Acknowledged(upTo, batches));
    }

    /// <summary>Read receipts for messages from <paramref name="with"/> up to <paramref name="upTo"/> not yet marked read.</summary>
    public Decision<ReadMarked> DecideRead(UserId with, long upTo, long now)
    {
        upTo = Math.Min(upTo, LastSeq);
        var from = _readUpTo.GetValueOrDefault(with);
        if (upTo <= from) return Decision<ReadMarked>.Nothing;
        var ids = new List<string>();
        foreach (var entry in Range(from, upTo, int.MaxValue))
        {
            if (entry is not InboxMessage m || m.From != with) continue;
            if (ids.Count == MaxIdsPerReceipt)
            {
                upTo = m.Seq - 1; // the rest is marked by the next Read
                break;
            }
            ids.Add(m.MessageId);
        }
        var batch = ids.Count == 0 ? null : new ReceiptBatch(with, NextBatchTo(with), ReceiptStatus.Read, ids, now);
        return new(new ReadMarked(with, upTo, batch));
    }

    /// <summary>Receipts for messages this user sent. A batch already stored is not stored again.</summary>
    public Decision<ReceiptStored> DecideStoreReceipts(StoreReceipts cmd)
    {
        if (Profile is null) return Decision<ReceiptStored>.Fail(ErrorCode.UnknownUser, $"no user {cmd.UserId}");
        var last = _lastBatchFrom.GetValueOrDefault(cmd.By);
        if (cmd.Batch.BatchNo <= last) return Decision<ReceiptStored>.Nothing;
        if (cmd.Batch.BatchNo > last + 1)
            return Decision<ReceiptStored>.Fail(ErrorCode.Unavailable, $"receipt batch {cmd.Batch.BatchNo} from {cmd.By} before {last + 1}");
        var b = cmd.Batch;
        return new(new ReceiptStored(new InboxReceipt(LastSeq + 1, b.Status, cmd.By, b.MessageIds, b.At), b.BatchNo));
    }

    public Decision<ReceiptsConfirmed> DecideConfirm(UserId sender, long batchNo)
    {
        foreach (var batch in _outbox)
            if (batch.To == sender && batch.BatchNo <= batchNo)
                return new(new ReceiptsConfirmed(sender, batchNo));
        return Decision<ReceiptsConfirmed>.Nothing;
    }

    private long NextBatchTo(UserId sender) => _lastBatchTo.GetValueOrDefault(sender) + 1;

    // ---------- applying events ----------

    public UserState Apply(IUserEvent e)
    {
        switch (e)
        {
            case UserRegistered r:
                Profile = r;
                break;
            case MessageStored s:
                Append(s.Entry);
                _sent[(s.Entry.From, s.Entry.ClientMessageId)] = s.Entry.Seq;
                break;
            case ReceiptStored r:
                Append(r.Entry);
                _lastBatchFrom[r.Entry.By] = Math.Max(_lastBatchFrom.GetValueOrDefault(r.Entry.By), r.BatchNo);
                break;
            case Acknowledged a:
                AckedSeq = Math.Max(AckedSeq, a.UpTo);
                foreach (var batch in a.Batches) AddToOutbox(batch);
                break;
            case ReadMarked r:
                _readUpTo[r.With] = Math.Max(_readUpTo.GetValueOrDefault(r.With), r.UpTo);
                if (r.Batch is not null) AddToOutbox(r.Batch);
                break;
            case ReceiptsConfirmed c:
                _outbox.RemoveAll(b => b.To == c.To && b.BatchNo <= c.UpToBatch);
                break;
        }
        return this;
    }

    private void Append(InboxEntry entry)
    {
        if (entry.Seq != LastSeq + 1)
            throw new InvalidOperationException($"inbox entry {entry.Seq} does not follow {LastSeq}");
        _inbox.Add(entry);
        LastSeq = entry.Seq;
    }

    private void AddToOutbox(ReceiptBatch batch)
    {
        _outbox.Add(batch);
        _lastBatchTo[batch.To] = Math.Max(_lastBatchTo.GetValueOrDefault(batch.To), batch.BatchNo);
    }

    // ---------- snapshots ----------

    public UserSnapshot ToSnapshot() => new(
        Profile, _inbox.ToArray(), LastSeq, AckedSeq,
        _readUpTo.ToDictionary(p => p.Key.Value, p => p.Value),
        _outbox.ToArray(),
        _lastBatchTo.ToDictionary(p => p.Key.Value, p => p.Value),
        _lastBatchFrom.ToDictionary(p => p.Key.Value, p => p.Value));

    public static UserState FromSnapshot(UserSnapshot s)
    {
        var state = new UserState { Profile = s.Profile, AckedSeq = s.AckedSeq };
        state._inbox.AddRange(s.Inbox);
        state.LastSeq = s.LastSeq;
        foreach (var entry in s.Inbox)
            if (entry is InboxMessage m) state._sent[(m.From, m.ClientMessageId)] = m.Seq;
        foreach (var (k, v) in s.ReadUpTo) state._readUpTo[new UserId(k)] = v;
        state._outbox.AddRange(s.Outbox);
        foreach (var (k, v) in s.LastBatchTo) state._lastBatchTo[new UserId(k)] = v;
        foreach (var (k, v) in s.LastBatchFrom) state._lastBatchFrom[new UserId(k)] = v;
        return state;
    }
}
