using Chat.Node.Groups;
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
/// How much an inbox takes from strangers (senders its owner never wrote to): messages and bytes of text and
/// thumbnails waiting unacknowledged (<c>chat.limits.stranger-inbox-messages</c>, <c>stranger-inbox-bytes</c>; 0: no limit).
/// </summary>
public readonly record struct StrangerQuota(int Messages, long Bytes)
{
    public static StrangerQuota None => new(0, 0);
}

/// <summary>
/// A user's profile and inbox. Decisions (<c>Decide*</c>) are pure: they read the state and return the event
/// to persist or an error. <see cref="Apply"/> folds an event into the state. The collections are mutable
/// on purpose: the inbox takes tens of thousands of entries a second and persistent collections
/// would allocate on every one. Nothing outside <see cref="Apply"/> changes them.
/// </summary>
public sealed class UserState
{
    private readonly PackedInbox _inbox = new();
    /// <summary>
    /// (sender, client message id) → inbox sequence, keyed by a 64-bit hash so that the table holds no references
    /// (see <see cref="PackedInbox"/>); a hit is confirmed against the stored entry.
    /// </summary>
    private readonly Dictionary<long, long> _sent = [];
    /// <summary>Media named by entries of this inbox: what this user may download besides their own uploads.</summary>
    private readonly HashSet<string> _media = [];
    private readonly Dictionary<string, long> _readUpTo = [];
    private readonly Dictionary<GroupId, long> _groupCursor = [];
    private readonly Dictionary<GroupId, string> _groups = [];
    private readonly List<ReceiptBatch> _outbox = [];
    private readonly Dictionary<UserId, long> _lastBatchTo = [];
    private readonly Dictionary<UserId, long> _lastBatchFrom = [];
    /// <summary>Users this user has written to (one accepted one-to-one message): their messages are not from a stranger.</summary>
    private readonly HashSet<UserId> _contacts = [];
    /// <summary>
    /// One-to-one messages from strangers not yet acknowledged, oldest first, with their size: what the stranger quota
    /// counts. Derived from the inbox, the acknowledgements and the contacts (rebuilt from a snapshot, not stored).
    /// </summary>
    private readonly Queue<(long Seq, UserId From, int Bytes, GroupId? Group)> _fromStrangers = new();
    private long _strangerBytes;
    /// <summary>
    /// Groups this user was added to by a stranger and has not posted in since: group → the adder and the inbox sequence
    /// of the notice. Their notice, and posts in them by strangers, count in the stranger quota as one-to-one messages
    /// do. Derived from the inbox like the count itself (a group whose notice retention removed is no longer counted).
    /// </summary>
    private readonly Dictionary<GroupId, (UserId Adder, long Seq)> _joinedByStranger = [];

    public UserRegistered? Profile { get; private set; }
    public bool Exists => Profile is not null;
    /// <summary>When the account was closed because its phone moved to another account (Unix ms); 0 while open.</summary>
    public long ClosedAt { get; private set; }
    /// <summary>When the user's first session attached or last one went away, as last stored (Unix ms; 0: never).</summary>
    public long LastSeen { get; private set; }
    /// <summary>The user hides their last seen from followers.</summary>
    public bool HideLastSeen { get; private set; }
    /// <summary>The account exists and is not closed: it logs in and receives.</summary>
    public bool IsOpen => Profile is not null && ClosedAt == 0;
    /// <summary>Sequence of the newest inbox entry (0 when empty).</summary>
    public long LastSeq { get; private set; }
    /// <summary>Highest sequence acknowledged by any of the user's devices.</summary>
    public long AckedSeq { get; private set; }
    public IReadOnlyList<ReceiptBatch> Outbox => _outbox;
    /// <summary>Groups this user belongs to, with their names.</summary>
    public IReadOnlyDictionary<GroupId, string> Groups => _groups;
    public long GroupCursor(GroupId group) => _groupCursor.GetValueOrDefault(group);
    public int InboxCount => _inbox.Count;
    /// <summary>Messages from strangers waiting unacknowledged, and their bytes (text and thumbnails).</summary>
    public (int Messages, long Bytes) FromStrangers => (_fromStrangers.Count, _strangerBytes);

