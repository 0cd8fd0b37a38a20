using Akka.Actor;
using Akka.Cluster.Sharding;
using Akka.Event;
using Akka.Persistence;
using Chat.Node.Groups;
using Chat.Protocol;

namespace Chat.Node.Users;

/// <summary>
/// A user: profile, token hash and inbox. Commands are decided by <see cref="UserState"/>; this actor
/// persists the events, replies once they are durable, and pushes new entries to the user's sessions.
/// </summary>
/// <remarks>
/// State is applied when an event is decided and persisted with <c>PersistAsync</c>, so many commands
/// share one journal write; <see cref="_durableSeq"/> marks how far the inbox is on disk, and nothing
/// beyond it is ever shown to a client. If a write fails the actor stops and recovers from the journal.
/// </remarks>
public sealed partial class UserEntity : Chat.Node.Persistence.DurableOrderActor, IWithTimers
{
    private sealed class RetryReceipts : INoSerializationVerificationNeeded
    {
        public static readonly RetryReceipts Instance = new();
    }

    /// <summary>A closed account asks its groups (again) to take its leave.</summary>
    private sealed class LeaveGroupsTick : INoSerializationVerificationNeeded
    {
        public static readonly LeaveGroupsTick Instance = new();
    }

    /// <summary>Leaves asked of groups by a closed account, by request id, until each group answers.</summary>
    private readonly Dictionary<uint, GroupId> _leaving = [];
    private uint _nextLeave;
    private IActorRef? _groupRegion;

    private readonly ChatSettings _settings;
    private readonly StrangerQuota _strangerQuota;
    private readonly TimeProvider _clock;
    private IActorRef _users = ActorRefs.Nobody;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<IActorRef, string> _sessions = [];
    private UserState _state;
    private long _durableSeq;
    private readonly WriteGatherer<DeliverText> _texts;
    private readonly WriteGatherer<StoreReceipts> _receipts;
    private readonly WriteGatherer<DeliverGroupEntry> _groupEntries;

    public const string RegionName = "user";

    /// <summary>Whether <paramref name="actor"/> is <paramref name="user"/>'s entity: sharding names it by the user's id.</summary>
    public static bool IsEntityOf(IActorRef actor, UserId user) => !actor.IsNobody() && actor.Path.Name == user.Value;

    /// <param name="users">Where receipts for other users go; the "user" shard region when null.</param>
    public UserEntity(string entityId, ChatSettings settings, TimeProvider clock, IActorRef? users = null)
    {
        PersistenceId = "user-" + entityId;
        _texts = new WriteGatherer<DeliverText>(this, DecideTexts, TextsDurable);
        _receipts = new WriteGatherer<StoreReceipts>(this, DecideReceipts, ReceiptsDurable);
        _groupEntries = new WriteGatherer<DeliverGroupEntry>(this, DecideGroupEntries, GroupEntriesDurable);
        _settings = settings;
        _state = new UserState(settings.InboxTail);
        HoldTail();
        _strangerQuota = new StrangerQuota(settings.StrangerInboxMessages, settings.StrangerInboxBytes);
        _clock = clock;
        if (users is not null) _users = users;
    }

    protected override void PreStart()
    {
        if (_users.IsNobody()) _users = ClusterSharding.Get(Context.System).ShardRegion(RegionName);
        Admin.ChatMetrics.EntityStarted(Admin.ChatMetrics.EntityType.User);
        base.PreStart();
    }

    protected override void PostStop()
    {
        Admin.ChatMetrics.EntityStopped(Admin.ChatMetrics.EntityType.User);
        base.PostStop();
    }

    public override string PersistenceId { get; }
    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(string entityId, ChatSettings settings, TimeProvider clock, IActorRef? users = null) =>
        ActorMaker.Props(() => new UserEntity(entityId, settings, clock, users));

    private long Now => _clock.GetUtcNow().ToUnixTimeMilliseconds();

    protected override void OnRecover(object message)
    {
        switch (message)
        {
            case SnapshotOffer { Snapshot: UserSnapshot snapshot } offer:
                _state = UserState.FromSnapshot(snapshot, Math.Min(_settings.OfflineTail, _settings.InboxTail),
                    new DateTimeOffset(DateTime.SpecifyKind(offer.Metadata.Timestamp, DateTimeKind.Utc)).ToUnixTimeMilliseconds());
                _heldOnline = true;
                HoldTail(); // no session yet: the offline tail
                break;
            case IUserEvent e:
                _state.Apply(e);
                _state.Indexed(e, LastSequenceNr);
                CountEventForSnapshot();
                break;
            case RecoveryCompleted:
                _durableSeq = _state.LastSeq;
                CarryOldEntries();
                if (_state.Outbox.Count > 0) SendOutbox();
                if (_state.ClosedAt != 0 && _state.Groups.Count > 0) LeaveGroups(); // closed before every group took its leave
                SetIdleTimeout();
                break;
        }
    }

