using System.Text;
using System.Text.RegularExpressions;
using Akka.Actor;
using Akka.Event;
using Chat.Node.Directory;
using Chat.Node.Groups;
using Chat.Node.Media;
using Chat.Node.Tcp;
using Chat.Node.Users;
using Chat.Protocol;
using static Chat.Node.Tcp.ConnectionSignals;
using Error = Chat.Protocol.Error;

namespace Chat.Node.Sessions;

/// <summary>
/// One authenticated (or authenticating) client connection. It checks what the client asks, tells the
/// entities, forwards their answers and pushes, and keeps the client's view of its inbox gap-free:
/// entries go out strictly in sequence; when a push is missed or the client is slow, the session
/// fetches from the last sequence it sent instead of buffering.
/// </summary>
public sealed partial class Session : ReceiveActor, IWithTimers
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

    private readonly ClientConnection _connection;
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
    /// never repeats (its own shards lose nothing), so a node that is merely slow is not handed every send twice.
    /// </summary>
    private record struct SendInFlight(long Deadline, long ResendAt, IActorRef? Target, object? Command);
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

    public Session(ClientConnection connection, ChatSettings settings, IActorRef users, IActorRef phones, IActorRef groups,
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

        Receive<Inbound>(m =>
        {
            _lastInbound = Environment.TickCount64;
            try { OnFrame(m.Frame); }
            finally { _connection.Processed(); }
        });
        Receive<Violation>(v => Fail(v.Code, v.Message));
        Receive<Closed>(_ => Context.Stop(Self));
        Receive<TextAccepted>(a =>
        {
            if (_sendDeadlines.Remove(a.RequestId))
                _connection.Write(new Accepted(a.RequestId, a.ClientMessageId, a.MessageId, a.ServerTime));
        });
        Receive<Rejected>(r =>
        {
            _sendDeadlines.Remove(r.RequestId);
            var loginFailed = _phase == Phase.LoggingIn && r.Code == ErrorCode.AuthFailed;
            if (_phase == Phase.LoggingIn) _phase = Phase.Greeted;
            _connection.Write(new Error(r.RequestId, r.Code, r.Message));
            if (loginFailed) CountFailedLogin();
        });
        Receive<Authenticated>(OnAuthenticated);
                Receive<Entries>(OnEntries);
        Receive<Pushed>(OnPushed);
        Receive<Drained>(_ => { if (_flow == Flow.WaitingForRoom) Fetch(); });
        Receive<AttachState>(s => { if (_flow == Flow.Live && s.LastSeq > _delivered) Fetch(); });
        Receive<Done>(d => _connection.Write(new Ok(d.RequestId)));
        Receive<GroupCreatedReply>(g => _connection.Write(new GroupCreated(g.RequestId, g.GroupId.Value)));
        Receive<GroupDetails>(g => _connection.Write(new GroupInfo(g.RequestId, g.GroupId.Value, g.Name,
            g.Members.Select(m => m.Value).ToList(), g.Admins.Select(m => m.Value).ToList(), g.LastSeq, g.Image)));
        Receive<MyGroups>(g => _connection.Write(new GroupList(g.RequestId, g.Groups)));
        Receive<Reply>(r =>
        {
            // registering is progress towards a login: reading the code from the phone may take a while
            if (r.Frame is Registered or CodeSent) _preLoginSince = Environment.TickCount64;
            _connection.Write(r.Frame);
        });
        Receive<RequestFailed>(f =>
        {
            if (_phase == Phase.LoggingIn) _phase = Phase.Greeted;
            _log.Warning("request {0} failed: {1}", f.RequestId, f.Cause.Message);
            _connection.Write(new Error(f.RequestId, ErrorCode.Unavailable, "the server did not answer in time; retry"));
        });
        Receive<SessionReplaced>(_ => Fail(ErrorCode.Replaced, "logged in again on the same device"));
        Receive<PhoneMovedAway>(m => Fail(ErrorCode.PhoneMoved, $"{m.Phone} was verified on another account; this account is closed"));
        Receive<ShutDown>(_ => Fail(ErrorCode.ShuttingDown, "the node is shutting down"));
        Receive<Tick>(_ => OnTick());
        Receive<CreateChecked>(c => WithExistingUsers(c.Request.RequestId, c.Request.Members, _settings.GroupMaxMembers - 1,
            users => new CreateGroupCommand(GroupId.New(), _user, c.Request.Name, users, c.Request.RequestId), _groups));
        Receive<KeepAttachedTick>(_ => _users.Tell(new KeepAttached(_user, _device, Self)));
        Receive<MediaTransfer.Answer>(a =>
        {
            _mediaInFlight--;
            _connection.Write(a.Frame);
        });
        Receive<MediaChecked>(OnMediaChecked);
    }

    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>While a send waits for its answer, or before login: deadlines are checked every second.</summary>
    private static readonly TimeSpan FastTick = TimeSpan.FromSeconds(1);
    private bool _fastTick = true;

    /// <summary>An idle logged-in connection only needs its idle timeout checked: a tick a tenth as often (at most 30 s).</summary>
    private TimeSpan SlowTick => TimeSpan.FromTicks(Math.Clamp(_settings.IdleTimeout.Ticks / 10, FastTick.Ticks, TimeSpan.FromSeconds(30).Ticks));

    /// <summary>Fast ticks with nothing to check, before the tick slows down (a user who sends now and then keeps one timer).</summary>
    private const int IdleTicksBeforeSlow = 30;
    private int _idleTicks;

    private void TickFast(bool fast)
    {
        if (fast) _idleTicks = 0;
        else if (_fastTick && ++_idleTicks < IdleTicksBeforeSlow) return;
        if (fast == _fastTick) return;
        _fastTick = fast;
        // each restart leaves the old timer in the scheduler until its time: restarting per message was costly
        Timers.StartPeriodicTimer("tick", Tick.Instance, fast ? FastTick : SlowTick);
    }

    public static Props Props(ClientConnection connection, ChatSettings settings, IActorRef users, IActorRef phones, IActorRef groups,
        TimeProvider clock, IMediaStore media) =>
        Akka.Actor.Props.Create(() => new Session(connection, settings, users, phones, groups, clock, media));

    protected override void PreStart()
    {
        Timers.StartPeriodicTimer("tick", Tick.Instance, FastTick);
    }

    protected override void PostStop()
    {
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
                if (upTo > 0) _users.Tell(new Acknowledge(_user, upTo));
                return;
            case Sync s: OnSync(s); return;
            case Read r: OnRead(r); return;
            case Lookup l: OnLookup(l); return;
            case CreateGroup c: OnCreateGroup(c); return;
            case AddMembers a: OnChangeGroup(a.RequestId, a.GroupId, GroupNoticeKind.Added, a.Members, null); return;
            case RemoveMembers r: OnChangeGroup(r.RequestId, r.GroupId, GroupNoticeKind.Removed, r.Members, null); return;
            case LeaveGroup l: OnChangeGroup(l.RequestId, l.GroupId, GroupNoticeKind.Left, [], null); return;
            case RenameGroup r: OnChangeGroup(r.RequestId, r.GroupId, GroupNoticeKind.Renamed, [], r.Name); return;
            case SetGroupImage i: OnSetGroupImage(i); return;
            case SetAdmin a: OnChangeGroup(a.RequestId, a.GroupId, a.IsAdmin ? GroupNoticeKind.Promoted : GroupNoticeKind.Demoted, [a.Member], null); return;
            case GetGroupInfo g:
                if (!GroupId.IsValid(g.GroupId)) { _connection.Write(new Error(g.RequestId, ErrorCode.UnknownGroup, $"no group '{Truncate(g.GroupId)}'")); return; }
                AskAndReply(_groups, new GetGroup(new GroupId(g.GroupId), _user, g.RequestId), g.RequestId);
                return;
            case ListGroups l: AskAndReply(_users, new ListMyGroups(_user, l.RequestId), l.RequestId); return;
            default:
                Fail(ErrorCode.WrongState, $"opcode {frame.Opcode} is not a client request");
                return;
        }
    }

    private void OnHello(Hello hello)
    {
        if (_phase != Phase.AwaitingHello)
        {
            Fail(ErrorCode.WrongState, "Hello was already received");
            return;
        }
        if (hello.Version != ChatClient.ProtocolVersion)
        {
            Fail(ErrorCode.UnsupportedVersion, $"protocol version {hello.Version} is not supported; this server speaks {ChatClient.ProtocolVersion}");
            return;
        }
        _phase = Phase.Greeted;
        _connection.Write(new Welcome(ChatClient.ProtocolVersion, "chatakka/1", _settings.MaxFrameBytes,
            _settings.MaxTextBytes, _settings.MaxInFlight, _settings.SyncBatch));
    }

    [GeneratedRegex(@"^\+[1-9][0-9]{7,14}$")]
    private static partial Regex E164();

    [GeneratedRegex(@"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")]
    private static partial Regex EmailShape();

    public static ErrorCode? ValidateRegistration(Register r, int nameMaxChars, out string reason)
    {
        reason = "";
        if (string.IsNullOrWhiteSpace(r.Name) || r.Name.Length > nameMaxChars)
        {
            reason = $"name must be 1 to {nameMaxChars} characters";
            return ErrorCode.InvalidName;
        }
        if (r.Phone is null || !E164().IsMatch(r.Phone))
        {
            reason = "phone must be E.164: + and 8 to 15 digits, e.g. +14155550100";
            return ErrorCode.InvalidPhone;
        }
        if (r.Email is not null && (r.Email.Length > 254 || !EmailShape().IsMatch(r.Email)))
        {
            reason = "email is not a valid address";
            return ErrorCode.InvalidEmail;
        }
        return null;
    }

    private void OnRegister(Register r)
    {
        if (ValidateRegistration(r, _settings.NameMaxChars, out var reason) is { } code)
        {
            _connection.Write(new Error(r.RequestId, code, reason));
            return;
        }
        var quotas = RequestQuotas.Get(Context.System);
        if (!quotas.TryTake("register " + _connection.RemoteEndPoint?.Address, quotas.RegistrationsPerAddressPerHour, TimeSpan.FromHours(1), out var wait))
        {
            _connection.Write(new Error(r.RequestId, ErrorCode.RateLimited,
                $"more than {quotas.RegistrationsPerAddressPerHour} registrations from this address in an hour; retry in {Math.Ceiling(wait.TotalMinutes):0} min"));
            return;
        }
        if (_settings.Verification.Mode != VerificationMode.Off)
        {
            RequestCode(r);
            return;
        }
        var user = UserId.New();
        var (token, hash) = Tokens.New(user);
        var requestId = r.RequestId;
        _phones.Ask<object>(new ClaimPhone(r.Phone, user, r.Name.Trim(), r.Email, hash), _settings.RequestTimeout)
            .PipeTo(Self,
                success: answer => new Reply(answer switch
                {
                    PhoneClaimed claimed => new Registered(requestId, claimed.UserId.Value, token),
                    Rejected rejected => new Error(requestId, rejected.Code, rejected.Message),
                    _ => new Error(requestId, ErrorCode.Unavailable, "unexpected answer"),
                }),
                failure: e => new RequestFailed(requestId, e));
    }

    /// <summary>Verification on: a code goes to the phone; the account is created by <see cref="OnVerify"/>.</summary>
    private void RequestCode(Register r)
    {
        var requestId = r.RequestId;
        _phones.Ask<object>(new RequestCode(r.Phone), _settings.RequestTimeout)
            .PipeTo(Self,
                success: answer => new Reply(answer switch
                {
                    CodeIssued issued => new CodeSent(requestId, issued.Phone, issued.ExpiresInSeconds, issued.Code),
                    Rejected rejected => new Error(requestId, rejected.Code, rejected.Message),
                    _ => new Error(requestId, ErrorCode.Unavailable, "unexpected answer"),
                }),
                failure: e => new RequestFailed(requestId, e));
    }

    private void OnVerify(Verify v)
    {
        if (_settings.Verification.Mode == VerificationMode.Off)
        {
            _connection.Write(new Error(v.RequestId, ErrorCode.InvalidArgument,
                "this node registers without verification: Register answers Registered"));
            return;
        }
        if (ValidateRegistration(new Register(v.RequestId, v.Name, v.Phone, v.Email), _settings.NameMaxChars, out var reason) is { } code)
        {
            _connection.Write(new Error(v.RequestId, code, reason));
            return;
        }
        if (v.Code is not { Length: PhoneCodes.CodeDigits } || !v.Code.All(char.IsAsciiDigit))
        {
            _connection.Write(new Error(v.RequestId, ErrorCode.InvalidArgument, $"the code is {PhoneCodes.CodeDigits} digits"));
            return;
        }
        var user = UserId.New();
        var (token, hash) = Tokens.New(user);
        var requestId = v.RequestId;
        var claim = new ClaimPhone(v.Phone, user, v.Name.Trim(), v.Email, hash);
        _phones.Ask<object>(new VerifyPhone(v.Phone, v.Code, claim), _settings.RequestTimeout)
            .PipeTo(Self,
                success: answer => new Reply(answer switch
                {
                    PhoneClaimed claimed => new Registered(requestId, claimed.UserId.Value, token),
                    Rejected rejected => new Error(requestId, rejected.Code, rejected.Message),
                    _ => new Error(requestId, ErrorCode.Unavailable, "unexpected answer"),
                }),
                failure: e => new RequestFailed(requestId, e));
    }

    private void OnLogin(Login l)
    {
        if (_phase != Phase.Greeted)
        {
            Fail(ErrorCode.WrongState, "already logged in");
            return;
        }
        if (string.IsNullOrEmpty(l.Device) || l.Device.Length > 64)
        {
            _connection.Write(new Error(l.RequestId, ErrorCode.InvalidArgument, "device must be 1 to 64 characters"));
            return;
        }
        if (!Tokens.TryParse(l.Token, out var user, out var hash))
        {
            _connection.Write(new Error(l.RequestId, ErrorCode.AuthFailed, "invalid token"));
            CountFailedLogin();
            return;
        }
        _phase = Phase.LoggingIn;
        var requestId = l.RequestId;
        _device = l.Device;
        _users.Ask<object>(new Authenticate(user, hash, l.Device, Self, l.RequestId), _settings.RequestTimeout)
            .PipeTo(Self, success: answer => answer, failure: e => new RequestFailed(requestId, e));
    }

    /// <summary>
    /// A token carries 256 random bits, so guessing one is hopeless; still, a connection that keeps failing is closed, so that
    /// guessing costs a connection (and its handshake) every few tries instead of one frame per try.
    /// </summary>
    private void CountFailedLogin()
    {
        if (++_failedLogins >= _settings.MaxFailedLogins)
            Fail(ErrorCode.AuthFailed, $"{_failedLogins} failed logins on this connection");
    }

    private void OnAuthenticated(Authenticated a)
    {
        if (_phase != Phase.LoggingIn) return;
        _phase = Phase.LoggedIn;
        _user = a.UserId;
        _connection.AllowFramesUpTo(_settings.MaxFrameBytes);
        _connection.Write(new LoggedIn(a.RequestId, a.UserId.Value, a.Name, a.Phone, a.LastSeq));
        Timers.StartPeriodicTimer("attach", KeepAttachedTick.Instance, _settings.KeepAttachedInterval);
    }

    private void Submit(Frame send)
    {
        if (!_checkingMedia)
        {
            Dispatch(send);
            return;
        }
        if (_held.Count >= _settings.MaxInFlight)
        {
            var requestId = ((IRequest)send).RequestId;
            _connection.Write(new Error(requestId, ErrorCode.RateLimited, $"more than {_settings.MaxInFlight} sends are unanswered"));
            return;
        }
        _held.Enqueue(send);
    }

    private void Dispatch(Frame send)
    {
        switch (send)
        {
            case Send s: OnSend(s); return;
            case SendGroup g: OnSendGroup(g); return;
        }
    }

    private void OnSend(Send s)
    {
        if (CheckSend(s.RequestId, s.ClientMessageId, s.Text, s.Media, UserId.IsValid(s.To) ? null : (ErrorCode.UnknownUser, $"no user '{Truncate(s.To)}'")))
            Deliver(s, s.Media);
    }

    private void OnSendGroup(SendGroup s)
    {
        if (CheckSend(s.RequestId, s.ClientMessageId, s.Text, s.Media, GroupId.IsValid(s.GroupId) ? null : (ErrorCode.UnknownGroup, $"no group '{Truncate(s.GroupId)}'")))
            Deliver(s, s.Media);
    }

    /// <summary>Hands a checked send to the recipient's inbox or the group; a media send first has its media checked.</summary>
    private void Deliver(Frame send, MediaRef? media, bool mediaChecked = false)
    {
        if (media is not null && !mediaChecked)
        {
            CheckMedia(send, ((IRequest)send).RequestId, media);
            return;
        }
        var (target, command, requestId) = send switch
        {
            Send s => (_users, (object)new DeliverText(new UserId(s.To), _user, s.ClientMessageId, s.Text, s.RequestId, media), s.RequestId),
            SendGroup g => (_groups, new PostToGroup(new GroupId(g.GroupId), _user, g.ClientMessageId, g.Text, g.RequestId, media), g.RequestId),
            _ => throw new ArgumentException($"not a send: {send.GetType().Name}"),
        };
        target.Tell(command);
        if (_sendDeadlines.TryGetValue(requestId, out var inFlight))
            _sendDeadlines[requestId] = inFlight with { Target = target, Command = command };
    }

    private long ResendAfterMs => (long)_settings.ResendAfter.TotalMilliseconds;

    private sealed record MediaChecked(Frame Send, MediaRef? Media, Error? Problem) : INoSerializationVerificationNeeded;

    /// <summary>
    /// A media message names stored media: the store says what it is (type and size come from there, not from the
    /// client) and records the reference, so retention keeps the file as long as a message refers to it.
    /// Later sends wait until this check is done, so they cannot overtake it.
    /// </summary>
    private void CheckMedia(Frame send, uint requestId, MediaRef media)
    {
        _checkingMedia = true;
        ReferStoredMedia(_media, media, requestId, _clock.GetUtcNow(), _user.Value, MaySeeMedia())
            .PipeTo(Self, success: r => new MediaChecked(send, r.Stored, r.Problem),
                failure: e => new MediaChecked(send, null, new Error(requestId, ErrorCode.Unavailable, "media storage failed; retry")));
    }

    /// <summary>
    /// Looks a referenced media item up in the store (of the given <paramref name="kind"/>, when one is required) and
    /// renews its last-referenced time. The answer carries what was stored (type and size from the store, the client's
    /// thumbnail), or the Error for the client.
    /// </summary>
    private static async Task<(MediaRef? Stored, Error? Problem)> ReferStoredMedia(IMediaStore store, MediaRef media,
        uint requestId, DateTimeOffset now, string user, Func<string, Task<bool>> maySee, MediaKind? kind = null)
    {
        var info = await store.GetAsync(media.MediaId).ConfigureAwait(false);
        // a message may name only media its sender may see: otherwise sending an id to oneself would unlock anyone's
        if (info is not null && info.Uploader != user && !await maySee(info.MediaId).ConfigureAwait(false)) info = null;
        if (info is null) return (null, new Error(requestId, ErrorCode.UnknownMedia, $"no media '{Truncate(media.MediaId)}'"));
        if (kind is { } required && MediaTypes.Kind(info.ContentType) != required)
            return (null, new Error(requestId, ErrorCode.MediaTypeNotAllowed, $"a group picture is an image, not {info.ContentType}"));
        await store.TouchAsync(info.MediaId, now).ConfigureAwait(false);
        return (new MediaRef(info.MediaId, info.ContentType, info.Size, media.Thumbnail), null);
    }

    /// <summary>What is wrong with a media reference before the store is asked (null: nothing).</summary>
    private (ErrorCode, string)? MediaRefProblem(MediaRef media) =>
        !MediaIds.IsMediaId(media.MediaId) ? (ErrorCode.UnknownMedia, $"no media '{Truncate(media.MediaId)}'")
        : media.Thumbnail is { } thumbnail && thumbnail.Length > _settings.Media.MaxThumbnailBytes
            ? (ErrorCode.ChunkTooLarge, $"a thumbnail is at most {_settings.Media.MaxThumbnailBytes} bytes; this one has {thumbnail.Length}")
            : null;

    private void OnMediaChecked(MediaChecked c)
    {
        var requestId = ((IRequest)c.Send).RequestId;
        if (_sendDeadlines.ContainsKey(requestId))
        {
            if (c.Problem is not null)
            {
                _sendDeadlines.Remove(requestId);
                _connection.Write(c.Problem);
            }
            else
                Deliver(c.Send, c.Media, mediaChecked: true);
        }
        _checkingMedia = false;
        while (!_checkingMedia && _held.TryDequeue(out var next)) Dispatch(next);
    }

    private void OnMediaRequest(Frame frame)
    {
        var requestId = ((IRequest)frame).RequestId;
        if (_mediaInFlight >= _settings.Media.MaxChunksInFlight)
        {
            _connection.Write(new Error(requestId, ErrorCode.RateLimited,
                $"more than {_settings.Media.MaxChunksInFlight} media requests are unanswered; wait for an answer before sending more"));
            return;
        }
        _mediaInFlight++;
        _transfer ??= Context.ActorOf(MediaTransfer.Props(_media, _settings.Media, _user.Value, _clock, MaySeeMedia()), "media");
        _transfer.Tell(new MediaTransfer.Request(frame));
    }

    /// <summary>Checks a send and registers it as in flight; false (and an Error written) when it is refused.</summary>
    private bool CheckSend(uint requestId, string? clientMessageId, string? text, MediaRef? media, (ErrorCode, string)? recipientProblem)
    {
        text ??= "";
        string? problem = null;
        var code = ErrorCode.InvalidArgument;
        if (string.IsNullOrEmpty(clientMessageId) || clientMessageId.Length > 64)
            (code, problem) = (ErrorCode.InvalidMessageId, "client message id must be 1 to 64 characters");
        else if (recipientProblem is { } p)
            (code, problem) = p;
        else if (media is null && string.IsNullOrWhiteSpace(text))
            (code, problem) = (ErrorCode.EmptyText, "text is empty");
        else if (media is not null && MediaRefProblem(media) is { } mediaProblem)
            (code, problem) = mediaProblem;
        else if (text.Length > _settings.MaxTextBytes || Encoding.UTF8.GetByteCount(text) > _settings.MaxTextBytes)
            (code, problem) = (ErrorCode.TextTooLong, $"text is longer than {_settings.MaxTextBytes} bytes");
        else if (_sendDeadlines.Count >= _settings.MaxInFlight)
            (code, problem) = (ErrorCode.RateLimited, $"more than {_settings.MaxInFlight} sends are unanswered");
        else if (_sendDeadlines.ContainsKey(requestId))
            (code, problem) = (ErrorCode.InvalidArgument, $"request id {requestId} is already in use");
        if (problem is not null)
        {
            _connection.Write(new Error(requestId, code, problem));
            return false;
        }
        var now = Environment.TickCount64;
        _sendDeadlines[requestId] = new SendInFlight(now + (long)_settings.RequestTimeout.TotalMilliseconds, now + ResendAfterMs, null, null);
        TickFast(true);
        return true;
    }

    private void AskAndReply(IActorRef target, object request, uint requestId) =>
        target.Ask<object>(request, _settings.RequestTimeout)
            .PipeTo(Self, success: answer => answer, failure: e => new RequestFailed(requestId, e));

    /// <summary>Members must name existing users: each is checked with its user entity before the group is asked.</summary>
    private void WithExistingUsers(uint requestId, IReadOnlyList<string>? ids, int max, Func<List<UserId>, object> then, IActorRef target)
    {
        ids = (ids ?? []).Distinct().Where(id => id != _user.Value).ToList();
        if (ids.Count > max)
        {
            _connection.Write(new Error(requestId, ErrorCode.GroupFull, $"a group has at most {_settings.GroupMaxMembers} members"));
            return;
        }
        var bad = ids.FirstOrDefault(id => !UserId.IsValid(id));
        if (bad is not null)
        {
            _connection.Write(new Error(requestId, ErrorCode.UnknownUser, $"no user '{Truncate(bad)}'"));
            return;
        }
        var users = ids.Distinct().Select(id => new UserId(id)).ToList();
        var timeout = _settings.RequestTimeout;
        var checks = users.Select(u => _users.Ask<UserExistsReply>(new UserExists(u), timeout)).ToList();
        Task.WhenAll(checks).ContinueWith(t =>
        {
            if (t.IsFaulted || t.IsCanceled) return Task.FromResult<object>(new RequestFailed(requestId, t.Exception ?? new Exception("timeout")));
            var missing = t.Result.FirstOrDefault(r => !r.Exists);
            if (missing is not null)
                return Task.FromResult<object>(new Reply(new Error(requestId, ErrorCode.UnknownUser, $"no user '{missing.UserId}'")));
            var full = t.Result.FirstOrDefault(r => r.Groups >= _settings.GroupsPerUser);
            if (full is not null)
                return Task.FromResult<object>(new Reply(new Error(requestId, ErrorCode.TooManyGroups,
                    $"user '{full.UserId}' is already in {full.Groups} groups; the limit is {_settings.GroupsPerUser}")));
            return target.Ask<object>(then(users), timeout);
        }).Unwrap().PipeTo(Self, success: answer => answer, failure: e => new RequestFailed(requestId, e));
    }

    private void OnCreateGroup(CreateGroup c)
    {
        if (string.IsNullOrWhiteSpace(c.Name) || c.Name.Trim().Length > _settings.NameMaxChars)
        {
            _connection.Write(new Error(c.RequestId, ErrorCode.InvalidName, $"a group name has 1 to {_settings.NameMaxChars} characters"));
            return;
        }
        var requestId = c.RequestId;
        var members = c.Members ?? [];
        // the creator's group count is checked first (a limit per user), then the members
        _users.Ask<MyGroups>(new ListMyGroups(_user, requestId), _settings.RequestTimeout).PipeTo(Self,
            success: mine => mine.Groups.Count >= _settings.GroupsPerUser
                ? new Reply(new Error(requestId, ErrorCode.TooManyGroups, $"you are in {mine.Groups.Count} groups; the limit is {_settings.GroupsPerUser}"))
                : new CreateChecked(c),
            failure: e => new RequestFailed(requestId, e));
    }

    private sealed record CreateChecked(CreateGroup Request) : INoSerializationVerificationNeeded;

    private void OnChangeGroup(uint requestId, string? groupId, GroupNoticeKind kind, IReadOnlyList<string>? members, string? name)
    {
        if (!GroupId.IsValid(groupId))
        {
            _connection.Write(new Error(requestId, ErrorCode.UnknownGroup, $"no group '{Truncate(groupId)}'"));
            return;
        }
        var group = new GroupId(groupId!);
        if (kind == GroupNoticeKind.Added)
        {
            WithExistingUsers(requestId, members, _settings.GroupMaxMembers,
                users => new ChangeGroup(group, _user, kind, users, null, requestId), _groups);
            return;
        }
        if ((members ?? []).Any(m => !UserId.IsValid(m)))
        {
            _connection.Write(new Error(requestId, ErrorCode.UnknownUser, "a member id is not a user id"));
            return;
        }
        AskAndReply(_groups, new ChangeGroup(group, _user, kind, (members ?? []).Select(m => new UserId(m)).ToList(), name, requestId), requestId);
    }

    /// <summary>A group picture names stored media, checked and renewed as a media message's is; null removes it.</summary>
    private void OnSetGroupImage(SetGroupImage request)
    {
        var requestId = request.RequestId;
        if (!GroupId.IsValid(request.GroupId))
        {
            _connection.Write(new Error(requestId, ErrorCode.UnknownGroup, $"no group '{Truncate(request.GroupId)}'"));
            return;
        }
        var group = new GroupId(request.GroupId);
        if (request.Image is null)
        {
            AskAndReply(_groups, new ChangeGroup(group, _user, GroupNoticeKind.ImageChanged, [], null, requestId), requestId);
            return;
        }
        if (MediaRefProblem(request.Image) is var (code, reason))
        {
            _connection.Write(new Error(requestId, code, reason));
            return;
        }
        var (store, groups, user, now, timeout, maySee) = (_media, _groups, _user, _clock.GetUtcNow(), _settings.RequestTimeout, MaySeeMedia());
        var image = request.Image;
        async Task<object> Set()
        {
            var (stored, problem) = await ReferStoredMedia(store, image, requestId, now, user.Value, maySee, MediaKind.Image).ConfigureAwait(false);
            if (problem is not null) return new Reply(problem);
            return await groups.Ask<object>(new ChangeGroup(group, user, GroupNoticeKind.ImageChanged, [], null, requestId, stored), timeout).ConfigureAwait(false);
        }
        Set().PipeTo(Self, success: answer => answer, failure: e => new RequestFailed(requestId, e));
    }

    /// <summary>Asks this user's entity whether their inbox names a media item (safe to call off the actor: captures no context).</summary>
    private Func<string, Task<bool>> MaySeeMedia()
    {
        var (users, user, timeout) = (_users, _user, _settings.RequestTimeout);
        return async mediaId => (await users.Ask<MediaAccess>(new MaySeeMedia(user, mediaId), timeout).ConfigureAwait(false)).Allowed;
    }

    private static string Truncate(string? s) => s is null ? "" : s.Length <= 40 ? s : s[..40] + "…";

    private void OnRead(Read r)
    {
        if (!UserId.IsValid(r.With) && !GroupId.IsValid(r.With))
        {
            _connection.Write(new Error(r.RequestId, ErrorCode.UnknownUser, $"no user or group '{Truncate(r.With)}'"));
            return;
        }
        var requestId = r.RequestId;
        _users.Ask<object>(new MarkRead(_user, r.With, r.UpTo, r.RequestId), _settings.RequestTimeout)
            .PipeTo(Self, success: answer => answer, failure: e => new RequestFailed(requestId, e));
    }

    private void OnLookup(Lookup l)
    {
        if (l.Phone is null || !E164().IsMatch(l.Phone))
        {
            _connection.Write(new Error(l.RequestId, ErrorCode.InvalidPhone, "phone must be E.164, e.g. +14155550100"));
            return;
        }
        var quotas = RequestQuotas.Get(Context.System);
        if (!quotas.TryTake("lookup " + _user.Value, quotas.LookupsPerUserPerMinute, TimeSpan.FromMinutes(1), out var wait))
        {
            _connection.Write(new Error(l.RequestId, ErrorCode.RateLimited,
                $"more than {quotas.LookupsPerUserPerMinute} lookups in a minute; retry in {Math.Ceiling(wait.TotalSeconds):0} s"));
            return;
        }
        var requestId = l.RequestId;
        _phones.Ask<PhoneOwner>(new LookupPhone(l.Phone, l.RequestId), _settings.RequestTimeout)
            .PipeTo(Self,
                success: o => new Reply(o.UserId is { } id
                    ? new LookupResult(requestId, o.Phone, id.Value, o.Name ?? "")
                    : new Error(requestId, ErrorCode.UnknownUser, $"no user has {o.Phone}")),
                failure: e => new RequestFailed(requestId, e));
    }

    // ---------- the inbox stream ----------

    private void OnSync(Sync s)
    {
        if (s.After < 0)
        {
            _connection.Write(new Error(0, ErrorCode.InvalidArgument, "sync needs after >= 0"));
            return;
        }
        _delivered = s.After;
        _initialSyncDone = false;
        Fetch();
    }

    private void Fetch()
    {
        _flow = Flow.Fetching;
        _fetchAfter = _delivered;
        _users.Tell(new FetchEntries(_user, _delivered, _settings.SyncBatch));
    }

    private void OnEntries(Entries e)
    {
        if (_flow != Flow.Fetching || e.After != _fetchAfter) return; // an answer to an older fetch
        if (_delivered > e.LastSeq) _delivered = e.LastSeq; // the client asked from beyond the inbox's end
        // entries before the first one returned were removed by retention: the stream goes on after them
        if (e.Items.Count > 0 && e.Items[0].Seq > _delivered + 1) _delivered = e.Items[0].Seq - 1;
        // nothing returned although the inbox goes further: everything up to its end was removed
        if (e.Items.Count == 0 && e.LastSeq > _delivered) _delivered = e.LastSeq;
        foreach (var entry in e.Items)
        {
            if (entry.Seq != _delivered + 1) continue;
            if (!_connection.TryWriteEntry(ToFrame(entry))) break; // the client is behind: resume from here
            _delivered = entry.Seq;
        }
        if (_delivered < e.LastSeq)
        {
            WhenRoomFetch();
            return;
        }
        _flow = Flow.Live;
        if (!_initialSyncDone)
        {
            _initialSyncDone = true;
            _connection.Write(new SyncComplete(_delivered));
        }
    }

    private void OnPushed(Pushed p)
    {
        if (_flow != Flow.Live || p.Entry.Seq <= _delivered) return;
        if (p.Entry.Seq == _delivered + 1 && _connection.TryWriteEntry(ToFrame(p.Entry)))
        {
            _delivered = p.Entry.Seq;
            return;
        }
        WhenRoomFetch(); // a gap (a push was lost: the entity restarted or moved) or a slow client
    }

    private void WhenRoomFetch()
    {
        if (_connection.NotifyWhenRoom()) Fetch();
        else _flow = Flow.WaitingForRoom;
    }

    public static Frame ToFrame(InboxEntry entry) => entry switch
    {
        InboxMessage m => new Message(m.Seq, m.MessageId, m.From.Value, m.Text, m.SentAt, m.Group?.Value, m.GroupSeq, m.Media),
        InboxReceipt r => new Receipt(r.Seq, r.Status, r.By.Value, r.MessageIds, r.At),
        InboxGroupNotice n => new GroupNotice(n.Seq, n.Group.Value, n.GroupSeq, n.Kind, n.Actor.Value,
            n.Members.Select(u => u.Value).ToList(), n.Name, n.At, n.Image),
        InboxReceiptSet s => new ReceiptSet(s.Seq, s.Items.Select(i => new ReceiptItem(i.Status, i.By.Value, i.MessageIds)).ToList(), s.At),
        _ => throw new ArgumentOutOfRangeException(nameof(entry), entry.GetType().Name),
    };

    // ---------- housekeeping ----------

    private void OnTick()
    {
        var now = Environment.TickCount64;
        if (_phase == Phase.AwaitingHello && now - _connectedAt > _settings.HelloTimeout.TotalMilliseconds)
        {
            Fail(ErrorCode.IdleTimeout, "no Hello received in time");
            return;
        }
        if (_phase is Phase.Greeted or Phase.LoggingIn && now - _preLoginSince > _settings.LoginTimeout.TotalMilliseconds)
        {
            Fail(ErrorCode.IdleTimeout, $"not logged in within {_settings.LoginTimeout.TotalSeconds:0} s");
            return;
        }
        if (now - _lastInbound > _settings.IdleTimeout.TotalMilliseconds)
        {
            Fail(ErrorCode.IdleTimeout, $"no frame for {_settings.IdleTimeout.TotalSeconds:0} s; send Ping to stay connected");
            return;
        }
        if (_sendDeadlines.Count == 0)
        {
            // thousands of idle connections would otherwise cost thousands of ticks a second
            if (_phase == Phase.LoggedIn) TickFast(false);
            return;
        }
        List<uint>? expired = null;
        List<uint>? resend = null;
        foreach (var (id, send) in _sendDeadlines)
        {
            if (send.Deadline < now) (expired ??= []).Add(id);
            else if (send.ResendAt < now && send.Command is not null) (resend ??= []).Add(id);
        }
        if (resend is not null && _cluster.State.Members.Count < 2) resend = null;
        foreach (var id in resend ?? [])
        {
            var send = _sendDeadlines[id];
            send.Target!.Tell(send.Command);
            _sendDeadlines[id] = send with { ResendAt = now + ResendAfterMs };
        }
        if (expired is null) return;
        foreach (var id in expired)
        {
            _sendDeadlines.Remove(id);
            _connection.Write(new Error(id, ErrorCode.Unavailable, "the message was not stored in time; resend it with the same client message id"));
        }
    }

    private void Fail(ErrorCode code, string message)
    {
        if (_phase == Phase.Closing) return;
        _phase = Phase.Closing;
        _connection.Write(new Error(0, code, message));
        _connection.Close();
    }
}
