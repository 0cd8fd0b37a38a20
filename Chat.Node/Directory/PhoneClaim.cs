using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using Chat.Node.Serialization;
using Chat.Node.Users;
using Chat.Protocol;
using MessagePack;

namespace Chat.Node.Directory;

/// <summary>Every message routed to a phone claim names its phone number (E.164).</summary>
public interface IPhoneCommand : IChatMessage
{
    string Phone { get; }
}

/// <summary>Claims a phone for a new user and creates the user. Answered with <see cref="PhoneClaimed"/> or <see cref="Rejected"/>.</summary>
[MessagePackObject, Manifest("p1")]
public sealed record ClaimPhone(
    [property: Key(0)] string Phone,
    [property: Key(1)] UserId UserId,
    [property: Key(2)] string Name,
    [property: Key(3)] string? Email,
    [property: Key(4)] byte[] TokenHash) : IPhoneCommand;

[MessagePackObject, Manifest("p2")]
public sealed record PhoneClaimed([property: Key(0)] string Phone, [property: Key(1)] UserId UserId) : IChatMessage;

[MessagePackObject, Manifest("p3")]
public sealed record LookupPhone([property: Key(0)] string Phone, [property: Key(1)] uint RequestId) : IPhoneCommand;

[MessagePackObject, Manifest("p4")]
public sealed record PhoneOwner(
    [property: Key(0)] uint RequestId,
    [property: Key(1)] string Phone,
    [property: Key(2)] UserId? UserId,
    [property: Key(3)] string? Name) : IChatMessage;

/// <summary>
/// Sends a new verification code to the phone. Answered with <see cref="CodeIssued"/> or <see cref="Rejected"/>.
/// <see cref="Nonce"/> names the client's request: the same request asked again (a session repeats it when a shard
/// handed over may have dropped it) gets the same answer and sends no second code.
/// </summary>
[MessagePackObject, Manifest("p5")]
public sealed record RequestCode([property: Key(0)] string Phone, [property: Key(1)] string? Nonce = null) : IPhoneCommand;

/// <summary>A code was sent (its value only in the test mode <c>auto</c>, which hands it back instead of sending it).</summary>
[MessagePackObject, Manifest("p6")]
public sealed record CodeIssued([property: Key(0)] string Phone, [property: Key(1)] int ExpiresInSeconds, [property: Key(2)] string? Code) : IChatMessage;

/// <summary>
/// Claims the phone for a new user with the code sent to it; a number that had an owner moves to the new user and the
/// old account is closed. Answered with <see cref="PhoneClaimed"/> or <see cref="Rejected"/>.
/// </summary>
[MessagePackObject, Manifest("p7")]
public sealed record VerifyPhone(
    [property: Key(0)] string Phone,
    [property: Key(1)] string Code,
    [property: Key(2)] ClaimPhone Claim) : IPhoneCommand;

/// <summary>Event: the phone now belongs to the user (the user is created right after).</summary>
[MessagePackObject, Manifest("pe1")]
public sealed record PhoneClaimRecorded([property: Key(0)] ClaimPhone Claim) : IChatMessage;

/// <summary>Event: the user entity exists.</summary>
[MessagePackObject, Manifest("pe2")]
public sealed record PhoneClaimCompleted([property: Key(0)] UserId UserId) : IChatMessage;

/// <summary>Event: a verified number moved from <see cref="Previous"/> to the claim's new user; the old account is to be closed.</summary>
[MessagePackObject, Manifest("pe3")]
public sealed record PhoneClaimMoved([property: Key(0)] ClaimPhone Claim, [property: Key(1)] UserId Previous) : IChatMessage;

/// <summary>Event: the account the number moved away from is closed.</summary>
[MessagePackObject, Manifest("pe4")]
public sealed record PreviousAccountClosed([property: Key(0)] UserId UserId) : IChatMessage;

/// <summary>
/// Event: a verification code was sent to the number (when, Unix ms; never the code). Replayed so that the codes-per-hour
/// limit holds after the entry passivates or the node restarts.
/// </summary>
[MessagePackObject, Manifest("pe5")]
public sealed record PhoneCodeSent([property: Key(0)] long At) : IChatMessage;