    protected override void OnCommand(object message)
    {
        if (Stopping && message is DeliverText or StoreReceipts or DeliverGroupEntry)
        {
            // Told straight to this entity after it was asked to stop, by a sender that holds its route: through the
            // region, which holds it for the next incarnation. Taken here, it would be written, and writes that keep
            // coming would put off the stop (a hand-off) for as long as they come. The sender also tells it again
            // when it hears of the stop; the next incarnation keeps one copy.
            _users.Forward(message);
            return;
        }
        switch (message)
        {
            case DeliverText cmd: OnDeliver(cmd); break;
            case WroteTo cmd: OnWroteTo(cmd); break;
            case Acknowledge cmd: OnAck(cmd); break;
            case FetchEntries cmd: OnFetch(cmd); break;
            case StoreReceipts cmd: OnStoreReceipts(cmd); break;
            case ReceiptsStoredAck cmd: OnReceiptsStored(cmd); break;
            case MarkRead cmd: OnRead(cmd); break;
            case DeliverGroupEntry cmd: OnGroupEntry(cmd); break;
            case ListMyGroups cmd:
                Sender.Tell(new MyGroups(cmd.RequestId, _state.Groups.Select(g => new GroupSummary(g.Key.Value, g.Value)).ToList()));
                break;
            case UserExists cmd:
                Sender.Tell(new UserExistsReply(cmd.UserId, _state.IsOpen, _state.Groups.Count,
                    cmd.Adder is not { } adder || _state.AdmitsAddBy(adder, cmd.Group, _strangerQuota)));
                break;
            case DescribeUser cmd: Sender.Tell(Describe(cmd.UserId)); break;
            case CloseAccount cmd: OnClose(cmd); break;
            case LeaveGroupsTick: LeaveGroups(); break;
            case Done d: OnLeft(d.RequestId); break;
            case Rejected r when r.Code is ErrorCode.NotMember or ErrorCode.UnknownGroup: OnLeft(r.RequestId); break;
            case Rejected: break; // a leave the group could not take now: the next round asks again
            case MaySeeMedia cmd: Sender.Tell(new MediaAccess(cmd.MediaId, _state.MaySee(cmd.MediaId))); break;
            case FindContacts cmd:
                Sender.Tell(new ContactsFound(Contacts.SendersAmong(_state, cmd.Ids), _state.Groups.Keys.ToList()));
                break;
            case ShowProfile cmd: Sender.Tell(Contacts.Show(_state, cmd)); break;
            case Authenticate cmd: OnAuthenticate(cmd); break;
            case KeepAttached cmd: Attach(cmd.Session, cmd.Device); WriteSeenWhileOnline(); Sender.Tell(new AttachState(_durableSeq)); break;
            case Detach cmd: DetachSession(cmd.Session); break;
            case Terminated t: OnWatchedStopped(t.ActorRef); break;
            case CreateUser cmd: OnCreate(cmd); break;
            case Chat.Node.Presence.IPresenceCommand or PresenceTick: OnPresenceCommand(message); break;
            case RetryReceipts: SendOutbox(olderThan: Now - (long)_settings.ReceiptRetryInterval.TotalMilliseconds); break;
            case ReceiveTimeout: Context.Parent.Tell(new Passivate(StopWhenDurable.Instance)); break;
            case StopWhenDurable: WriteAckBeforeStop(); WriteSeenBeforeStop(); StopOnceDurable(); break;
            case ExpireUserEntries cmd: OnExpire(cmd); break;
            case JournalPage page: OnPage(page); break;
            case PumpAcks: _ackPumpQueued = false; PumpAck(); break;
            case InboxProbe: Sender.Tell(new InboxProbeReply(_state.HeldEntries, _state.InboxCount, _state.DedupKeys, _state.Index.Count,
                _state.HeldBytes, _state.DecodedEntries)); break;
            default:
                if (!HandleSnapshotLifecycle(message, _log)) Unhandled(message);
                break;
        }
    }

    /// <summary>
    /// Retention: drops inbox entries (and receipts owed) older than the cutoff, from memory and from the journal: a
    /// marker event, a snapshot of what remains, then the events that hold only removed entries (and older snapshots)
    /// are deleted. Where the first kept entry is in the journal is read from there, so that the events before it go
    /// and it stays: the entries from the last index point older than the cutoff to the next point are read back.
    /// </summary>
    private void OnExpire(ExpireUserEntries cmd)
    {
        var replyTo = Sender;
        if (!_state.Exists || _state.CarryOwed.Count > 0)
        {
            replyTo.Tell(new EntriesExpired(PersistenceId, 0, false));
            return;
        }
        var from = Math.Max(_state.Index.LastOlderThan(cmd.Cutoff)?.Seq ?? _state.FirstSeq, _state.FirstSeq);
        var to = Math.Min(_state.Index.After(from)?.Seq ?? _durableSeq, _durableSeq);
        if (from > to)
        {
            Expire(cmd, replyTo, null);
            return;
        }
        ReadJournal(from, to, int.MaxValue, page => Expire(cmd, replyTo, page));
    }

