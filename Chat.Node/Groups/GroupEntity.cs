using Akka.Actor;
using Akka.Cluster.Sharding;
using Akka.Event;
using Akka.Persistence;
using Chat.Node.Users;
using Chat.Protocol;

namespace Chat.Node.Groups;

/// <summary>
/// A group: checks who may do what, stores each post and membership change once in its log (answering
/// once it is durable), and fans every entry out to the inbox of each recipient. Fan-out is tracked per
/// member (cumulative acknowledgements from their user entity) and resent until stored; the point up to
/// which everyone has everything is journaled, so after a crash only the entries after it are resent,
/// and user entities drop what they already have.
/// </summary>
public sealed partial class GroupEntity : Chat.Node.Persistence.DurableOrderActor, IWithTimers
{
    public const string RegionName = "group";

    /// <summary>Periodic; does not count as activity, so an idle group still passivates.</summary>
    private sealed class FanoutTick : INoSerializationVerificationNeeded, INotInfluenceReceiveTimeout
    {
        public static readonly FanoutTick Instance = new();
    }

    private readonly ChatSettings _settings;
    private readonly GroupLimits _limits;
    private readonly TimeProvider _clock;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly GroupId _groupId;
    private IActorRef _users = ActorRefs.Nobody;
    private GroupState _state = new();
    private long _durableSeq;
    private long _fanoutUpTo;
    private readonly Dictionary<UserId, long> _storedUpTo = [];
    private readonly Dictionary<UserId, long> _progressAtLastTick = [];
    private readonly Dictionary<UserId, (int Ticks, int Wait)> _backoff = [];
    /// <summary>Members whose inbox refused the next entry for their stranger quota: retried one entry at a time.</summary>
    private readonly HashSet<UserId> _held = [];

    /// <summary>Entries resent to one member per retry: enough to close a gap, small enough not to flood a busy inbox.</summary>
    private const int ResendWindow = 256;

    public GroupEntity(string entityId, ChatSettings settings, TimeProvider clock, IActorRef? users = null)
    {
        _groupId = new GroupId(entityId);
        PersistenceId = "group-" + entityId;
        _settings = settings;
        _limits = new GroupLimits(settings.GroupMaxMembers, settings.NameMaxChars);
        _clock = clock;
        if (users is not null) _users = users;
    }

    public override string PersistenceId { get; }
    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(string entityId, ChatSettings settings, TimeProvider clock, IActorRef? users = null) =>
        ActorMaker.Props(() => new GroupEntity(entityId, settings, clock, users));

    private long Now => _clock.GetUtcNow().ToUnixTimeMilliseconds();

    protected override void PreStart()
    {
        if (_users.IsNobody()) _users = ClusterSharding.Get(Context.System).ShardRegion(UserEntity.RegionName);
        Admin.ChatMetrics.EntityStarted(Admin.ChatMetrics.EntityType.Group);
        base.PreStart();
    }

    protected override void PostStop()
    {
        Admin.ChatMetrics.EntityStopped(Admin.ChatMetrics.EntityType.Group);
        base.PostStop();
    }

    protected override void OnRecover(object message)
    {
        switch (message)
        {
            case SnapshotOffer { Snapshot: GroupSnapshot s }:
                _state = GroupState.FromSnapshot(s);
                _fanoutUpTo = s.FanoutUpTo;
                break;
            case GroupEntryAppended e:
                _state.Apply(e);
                CountEventForSnapshot();
                break;
            case FanoutCompleted f:
                _fanoutUpTo = Math.Max(_fanoutUpTo, f.UpTo);
                CountEventForSnapshot();
                break;
            case GroupLogExpired x:
                _state.Apply(x);
                _fanoutUpTo = Math.Max(_fanoutUpTo, x.UpTo);
                break;
            case RecoveryCompleted:
                _durableSeq = _state.LastSeq;
                // what was not known to be everywhere is sent again; inboxes keep one copy
                foreach (var member in _state.EveryRecipient)
                {
                    _storedUpTo[member] = _fanoutUpTo;
                    Resend(member);
                }
                ScheduleFanoutCheck();
                Context.SetReceiveTimeout(_settings.EntityIdleTimeout);
                break;
        }
    }