/// <summary>
/// The phone directory entry for one number: makes phone numbers unique and maps them to users.
/// The claim is persisted before the user is created, and creation is retried until it is
/// confirmed, so a crash between the two cannot leave a phone that points nowhere. With verification on, a claim
/// needs the code sent to the phone (<see cref="PhoneCodes"/>); a verified claim of a number that has an owner moves
/// it, and closing the old account is retried until confirmed in the same way.
/// </summary>
public sealed class PhoneClaim : UntypedPersistentActor, IWithTimers
{
    private sealed class RetryCreate : INoSerializationVerificationNeeded { public static readonly RetryCreate Instance = new(); }
    private sealed class RetryClose : INoSerializationVerificationNeeded { public static readonly RetryClose Instance = new(); }
    /// <summary>The sender finished with a code (failed when <see cref="Failure"/> is set).</summary>
    private sealed record CodeSendDone(IActorRef ReplyTo, string Code, int ExpiresIn, Exception? Failure, string? Nonce) : INoSerializationVerificationNeeded;

    private IActorRef _users = ActorRefs.Nobody;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly string _phone;
    private readonly VerificationSettings _verification;
    private readonly IVerificationSender _sender;
    private readonly TimeProvider _clock;
    private ClaimPhone? _claim;
    private bool _completed;
    /// <summary>The account the number moved away from, until it is confirmed closed.</summary>
    private UserId? _previous;
    private PhoneCodes _codes = PhoneCodes.None;
    private readonly List<IActorRef> _waiting = [];
    /// <summary>
    /// The latest <see cref="RequestCode"/>s by nonce (at most <see cref="CodeRequestsKept"/>, newest last), each with its
    /// answer once there is one and who else asked for it meanwhile: a repeat of an older request still being sent waits
    /// for its answer rather than counting as a new request when a newer one came between.
    /// </summary>
    private readonly List<CodeRequestSeen> _codeRequests = [];
    private const int CodeRequestsKept = 4;

    private sealed class CodeRequestSeen(string nonce)
    {
        public string Nonce { get; } = nonce;
        public object? Answer { get; set; }
        public List<IActorRef> Waiting { get; } = [];
    }
    /// <summary>The latest refused Verify (by its new user's id) and its answer: a repeat of it costs no second attempt.</summary>
    private (UserId User, Rejected Answer)? _refusedVerify;

    public const string RegionName = "phone";

    public PhoneClaim(string phone, VerificationSettings verification, IVerificationSender sender, TimeProvider clock, IActorRef? users = null)
    {
        _users = users ?? ActorRefs.Nobody;
        _phone = phone;
        _verification = verification;
        _sender = sender;
        _clock = clock;
        PersistenceId = "phone-" + phone;
        Context.SetReceiveTimeout(verification.IdleTimeout);
    }

    protected override void PreStart()
    {
        if (_users.IsNobody()) _users = Akka.Cluster.Sharding.ClusterSharding.Get(Context.System).ShardRegion(UserEntity.RegionName);
        Admin.ChatMetrics.EntityStarted(Admin.ChatMetrics.EntityType.Phone);
        base.PreStart();
    }

    protected override void PostStop()
    {
        Admin.ChatMetrics.EntityStopped(Admin.ChatMetrics.EntityType.Phone);
        base.PostStop();
    }

    public override string PersistenceId { get; }
    public ITimerScheduler Timers { get; set; } = null!;

    /// <param name="users">the user region (specs pass a probe); by default the node's, looked up when the entity starts</param>
    public static Props Props(string phone, VerificationSettings verification, IVerificationSender sender, TimeProvider clock,
        IActorRef? users = null) =>
        ActorMaker.Props(() => new PhoneClaim(phone, verification, sender, clock, users));

    protected override void OnRecover(object message)
    {
        switch (message)
        {
            case PhoneClaimRecorded r: _claim = r.Claim; break;
            case PhoneClaimMoved m:
                (_claim, _previous, _completed) = (m.Claim, m.Previous, false);
                break;
            case PhoneClaimCompleted: _completed = true; break;
            case PreviousAccountClosed c when c.UserId == _previous: _previous = null; break;
            case PhoneCodeSent sent: _codes = _codes.SentAt(DateTimeOffset.FromUnixTimeMilliseconds(sent.At), _clock.GetUtcNow()); break;
            case RecoveryCompleted:
                if (_claim is not null && !_completed) CreateUser();
                else if (_previous is not null) ClosePrevious();
                break;
        }
    }