    private void Expire(ExpireUserEntries cmd, IActorRef replyTo, JournalPage? page)
    {
        if (page?.Failure is { } failure)
        {
            _log.Warning(failure, "retention could not read the inbox of {0} from the journal", PersistenceId);
            replyTo.Tell(new EntriesExpired(PersistenceId, 0, false));
            return;
        }
        var (upTo, receipts) = _state.Expiring(cmd.Cutoff, page?.From ?? 0, page?.Found.Select(f => f.Entry).ToList());
        upTo = Math.Min(upTo, _durableSeq);
        if (upTo == 0 && receipts == 0 && !RewriteOwed)
        {
            replyTo.Tell(new EntriesExpired(PersistenceId, 0, false));
            return;
        }
        var removed = (int)(upTo == 0 ? 0 : upTo - _state.FirstSeq + 1);
        // the event holding the first kept entry stays, with every later one; what is before it may go
        var keptFrom = Math.Max(upTo + 1, _state.FirstSeq);
        var exact = page?.Found.FirstOrDefault(f => f.Entry.Seq == keptFrom).SeqNr ?? 0;
        var expired = new InboxExpired(upTo, cmd.Cutoff);
        _state.Apply(expired);
        _keptAt = exact > 0 ? (keptFrom, exact) : (0, 0);
        RewriteAfter(expired, ok => replyTo.Tell(new EntriesExpired(PersistenceId, removed, ok)));
    }

    /// <summary>The journal sequence number of the event holding the first kept entry, when retention read it (else 0).</summary>
    private (long Seq, long SeqNr) _keptAt;

    /// <summary>
    /// A snapshot lets the journal delete only the events before the first one that holds a kept inbox entry: the
    /// older entries are read from there. With nothing kept, every event up to the snapshot may go.
    /// </summary>
    protected override long EventsDeletableUpTo(long snapshotSeqNr)
    {
        if (_state.CarryOwed.Count > 0) return 0;
        if (_state.FirstSeq > _state.LastSeq) return snapshotSeqNr;
        var first = _state.FirstSeq;
        var lowest = _keptAt.Seq == first
            ? Math.Min(_keptAt.SeqNr, _state.Index.LowestSeqNrAfter(first))
            : _state.Index.LowestSeqNrFrom(first);
        return lowest == long.MaxValue ? 0 : Math.Min(snapshotSeqNr, lowest - 1);
    }

    /// <summary>
    /// A snapshot written before inboxes were paged held the whole inbox, and the events holding its entries are gone:
    /// its entries are written to the journal once (in events of sync-batch entries), so that they can be read from
    /// there like every other entry once the tail no longer holds them.
    /// </summary>
    private void CarryOldEntries()
    {
        if (_state.CarryOwed.Count == 0) return;
        _log.Info("{0}: writing {1} inbox entries of an old snapshot to the journal", PersistenceId, _state.CarryOwed.Count);
        foreach (var chunk in _state.CarryOwed.Chunk(Math.Max(1, _settings.SyncBatch)).ToList())
            PersistInOrder(new EntriesCarried(chunk), e =>
            {
                _state.Indexed(e, LastSequenceNr);
                _state.Apply(e);
                CountEventForSnapshot();
            });
    }

    // ---------- reading older entries from the journal ----------

    private sealed class PumpAcks : INoSerializationVerificationNeeded
    {
        public static readonly PumpAcks Instance = new();
    }

    private int _nextRead;
    private readonly Dictionary<int, Action<JournalPage>> _reads = [];
    private IActorRef? _journal;

    /// <summary>
    /// Reads entries <paramref name="from"/>..<paramref name="to"/> back from the journal (from the index point before
    /// <paramref name="from"/>) and runs <paramref name="then"/> with them on this actor.
    /// </summary>
    private void ReadJournal(long from, long to, int maxEvents, Action<JournalPage> then)
    {
        _journal ??= Akka.Persistence.Persistence.Instance.Apply(Context.System).JournalFor(JournalPluginId);
        var tag = ++_nextRead;
        _reads[tag] = then;
        var point = _state.Index.Locate(from);
        Context.ActorOf(JournalPageReader.Props(_journal, PersistenceId, point?.SeqNr ?? 1, from, to, maxEvents, tag));
    }

    private void OnPage(JournalPage page)
    {
        if (page.Tag is int tag && _reads.Remove(tag, out var then)) then(page);
    }

    /// <summary>
    /// Reads a page of entries from <paramref name="from"/> (older than the tail) into the state for the decisions that
    /// follow, then runs <paramref name="then"/>. The page ends at the last entry found without a gap, so a decision
    /// reaching past it reads on; an entry the journal does not have (it should) is passed over, with a warning, so
    /// that nothing waits for it for ever.
    /// </summary>
    private void LoadPage(long from, long upTo, Action then)
    {
        var to = Math.Min(Math.Min(upTo, _state.TailFrom - 1), from + Math.Max(1, _settings.SyncBatch) - 1);
        if (to < from) { then(); return; }
        ReadJournal(from, to, 4 * (int)(to - from + 1) + 4 * InboxIndex.Stride, page =>
        {
            if (page.Failure is { } failure)
            {
                // the journal did not answer: the entity restarts and reads it again when asked again
                _log.Error(failure, "reading the inbox of {0} from the journal failed", PersistenceId);
                throw new InvalidOperationException($"reading the inbox of {PersistenceId} from the journal failed", failure);
            }
            var end = page.ContiguousTo;
            if (end < page.From)
            {
                _log.Warning("{0}: inbox entry {1} is not in the journal; passed over", PersistenceId, page.From);
                end = page.From;
            }
            _state.SetPage(page.From, end, page.Found.Select(f => f.Entry).ToList());
            then();
        });
    }

    /// <summary>What <c>chat admin user</c> shows: the profile and the inbox's position, never message text.</summary>
    private UserDescription Describe(UserId id) => _state.Profile is { } p
        ? new UserDescription(id, true, p.Name, p.Phone, _sessions.Values.Order(StringComparer.Ordinal).ToList(), (int)Math.Min(int.MaxValue, _state.InboxCount),
            _state.LastSeq, _state.AckedSeq, _state.Groups.Count, _state.ClosedAt != 0)
        : new UserDescription(id, false, "", "", [], 0, 0, 0, 0, false);

