using Akka.Actor;
using Akka.Event;
using System.Diagnostics;
using Chat.Node.Admin;
using Chat.Node.Directory;
using Chat.Node.Groups;
using Chat.Node.Media;
using Chat.Node.Tcp;
using Chat.Node.Users;
using Chat.Protocol;
using static Chat.Node.Tcp.ConnectionSignals;
using Error = Chat.Protocol.Error;
using static Chat.Node.Sessions.SessionRules;

namespace Chat.Node.Sessions;

// The session's state, its messages, what it receives (OnReceive), its phases and the dispatch of client frames;
// the requests answered by a single ask (Read, Lookup) and closing on a violation.
// Each other concern has its own file: Session.Login, .Sends, .Media, .Groups, .Inbox, .Deadlines; the pure request
// checks are in SessionRules.

/// <summary>
/// One authenticated (or authenticating) client connection. It checks what the client asks, tells the
/// entities, forwards their answers and pushes, and keeps the client's view of its inbox gap-free:
/// entries go out strictly in sequence; when a push is missed or the client is slow, the session
/// fetches from the last sequence it sent instead of buffering.
/// </summary>
public sealed partial class Session : UntypedActor, IWithTimers
{
    private enum Phase { AwaitingHello, Greeted, LoggingIn, LoggedIn, Closing }
    private enum Flow { Off, Fetching, WaitingForRoom, Live }

    private sealed class Tick : INoSerializationVerificationNeeded { public static readonly Tick Instance = new(); }
    private sealed class KeepAttachedTick : INoSerializationVerificationNeeded { public static readonly KeepAttachedTick Instance = new(); }
    private sealed record RequestFailed(uint RequestId, Exception Cause) : INoSerializationVerificationNeeded;
    /// <summary>An answer frame computed off the actor (Ask + PipeTo).</summary>
    private sealed record Reply(Frame Frame) : INoSerializationVerificationNeeded;
    /// <summary>Sent by the TCP edge when the node stops.</summary>
    public sealed class ShutDown : INoSerializationVerificationNeeded { public static readonly ShutDown Instance = new(); }