    /// <summary>Whether this user has written to <paramref name="user"/>.</summary>
    public bool HasWrittenTo(UserId user) => _contacts.Contains(user);

    /// <summary>A sender is a stranger when this user never wrote to them (oneself is not).</summary>
    public bool IsStranger(UserId sender) => sender != Profile?.Id && !_contacts.Contains(sender);

    /// <summary>Whether the stranger quota already holds all it may: a stranger's message, or group add, is refused.</summary>
    private bool StrangerQuotaFull(StrangerQuota quota, long bytes) =>
        (quota.Messages > 0 && _fromStrangers.Count >= quota.Messages) || (quota.Bytes > 0 && _strangerBytes + bytes > quota.Bytes);

    /// <summary>
    /// Whether <paramref name="adder"/> may add this user to <paramref name="group"/> (null: a group being created): a
    /// contact may, and so may anyone while the stranger quota has room (the add notice takes a place in it), or when
    /// this user is already a member.
    /// </summary>
    public bool AdmitsAddBy(UserId adder, GroupId? group, StrangerQuota quota) =>
        !IsStranger(adder) || (group is { } g && _groups.ContainsKey(g)) || !StrangerQuotaFull(quota, 0);

    /// <summary>What a message costs in the stranger quota's bytes: its text and thumbnail.</summary>
    public static int QuotaBytes(string? text, MediaRef? media) =>
        System.Text.Encoding.UTF8.GetByteCount(text ?? "") + (media?.Thumbnail?.Length ?? 0);

    /// <summary>Message ids in one receipt, so a receipt frame stays far below any frame limit.</summary>
    public const int MaxIdsPerReceipt = 1_000;

    public long FirstSeq => _inbox.FirstSeq;

    /// <summary>Whether an entry of this inbox (a message, or a group's picture) named the media.</summary>
    public bool MaySee(string mediaId) => _media.Contains(mediaId);

    public InboxEntry? EntryAt(long seq) => _inbox.Get(seq);

    private static long SentKey(UserId from, string clientMessageId) =>
        ((long)from.Value.GetHashCode() << 32) | (uint)clientMessageId.GetHashCode();