    private void OnCreate(CreateUser cmd)
    {
        var decision = _state.DecideCreate(cmd, Now);
        if (decision.Error is { } code) { Sender.Tell(new Rejected(0, code, decision.Reason!)); return; }
        if (decision.Event is null) { Sender.Tell(new UserCreated(cmd.UserId)); return; }
        var replyTo = Sender;
        _state.Apply(decision.Event);
        Persist(decision.Event, _ =>
        {
            replyTo.Tell(new UserCreated(cmd.UserId));
            SetIdleTimeout();
        });
    }

    /// <summary>The phone moved to another account: this one is closed, and every session of it is told and dropped.</summary>
    private void OnClose(CloseAccount cmd)
    {
        var replyTo = Sender;
        if (_state.DecideClose(cmd, Now).Event is not { } closed)
        {
            replyTo.Tell(new AccountClosedConfirmed(cmd.UserId));
            return;
        }
        _state.Apply(closed);
        PersistInOrder(closed, _ =>
        {
            var notice = new PhoneMovedAway(cmd.Phone);
            foreach (var session in _sessions.Keys)
            {
                session.Tell(notice);
                Context.Unwatch(session);
            }
            _sessions.Clear();
            HoldTail();
            OnlineMayHaveChanged();
            replyTo.Tell(new AccountClosedConfirmed(cmd.UserId));
            CountEventForSnapshot();
            LeaveGroups();
            SetIdleTimeout();
        });
    }

    /// <summary>
    /// A closed account leaves every group it is in, as its owner would with LeaveGroup: it receives no group messages,
    /// and the other members see it leave. Asked again every fan-out retry interval until each group has answered, and
    /// again after a restart for the groups still listed (<see cref="GroupsLeft"/> removes them).
    /// </summary>
    private void LeaveGroups()
    {
        _leaving.Clear();
        if (_state.ClosedAt == 0 || _state.Groups.Count == 0)
        {
            Timers.Cancel("leave-groups");
            SetIdleTimeout();
            return;
        }
        _groupRegion ??= ClusterSharding.Get(Context.System).ShardRegion(GroupEntity.RegionName);
        var me = _state.Profile!.Id;
        foreach (var group in _state.Groups.Keys)
        {
            var requestId = ++_nextLeave;
            _leaving[requestId] = group;
            _groupRegion.Tell(new ChangeGroup(group, me, GroupNoticeKind.Left, [], null, requestId), Self);
        }
        if (!Timers.IsTimerActive("leave-groups"))
            Timers.StartPeriodicTimer("leave-groups", LeaveGroupsTick.Instance, _settings.GroupFanoutRetryInterval);
        SetIdleTimeout();
    }

    private void OnLeft(uint requestId)
    {
        if (!_leaving.Remove(requestId, out var group) || !_state.Groups.ContainsKey(group)) return;
        var left = new GroupsLeft(new[] { group });
        _state.Apply(left);
        PersistInOrder(left, _ =>
        {
            CountEventForSnapshot();
            if (_state.Groups.Count == 0) LeaveGroups(); // all done: stops the timer
        });
    }

    private void OnAuthenticate(Authenticate cmd)
    {
        if (!_state.CheckToken(cmd.TokenHash))
        {
            // only the holder of the right token learns that the account was closed
            var reason = _state.ClosedAt != 0 && _state.TokenMatches(cmd.TokenHash)
                ? "this account was closed: its phone number was verified on another account"
                : "invalid token";
            Sender.Tell(new Rejected(cmd.RequestId, ErrorCode.AuthFailed, reason));
            return;
        }
        foreach (var (session, device) in _sessions)
            if (device == cmd.Device && !session.Equals(cmd.Session))
            {
                session.Tell(new SessionReplaced(device));
                Context.Unwatch(session);
                _sessions.Remove(session); // the new session is attached below: still online
                break;
            }
        Attach(cmd.Session, cmd.Device);
        var p = _state.Profile!;
        Sender.Tell(new Authenticated(cmd.RequestId, p.Id, p.Name, p.Phone, _durableSeq));
    }

    private void Attach(IActorRef session, string device)
    {
        if (!_state.IsOpen) return;
        if (_sessions.TryAdd(session, device)) Context.Watch(session);
        HoldTail();
        SetIdleTimeout();
        OnlineMayHaveChanged();
    }

    private void DetachSession(IActorRef session)
    {
        if (_sessions.Remove(session)) Context.Unwatch(session);
        HoldTail();
        SetIdleTimeout();
        OnlineMayHaveChanged();
    }

    private bool _heldOnline = true;

    /// <summary>
    /// The tail held in memory follows the sessions: <c>chat.users.inbox-tail</c> while one is attached, and
    /// <c>chat.users.offline-tail</c> while none is (an entity stays in memory while entries keep arriving, and a long
    /// offline inbox would otherwise keep the whole tail, decoded, for a device that is not there).
    /// </summary>
    private void HoldTail()
    {
        var online = _sessions.Count > 0;
        if (online == _heldOnline) return;
        _heldOnline = online;
        _state.HoldTail(online ? _settings.InboxTail : Math.Min(_settings.OfflineTail, _settings.InboxTail), online);
    }