    protected override void OnCommand(object message)
    {
        switch (message)
        {
            case ClaimPhone claim when _claim is null:
                _waiting.Add(Sender);
                Persist(new PhoneClaimRecorded(claim), e =>
                {
                    _claim = e.Claim;
                    CreateUser();
                });
                break;
            case ClaimPhone claim when _claim!.UserId == claim.UserId:
                if (_completed) Sender.Tell(new PhoneClaimed(claim.Phone, claim.UserId));
                else _waiting.Add(Sender);
                break;
            case ClaimPhone claim:
                Sender.Tell(new Rejected(0, ErrorCode.PhoneTaken, $"{claim.Phone} is already registered"));
                break;
            case RequestCode request: OnRequestCode(request); break;
            case CodeSendDone done: OnCodeSendDone(done); break;
            case VerifyPhone verify: OnVerify(verify); break;
            case UserCreated created when !_completed && created.UserId == _claim?.UserId:
                Persist(new PhoneClaimCompleted(created.UserId), _ =>
                {
                    _completed = true;
                    Timers.Cancel("create");
                    foreach (var w in _waiting) w.Tell(new PhoneClaimed(_claim!.Phone, _claim.UserId));
                    _waiting.Clear();
                    if (_previous is not null) ClosePrevious();
                });
                break;
            case UserCreated: break;
            case AccountClosedConfirmed closed when closed.UserId == _previous:
                Persist(new PreviousAccountClosed(closed.UserId), _ =>
                {
                    _previous = null;
                    Timers.Cancel("close");
                });
                break;
            case AccountClosedConfirmed: break;
            case RetryClose: ClosePrevious(); break;
            case Rejected r:
                _log.Error("creating user {0} for {1} failed: {2}", _claim?.UserId, _claim?.Phone, r.Message);
                break;
            case RetryCreate: CreateUser(); break;
            case LookupPhone lookup:
                Sender.Tell(_completed
                    ? new PhoneOwner(lookup.RequestId, lookup.Phone, _claim!.UserId, _claim.Name)
                    : new PhoneOwner(lookup.RequestId, lookup.Phone, null, null));
                break;
            case ReceiveTimeout:
                // a pending code lives in memory only: the entry stays while one can still be entered (the times codes were
                // sent are stored, so the codes-per-hour limit survives passivation). Every registration starts an entry:
                // one kept for the whole hour cost ~5 KB per new user (20,000 registrations: 100 MB)
                if ((_claim is null || _completed) && _previous is null && _codes.CanForget(_clock.GetUtcNow()))
                    Context.Parent.Tell(new Akka.Cluster.Sharding.Passivate(PoisonPill.Instance));
                break;
            default: Unhandled(message); break;
        }
    }

    private void OnRequestCode(RequestCode request)
    {
        if (request.Nonce is not null && _codeRequests.Find(r => r.Nonce == request.Nonce) is { } seen)
        {
            // the same request again: its answer, or a place among those waiting for it
            if (seen.Answer is not null) Sender.Tell(seen.Answer);
            else seen.Waiting.Add(Sender);
            return;
        }
        if (request.Nonce is not null)
        {
            if (_codeRequests.Count == CodeRequestsKept) _codeRequests.RemoveAt(0);
            _codeRequests.Add(new CodeRequestSeen(request.Nonce));
        }
        var code = PhoneCodes.NewCode();
        var now = _clock.GetUtcNow();
        var (next, error, reason) = _codes.Issue(code, now, _verification);
        _codes = next;
        if (error is { } refused)
        {
            AnswerCodeRequest(Sender, new Rejected(0, refused, reason), request.Nonce);
            return;
        }
        // stored before the code goes out: a code sent is always counted, also after a crash
        var replyTo = Sender;
        Persist(new PhoneCodeSent(now.ToUnixTimeMilliseconds()), _ => SendCode(replyTo, code, request.Nonce));
    }

