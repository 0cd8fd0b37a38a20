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

/// <summary>Event: the phone now belongs to the user (the user is created right after).</summary>
[MessagePackObject, Manifest("pe1")]
public sealed record PhoneClaimRecorded([property: Key(0)] ClaimPhone Claim) : IChatMessage;

/// <summary>Event: the user entity exists.</summary>
[MessagePackObject, Manifest("pe2")]
public sealed record PhoneClaimCompleted([property: Key(0)] UserId UserId) : IChatMessage;

/// <summary>
/// The phone directory entry for one number: makes phone numbers unique and maps them to users.
/// The claim is persisted before the user is created, and creation is retried until it is
/// confirmed, so a crash between the two cannot leave a phone that points nowhere.
/// </summary>
public sealed class PhoneClaim : UntypedPersistentActor, IWithTimers
{
    private sealed class RetryCreate : INoSerializationVerificationNeeded { public static readonly RetryCreate Instance = new(); }

    private IActorRef _users = ActorRefs.Nobody;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private ClaimPhone? _claim;
    private bool _completed;
    private readonly List<IActorRef> _waiting = [];

    public const string RegionName = "phone";

    public PhoneClaim(string phone)
    {
        PersistenceId = "phone-" + phone;
        Context.SetReceiveTimeout(TimeSpan.FromMinutes(2));
    }

    protected override void PreStart()
    {
        _users = Akka.Cluster.Sharding.ClusterSharding.Get(Context.System).ShardRegion(UserEntity.RegionName);
        base.PreStart();
    }

    public override string PersistenceId { get; }
    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(string phone) => Akka.Actor.Props.Create(() => new PhoneClaim(phone));

    protected override void OnRecover(object message)
    {
        switch (message)
        {
            case PhoneClaimRecorded r: _claim = r.Claim; break;
            case PhoneClaimCompleted: _completed = true; break;
            case RecoveryCompleted when _claim is not null && !_completed: CreateUser(); break;
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
            case UserCreated created when !_completed:
                Persist(new PhoneClaimCompleted(created.UserId), _ =>
                {
                    _completed = true;
                    Timers.Cancel("create");
                    foreach (var w in _waiting) w.Tell(new PhoneClaimed(_claim!.Phone, _claim.UserId));
                    _waiting.Clear();
                });
                break;
            case UserCreated: break;
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
                if (_claim is null || _completed) Context.Parent.Tell(new Akka.Cluster.Sharding.Passivate(PoisonPill.Instance));
                break;
            default: Unhandled(message); break;
        }
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