    /// <summary>An entity stays in memory while a session is attached or receipts are owed; otherwise it passivates when idle.</summary>
    private void SetIdleTimeout()
    {
        if (_sessions.Count > 0 || _state.Outbox.Count > 0 || _leaving.Count > 0) Context.SetReceiveTimeout(null);
        else Context.SetReceiveTimeout(_state.Exists ? _settings.EntityIdleTimeout : TimeSpan.FromSeconds(10));
    }

    /// <summary>
    /// Commands of one kind (texts, receipts, group entries, acks) that arrive while the previous write of that kind is in
    /// flight are decided together and stored as one event (one journal row), each still its own inbox entry and
    /// each answered once that write is durable; then the next gathered batch goes.
    /// </summary>
    /// <remarks>
    /// One batch of a kind is in flight at a time, so what its answers need is kept by the entity, in fields of that kind
    /// that <c>decide</c> fills and <c>durable</c> empties, rather than in a closure per batch; the handlers are made once.
    /// <c>decide</c> may <see cref="Defer"/> commands but must not <see cref="Add"/> to its own gatherer.
    /// </remarks>
    private sealed class WriteGatherer<TCommand>
    {
        private readonly UserEntity _entity;
        private readonly Func<List<(TCommand Command, IActorRef ReplyTo)>, IUserEvent?> _decide;
        private readonly Action<IUserEvent> _durable;
        private readonly Action<IUserEvent> _written;
        private List<(TCommand Command, IActorRef ReplyTo)> _pending = [];
        private List<(TCommand Command, IActorRef ReplyTo)> _spare = [];
        private bool _inFlight;

        public WriteGatherer(UserEntity entity, Func<List<(TCommand Command, IActorRef ReplyTo)>, IUserEvent?> decide, Action<IUserEvent> durable)
        {
            _entity = entity;
            _decide = decide;
            _durable = durable;
            _written = Written;
        }

        public void Add(TCommand command, IActorRef replyTo)
        {
            _pending.Add((command, replyTo));
            if (!_inFlight) Flush();
        }

        /// <summary>Waits for the next batch (used for commands that must follow ones not yet stored).</summary>
        public void Defer(TCommand command, IActorRef replyTo) => _pending.Add((command, replyTo));

        private void Flush()
        {
            if (_pending.Count == 0) return;
            // the two lists take turns: commands deferred while this batch is decided wait in the other one
            var batch = _pending;
            _pending = _spare;
            var write = _decide(batch);
            batch.Clear();
            // a burst leaves room for as many commands behind; an entity kept in memory for weeks by a trickle of messages
            // need not hold it
            if (batch.Capacity > 64) batch.Capacity = 0;
            _spare = batch;
            if (write is null) return;
            _inFlight = true;
            _entity.PersistInOrder(write, _written);
        }

        private void Written(IUserEvent e)
        {
            _entity._state.Indexed(e, _entity.LastSequenceNr); // its entries can be read back from here
            _durable(e);
            _inFlight = false;
            Flush();
        }
    }

    private void OnDeliver(DeliverText cmd) => _texts.Add(cmd, Sender);

    /// <summary>
    /// The user wrote to someone new: recorded at once (a message from them decided next sees it) and persisted.
    /// Nobody waits for it: a write lost in a crash leaves them a stranger until the user writes to them again.
    /// </summary>
    private void OnWroteTo(WroteTo cmd)
    {
        if (!_state.IsOpen || _state.DecideContact(cmd.To).Event is not { } added) return;
        _state.Apply(added);
        PersistInOrder(added, _ => CountEventForSnapshot());
    }

    /// <summary>The in-flight text batch's answers: to the messages it stores, and to repeats of messages stored before.</summary>
    private readonly List<(IActorRef ReplyTo, uint RequestId, InboxMessage Message)> _textAnswers = [];
    private readonly List<(IActorRef ReplyTo, uint RequestId, InboxMessage Message)> _textRepeats = [];

    private IUserEvent? DecideTexts(List<(DeliverText Command, IActorRef ReplyTo)> pending)
    {
        var now = Now;
        MessageStored[]? stored = null; // an array, not a list: serialized without a boxed enumerator
        var count = 0;
        foreach (var (cmd, sender) in pending)
        {
            var decision = _state.DecideDeliver(cmd, MessageIds.New(), now, out var existing, out var repeatOf, _strangerQuota);
            if (decision.Error is { } code) sender.Tell(new Rejected(cmd.RequestId, code, decision.Reason!));
            else if (existing is not null) _textRepeats.Add((sender, cmd.RequestId, existing));
            else if (repeatOf > 0) AnswerOlderRepeatWhenDurable(cmd, sender, repeatOf);
            else
            {
                _state.Apply(decision.Event!); // a repeat later in this batch finds it
                (stored ??= new MessageStored[pending.Count])[count++] = decision.Event!;
                _textAnswers.Add((sender, cmd.RequestId, decision.Event!.Entry));
            }
        }
        // a repeated client message id is answered like the original, once the original is durable (it may be in
        // this very batch: then with it)
        if (stored is null)
        {
            if (_textRepeats.Count > 0)
            {
                var repeats = _textRepeats.ToList();
                _textRepeats.Clear();
                AfterDurable(() => AnswerTexts(repeats));
            }
            return null;
        }
        if (count < stored.Length) Array.Resize(ref stored, count);
        return new MessagesBatchStored(stored);
    }

