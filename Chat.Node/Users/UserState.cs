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
    /// <summary>The newest entries, held in memory (at most <see cref="_tailMax"/>); older ones are read from the journal.</summary>
    private readonly PackedInbox _inbox = new();
    private int _tailMax;
    private readonly InboxIndex _index = new();
    /// <summary>Older entries read from the journal for the decision at hand (one page, replaced by the next).</summary>
    private InboxEntry?[] _page = [];
    private long _pageFrom = 1;
    /// <summary>
    /// Entries of a snapshot written before the tail existed (it held the whole inbox) that are older than the tail:
    /// held until they are written to the journal (<see cref="EntriesCarried"/>), then read from there like any other.
    /// </summary>
    private List<InboxEntry> _carry = [];

    /// <param name="tail">Newest entries held in memory (and written in snapshots); older ones are read from the journal.</param>
    public UserState(int tail = int.MaxValue) => _tailMax = Math.Max(1, tail);

    /// <summary>
    /// Holds the newest <paramref name="entries"/> in memory from now on, the older ones leaving at once. Offline
    /// (<paramref name="online"/> false) nothing is kept for a device to acknowledge soon: no entry stays decoded, the
    /// bytes are held in small chunks, and the page read for the last decision goes. Online, the tail grows back to
    /// <paramref name="entries"/> as new entries arrive; what a device syncs from before it is read from the journal.
    /// </summary>
    public void HoldTail(int entries, bool online)
    {
        _tailMax = Math.Max(1, entries);
        if (_inbox.Count > _tailMax) _inbox.RemoveUpTo(_inbox.FirstSeq + _inbox.Count - _tailMax - 1);
        if (online) _inbox.Limit(PackedInbox.ChunkSize, PackedInbox.MaxDecoded);
        else
        {
            _inbox.Limit(PackedInbox.SmallChunkSize, 0);
            DropPage();
        }
    }

    /// <summary>
    /// (sender, client message id) → inbox sequence, keyed by a 64-bit hash so that the table holds no references
    /// (see <see cref="PackedInbox"/>); a hit is confirmed against the stored entry.
    /// </summary>
    private readonly ResendKeys _sent = new();
    /// <summary>Media named by entries of this inbox: what this user may download besides their own uploads.</summary>
    /// <remarks>
    /// Each with the time of the newest entry naming it (as <see cref="TimeOf"/> gives it): retention forgets the media
    /// of the entries it removes, as the media store deletes them, so the set does not grow with the account's age.
    /// </remarks>
    private readonly Dictionary<string, long> _media = [];
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
    /// counts. Derived from the inbox, the acknowledgements and the contacts; kept in snapshots (which hold only the tail).
    /// </summary>
    private readonly StrangerMessages _fromStrangers = new();
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
    /// <summary>Entries kept (in memory or in the journal only).</summary>
    public long InboxCount => LastSeq - FirstSeq + 1;
    /// <summary>Entries held in memory now (the tail, the page read for a decision, entries still to carry): what stays bounded.</summary>
    public int HeldEntries => _inbox.Count + _page.Length + _carry.Count;
    /// <summary>Bytes of the chunks that hold the tail's entries, used or not.</summary>
    public long HeldBytes => _inbox.AllocatedBytes;
    /// <summary>Entries of the tail also held as objects (kept for a device to acknowledge).</summary>
    public int DecodedEntries => _inbox.DecodedCount;
    /// <summary>The first entry held in memory; entries from <see cref="FirstSeq"/> to just before it are in the journal only.</summary>
    public long TailFrom => _inbox.FirstSeq;
    public InboxIndex Index => _index;
    /// <summary>Entries of an old snapshot still to be written to the journal (in order).</summary>
    public IReadOnlyList<InboxEntry> CarryOwed => _carry;
    /// <summary>Messages from strangers waiting unacknowledged, and their bytes (text and thumbnails).</summary>
    public (int Messages, long Bytes) FromStrangers => (_fromStrangers.Count, _fromStrangers.Bytes);

    /// <summary>How far a conversation (a user id or a group id) is marked read.</summary>
    public long ReadUpTo(string with) => _readUpTo.GetValueOrDefault(with);

    /// <summary>Whether this user has written to <paramref name="user"/>.</summary>
    public bool HasWrittenTo(UserId user) => _contacts.Contains(user);

    /// <summary>A sender is a stranger when this user never wrote to them (oneself is not).</summary>
    public bool IsStranger(UserId sender) => sender != Profile?.Id && !_contacts.Contains(sender);

    /// <summary>Whether the stranger quota already holds all it may: a stranger's message, or group add, is refused.</summary>
    private bool StrangerQuotaFull(StrangerQuota quota, long bytes) =>
        (quota.Messages > 0 && _fromStrangers.Count >= quota.Messages) || (quota.Bytes > 0 && _fromStrangers.Bytes + bytes > quota.Bytes);

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

    /// <summary>The oldest entry kept (retention removed those before it).</summary>
    public long FirstSeq { get; private set; } = 1;

    /// <summary>Whether an entry of this inbox (a message, or a group's picture) named the media.</summary>
    public bool MaySee(string mediaId) => _media.ContainsKey(mediaId);

    /// <summary>The entry at <paramref name="seq"/> if it is held in memory (the tail, the page read, or still to carry).</summary>
    public InboxEntry? EntryAt(long seq)
    {
        if (seq >= TailFrom) return _inbox.Get(seq);
        if (_carry.Count > 0 && seq >= _carry[0].Seq && seq <= _carry[^1].Seq) return _carry[(int)(seq - _carry[0].Seq)];
        var i = seq - _pageFrom;
        return i >= 0 && i < _page.Length ? _page[i] : null;
    }

    /// <summary>
    /// Whether a decision may go past <paramref name="seq"/>: its entry is in memory, or it has none (removed by
    /// retention, or missing from a page read from the journal). False: it must be read from the journal first.
    /// </summary>
    public bool Known(long seq) =>
        seq < FirstSeq || seq > LastSeq || seq >= TailFrom
        || (_carry.Count > 0 && seq >= _carry[0].Seq && seq <= _carry[^1].Seq)
        || (seq >= _pageFrom && seq < _pageFrom + _page.Length);

    /// <summary>Entries read from the journal, <paramref name="from"/> to <paramref name="to"/>, for the decisions that follow.</summary>
    public void SetPage(long from, long to, IReadOnlyList<InboxEntry> entries)
    {
        var page = new InboxEntry?[Math.Max(0, to - from + 1)];
        foreach (var e in entries)
            if (e.Seq >= from && e.Seq <= to) page[e.Seq - from] = e;
        _page = page;
        _pageFrom = from;
    }

    /// <summary>The page is no longer needed.</summary>
    public void DropPage()
    {
        _page = [];
        _pageFrom = 1;
    }

    /// <summary>
    /// A 64-bit FNV-1a hash of (sender, client message id): the same in every process (the keys are kept in
    /// snapshots), and wide enough that two different messages of one inbox do not meet in practice.
    /// </summary>
    private static long SentKey(UserId from, string clientMessageId)
    {
        var h = 14695981039346656037UL;
        foreach (var c in from.Value) h = (h ^ c) * 1099511628211UL;
        h = (h ^ 0xFFFF) * 1099511628211UL;
        foreach (var c in clientMessageId) h = (h ^ c) * 1099511628211UL;
        return (long)h;
    }

    /// <summary>Entries with a sequence in (after, upTo], at most <paramref name="max"/>, as far as they are held in memory.</summary>
    public List<InboxEntry> Range(long after, long upTo, int max)
    {
        var result = new List<InboxEntry>(Math.Min(max, 64));
        var start = Math.Max(after + 1, FirstSeq);
        for (var seq = start; seq <= upTo && result.Count < max && Known(seq); seq++)
            if (EntryAt(seq) is { } entry) result.Add(entry);
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
        StrangerQuota quota = default) => DecideDeliver(cmd, newMessageId, now, out existing, out _, quota);

    /// <param name="repeatOf">
    /// A repeat of an entry no longer held in memory: its sequence (0: none). Nothing is stored; the caller reads the
    /// entry from the journal to answer as the first time.
    /// </param>
    public Decision<MessageStored> DecideDeliver(DeliverText cmd, string newMessageId, long now, out InboxMessage? existing,
        out long repeatOf, StrangerQuota quota = default)
    {
        existing = null;
        repeatOf = 0;
        if (Profile is null) return Decision<MessageStored>.Fail(ErrorCode.UnknownUser, $"no user {cmd.UserId}");
        if (_sent.TryGet(SentKey(cmd.From, cmd.ClientMessageId), out var seq))
        {
            if (EntryAt(seq) is InboxMessage stored && stored.From == cmd.From && stored.ClientMessageId == cmd.ClientMessageId)
            {
                existing = stored;
                return Decision<MessageStored>.Nothing;
            }
            if (EntryAt(seq) is null && seq >= FirstSeq)
            {
                repeatOf = seq;
                return Decision<MessageStored>.Nothing;
            }
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
            if (!Known(seq))
            {
                upTo = seq - 1; // the rest is decided once its entries are read from the journal
                break;
            }
            if (EntryAt(seq) is not InboxMessage m || m.From == Profile?.Id) continue; // no receipts to oneself
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
        if (upTo <= AckedSeq) return Decision<Acknowledged>.Nothing;
        if (onlyIds is null) return new(new Acknowledged(upTo, []));
        // arrays, not lists: the batches and their ids are serialized several times (journal, the sender's inbox, its
        // pushes), and a list is serialized through its interface, with a boxed enumerator each time
        if (bySender is null && onlyIds.Count <= MaxIdsPerReceipt) // the usual: one sender, one batch
            return new(new Acknowledged(upTo, new[] { new ReceiptBatch(onlySender, NewBatchKey(), ReceiptStatus.Delivered, onlyIds.ToArray(), now) }));
        var batches = new List<ReceiptBatch>(bySender?.Count ?? 1);
        if (bySender is null) AddBatches(onlySender, onlyIds);
        else foreach (var (sender, ids) in bySender) AddBatches(sender, ids);
        return new(new Acknowledged(upTo, batches.ToArray()));

        void AddBatches(UserId sender, List<string> ids)
        {
            if (ids.Count <= MaxIdsPerReceipt)
            {
                batches.Add(new ReceiptBatch(sender, NewBatchKey(), ReceiptStatus.Delivered, ids.ToArray(), now));
                return;
            }
            foreach (var chunk in ids.Chunk(MaxIdsPerReceipt))
                batches.Add(new ReceiptBatch(sender, NewBatchKey(), ReceiptStatus.Delivered, chunk, now));
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
        for (var seq = Math.Max(from + 1, FirstSeq); seq <= upTo; seq++)
        {
            if (!Known(seq))
            {
                upTo = seq - 1; // the rest once read from the journal
                break;
            }
            if (EntryAt(seq) is not InboxMessage m || m.From == Profile?.Id) continue;
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
        if (upTo <= from) return Decision<ReadMarked>.Nothing;
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
    public (ReceiptsStored? Event, IReadOnlyList<StoreReceipts> Duplicates, IReadOnlyList<StoreReceipts> Deferred) DecideStoreReceipts(IReadOnlyList<StoreReceipts> cmds, long now)
    {
        // once per receipt a sender is sent: the lists of duplicates and deferred batches are made only when needed, and
        // the last batch accepted from an issuer is found among those accepted so far (a few) rather than in a dictionary
        List<StoreReceipts>? duplicates = null, deferred = null;
        _receiptsDecidedAt = now;
        var ids = 0;
        var accepted = new List<StoreReceipts>(cmds.Count);
        for (var c = 0; c < cmds.Count; c++) // indexed: a foreach through the interface boxes an enumerator
        {
            var cmd = cmds[c];
            if (IsKeyed(cmd.Batch.BatchNo))
            {
                // a delivered receipt: taken in any order, once per key while the key is remembered
                if (KeyStored(cmd.Batch.BatchNo) || AcceptedKey(accepted, cmd)) (duplicates ??= []).Add(cmd);
                else if (ids + cmd.Batch.MessageIds.Count <= MaxIdsPerReceipt * 5)
                {
                    accepted.Add(cmd);
                    ids += cmd.Batch.MessageIds.Count;
                }
                else (deferred ??= []).Add(cmd);
                continue;
            }
            var known = LastAcceptedFrom(accepted, cmd.By) ?? _lastBatchFrom.GetValueOrDefault(cmd.By);
            if (cmd.Batch.BatchNo <= known) (duplicates ??= []).Add(cmd);
            else if (cmd.Batch.BatchNo == known + 1 && ids + cmd.Batch.MessageIds.Count <= MaxIdsPerReceipt * 5)
            {
                accepted.Add(cmd);
                ids += cmd.Batch.MessageIds.Count;
            }
            else if (cmd.Batch.BatchNo == known + 1) (deferred ??= []).Add(cmd); // the set is full: the next one takes it
        }
        IReadOnlyList<StoreReceipts> dups = duplicates ?? (IReadOnlyList<StoreReceipts>)[], later = deferred ?? (IReadOnlyList<StoreReceipts>)[];
        if (accepted.Count == 0 || Profile is null) return (null, dups, later);
        // arrays: serialized (journal, inbox, pushes) without a boxed enumerator
        var sources = new ReceiptSource[accepted.Count];
        for (var i = 0; i < accepted.Count; i++) sources[i] = new ReceiptSource(accepted[i].By, accepted[i].Batch.BatchNo);
        InboxEntry entry;
        if (accepted.Count == 1)
            entry = new InboxReceipt(LastSeq + 1, accepted[0].Batch.Status, accepted[0].By, accepted[0].Batch.MessageIds, accepted[0].Batch.At);
        else
        {
            var items = new InboxReceiptItem[accepted.Count];
            for (var i = 0; i < accepted.Count; i++) items[i] = new InboxReceiptItem(accepted[i].Batch.Status, accepted[i].By, accepted[i].Batch.MessageIds);
            entry = new InboxReceiptSet(LastSeq + 1, items, now);
        }
        return (new ReceiptsStored(entry, sources), dups, later);
    }

    private static long? LastAcceptedFrom(List<StoreReceipts> accepted, UserId issuer)
    {
        for (var a = accepted.Count - 1; a >= 0; a--)
            if (accepted[a].By == issuer && !IsKeyed(accepted[a].Batch.BatchNo)) return accepted[a].Batch.BatchNo;
        return null;
    }

    private static bool AcceptedKey(List<StoreReceipts> accepted, StoreReceipts cmd)
    {
        for (var a = 0; a < accepted.Count; a++)
            if (accepted[a].Batch.BatchNo == cmd.Batch.BatchNo) return true;
        return false;
    }

    public Decision<ReceiptsConfirmed> DecideConfirm(UserId sender, long batchNo)
    {
        foreach (var batch in _outbox)
            if (batch.To == sender && (IsKeyed(batchNo) ? batch.BatchNo == batchNo : !IsKeyed(batch.BatchNo) && batch.BatchNo <= batchNo))
                return new(new ReceiptsConfirmed(sender, batchNo));
        return Decision<ReceiptsConfirmed>.Nothing;
    }

    /// <summary>
    /// Delivered receipts are numbered with a random negative key instead of the next number to their sender: the ack
    /// that issues them is not written (<see cref="Acknowledged"/>), so after a crash the entity could not know which
    /// numbers it had used. The sender takes them in any order and recognises a repeat by its key
    /// (those of the last <see cref="KeyWindowMs"/>, <see cref="KeysRemembered"/> to <see cref="KeysRememberedMost"/>). Read
    /// receipts, which are written, keep the numbered sequence.
    /// </summary>
    public static bool IsKeyed(long batchNo) => batchNo < 0;

    private static long NewBatchKey() => -Random.Shared.NextInt64(1, long.MaxValue);

    /// <summary>
    /// How many keys of delivered receipts stored lately the inbox remembers at least: a repeat of one (its confirmation
    /// was lost) is a duplicate. Keys are 63 random bits, so they are told apart without their issuers.
    /// </summary>
    public const int KeysRemembered = 128;

    /// <summary>
    /// The most keys remembered. The ring grows (doubling) rather than forget a key stored less than
    /// <see cref="KeyWindowMs"/> earlier: one post to a group of 1,024 members brings its poster 1,024 delivered receipts
    /// at once, and a repeat of any of them (retried every 5 s until confirmed) must still be known.
    /// </summary>
    public const int KeysRememberedMost = 4096;

    /// <summary>How long a stored key is kept before the ring may forget it (receipt times, milliseconds).</summary>
    public const long KeyWindowMs = 120_000;

    // a ring of the latest keys, oldest at _nextKey, with the time each was stored (0: restored from a snapshot, age
    // unknown, forgotten first); made with the first key: most entities never store a receipt
    private long[]? _keys;
    private long[]? _keyAt;
    private int _nextKey;
    private long _newestKeyAt;
    private long _receiptsDecidedAt; // the local time of the last receipts decided here (0 while replaying)

    private bool KeyStored(long key) => _keys is not null && _keys.AsSpan().Contains(key);

    /// <summary>The remembered keys, oldest first (kept in snapshots, so a repeat is still known after a restart).</summary>
    private long[]? RememberedKeys()
    {
        if (_keys is null) return null;
        var keys = new List<long>(_keys.Length);
        for (var i = 0; i < _keys.Length; i++)
            if (_keys[(_nextKey + i) % _keys.Length] is var k && k != 0) keys.Add(k);
        return [.. keys];
    }

    /// <param name="storedBy">When the snapshot was taken (milliseconds): every key in it was stored by then, and is kept
    /// for <see cref="KeyWindowMs"/> from that time at least (0: unknown, forgotten first).</param>
    private void RestoreKeys(IReadOnlyList<long> oldestFirst, long storedBy)
    {
        var size = Math.Min(KeysRememberedMost, Math.Max(KeysRemembered, (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)oldestFirst.Count)));
        _keys = new long[size];
        _keyAt = new long[size];
        var from = Math.Max(0, oldestFirst.Count - size);
        for (var i = from; i < oldestFirst.Count; i++)
        {
            _keys[i - from] = oldestFirst[i];
            _keyAt[i - from] = storedBy;
        }
        _nextKey = (oldestFirst.Count - from) % size;
        _newestKeyAt = storedBy;
    }

    private void RememberKey(long key, long at)
    {
        if (KeyStored(key)) return;
        // a receipt's time is when its issuer made it; one that comes late (resent after a stop) is still stored now:
        // it is kept from the time it was decided here (while replaying, its own time), and no older than the newest key
        at = Math.Max(at, Math.Max(_receiptsDecidedAt, _newestKeyAt));
        _newestKeyAt = at;
        if (_keys is null)
        {
            _keys = new long[KeysRemembered];
            _keyAt = new long[KeysRemembered];
        }
        else if (_keys[_nextKey] != 0 && _keyAt![_nextKey] is var oldest && oldest != 0 && at - oldest < KeyWindowMs
                 && _keys.Length < KeysRememberedMost)
            GrowKeys();
        _keys[_nextKey] = key;
        _keyAt![_nextKey] = at;
        _nextKey = (_nextKey + 1) % _keys.Length;
    }

    /// <summary>Doubles the ring, oldest first from its start, the free half after them.</summary>
    private void GrowKeys()
    {
        var n = _keys!.Length;
        var keys = new long[n * 2];
        var at = new long[n * 2];
        var older = n - _nextKey;
        Array.Copy(_keys, _nextKey, keys, 0, older);
        Array.Copy(_keys, 0, keys, older, _nextKey);
        Array.Copy(_keyAt!, _nextKey, at, 0, older);
        Array.Copy(_keyAt!, 0, at, older, _nextKey);
        _keys = keys;
        _keyAt = at;
        _nextKey = n;
    }

    /// <summary>Delivered receipts (keyed) issued and not yet confirmed by their senders: written with the ack when the entity stops.</summary>
    public ReceiptBatch[] KeyedOutbox()
    {
        var count = 0;
        foreach (var b in _outbox) if (IsKeyed(b.BatchNo)) count++;
        var keyed = new ReceiptBatch[count];
        count = 0;
        foreach (var b in _outbox) if (IsKeyed(b.BatchNo)) keyed[count++] = b;
        return keyed;
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
    /// Entries before <paramref name="from"/> are known to be older (the index's times say so); entries from there
    /// that are not held in memory are looked at in <paramref name="older"/> (read from the journal, in order); the
    /// answer stops before the first entry it cannot see.
    /// </summary>
    public (long UpTo, int Receipts) Expiring(long cutoff, long from = 0, IReadOnlyList<InboxEntry>? older = null)
    {
        var receipts = _outbox.Count(b => b.At < cutoff);
        var upTo = Math.Max(from, FirstSeq) - 1;
        foreach (var e in older ?? [])
        {
            if (e.Seq <= upTo) continue;
            if (e.Seq != upTo + 1 || TimeOf(e) >= cutoff) return (upTo >= FirstSeq ? upTo : 0, receipts);
            upTo = e.Seq;
        }
        if (upTo + 1 >= TailFrom)
            for (var i = (int)(upTo + 1 - TailFrom); i < _inbox.Count && _inbox.TimeAt(i) < cutoff; i++) upTo = TailFrom + i;
        return (upTo >= FirstSeq ? upTo : 0, receipts);
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
                _sent.Set(SentKey(s.Entry.From, s.Entry.ClientMessageId), s.Entry.Seq);
                CountIfFromStranger(s.Entry);
                break;
            case GroupsLeft l:
                foreach (var group in l.Groups) _groups.Remove(group);
                break;
            case ContactsAdded c:
                ApplyContacts(c);
                break;
            case ReceiptStored r:
                Append(r.Entry);
                _lastBatchFrom[r.Entry.By] = Math.Max(_lastBatchFrom.GetValueOrDefault(r.Entry.By), r.BatchNo);
                break;
            case Acknowledged a:
                AckedSeq = Math.Max(AckedSeq, a.UpTo);
                _inbox.Acknowledged(AckedSeq);
                if (_page.Length > 0 && _pageFrom + _page.Length - 1 <= AckedSeq) DropPage(); // read for this ack: done
                ForgetStrangersUpTo(AckedSeq);
                if (a.Replaces) _outbox.RemoveAll(b => IsKeyed(b.BatchNo)); // the rest were confirmed
                for (var i = 0; i < a.Batches.Count; i++) AddToOutbox(a.Batches[i]);
                break;
            case ReadMarked r:
                _readUpTo[r.With] = Math.Max(_readUpTo.GetValueOrDefault(r.With), r.UpTo);
                if (r.Batch is not null) AddToOutbox(r.Batch);
                if (r.Batches is { } batches) for (var i = 0; i < batches.Count; i++) AddToOutbox(batches[i]);
                break;
            case GroupEntryStored g:
                Append(g.Entry);
                _groupCursor[g.Group] = g.GroupSeq;
                if (g.Entry is InboxGroupNotice n) TrackGroup(n);
                TrackJoinByStranger(g.Entry);
                break;
            case MessagesBatchStored batch:
                for (var i = 0; i < batch.Messages.Count; i++) Apply(batch.Messages[i]);
                break;
            case InboxExpired x:
                ApplyExpired(x);
                break;
            case GroupEntriesBatchStored batch:
                for (var i = 0; i < batch.Entries.Count; i++) Apply(batch.Entries[i]);
                break;
            case ReceiptsStored r:
                Append(r.Entry);
                for (var i = 0; i < r.Sources.Count; i++)
                {
                    var source = r.Sources[i];
                    if (IsKeyed(source.BatchNo)) RememberKey(source.BatchNo, r.Entry switch { InboxReceipt one => one.At, InboxReceiptSet set => set.At, _ => 0 });
                    else _lastBatchFrom[source.By] = Math.Max(_lastBatchFrom.GetValueOrDefault(source.By), source.BatchNo);
                }
                break;
            case ReceiptsConfirmed c:
                ApplyConfirmed(c);
                break;
            case EntriesCarried c:
                // the entries are in the state already (from the old snapshot); now they are in the journal too
                if (_carry.Count > 0 && c.Entries.Count > 0 && c.Entries[^1].Seq >= _carry[^1].Seq) _carry = [];
                break;
        }
        return this;
    }

    // The cases whose lambdas capture the event are methods of their own: captured in Apply, the event's variable made
    // every Apply, whatever its event, allocate the closure that holds it.

    private void ApplyContacts(ContactsAdded c)
    {
        foreach (var user in c.Users) _contacts.Add(user);
        foreach (var (group, (adder, _)) in _joinedByStranger.ToList())
            if (c.Users.Contains(adder)) _joinedByStranger.Remove(group);
        // what they sent before no longer counts as from a stranger
        if (_fromStrangers.AnySource((from, group) => c.Users.Contains(from) || (group is { } g && !_joinedByStranger.ContainsKey(g)))) RecountStrangers();
    }

    private void ApplyExpired(InboxExpired x)
    {
        _inbox.RemoveUpTo(x.UpTo);
        if (x.UpTo >= FirstSeq) FirstSeq = x.UpTo + 1;
        _index.RemoveBefore(FirstSeq);
        DropPage();
        ForgetStrangersUpTo(x.UpTo);
        foreach (var (group, (_, seq)) in _joinedByStranger.ToList())
            if (seq <= x.UpTo) _joinedByStranger.Remove(group); // as a recovery from a snapshot would find it
        _sent.RemoveBefore(x.UpTo + 1);
        _outbox.RemoveAll(b => b.At < x.Cutoff);
        foreach (var (id, time) in _media)
            if (time < x.Cutoff) _media.Remove(id); // named only by removed entries (removing while enumerating is allowed)
    }

    /// <summary>Removes the confirmed batches, keeping the others in order (one pass, no closure: once per receipt stored).</summary>
    private void ApplyConfirmed(ReceiptsConfirmed c)
    {
        var kept = 0;
        for (var i = 0; i < _outbox.Count; i++)
        {
            var b = _outbox[i];
            if (b.To == c.To && (IsKeyed(c.UpToBatch) ? b.BatchNo == c.UpToBatch : !IsKeyed(b.BatchNo) && b.BatchNo <= c.UpToBatch)) continue;
            _outbox[kept++] = b;
        }
        _outbox.RemoveRange(kept, _outbox.Count - kept);
    }

    /// <summary>Entries this event stores in the inbox (none for most events).</summary>
    public static IEnumerable<InboxEntry> EntriesOf(IUserEvent e) => e switch
    {
        MessageStored m => [m.Entry],
        ReceiptStored r => [r.Entry],
        GroupEntryStored g => [g.Entry],
        MessagesBatchStored b => b.Messages.Select(m => (InboxEntry)m.Entry),
        GroupEntriesBatchStored b => b.Entries.Select(g => g.Entry),
        ReceiptsStored r => [r.Entry],
        EntriesCarried c => c.Entries,
        _ => [],
    };

    /// <summary>The event <paramref name="e"/> is durable at <paramref name="seqNr"/> in the journal: its entries can be found there.</summary>
    public void Indexed(IUserEvent e, long seqNr)
    {
        // the first and last entries found in place: through EntriesOf every write cost an array or an iterator
        (InboxEntry? First, InboxEntry? Last) ends = e switch
        {
            MessageStored m => (m.Entry, m.Entry),
            ReceiptStored r => (r.Entry, r.Entry),
            GroupEntryStored g => (g.Entry, g.Entry),
            MessagesBatchStored { Messages.Count: > 0 } b => (b.Messages[0].Entry, b.Messages[^1].Entry),
            GroupEntriesBatchStored { Entries.Count: > 0 } b => (b.Entries[0].Entry, b.Entries[^1].Entry),
            ReceiptsStored r => (r.Entry, r.Entry),
            EntriesCarried { Entries.Count: > 0 } c => (c.Entries[0], c.Entries[^1]),
            _ => (null, null),
        };
        if (ends.First is { } first) _index.Add(first.Seq, ends.Last!.Seq, seqNr, TimeOf(first));
    }

    private void CountIfFromStranger(InboxMessage m)
    {
        if (m.Seq <= AckedSeq || !IsStranger(m.From)) return;
        if (m.Group is { } group && !_joinedByStranger.ContainsKey(group)) return;
        var bytes = QuotaBytes(m.Text, m.Media);
        _fromStrangers.Add(m.Seq, m.From, bytes, m.Group);
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
                _fromStrangers.Add(n.Seq, n.Actor, bytes, n.Group);
                return;
            case InboxGroupNotice { Kind: GroupNoticeKind.Removed or GroupNoticeKind.Left } n when n.Members.Contains(me):
                _joinedByStranger.Remove(n.Group);
                return;
            case InboxMessage { Group: { } group } m when m.From == me:
                TookPart(group);
                return;
            case InboxMessage m:
                CountIfFromStranger(m);
                return;
        }
    }

    /// <summary>
    /// The user posted in <paramref name="group"/>: taking part in it accepts it, and what waits from it stops counting.
    /// (Its own method: captured in TrackJoinByStranger, the group made every entry allocate a closure.)
    /// </summary>
    private void TookPart(GroupId group)
    {
        if (_joinedByStranger.Remove(group) && _fromStrangers.AnySource((_, g) => g == group)) RecountStrangers();
    }

    private void ForgetStrangersUpTo(long seq) => _fromStrangers.ForgetUpTo(seq);

    private void RecountStrangers() =>
        _fromStrangers.Keep((from, group) => !_contacts.Contains(from) && (group is not { } g || _joinedByStranger.ContainsKey(g)));

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
        if (_inbox.Count == 0 && _inbox.FirstSeq != entry.Seq) _inbox.Reset(entry.Seq);
        _inbox.Append(entry, TimeOf(entry));
        // the oldest entry held leaves memory: it stays in the journal (events are written before they are read back)
        if (_inbox.Count > _tailMax) _inbox.RemoveUpTo(_inbox.FirstSeq + _inbox.Count - _tailMax - 1);
        NoteMedia(entry);
        LastSeq = entry.Seq;
    }

    /// <summary>Remembers the media <paramref name="entry"/> names, with the entry's time.</summary>
    private void NoteMedia(InboxEntry entry)
    {
        var media = entry switch { InboxMessage m => m.Media, InboxGroupNotice n => n.Image, _ => null };
        if (media is null) return;
        var time = TimeOf(entry);
        if (!_media.TryGetValue(media.MediaId, out var known) || known < time) _media[media.MediaId] = time;
    }

    private void AddToOutbox(ReceiptBatch batch)
    {
        if (IsKeyed(batch.BatchNo))
            foreach (var b in _outbox)
                if (b.To == batch.To && b.BatchNo == batch.BatchNo) return; // written again when the entity stopped
        _outbox.Add(batch);
        _lastBatchTo[batch.To] = Math.Max(_lastBatchTo.GetValueOrDefault(batch.To), batch.BatchNo);
    }

    // ---------- snapshots ----------

    /// <summary>
    /// Forgets the dedup keys of entries older than <paramref name="cutoff"/> (Unix ms; judged by the index's and the
    /// tail's times, so a key may live a little longer, never shorter): a resend after that is stored as a new message.
    /// </summary>
    public void ForgetDedupOlderThan(long cutoff)
    {
        var before = FirstSeq; // entries before an index point older than the cutoff are older too
        foreach (var p in _index.Points)
        {
            if (p.Time >= cutoff) break;
            before = Math.Max(before, p.Seq);
        }
        for (var i = 0; i < _inbox.Count && _inbox.TimeAt(i) < cutoff; i++) before = Math.Max(before, TailFrom + i + 1);
        if (_sent.Count == 0 || before <= FirstSeq) return;
        _sent.RemoveBefore(before);
    }

    /// <summary>Dedup keys held (each one a message that a resend would be recognised as).</summary>
    public int DedupKeys => _sent.Count;

    /// <summary>
    /// The state without the inbox's older entries: only the tail held in memory goes in, with where the rest is in the
    /// journal (the index), the dedup keys, the strangers' waiting messages and the media named. Its size follows the
    /// user's contacts, groups and the dedup window, not the inbox.
    /// </summary>
    public UserSnapshot ToSnapshot()
    {
        var (keys, seqs) = _sent.ToArrays();
        var i = 0;
        var senders = new List<string>();
        var senderIndex = new Dictionary<UserId, int>();
        var groups = new List<string>();
        var groupIndex = new Dictionary<GroupId, int>();
        var strangers = new long[_fromStrangers.Count * 4];
        i = 0;
        foreach (var (seq, from, bytes, group) in _fromStrangers.All())
        {
            if (!senderIndex.TryGetValue(from, out var index))
            {
                senderIndex[from] = index = senders.Count;
                senders.Add(from.Value);
            }
            var inGroup = -1;
            if (group is { } g && !groupIndex.TryGetValue(g, out inGroup))
            {
                groupIndex[g] = inGroup = groups.Count;
                groups.Add(g.Value);
            }
            (strangers[i], strangers[i + 1], strangers[i + 2], strangers[i + 3]) = (seq, index, bytes, inGroup);
            i += 4;
        }
        var tail = new List<InboxEntry>(_inbox.Count);
        for (var seq = TailFrom; seq <= LastSeq; seq++) tail.Add(_inbox.Get(seq)!);
        return new(
            Profile, tail, LastSeq, AckedSeq,
            new Dictionary<string, long>(_readUpTo),
            _outbox.ToArray(),
            _lastBatchTo.ToDictionary(p => p.Key.Value, p => p.Value),
            _lastBatchFrom.ToDictionary(p => p.Key.Value, p => p.Value),
            _groupCursor.ToDictionary(p => p.Key.Value, p => p.Value),
            _groups.ToDictionary(p => p.Key.Value, p => p.Value),
            ClosedAt,
            _contacts.Select(c => c.Value).ToArray(),
            LastSeen,
            HideLastSeen,
            TailOnly: true,
            FirstSeq: FirstSeq,
            Index: _index.ToFlat(),
            DedupKeys: keys,
            DedupSeqs: seqs,
            Strangers: strangers,
            Media: _media.Keys.ToArray(),
            StrangerSenders: senders,
            StrangerGroups: groups,
            JoinedGroups: _joinedByStranger.Keys.Select(g => g.Value).ToArray(),
            JoinedAdders: _joinedByStranger.Values.Select(v => v.Adder.Value).ToArray(),
            JoinedSeqs: _joinedByStranger.Values.Select(v => v.Seq).ToArray(),
            ReceiptKeys: RememberedKeys(),
            MediaTimes: _media.Values.ToArray());
    }

    /// <param name="tail">Newest entries held in memory. A snapshot written before tails (<see cref="UserSnapshot.TailOnly"/>
    /// false) holds the whole inbox: what is older than the tail is owed to the journal (<see cref="CarryOwed"/>).</param>
    public static UserState FromSnapshot(UserSnapshot s, int tail = int.MaxValue, long takenAt = 0)
    {
        var state = new UserState(tail)
        {
            Profile = s.Profile, AckedSeq = s.AckedSeq, ClosedAt = s.ClosedAt, LastSeen = s.LastSeen, HideLastSeen = s.HideLastSeen,
        };
        state.LastSeq = s.LastSeq;
        state.FirstSeq = s.TailOnly ? s.FirstSeq : s.Inbox.Count > 0 ? s.Inbox[0].Seq : s.LastSeq + 1;
        var held = s.Inbox.Count > tail ? s.Inbox.Skip(s.Inbox.Count - tail).ToList() : s.Inbox;
        state._inbox.Reset(held.Count > 0 ? held[0].Seq : s.LastSeq + 1);
        foreach (var entry in held) state._inbox.Append(entry, TimeOf(entry));
        state._inbox.Acknowledged(s.AckedSeq);
        foreach (var c in s.Contacts ?? []) state._contacts.Add(new UserId(c));
        if (s.TailOnly)
        {
            state._index.LoadFlat(s.Index ?? []);
            var keys = s.DedupKeys ?? [];
            var seqs = s.DedupSeqs ?? [];
            state._sent.Load(keys, seqs);
            var strangers = s.Strangers ?? [];
            var senders = s.StrangerSenders ?? [];
            var groups = s.StrangerGroups ?? [];
            for (var i = 0; i + 3 < strangers.Count; i += 4)
            {
                var bytes = (int)strangers[i + 2];
                var sender = new UserId(senders[(int)strangers[i + 1]]);
                GroupId? group = strangers[i + 3] >= 0 ? new GroupId(groups[(int)strangers[i + 3]]) : null;
                state._fromStrangers.Add(strangers[i], sender, bytes, group);
            }
            var joined = s.JoinedGroups ?? [];
            for (var i = 0; i < joined.Count && i < (s.JoinedAdders?.Count ?? 0) && i < (s.JoinedSeqs?.Count ?? 0); i++)
                state._joinedByStranger[new GroupId(joined[i])] = (new UserId(s.JoinedAdders![i]), s.JoinedSeqs![i]);
            // a snapshot from before the times were kept: its media count as named by its newest entry (kept one
            // retention period longer at most), or, with no entry held, are kept as before
            var media = s.Media ?? [];
            var times = s.MediaTimes is { } t && t.Count == media.Count ? t : null;
            var fallback = s.Inbox.Count > 0 ? s.Inbox.Max(TimeOf) : long.MaxValue;
            for (var i = 0; i < media.Count; i++) state._media[media[i]] = times?[i] ?? fallback;
        }
        else
        {
            // the whole inbox: everything is derived from it, and all of it is carried to the journal (the events that
            // held its entries were deleted when it was written, the tail's included)
            state._carry = s.Inbox.ToList();
            foreach (var entry in s.Inbox)
            {
                if (entry is InboxMessage { Group: null } m)
                {
                    state._sent.Set(SentKey(m.From, m.ClientMessageId), m.Seq);
                    state.CountIfFromStranger(m);
                }
                else if (s.Profile is not null) state.TrackJoinByStranger(entry);
                state.NoteMedia(entry);
            }
        }
        foreach (var (k, v) in s.ReadUpTo) state._readUpTo[k] = v;
        foreach (var (k, v) in s.GroupCursors ?? new Dictionary<string, long>()) state._groupCursor[new GroupId(k)] = v;
        foreach (var (k, v) in s.Groups ?? new Dictionary<string, string>()) state._groups[new GroupId(k)] = v;
        state._outbox.AddRange(s.Outbox);
        if (s.ReceiptKeys is { Count: > 0 } receiptKeys) state.RestoreKeys(receiptKeys, takenAt);
        foreach (var (k, v) in s.LastBatchTo) state._lastBatchTo[new UserId(k)] = v;
        foreach (var (k, v) in s.LastBatchFrom) state._lastBatchFrom[new UserId(k)] = v;
        return state;
    }
}