    /// <summary>Entries with a sequence in (after, upTo], at most <paramref name="max"/>.</summary>
    public List<InboxEntry> Range(long after, long upTo, int max)
    {
        var result = new List<InboxEntry>(Math.Min(max, 64));
        var start = Math.Max(after + 1, FirstSeq);
        for (var seq = start; seq <= upTo && result.Count < max && _inbox.Get(seq) is { } entry; seq++)
            result.Add(entry);
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

    /// <summary>This user wrote to <paramref name="to"/> (a message was accepted): recorded once per user.</summary>
    public Decision<ContactsAdded> DecideContact(UserId to) =>
        Profile is null || to == Profile.Id || _contacts.Contains(to)
            ? Decision<ContactsAdded>.Nothing
            : new(new ContactsAdded(new[] { to })); // an array, not a collection literal: with serialize-messages on, Akka checks the journal's own messages with a JSON serializer that cannot build the literal's hidden type

    /// <summary>Closes the account once (its phone was verified by another account); nothing to do for an unknown or closed one.</summary>
    public Decision<AccountClosed> DecideClose(CloseAccount cmd, long now) =>
        IsOpen ? new(new AccountClosed(cmd.MovedTo, now)) : Decision<AccountClosed>.Nothing;

    /// <summary>The token's hash is this account's and the account is open.</summary>
    public bool CheckToken(byte[] hash) => IsOpen && TokenMatches(hash);

    /// <summary>The token's hash is this account's, open or closed.</summary>
    public bool TokenMatches(byte[] hash) =>
        Profile is not null && System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(Profile.TokenHash, hash);

    /// <summary>
    /// A text for this user. Returns the stored entry when (from, clientMessageId) was seen before,
    /// so a resend is answered identically and stored once. A message from a stranger (a sender this user never
    /// wrote to) that would take the unacknowledged messages from strangers past <paramref name="quota"/> is refused
    /// with <see cref="ErrorCode.StrangerQuota"/>.
    /// </summary>
    public Decision<MessageStored> DecideDeliver(DeliverText cmd, string newMessageId, long now, out InboxMessage? existing,
        StrangerQuota quota = default)
    {
        existing = null;
        if (Profile is null) return Decision<MessageStored>.Fail(ErrorCode.UnknownUser, $"no user {cmd.UserId}");
        if (_sent.TryGetValue(SentKey(cmd.From, cmd.ClientMessageId), out var seq) && EntryAt(seq) is InboxMessage stored
            && stored.From == cmd.From && stored.ClientMessageId == cmd.ClientMessageId)
        {
            existing = stored;
            return Decision<MessageStored>.Nothing;
        }
        if (ClosedAt != 0) return Decision<MessageStored>.Fail(ErrorCode.UnknownUser, $"no user {cmd.UserId}: the account was closed");
        if ((quota.Messages > 0 || quota.Bytes > 0) && IsStranger(cmd.From))
        {
            if (StrangerQuotaFull(quota, QuotaBytes(cmd.Text, cmd.Media)))
                return Decision<MessageStored>.Fail(ErrorCode.StrangerQuota,
                    "the recipient has not written to you, and messages from people they have not written to already fill " +
                    "their inbox's quota for such messages; nothing was stored. Try again later (the quota frees as their devices receive what waits)");
        }
        return new(new MessageStored(new InboxMessage(LastSeq + 1, newMessageId, cmd.From, cmd.Text, now, cmd.ClientMessageId, Media: cmd.Media)));
    }

    /// <summary>A cumulative ack: delivered receipts for every message newly covered, one batch per sender.</summary>
    public Decision<Acknowledged> DecideAck(long upTo, long now)
    {
        upTo = Math.Min(upTo, LastSeq);
        if (upTo <= AckedSeq) return Decision<Acknowledged>.Nothing;
        // every entry of a busy user is acknowledged, most of them alone and many of them receipts that owe no receipt:
        // the entries are read in place, and lists are made only for senders actually owed one
        UserId onlySender = default;
        List<string>? onlyIds = null; // the ids for onlySender, while only one sender is owed
        Dictionary<UserId, List<string>>? bySender = null;
        for (var seq = Math.Max(AckedSeq + 1, FirstSeq); seq <= upTo; seq++)
        {
            if (_inbox.Get(seq) is not InboxMessage m || m.From == Profile?.Id) continue; // no receipts to oneself
            // the first acknowledgement of a message is its delivery: counted here, where each entry is read anyway
            // (a second pass would decode entries again), as the decision is taken
            Admin.ChatMetrics.MessageDelivered(Math.Max(0, now - m.SentAt) / 1000.0);
            if (bySender is null && (onlyIds is null || onlySender == m.From))
            {
                onlySender = m.From;
                (onlyIds ??= new List<string>(1)).Add(m.MessageId);
                continue;
            }
            bySender ??= new() { [onlySender] = onlyIds! };
            if (!bySender.TryGetValue(m.From, out var ids)) bySender[m.From] = ids = [];
            ids.Add(m.MessageId);
        }
        if (onlyIds is null) return new(new Acknowledged(upTo, []));
        var batches = new List<ReceiptBatch>(bySender?.Count ?? 1);
        if (bySender is null) AddBatches(onlySender, onlyIds);
        else foreach (var (sender, ids) in bySender) AddBatches(sender, ids);
        return new(new Acknowledged(upTo, batches));

        void AddBatches(UserId sender, List<string> ids)
        {
            var next = NextBatchTo(sender);
            if (ids.Count <= MaxIdsPerReceipt)
            {
                batches.Add(new ReceiptBatch(sender, next, ReceiptStatus.Delivered, ids, now));
                return;
            }
            foreach (var chunk in ids.Chunk(MaxIdsPerReceipt))
                batches.Add(new ReceiptBatch(sender, next++, ReceiptStatus.Delivered, chunk, now));
        }
    }

    /// <summary>Read receipts for messages from <paramref name="with"/> up to <paramref name="upTo"/> not yet marked read.</summary>
    /// <summary>
    /// Read receipts for messages of one conversation (<paramref name="with"/>: a user id, or a group id for
    /// every sender in that group) up to <paramref name="upTo"/>, one batch per sender.
    /// </summary>
    public Decision<ReadMarked> DecideRead(string with, long upTo, long now)
    {
        upTo = Math.Min(upTo, LastSeq);
        var from = _readUpTo.GetValueOrDefault(with);
        if (upTo <= from) return Decision<ReadMarked>.Nothing;
        var isGroup = GroupId.IsValid(with);
        var bySender = new Dictionary<UserId, List<string>>();
        var count = 0;
        foreach (var entry in Range(from, upTo, int.MaxValue))
        {
            if (entry is not InboxMessage m || m.From == Profile?.Id) continue;
            if (isGroup ? m.Group?.Value != with : m.Group is not null || m.From.Value != with) continue;
            if (count == MaxIdsPerReceipt)
            {
                upTo = m.Seq - 1; // the rest is marked by the next Read
                break;
            }
            if (!bySender.TryGetValue(m.From, out var ids)) bySender[m.From] = ids = [];
            ids.Add(m.MessageId);
            count++;
        }
        var batches = bySender.Select(p => new ReceiptBatch(p.Key, NextBatchTo(p.Key), ReceiptStatus.Read, p.Value, now)).ToList();
        return new(new ReadMarked(with, upTo, null, batches));
    }

    /// <summary>
    /// An entry of a group's log for this user's inbox. Entries of one group are stored in group order:
    /// one already stored is a duplicate (resent after a crash); one after a gap waits for the missing one,
    /// unless it is the notice that adds this user (where their part of the log starts).
    /// </summary>
    /// <remarks>
    /// A post by a stranger in a group a stranger added this user to, beyond <paramref name="quota"/>, is refused with
    /// <see cref="ErrorCode.StrangerQuota"/>: it stays in the group's log until the quota has room. Notices are never refused
    /// (membership is the group's to decide; adds are checked before, see <see cref="AdmitsAddBy"/>).
    /// </remarks>
    public Decision<GroupEntryStored> DecideGroupEntry(DeliverGroupEntry cmd, StrangerQuota quota = default)
    {
        if (Profile is null || ClosedAt != 0) return Decision<GroupEntryStored>.Fail(ErrorCode.UnknownUser, $"no user {cmd.UserId}");
        var cursor = _groupCursor.GetValueOrDefault(cmd.GroupId);
        var seq = cmd.Entry.GroupSeq;
        if (seq <= cursor) return Decision<GroupEntryStored>.Nothing;
        var joins = cmd.Entry is GroupChange { Kind: GroupNoticeKind.Created or GroupNoticeKind.Added } c && c.Members.Contains(Profile.Id);
        if (seq != cursor + 1 && !joins)
            return Decision<GroupEntryStored>.Fail(ErrorCode.Unavailable, $"group entry {seq} before {cursor + 1}");
        if (cmd.Entry is GroupPost post && _joinedByStranger.ContainsKey(cmd.GroupId) && IsStranger(post.From)
            && StrangerQuotaFull(quota, QuotaBytes(post.Text, post.Media)))
            return Decision<GroupEntryStored>.Fail(ErrorCode.StrangerQuota, "the stranger quota is full: the post waits in the group");
        InboxEntry entry = cmd.Entry switch
        {
            GroupPost p => new InboxMessage(LastSeq + 1, p.MessageId, p.From, p.Text, p.SentAt, p.ClientMessageId, cmd.GroupId, p.GroupSeq, p.Media),
            GroupChange g => new InboxGroupNotice(LastSeq + 1, cmd.GroupId, g.GroupSeq, g.Kind, g.Actor, g.Members, g.Name, g.At, g.Image),
            _ => throw new ArgumentOutOfRangeException(nameof(cmd)),
        };
        return new(new GroupEntryStored(entry, cmd.GroupId, seq));
    }

    /// <summary>
    /// Receipt batches for messages this user sent, stored together as one inbox entry. A batch already
    /// stored is a duplicate; a batch after a gap waits for the issuer to resend the missing one.
    /// </summary>
    public (ReceiptsStored? Event, List<StoreReceipts> Duplicates, List<StoreReceipts> Deferred) DecideStoreReceipts(IReadOnlyList<StoreReceipts> cmds, long now)
    {
        var duplicates = new List<StoreReceipts>();
        var deferred = new List<StoreReceipts>();
        var ids = 0;
        var accepted = new List<StoreReceipts>();
        var last = new Dictionary<UserId, long>();
        foreach (var cmd in cmds)
        {
            var known = last.TryGetValue(cmd.By, out var l) ? l : _lastBatchFrom.GetValueOrDefault(cmd.By);
            if (cmd.Batch.BatchNo <= known) duplicates.Add(cmd);
            else if (cmd.Batch.BatchNo == known + 1 && ids + cmd.Batch.MessageIds.Count <= MaxIdsPerReceipt * 5)
            {
                accepted.Add(cmd);
                ids += cmd.Batch.MessageIds.Count;
                last[cmd.By] = cmd.Batch.BatchNo;
            }
            else if (cmd.Batch.BatchNo == known + 1) deferred.Add(cmd); // the set is full: the next one takes it
        }
        if (accepted.Count == 0 || Profile is null) return (null, duplicates, deferred);
        var sources = accepted.Select(a => new ReceiptSource(a.By, a.Batch.BatchNo)).ToList();
        InboxEntry entry = accepted.Count == 1
            ? new InboxReceipt(LastSeq + 1, accepted[0].Batch.Status, accepted[0].By, accepted[0].Batch.MessageIds, accepted[0].Batch.At)
            : new InboxReceiptSet(LastSeq + 1, accepted.Select(a => new InboxReceiptItem(a.Batch.Status, a.By, a.Batch.MessageIds)).ToList(), now);
        return (new ReceiptsStored(entry, sources), duplicates, deferred);
    }

    public Decision<ReceiptsConfirmed> DecideConfirm(UserId sender, long batchNo)
    {
        foreach (var batch in _outbox)
            if (batch.To == sender && batch.BatchNo <= batchNo)
                return new(new ReceiptsConfirmed(sender, batchNo));
        return Decision<ReceiptsConfirmed>.Nothing;
    }

    private long NextBatchTo(UserId sender) => _lastBatchTo.GetValueOrDefault(sender) + 1;

    // ---------- retention ----------

    /// <summary>Time of an entry (Unix ms): when it was stored or sent.</summary>
    public static long TimeOf(InboxEntry entry) => entry switch
    {
        InboxMessage m => m.SentAt,
        InboxReceipt r => r.At,
        InboxGroupNotice n => n.At,
        InboxReceiptSet s => s.At,
        _ => long.MaxValue,
    };

    /// <summary>
    /// What retention removes at <paramref name="cutoff"/>: the newest sequence such that it and every entry
    /// before it are older (0 for none; oldest first keeps the inbox contiguous), and how many owed receipts are older.
    /// </summary>
    public (long UpTo, int Receipts) Expiring(long cutoff)
    {
        long upTo = 0;
        for (var i = 0; i < _inbox.Count && _inbox.TimeAt(i) < cutoff; i++) upTo = FirstSeq + i;
        return (upTo, _outbox.Count(b => b.At < cutoff));
    }

    // ---------- applying events ----------

    public UserState Apply(IUserEvent e)
    {
        switch (e)
        {
            case UserRegistered r:
                Profile = r;
                break;
            case AccountClosed c:
                ClosedAt = c.At;
                break;
            case LastSeenSet l:
                LastSeen = Math.Max(LastSeen, l.At);
                break;
            case PrivacySet p:
                HideLastSeen = p.HideLastSeen;
                break;
            case MessageStored s:
                Append(s.Entry);
                _sent[SentKey(s.Entry.From, s.Entry.ClientMessageId)] = s.Entry.Seq;
                CountIfFromStranger(s.Entry);
                break;
            case GroupsLeft l:
                foreach (var group in l.Groups) _groups.Remove(group);
                break;
            case ContactsAdded c:
                foreach (var user in c.Users) _contacts.Add(user);
                foreach (var (group, (adder, _)) in _joinedByStranger.ToList())
                    if (c.Users.Contains(adder)) _joinedByStranger.Remove(group);
                // what they sent before no longer counts as from a stranger
                if (_fromStrangers.Any(p => c.Users.Contains(p.From) || (p.Group is { } g && !_joinedByStranger.ContainsKey(g)))) RecountStrangers();
                break;
            case ReceiptStored r:
                Append(r.Entry);
                _lastBatchFrom[r.Entry.By] = Math.Max(_lastBatchFrom.GetValueOrDefault(r.Entry.By), r.BatchNo);
                break;
            case Acknowledged a:
                AckedSeq = Math.Max(AckedSeq, a.UpTo);
                _inbox.Acknowledged(AckedSeq);
                ForgetStrangersUpTo(AckedSeq);
                foreach (var batch in a.Batches) AddToOutbox(batch);
                break;
            case ReadMarked r:
                _readUpTo[r.With] = Math.Max(_readUpTo.GetValueOrDefault(r.With), r.UpTo);
                if (r.Batch is not null) AddToOutbox(r.Batch);
                if (r.Batches is not null) foreach (var b in r.Batches) AddToOutbox(b);
                break;
            case GroupEntryStored g:
                Append(g.Entry);
                _groupCursor[g.Group] = g.GroupSeq;
                if (g.Entry is InboxGroupNotice n) TrackGroup(n);
                TrackJoinByStranger(g.Entry);
                break;
            case MessagesBatchStored batch:
                foreach (var m in batch.Messages) Apply(m);
                break;
            case InboxExpired x:
                _inbox.RemoveUpTo(x.UpTo);
                ForgetStrangersUpTo(x.UpTo);
                foreach (var (group, (_, seq)) in _joinedByStranger.ToList())
                    if (seq <= x.UpTo) _joinedByStranger.Remove(group); // as a recovery from a snapshot would find it
                foreach (var key in _sent.Where(p => p.Value <= x.UpTo).Select(p => p.Key).ToList()) _sent.Remove(key);
                _outbox.RemoveAll(b => b.At < x.Cutoff);
                break;
            case GroupEntriesBatchStored batch:
                foreach (var g in batch.Entries) Apply(g);
                break;
            case ReceiptsStored r:
                Append(r.Entry);
                foreach (var source in r.Sources)
                    _lastBatchFrom[source.By] = Math.Max(_lastBatchFrom.GetValueOrDefault(source.By), source.BatchNo);
                break;
            case ReceiptsConfirmed c:
                _outbox.RemoveAll(b => b.To == c.To && b.BatchNo <= c.UpToBatch);
                break;
        }
        return this;
    }

    private void CountIfFromStranger(InboxMessage m)
    {
        if (m.Seq <= AckedSeq || !IsStranger(m.From)) return;
        if (m.Group is { } group && !_joinedByStranger.ContainsKey(group)) return;
        var bytes = QuotaBytes(m.Text, m.Media);
        _fromStrangers.Enqueue((m.Seq, m.From, bytes, m.Group));
        _strangerBytes += bytes;
    }

    /// <summary>
    /// Follows the groups a stranger added this user to (see <see cref="_joinedByStranger"/>) and counts their notice and
    /// posts: the add notice counts as a message of the group's name; this user's own post there ends it.
    /// </summary>
    private void TrackJoinByStranger(InboxEntry entry)
    {
        var me = Profile!.Id;
        switch (entry)
        {
            case InboxGroupNotice { Kind: GroupNoticeKind.Created or GroupNoticeKind.Added } n when n.Members.Contains(me):
                if (!IsStranger(n.Actor))
                {
                    _joinedByStranger.Remove(n.Group);
                    return;
                }
                _joinedByStranger[n.Group] = (n.Actor, n.Seq);
                if (n.Seq <= AckedSeq) return;
                var bytes = QuotaBytes(n.Name, null);
                _fromStrangers.Enqueue((n.Seq, n.Actor, bytes, n.Group));
                _strangerBytes += bytes;
                return;
            case InboxGroupNotice { Kind: GroupNoticeKind.Removed or GroupNoticeKind.Left } n when n.Members.Contains(me):
                _joinedByStranger.Remove(n.Group);
                return;
            case InboxMessage { Group: { } group } m when m.From == me:
                // taking part in the group accepts it: what waits from it stops counting
                if (_joinedByStranger.Remove(group) && _fromStrangers.Any(p => p.Group == group)) RecountStrangers();
                return;
            case InboxMessage m:
                CountIfFromStranger(m);
                return;
        }
    }

    private void ForgetStrangersUpTo(long seq)
    {
        while (_fromStrangers.TryPeek(out var oldest) && oldest.Seq <= seq)
            _strangerBytes -= _fromStrangers.Dequeue().Bytes;
    }

    private void RecountStrangers()
    {
        var keep = _fromStrangers.Where(p => !_contacts.Contains(p.From) && (p.Group is not { } g || _joinedByStranger.ContainsKey(g))).ToList();
        _fromStrangers.Clear();
        _strangerBytes = 0;
        foreach (var p in keep)
        {
            _fromStrangers.Enqueue(p);
            _strangerBytes += p.Bytes;
        }
    }

    private void TrackGroup(InboxGroupNotice n)
    {
        var me = Profile!.Id;
        switch (n.Kind)
        {
            case GroupNoticeKind.Created or GroupNoticeKind.Added when n.Members.Contains(me):
                _groups[n.Group] = n.Name;
                break;
            case GroupNoticeKind.Removed or GroupNoticeKind.Left when n.Members.Contains(me):
                _groups.Remove(n.Group);
                break;
            case GroupNoticeKind.Renamed when _groups.ContainsKey(n.Group):
                _groups[n.Group] = n.Name;
                break;
        }
    }

    private void Append(InboxEntry entry)
    {
        if (entry.Seq != LastSeq + 1)
            throw new InvalidOperationException($"inbox entry {entry.Seq} does not follow {LastSeq}");
        _inbox.Append(entry, TimeOf(entry));
        var media = entry switch { InboxMessage m => m.Media, InboxGroupNotice n => n.Image, _ => null };
        if (media is not null) _media.Add(media.MediaId);
        LastSeq = entry.Seq;
    }

    private void AddToOutbox(ReceiptBatch batch)
    {
        _outbox.Add(batch);
        _lastBatchTo[batch.To] = Math.Max(_lastBatchTo.GetValueOrDefault(batch.To), batch.BatchNo);
    }

    // ---------- snapshots ----------

    public UserSnapshot ToSnapshot() => new(
        Profile, Range(FirstSeq - 1, LastSeq, int.MaxValue), LastSeq, AckedSeq,
        new Dictionary<string, long>(_readUpTo),
        _outbox.ToArray(),
        _lastBatchTo.ToDictionary(p => p.Key.Value, p => p.Value),
        _lastBatchFrom.ToDictionary(p => p.Key.Value, p => p.Value),
        _groupCursor.ToDictionary(p => p.Key.Value, p => p.Value),
        _groups.ToDictionary(p => p.Key.Value, p => p.Value),
        ClosedAt,
        _contacts.Select(c => c.Value).ToArray(),
        LastSeen,
        HideLastSeen);

    public static UserState FromSnapshot(UserSnapshot s)
    {
        var state = new UserState
        {
            Profile = s.Profile, AckedSeq = s.AckedSeq, ClosedAt = s.ClosedAt, LastSeen = s.LastSeen, HideLastSeen = s.HideLastSeen,
        };
        state._inbox.Reset(s.Inbox.Count > 0 ? s.Inbox[0].Seq : s.LastSeq + 1);
        foreach (var entry in s.Inbox) state._inbox.Append(entry, TimeOf(entry));
        state._inbox.Acknowledged(s.AckedSeq);
        state.LastSeq = s.LastSeq;
        foreach (var c in s.Contacts ?? []) state._contacts.Add(new UserId(c));
        foreach (var entry in s.Inbox)
            if (entry is InboxMessage { Group: null } m)
            {
                state._sent[SentKey(m.From, m.ClientMessageId)] = m.Seq;
                state.CountIfFromStranger(m);
            }
            else if (s.Profile is not null) state.TrackJoinByStranger(entry);
        foreach (var (k, v) in s.ReadUpTo) state._readUpTo[k] = v;
        foreach (var (k, v) in s.GroupCursors ?? new Dictionary<string, long>()) state._groupCursor[new GroupId(k)] = v;
        foreach (var (k, v) in s.Groups ?? new Dictionary<string, string>()) state._groups[new GroupId(k)] = v;
        state._outbox.AddRange(s.Outbox);
        foreach (var (k, v) in s.LastBatchTo) state._lastBatchTo[new UserId(k)] = v;
        foreach (var (k, v) in s.LastBatchFrom) state._lastBatchFrom[new UserId(k)] = v;
        return state;
    }
}