    private void TextsDurable(IUserEvent e)
    {
        AnswerTexts(_textAnswers);
        _textAnswers.Clear();
        var messages = ((MessagesBatchStored)e).Messages;
        for (var i = 0; i < messages.Count; i++) Durable(messages[i].Entry);
        AnswerTexts(_textRepeats);
        _textRepeats.Clear();
    }

    private static void AnswerTexts(List<(IActorRef ReplyTo, uint RequestId, InboxMessage Message)> answers)
    {
        foreach (var (replyTo, requestId, m) in answers)
            replyTo.Tell(new TextAccepted(requestId, m.ClientMessageId, m.MessageId, m.SentAt));
    }

    /// <summary>(Its own method: a lambda in the loop above would cost a closure for every command, repeat or not.)</summary>
    private void AnswerOlderRepeatWhenDurable(DeliverText cmd, IActorRef replyTo, long seq) =>
        AfterDurable(() => AnswerOlderRepeat(cmd, replyTo, seq));

    /// <summary>A resend of a message no longer held in memory: answered as the first time, from the journal.</summary>
    private void AnswerOlderRepeat(DeliverText cmd, IActorRef replyTo, long seq) =>
        ReadJournal(seq, seq, 4 * InboxIndex.Stride + 64, page =>
        {
            if (page.Found.Count > 0 && page.Found[0].Entry is InboxMessage m && m.From == cmd.From && m.ClientMessageId == cmd.ClientMessageId)
                replyTo.Tell(new TextAccepted(cmd.RequestId, m.ClientMessageId, m.MessageId, m.SentAt));
            else
                replyTo.Tell(new Rejected(cmd.RequestId, ErrorCode.Unavailable, "the first copy of this message could not be read; send it again"));
        });

    private void Durable(InboxEntry entry)
    {
        _durableSeq = entry.Seq;
        if (_sessions.Count > 0)
        {
            var push = new Pushed(entry);
            foreach (var session in _sessions.Keys) session.Tell(push);
        }
        CountEventForSnapshot();
    }

    protected override int SnapshotEvery => _settings.SnapshotEvery;

    protected override object TakeSnapshot()
    {
        _state.ForgetDedupOlderThan(Now - (long)_settings.DedupWindow.TotalMilliseconds);
        return _state.ToSnapshot();
    }

    private void OnFetch(FetchEntries cmd)
    {
        var max = Math.Clamp(cmd.Max, 1, 10_000);
        var from = Math.Max(cmd.After + 1, _state.FirstSeq);
        if (from <= _durableSeq && !_state.Known(from))
        {
            // before the tail: a page from the journal, then the answer (the session asks for the next page)
            var replyTo = Sender;
            LoadPage(from, Math.Min(_durableSeq, cmd.After + max), () =>
                replyTo.Tell(new Entries(_state.Range(cmd.After, _durableSeq, max), _durableSeq, cmd.After)));
            return;
        }
        Sender.Tell(new Entries(_state.Range(cmd.After, _durableSeq, max), _durableSeq, cmd.After));
    }

    /// <summary>
    /// Acks are cumulative: those waiting in the mailbox together are decided as one (the highest), so a busy inbox
    /// sends one receipt batch per sender for them.
    /// </summary>
    private void OnAck(Acknowledge cmd)
    {
        // never beyond what is stored now: a device whose position is past the inbox's end (data lost or restored from an
        // older backup) must not acknowledge the entries that later take those numbers before it has them
        _ackWanted = Math.Max(_ackWanted, Math.Min(cmd.UpTo, _durableSeq));
        // decided after the messages already waiting for this entity: acks that arrive together make one receipt batch
        if (_ackPumpQueued) return;
        _ackPumpQueued = true;
        Self.Tell(PumpAcks.Instance);
    }

    private bool _ackPumpQueued;

    /// <summary>The highest acknowledgement asked for; decided as far as the entries it covers are in memory.</summary>
    private long _ackWanted;
    private bool _ackReading;

    /// <summary>
    /// Decides the acknowledgement asked for, reading the entries it covers from the journal first when they are older
    /// than the tail (a page at a time: each page is decided and written, then the next is read).
    /// </summary>
    private void PumpAck()
    {
        if (_ackReading) return;
        var target = Math.Min(_ackWanted, _durableSeq);
        if (target <= _state.AckedSeq) return;
        var from = Math.Max(_state.AckedSeq + 1, _state.FirstSeq);
        if (from <= target && !_state.Known(from))
        {
            _ackReading = true;
            LoadPage(from, target, () =>
            {
                _ackReading = false;
                PumpAck();
            });
            return;
        }
        DecideAck(target);
    }