    protected override void OnCommand(object message)
    {
        switch (message)
        {
            case PostToGroup cmd: OnPost(cmd); break;
            case GroupEntriesStored cmd: OnStored(cmd); break;
            case CreateGroupCommand cmd: OnCreate(cmd); break;
            case ChangeGroup cmd: OnChange(cmd); break;
            case GetGroup cmd: OnGet(cmd); break;
            case Presence.RelayGroupTyping cmd: OnTyping(cmd); break;
            case TypingTick: RelayTypists(); break;
            case FanoutTick: OnFanoutTick(); break;
            case Terminated t: OnMemberEntityStopped(t.ActorRef); break;
            case ReceiveTimeout:
                if (_fanoutUpTo >= _durableSeq) Context.Parent.Tell(new Passivate(StopWhenDurable.Instance));
                break;
            case StopWhenDurable: StopOnceDurable(); break;
            case ExpireGroupEntries cmd: OnExpire(cmd); break;
            default:
                if (!HandleSnapshotLifecycle(message, _log)) Unhandled(message);
                break;
        }
    }

    /// <summary>
    /// Retention: drops log entries older than the cutoff (delivered or not: an entry members never received is
    /// simply never delivered), then rewrites the journal as the user entity does: marker, snapshot, deletes.
    /// </summary>
    private void OnExpire(ExpireGroupEntries cmd)
    {
        var replyTo = Sender;
        var upTo = _state.ExpiredUpTo(cmd.Cutoff);
        if (!_state.Exists || (upTo == 0 && !RewriteOwed))
        {
            replyTo.Tell(new EntriesExpired(PersistenceId, 0, false, KeepMedia()));
            return;
        }
        var removed = upTo == 0 ? 0 : (int)(upTo - _state.FirstSeq + 1);
        var expired = new GroupLogExpired(upTo, cmd.Cutoff);
        _state.Apply(expired);
        _fanoutUpTo = Math.Max(_fanoutUpTo, upTo);
        foreach (var member in _storedUpTo.Keys.ToList())
            if (_storedUpTo[member] < upTo) _storedUpTo[member] = upTo;
        RewriteAfter(expired, ok => replyTo.Tell(new EntriesExpired(PersistenceId, removed, ok, KeepMedia())));
    }

    private IReadOnlyList<string>? KeepMedia() => _state.Image is { } image ? [image.MediaId] : null;

    private void OnCreate(CreateGroupCommand cmd)
    {
        var decision = _state.DecideCreate(cmd, Now, _limits);
        var replyTo = Sender;
        if (decision.Error is { } code) { replyTo.Tell(new Rejected(cmd.RequestId, code, decision.Reason!)); return; }
        if (decision.Event is null)
        {
            AfterDurable(() => replyTo.Tell(new GroupCreatedReply(cmd.RequestId, cmd.GroupId)));
            return;
        }
        Append(decision.Event, () => replyTo.Tell(new GroupCreatedReply(cmd.RequestId, cmd.GroupId)));
    }

    private void OnChange(ChangeGroup cmd)
    {
        var decision = _state.DecideChange(cmd, Now, _limits);
        var replyTo = Sender;
        if (decision.Error is { } code) { replyTo.Tell(new Rejected(cmd.RequestId, code, decision.Reason!)); return; }
        if (decision.Event is null)
        {
            AfterDurable(() => replyTo.Tell(new Done(cmd.RequestId)));
            return;
        }
        Append(decision.Event, () => replyTo.Tell(new Done(cmd.RequestId)));
    }

    private void OnPost(PostToGroup cmd)
    {
        var decision = _state.DecidePost(cmd, MessageIds.New(), Now, out var existing);
        var replyTo = Sender;
        if (decision.Error is { } code) { replyTo.Tell(new Rejected(cmd.RequestId, code, decision.Reason!)); return; }
        if (existing is not null)
        {
            AfterDurable(() => replyTo.Tell(new TextAccepted(cmd.RequestId, existing.ClientMessageId, existing.MessageId, existing.SentAt)));
            return;
        }
        var post = (GroupPost)decision.Event!.Entry;
        Append(decision.Event, () => replyTo.Tell(new TextAccepted(cmd.RequestId, post.ClientMessageId, post.MessageId, post.SentAt)));
    }