    private void SendCode(IActorRef replyTo, string code, string? nonce)
    {
        var expiresIn = (int)Math.Ceiling(_verification.CodeLifetime.TotalSeconds);
        if (_verification.Mode == VerificationMode.Auto)
        {
            AnswerCodeRequest(replyTo, new CodeIssued(_phone, expiresIn, code), nonce); // the test mode: handed back, not sent
            return;
        }
        SendCodeAsync(_sender, _phone, code).PipeTo(Self,
            success: () => new CodeSendDone(replyTo, code, expiresIn, null, nonce),
            failure: e => new CodeSendDone(replyTo, code, expiresIn, e, nonce));
    }

    private static async Task SendCodeAsync(IVerificationSender sender, string phone, string code)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await sender.SendAsync(phone, code, timeout.Token).ConfigureAwait(false);
    }

    private void OnCodeSendDone(CodeSendDone done)
    {
        if (done.Failure is null)
        {
            AnswerCodeRequest(done.ReplyTo, new CodeIssued(_phone, done.ExpiresIn, null), done.Nonce);
            return;
        }
        _log.Error(done.Failure, "sending a verification code to {0} failed", _phone);
        if (_codes.Pending?.Code == done.Code) _codes = _codes with { Pending = null };
        AnswerCodeRequest(done.ReplyTo, new Rejected(0, ErrorCode.Unavailable, "the code could not be sent; try again later"), done.Nonce);
    }

    /// <summary>Answers a code request, and the repeats of it that came meanwhile; a later repeat gets the same answer.</summary>
    private void AnswerCodeRequest(IActorRef replyTo, object answer, string? nonce)
    {
        replyTo.Tell(answer);
        if (nonce is null || _codeRequests.Find(r => r.Nonce == nonce) is not { } seen) return;
        seen.Answer = answer;
        foreach (var waiting in seen.Waiting) waiting.Tell(answer);
        seen.Waiting.Clear();
    }

    private void OnVerify(VerifyPhone verify)
    {
        if (_claim is not null && _claim.UserId == verify.Claim.UserId)
        {
            // the same Verify again (its new user's id is drawn per request): it succeeded, or is finishing
            if (_completed) Sender.Tell(new PhoneClaimed(_claim.Phone, _claim.UserId));
            else _waiting.Add(Sender);
            return;
        }
        if (_refusedVerify is { } refusedBefore && refusedBefore.User == verify.Claim.UserId)
        {
            Sender.Tell(refusedBefore.Answer);
            return;
        }
        if ((_claim is not null && !_completed) || _previous is not null)
        {
            // the code is left as it is: the client may retry it in a moment
            Sender.Tell(new Rejected(0, ErrorCode.Unavailable, "a registration of this number is finishing; try again"));
            return;
        }
        var (next, error, reason) = _codes.Check(verify.Code, _clock.GetUtcNow(), _verification);
        _codes = next;
        if (error is { } refused)
        {
            var answer = new Rejected(0, refused, reason);
            _refusedVerify = (verify.Claim.UserId, answer);
            Sender.Tell(answer);
            return;
        }
        _waiting.Add(Sender);
        var claim = verify.Claim;
        if (_claim is null)
        {
            Persist(new PhoneClaimRecorded(claim), _ =>
            {
                _claim = claim;
                CreateUser();
            });
            return;
        }
        // the number is the identity: whoever proves they have it now owns it, and the account that had it is closed
        var previous = _claim.UserId;
        Persist(new PhoneClaimMoved(claim, previous), _ =>
        {
            (_claim, _previous, _completed) = (claim, previous, false);
            CreateUser();
        });
    }

    private void ClosePrevious()
    {
        _users.Tell(new CloseAccount(_previous!.Value, _phone, _claim!.UserId));
        if (!Timers.IsTimerActive("close"))
            Timers.StartPeriodicTimer("close", RetryClose.Instance, TimeSpan.FromSeconds(2));
    }

    private void CreateUser()
    {
        var c = _claim!;
        _users.Tell(new CreateUser(c.UserId, c.Name, c.Phone, c.Email, c.TokenHash));
        if (!Timers.IsTimerActive("create"))
            Timers.StartPeriodicTimer("create", RetryCreate.Instance, TimeSpan.FromSeconds(2));
    }
}

/// <summary>Routes directory commands by phone number.</summary>
public sealed class PhoneMessageExtractor(int shards) : Akka.Cluster.Sharding.HashCodeMessageExtractor(shards)
{
    public override string EntityId(object message) => message switch
    {
        IPhoneCommand c => c.Phone,
        _ => null!,
    };
}
