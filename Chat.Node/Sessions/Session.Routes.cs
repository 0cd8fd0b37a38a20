using Akka.Actor;
using Chat.Node.Users;

namespace Chat.Node.Sessions;

// Direct routes to user entities: the session's own entity (acks, fetches) and the entities of the users it writes to
// (texts), learned from their answers, so that each of those messages skips the shard region and the shard (two actor
// hops, each a mailbox and often a thread woken). Every entity known this way is watched: once it stops, messages go
// through the region again (which starts the next incarnation), and what may have been lost with the stopped one is
// told again. Acks are cumulative and texts carry their client message id, so telling them twice is harmless.
public sealed partial class Session
{
    /// <summary>Recipients' entities kept at most; beyond it one is forgotten (and unwatched) for each one learned.</summary>
    internal const int MaxKnownRecipients = 64;

    /// <summary>This session's own user entity, once it has pushed or answered; null before, and after it stopped.</summary>
    private IActorRef? _inbox;

    /// <summary>The highest ack told to the user's entity: told again through the region when the entity stopped.</summary>
    private long _ackedUpTo;

    /// <summary>
    /// The user's entity stopped and no new one has answered yet: the session asks to be attached again on every tick.
    /// An entity stopped other than by passivation or hand-off leaves its shard a moment in which what is sent to it is
    /// lost, and the first request may fall in it.
    /// </summary>
    private bool _reattaching;

    /// <summary>The entities of users this session wrote to, by user, each learned from its answer to a text.</summary>
    private readonly EntityRoutes<UserId> _recipients = new(MaxKnownRecipients);

    /// <summary>Where acks and fetches for the user's own inbox go.</summary>
    private IActorRef Inbox => _inbox ?? _users;

    /// <summary>Where a text to <paramref name="to"/> goes.</summary>
    private IActorRef RecipientOf(UserId to) => _recipients.Or(to, _users);

    /// <summary>Takes the sender of a push or an answer about the user's own inbox as the user's entity.</summary>
    private void LearnInbox(IActorRef from)
    {
        if (_inbox is not null || _phase != Phase.LoggedIn || !UserEntity.IsEntityOf(from, _user)) return;
        _inbox = from;
        _reattaching = false;
        Context.Watch(from);
    }

    /// <summary>
    /// Takes the sender of an accepted text as the recipient's entity (not for the user's own: that is <see cref="_inbox"/>),
    /// unless another text to them is still on its way through the region: the next one, told directly, could overtake it.
    /// </summary>
    private void LearnRecipient(UserId to, IActorRef from)
    {
        if (to == _user || _recipients.Contains(to) || !UserEntity.IsEntityOf(from, to)) return;
        foreach (var send in _sendDeadlines.Values)
            if (send.Command is DeliverText text && text.UserId == to) return;
        _recipients.Add(to, from, Context, AwaitsAnswerFrom);
    }

    /// <summary>
    /// Whether a text told straight to <paramref name="entity"/> is still unanswered: its route is not forgotten then,
    /// since only the watch on it tells the session to send that text again if the entity stops first.
    /// </summary>
    private bool AwaitsAnswerFrom(IActorRef entity)
    {
        foreach (var send in _sendDeadlines.Values)
            if (entity.Equals(send.Target)) return true;
        return false;
    }

    private void OnEntityStopped(IActorRef entity)
    {
        if (entity.Equals(_inbox))
        {
            _inbox = null;
            if (_phase != Phase.LoggedIn) return;
            // the next incarnation pushes to this session at once, not after the next keep-attached tick; its answer
            // fetches whatever was pushed while no entity had this session attached
            _users.Tell(new KeepAttached(_user, _device, Self));
            _reattaching = true;
            TickFast(true);
            if (_ackedUpTo > 0) _users.Tell(new Acknowledge(_user, _ackedUpTo));
            if (_flow == Flow.Fetching) Fetch();
            return;
        }
        if (!_recipients.TryRemove(entity, out _)) return;
        // texts told to it and not answered: told again through the region (the next incarnation answers a repeated
        // client message id as the original, stored or not)
        List<(long Started, uint Id)>? again = null;
        foreach (var (id, send) in _sendDeadlines)
            if (entity.Equals(send.Target)) (again ??= []).Add((send.Started, id));
        if (again is null) return;
        again.Sort(); // in the order they were sent: the recipient stores them in that order
        foreach (var (_, id) in again)
        {
            var send = _sendDeadlines[id];
            _users.Tell(send.Command);
            _sendDeadlines[id] = send with { Target = _users, ResendAt = Environment.TickCount64 + ResendAfterMs, AfterStop = true };
        }
    }
}