    private void DecideAck(long upTo)
    {
        var decision = _state.DecideAck(upTo, Now);
        if (decision.Event is not { } acked)
        {
            Self.Tell(PumpAcks.Instance); // stopped before an entry not in memory: read it
            return;
        }
        _state.Apply(acked);
        // An ack is not written: it is kept in memory, reaches the journal with the next snapshot or when the entity
        // stops (WriteAckBeforeStop), and its delivered receipts go to their senders at once, numbered with keys that
        // stay unique across a crash (UserState.IsKeyed). A crash loses the acks since; the client's next ack covers
        // them again, and a receipt the sender already stored may then reach it twice (docs/protocol.md, 9.4).
        // An ack that covers no message (only receipts) owes nobody a receipt: it is not even remembered for a write.
        var batches = acked.Batches;
        if (batches.Count > 0)
        {
            _ackUnwritten = true;
            for (var i = 0; i < batches.Count; i++) ReceiptsRouteTo(batches[i].To).Tell(new StoreReceipts(batches[i].To, _state.Profile!.Id, batches[i]));
            ScheduleRetry();
        }
        if (acked.UpTo < Math.Min(_ackWanted, _durableSeq)) Self.Tell(PumpAcks.Instance); // the rest of it, once read
    }

    /// <summary>Whether the acknowledged position, delivered receipts not yet confirmed or their confirmations are known only in memory.</summary>
    private bool _ackUnwritten;

    /// <summary>
    /// Before the entity stops (passivation, or its shard moving): the acknowledged position and the delivered
    /// receipts its senders have not confirmed are written as one event, so the next incarnation neither owes the
    /// receipts again nor forgets to send them.
    /// </summary>
    private void WriteAckBeforeStop()
    {
        if (!_ackUnwritten || !_state.Exists) return;
        _ackUnwritten = false;
        PersistInOrder(new Acknowledged(_state.AckedSeq, _state.KeyedOutbox(), Replaces: true), static _ => { });
    }

    private void OnRead(MarkRead cmd) => Read(cmd, Sender);

    /// <summary>Marks a conversation read, reading its entries older than the tail from the journal a page at a time.</summary>
    private void Read(MarkRead cmd, IActorRef replyTo)
    {
        var upTo = Math.Min(cmd.UpTo, _durableSeq);
        var from = Math.Max(_state.ReadUpTo(cmd.With) + 1, _state.FirstSeq);
        if (from <= upTo && !_state.Known(from))
        {
            LoadPage(from, upTo, () => Read(cmd, replyTo));
            return;
        }
        var decision = _state.DecideRead(cmd.With, upTo, Now);
        if (decision.Event is not { } read)
        {
            replyTo.Tell(new Done(cmd.RequestId));
            return;
        }
        _state.Apply(read);
        PersistInOrder(read, e =>
        {
            foreach (var batch in e.Batches ?? []) ReceiptsRouteTo(batch.To).Tell(new StoreReceipts(batch.To, _state.Profile!.Id, batch));
            ScheduleRetry();
            CountEventForSnapshot();
            if (e.UpTo < upTo) Read(cmd, replyTo); // the rest: further pages, or past the receipt size
            else replyTo.Tell(new Done(cmd.RequestId));
        });
    }

    /// <summary>
    /// Receipts arriving while the previous receipt write is in flight are gathered and stored as one
    /// entry: a message to a large group brings its sender a few receipt frames, not one per member.
    /// </summary>
    private void OnStoreReceipts(StoreReceipts cmd)
    {
        if (!_state.Exists)
        {
            _log.Warning("receipts from {0} for unknown user {1} dropped", cmd.By, cmd.UserId);
            Sender.Tell(new ReceiptsStoredAck(cmd.By, cmd.UserId, cmd.Batch.BatchNo));
            return;
        }
        _receipts.Add(cmd, Sender);
    }

    /// <summary>Who sent each batch of the in-flight receipt write, by (issuer, batch number); and the batch's commands.</summary>
    private readonly Dictionary<(UserId, long), IActorRef> _receiptReplyTo = [];
    private readonly List<StoreReceipts> _receiptCommands = [];

    private IUserEvent? DecideReceipts(List<(StoreReceipts Command, IActorRef ReplyTo)> pending)
    {
        _receiptReplyTo.Clear();
        foreach (var (command, sender) in pending)
        {
            _receiptReplyTo[(command.By, command.Batch.BatchNo)] = sender;
            _receiptCommands.Add(command);
        }
        var (stored, duplicates, deferred) = _state.DecideStoreReceipts(_receiptCommands, Now);
        _receiptCommands.Clear();
        foreach (var later in deferred) _receipts.Defer(later, _receiptReplyTo[(later.By, later.Batch.BatchNo)]);
        foreach (var dup in duplicates) ConfirmAgainWhenDurable(dup, _receiptReplyTo[(dup.By, dup.Batch.BatchNo)]);
        if (stored is null)
        {
            _receiptReplyTo.Clear();
            return null; // batches after a gap wait for the issuer to resend in order
        }
        _state.Apply(stored);
        return stored;
    }

    /// <summary>A batch stored before: confirmed again, once what was written before is durable.</summary>
    private void ConfirmAgainWhenDurable(StoreReceipts dup, IActorRef to) =>
        AfterDurable(() => to.Tell(new ReceiptsStoredAck(dup.By, dup.UserId, dup.Batch.BatchNo)));

    private void ReceiptsDurable(IUserEvent e)
    {
        var written = (ReceiptsStored)e;
        var sources = written.Sources;
        for (var i = 0; i < sources.Count; i++)
            _receiptReplyTo[(sources[i].By, sources[i].BatchNo)].Tell(new ReceiptsStoredAck(sources[i].By, _state.Profile!.Id, sources[i].BatchNo));
        _receiptReplyTo.Clear();
        Durable(written.Entry);
    }