    private readonly IClientLink _connection;
    private readonly ChatSettings _settings;
    private readonly IActorRef _users;
    private readonly IActorRef _phones;
    private readonly IActorRef _groups;
    private readonly TimeProvider _clock;
    private readonly IMediaStore _media;
    private IActorRef? _transfer;
    private int _mediaInFlight;
    /// <summary>Sends that arrived while a media send was being checked: they wait so that order is kept.</summary>
    private readonly Queue<Frame> _held = new();
    private bool _checkingMedia;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);
    /// <summary>Sends waiting for their answer, by request id.</summary>
    private readonly Dictionary<uint, SendInFlight> _sendDeadlines = [];

    /// <summary>
    /// A send waiting for its answer: when it times out, and what to tell again if no answer came by <see cref="ResendAt"/>.
    /// A command told to a shard whose node has just died is dropped with that node; told again once the shard has a new
    /// home, it arrives. Repeating is safe: inboxes and groups answer a repeated client message id once. A node alone
    /// repeats only sends marked <see cref="AfterStop"/> (its shards lose nothing otherwise), so a node that is merely
    /// slow is not handed every send twice.
    /// </summary>
    /// <remarks>
    /// <see cref="AfterStop"/>: told again because the entity it was told to stopped. An entity stopped other than by
    /// passivation or hand-off leaves its shard a moment in which what reaches it is lost, and the repeat may have
    /// fallen in it.
    /// </remarks>
    private record struct SendInFlight(long Deadline, long ResendAt, IActorRef? Target, object? Command, long Started, bool AfterStop = false);
    private Phase _phase = Phase.AwaitingHello;
    private Flow _flow = Flow.Off;
    private bool _initialSyncDone;
    private UserId _user;
    private string _device = "";
    private long _delivered;
    private long _fetchAfter = -1;
    private long _lastInbound;
    private readonly long _connectedAt = Environment.TickCount64;
    /// <summary>When the connection last made progress towards a login (connected, or registered a user).</summary>
    private long _preLoginSince = Environment.TickCount64;
    private int _failedLogins;
    /// <summary>Counted in <see cref="SessionCount"/> and chat.sessions (from the login until the session stops, closing or not).</summary>
    private bool _countedAsLoggedIn;

    public Session(IClientLink connection, ChatSettings settings, IActorRef users, IActorRef phones, IActorRef groups,
        TimeProvider clock, IMediaStore media)
    {
        _media = media;
        _connection = connection;
        _settings = settings;
        _users = users;
        _phones = phones;
        _groups = groups;
        _clock = clock;
        _lastInbound = Environment.TickCount64;
    }

    /// <summary>
    /// What the session receives, by type. A plain switch rather than <see cref="ReceiveActor"/>'s registered handlers: those
    /// are built anew for every actor, which cost a returning user's login some 80 µs (~6 % of the node's CPU in a restart).
    /// </summary>
    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case Inbound m:
                _lastInbound = Environment.TickCount64;
                try { OnFrame(m.Frame); }
                finally { _connection.Processed(); }
                return;
            case Violation v: Fail(v.Code, v.Message); return;
            case Closed: Context.Stop(Self); return;
            case TextAccepted a: OnTextAccepted(a); return;
            case Rejected r:
                _sendDeadlines.Remove(r.RequestId);
                var loginFailed = _phase == Phase.LoggingIn && r.Code == ErrorCode.AuthFailed;
                if (_phase == Phase.LoggingIn) _phase = Phase.Greeted;
                _connection.Write(new Error(r.RequestId, r.Code, r.Message));
                if (loginFailed) CountFailedLogin();
                return;
            case Authenticated a: OnAuthenticated(a); return;
            case Entries e:
                LearnInbox(Sender);
                OnEntries(e);
                return;
            case Pushed p:
                LearnInbox(Sender);
                OnPushed(p);
                return;
            case Drained:
                if (_flow == Flow.WaitingForRoom) Fetch();
                return;
            case AttachState s:
                LearnInbox(Sender);
                if (_flow == Flow.Live && s.LastSeq > _delivered) Fetch();
                return;
            case Terminated t: OnEntityStopped(t.ActorRef); return;
            case Done d: _connection.Write(new Ok(d.RequestId)); return;
            case GroupCreatedReply g: _connection.Write(new GroupCreated(g.RequestId, g.GroupId.Value)); return;
            case GroupDetails g:
                _connection.Write(new GroupInfo(g.RequestId, g.GroupId.Value, g.Name,
                    g.Members.Select(m => m.Value).ToList(), g.Admins.Select(m => m.Value).ToList(), g.LastSeq, g.Image));
                return;
            case MyGroups g: _connection.Write(new GroupList(g.RequestId, g.Groups)); return;
            case Reply r:
                // registering is progress towards a login: reading the code from the phone may take a while
                if (r.Frame is Registered or CodeSent) _preLoginSince = Environment.TickCount64;
                if (r.Frame is LookupResult found) RememberLookup(found);
                _connection.Write(r.Frame);
                return;
            case RequestFailed f:
                if (_phase == Phase.LoggingIn) _phase = Phase.Greeted;
                // the user's id as an argument: JSON logs carry it as the line's "user" field
                if (_phase == Phase.LoggedIn) _log.Warning("request {0} of {1} failed: {2}", f.RequestId, _user, f.Cause.Message);
                else _log.Warning("request {0} failed: {1}", f.RequestId, f.Cause.Message);
                _connection.Write(new Error(f.RequestId, ErrorCode.Unavailable, "the server did not answer in time; retry"));
                return;
            case SessionReplaced: Fail(ErrorCode.Replaced, "logged in again on the same device"); return;
            case PhoneMovedAway m: Fail(ErrorCode.PhoneMoved, $"{m.Phone} was verified on another account; this account is closed"); return;
            case ShutDown: Fail(ErrorCode.ShuttingDown, "the node is shutting down"); return;
            case Tick: OnTick(); return;
            case CreateChecked c: OnCreateChecked(c); return;
            case CreateNotSeen c: CheckAndCreate(c.Request); return;
            case KeepAttachedTick: _users.Tell(new KeepAttached(_user, _device, Self)); return;
            case MediaTransfer.Answer a:
                _mediaInFlight--;
                _connection.Write(a.Frame);
                return;
            case MediaChecked c: OnMediaChecked(c); return;
            default:
                if (!OnPresenceMessage(message)) Unhandled(message);
                return;
        }
    }

    // its own method: a lambda capturing a case's variable inside OnReceive made every message allocate the closure
    private void OnCreateChecked(CreateChecked c) =>
        WithExistingUsers(c.Request.RequestId, c.Request.Members, _settings.GroupMaxMembers - 1,
            users => new CreateGroupCommand(c.Request.ClientGroupId is { } key ? GroupId.For(_user, key) : GroupId.New(), _user, c.Request.Name,
                users, c.Request.RequestId), _groups);

    private void OnTextAccepted(TextAccepted a)
    {
        if (!_sendDeadlines.Remove(a.RequestId, out var answered)) return;
        // told before the client hears Accepted: whatever it does next, the entity knows the user wrote to them
        if (answered.Command is DeliverText text)
        {
            NoteWroteTo(text.UserId);
            LearnRecipient(text.UserId, Sender);
        }
        _connection.Write(new Accepted(a.RequestId, a.ClientMessageId, a.MessageId, a.ServerTime));
        ChatMetrics.MessageAccepted(Stopwatch.GetElapsedTime(answered.Started).TotalSeconds);
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(IClientLink connection, ChatSettings settings, IActorRef users, IActorRef phones, IActorRef groups,
        TimeProvider clock, IMediaStore media) =>
        ActorMaker.Props(() => new Session(connection, settings, users, phones, groups, clock, media));

    protected override void PreStart()
    {
        Timers.StartPeriodicTimer("tick", Tick.Instance, FastTick);
    }

    protected override void PostStop()
    {
        if (_countedAsLoggedIn)
        {
            ChatMetrics.SessionEnded();
            SessionCount.Get(Context.System).Ended();
        }
        if (_phase == Phase.LoggedIn) _users.Tell(new Detach(_user, Self));
        _connection.Abort();
    }

    private void OnFrame(Frame frame)
    {
        if (_phase == Phase.Closing) return;
        switch (frame)
        {
            case Ping p: _connection.Write(new Pong(p.Nonce)); return;
            case Hello h: OnHello(h); return;
        }
        if (_phase == Phase.AwaitingHello)
        {
            Fail(ErrorCode.WrongState, $"the first frame must be Hello, not opcode {frame.Opcode}");
            return;
        }
        switch (frame)
        {
            case Register r: OnRegister(r); return;
            case Verify v: OnVerify(v); return;
            case Login l: OnLogin(l); return;
        }
        if (_phase != Phase.LoggedIn)
        {
            Fail(ErrorCode.WrongState, $"opcode {frame.Opcode} needs a logged-in connection");
            return;
        }
        switch (frame)
        {
            case Send or SendGroup: Submit(frame); return;
            case StartUpload or ResumeUpload or UploadChunk or Download: OnMediaRequest(frame); return;
            case Ack a:
                var upTo = Math.Min(a.Seq, _delivered);
                if (upTo <= 0) return;
                _ackedUpTo = Math.Max(_ackedUpTo, upTo);
                Inbox.Tell(new Acknowledge(_user, upTo));
                return;
            case Sync s: OnSync(s); return;
            case Read r: OnRead(r); return;
            case Lookup l: OnLookup(l); return;
            case WhoIs w: OnWhoIs(w); return;
            case Subscribe or Typing or SetPrivacy: OnPresenceFrame(frame); return;
            case CreateGroup c: OnCreateGroup(c); return;
            case AddMembers a: OnChangeGroup(a.RequestId, a.GroupId, GroupNoticeKind.Added, a.Members, null); return;
            case RemoveMembers r: OnChangeGroup(r.RequestId, r.GroupId, GroupNoticeKind.Removed, r.Members, null); return;
            case LeaveGroup l: OnChangeGroup(l.RequestId, l.GroupId, GroupNoticeKind.Left, [], null); return;
            case RenameGroup r: OnChangeGroup(r.RequestId, r.GroupId, GroupNoticeKind.Renamed, [], r.Name); return;
            case SetGroupImage i: OnSetGroupImage(i); return;
            case SetAdmin a: OnChangeGroup(a.RequestId, a.GroupId, a.IsAdmin ? GroupNoticeKind.Promoted : GroupNoticeKind.Demoted, [a.Member], null); return;
            case GetGroupInfo g:
                if (!GroupId.IsValid(g.GroupId)) { _connection.Write(new Error(g.RequestId, ErrorCode.UnknownGroup, $"no group '{Truncate(g.GroupId)}'")); return; }
                AskAgainAndReply(_groups, new GetGroup(new GroupId(g.GroupId), _user, g.RequestId), g.RequestId);
                return;
            case ListGroups l: AskAgainAndReply(_users, new ListMyGroups(_user, l.RequestId), l.RequestId); return;
            default:
                Fail(ErrorCode.WrongState, $"opcode {frame.Opcode} is not a client request");
                return;
        }
    }

    private void AskAndReply(IActorRef target, object request, uint requestId) =>
        target.Ask<object>(request, _settings.RequestTimeout)
            .PipeTo(Self, success: answer => answer, failure: e => new RequestFailed(requestId, e));

    /// <summary>As <see cref="AskAndReply"/>, for a request whose repeat changes nothing: asked again while unanswered (<see cref="RepeatedAsk"/>).</summary>
    private void AskAgainAndReply(IActorRef target, object request, uint requestId) =>
        RepeatedAsk.AskAsync<object>(target, request, _settings.RequestTimeout, RepeatAfter)
            .PipeTo(Self, success: answer => answer, failure: e => new RequestFailed(requestId, e));

    private void OnRead(Read r)
    {
        if (ReadProblem(r.With, r.UpTo) is { } problem)
        {
            _connection.Write(new Error(r.RequestId, problem.Code, problem.Reason));
            return;
        }
        AskAgainAndReply(_users, new MarkRead(_user, r.With, r.UpTo, r.RequestId), r.RequestId);
    }

    private void OnLookup(Lookup l)
    {
        if (!IsE164(l.Phone))
        {
            _connection.Write(new Error(l.RequestId, ErrorCode.InvalidPhone, "phone must be E.164, e.g. +14155550100"));
            return;
        }
        var quotas = RequestQuotas.Get(Context.System);
        if (!quotas.TryTake("lookup " + _user.Value, quotas.LookupsPerUserPerMinute, TimeSpan.FromMinutes(1), out var wait))
        {
            _connection.Write(new Error(l.RequestId, ErrorCode.RateLimited,
                $"more than {quotas.LookupsPerUserPerMinute} lookups in a minute; retry in {Math.Ceiling(wait.TotalSeconds):0} s", RetryAfterMs(wait)));
            return;
        }
        var requestId = l.RequestId;
        RepeatedAsk.AskAsync<PhoneOwner>(_phones, new LookupPhone(l.Phone, l.RequestId), _settings.RequestTimeout, RepeatAfter)
            .PipeTo(Self,
                success: o => new Reply(o.UserId is { } id
                    ? new LookupResult(requestId, o.Phone, id.Value, o.Name ?? "")
                    : new Error(requestId, ErrorCode.UnknownUser, $"no user has {o.Phone}")),
                failure: e => new RequestFailed(requestId, e));
    }

    private void Fail(ErrorCode code, string message)
    {
        if (_phase == Phase.Closing) return;
        _phase = Phase.Closing;
        _connection.Write(new Error(0, code, message));
        _connection.Close();
    }
}