    private void OnGet(GetGroup cmd)
    {
        if (!_state.Exists) { Sender.Tell(new Rejected(cmd.RequestId, ErrorCode.UnknownGroup, $"no group {cmd.GroupId}")); return; }
        if (!_state.IsMember(cmd.Asker)) { Sender.Tell(new Rejected(cmd.RequestId, ErrorCode.NotMember, "only members can see this group")); return; }
        Sender.Tell(new GroupDetails(cmd.RequestId, cmd.GroupId, _state.Name, _state.Members.ToArray(), _state.Admins.ToArray(), _durableSeq, _state.Image));
    }

    /// <summary>Applies at once (so the next command sees it), persists, then answers and fans out.</summary>
    private void Append(GroupEntryAppended appended, Action reply)
    {
        _state.Apply(appended);
        PersistInOrder(appended, e =>
        {
            _durableSeq = e.Entry.GroupSeq;
            reply();
            var deliver = e.Entry;
            foreach (var member in _state.RecipientsOf(deliver.GroupSeq))
            {
                _storedUpTo.TryAdd(member, deliver.GroupSeq - 1);
                RouteTo(member).Tell(new DeliverGroupEntry(member, _groupId, deliver));
            }
            CountEventForSnapshot();
        });
    }

    private void OnStored(GroupEntriesStored cmd)
    {
        if (cmd.UpTo > _storedUpTo.GetValueOrDefault(cmd.Member)) _storedUpTo[cmd.Member] = cmd.UpTo;
        if (cmd.Held) _held.Add(cmd.Member);
        else
        {
            _held.Remove(cmd.Member);
            LearnMemberEntity(cmd.Member, Sender);
        }
    }

    private void ScheduleFanoutCheck() =>
        Timers.StartPeriodicTimer("fanout", FanoutTick.Instance, _settings.GroupFanoutRetryInterval);

    /// <summary>Resends to members who made no progress since the last check, and journals how far everyone is.</summary>
    private void OnFanoutTick()
    {
        var everywhere = _durableSeq;
        foreach (var member in _state.EveryRecipient)
        {
            var last = Math.Min(_state.LastFor(member), _durableSeq);
            var stored = _storedUpTo.GetValueOrDefault(member, _fanoutUpTo);
            if (stored >= last) continue;
            everywhere = Math.Min(everywhere, stored);
            var stalled = _progressAtLastTick.TryGetValue(member, out var before) && before == stored;
            _progressAtLastTick[member] = stored;
            if (!stalled)
            {
                _backoff.Remove(member);
                continue;
            }
            // A member whose inbox made no progress is sent the next entries again, then waited for
            // twice as long each time (up to 8 ticks): a slow inbox is not flooded with copies.
            var (ticks, wait) = _backoff.GetValueOrDefault(member, (0, 1));
            if (++ticks < wait)
            {
                _backoff[member] = (ticks, wait);
                continue;
            }
            _backoff[member] = (0, Math.Min(wait * 2, 8));
            // a member held back by their stranger quota is asked whether the next entry fits, not sent a window of them
            Resend(member, _held.Contains(member) ? 1 : ResendWindow);
        }
        if (everywhere > _fanoutUpTo)
        {
            _fanoutUpTo = everywhere;
            PersistInOrder(new FanoutCompleted(everywhere), _ => CountEventForSnapshot());
        }
    }

    private void Resend(UserId member, int max = int.MaxValue)
    {
        foreach (var entry in _state.EntriesFor(member, _storedUpTo.GetValueOrDefault(member, _fanoutUpTo)))
        {
            if (entry.GroupSeq > _durableSeq || max-- <= 0) break;
            RouteTo(member).Tell(new DeliverGroupEntry(member, _groupId, entry));
        }
    }

    protected override int SnapshotEvery => _settings.SnapshotEvery;

    protected override object TakeSnapshot() => _state.ToSnapshot(_fanoutUpTo);
}

/// <summary>Routes group commands by group id.</summary>
public sealed class GroupMessageExtractor(int shards) : HashCodeMessageExtractor(shards)
{
    public override string EntityId(object message) => message is IGroupCommand c ? c.GroupId.Value : null!;
}