    /// <summary>Group entries, gathered as texts are: fan-out to busy inboxes costs few writes.</summary>
    private void OnGroupEntry(DeliverGroupEntry cmd) => _groupEntries.Add(cmd, Sender);

    /// <summary>Who sent the in-flight group write's entries, by (group, member).</summary>
    private readonly Dictionary<(GroupId, UserId), IActorRef> _groupReplyTo = [];

    private IUserEvent? DecideGroupEntries(List<(DeliverGroupEntry Command, IActorRef ReplyTo)> pending)
    {
        GroupEntryStored[]? stored = null; // an array, not a list: serialized without a boxed enumerator
        var count = 0;
        _groupReplyTo.Clear();
        foreach (var (cmd, sender) in pending)
        {
            var decision = _state.DecideGroupEntry(cmd, _strangerQuota);
            if (decision.Error == ErrorCode.Unavailable) continue; // after a gap: the group resends in order
            if (decision.Error == ErrorCode.StrangerQuota)
            {
                // a post from a stranger's group beyond the stranger quota waits in the group's log: the group is told, so
                // that it retries with one entry at a time instead of a window, until the quota has room
                ConfirmGroupEntriesWhenDurable(sender, new GroupEntriesStored(cmd.GroupId, cmd.UserId, _state.GroupCursor(cmd.GroupId), Held: true));
                continue;
            }
            if (decision.Error is not null || decision.Event is null)
            {
                // unknown user (nothing to store) or already stored: confirm so the group stops resending
                var upTo = decision.Error is null ? _state.GroupCursor(cmd.GroupId) : cmd.Entry.GroupSeq;
                ConfirmGroupEntriesWhenDurable(sender, new GroupEntriesStored(cmd.GroupId, cmd.UserId, upTo));
                continue;
            }
            _state.Apply(decision.Event); // decided in order: the next entry of the same group follows it
            (stored ??= new GroupEntryStored[pending.Count])[count++] = decision.Event;
            _groupReplyTo[(cmd.GroupId, cmd.UserId)] = sender;
        }
        if (stored is null) return null;
        if (count < stored.Length) Array.Resize(ref stored, count);
        return new GroupEntriesBatchStored(stored);
    }

    /// <summary>(Its own method: a lambda in the loop above would cost a closure for every entry.)</summary>
    private void ConfirmGroupEntriesWhenDurable(IActorRef to, GroupEntriesStored confirmation) => AfterDurable(() => to.Tell(confirmation));

    private void GroupEntriesDurable(IUserEvent e)
    {
        var entries = ((GroupEntriesBatchStored)e).Entries;
        for (var i = 0; i < entries.Count; i++) Durable(entries[i].Entry);
        foreach (var ((group, member), sender) in _groupReplyTo)
            sender.Tell(new GroupEntriesStored(group, member, _state.GroupCursor(group)));
        _groupReplyTo.Clear();
    }

    private void OnReceiptsStored(ReceiptsStoredAck cmd)
    {
        var decision = _state.DecideConfirm(cmd.Sender, cmd.BatchNo);
        if (decision.Event is not { } confirmed) return;
        // Confirmations are kept in memory and reach the journal with the next snapshot, or with the event written
        // when the entity stops (it lists the keyed batches still unconfirmed): after a crash the batches confirmed
        // since the snapshot are resent once and recognised as duplicates by the sender.
        _state.Apply(confirmed);
        if (UserState.IsKeyed(cmd.BatchNo)) _ackUnwritten = true;
        LearnSenderEntity(cmd.Sender, Sender);
        // the retry timer is not cancelled here: its next tick finds the outbox empty and stops it. Starting and
        // cancelling a timer per message left thousands of cancelled timers waiting in the scheduler for their
        // time, each a young object referenced from old ones that every collection had to trace
        SetIdleTimeout();
    }

    private void ScheduleRetry()
    {
        SetIdleTimeout();
        if (_state.Outbox.Count > 0 && !Timers.IsTimerActive("receipts"))
            Timers.StartPeriodicTimer("receipts", RetryReceipts.Instance, _settings.ReceiptRetryInterval);
    }

    /// <summary>
    /// Resends the receipt batches the senders have not confirmed (after a restart, or a lost message): all of them, or
    /// those issued before <paramref name="olderThan"/> (Unix ms; a batch sent a moment ago is most likely on its way).
    /// </summary>
    private void SendOutbox(long olderThan = long.MaxValue)
    {
        if (_state.Outbox.Count == 0)
        {
            Timers.Cancel("receipts");
            return;
        }
        foreach (var batch in _state.Outbox)
            if (batch.At < olderThan) _users.Tell(new StoreReceipts(batch.To, _state.Profile!.Id, batch));
        ScheduleRetry();
    }

    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        _log.Error(cause, "journal write failed for {0} at {1}; the entity stops and will recover", PersistenceId, sequenceNr);
        base.OnPersistFailure(cause, @event, sequenceNr);
    }
}

/// <summary>Message ids: "m" and 16 base32 characters (80 random bits).</summary>
public static class MessageIds
{
    public static string New() => UserId.NewId('m');
}

/// <summary>Routes user commands by user id.</summary>
public sealed class UserMessageExtractor(int shards) : HashCodeMessageExtractor(shards)
{
    public override string EntityId(object message) => message switch
    {
        IUserCommand c => c.UserId.Value,
        _ => null!,
    };
}
