using Akka.Actor;

namespace Chat.Node.Users;

// Receipts straight to the sender's entity: each receipt batch went through the user region and the sender's shard (two
// actor hops; for a post to a group of 50, 49 batches to its poster). A sender's entity is learned from its confirmation,
// once every batch issued to that sender is confirmed (so that none still on its way through the region is overtaken,
// which the sender would hold back as a gap until it is resent), and watched: when it stops, receipts go through the
// region again, and the batches it did not confirm are resent at once.
public sealed partial class UserEntity
{
    /// <summary>Senders' entities known at most; beyond it one is forgotten (and unwatched) for each one learned.</summary>
    internal const int MaxKnownSenders = 64;

    /// <summary>Entities of users this one sends receipts to, by user; made on first use (most entities never need it).</summary>
    private EntityRoutes<UserId>? _senders;

    /// <summary>Where receipts for <paramref name="sender"/> go.</summary>
    private IActorRef ReceiptsRouteTo(UserId sender) => _senders?.Or(sender, _users) ?? _users;

    private void LearnSenderEntity(UserId sender, IActorRef from)
    {
        if (_senders is not null && _senders.Contains(sender)) return;
        if (sender == _state.Profile?.Id || !IsEntityOf(from, sender)) return;
        foreach (var batch in _state.Outbox)
            if (batch.To == sender) return; // some still on the way
        (_senders ??= new(MaxKnownSenders)).Add(sender, from, Context);
    }

    /// <summary>A watched actor stopped: a sender's entity (receipts go through the region again), else a session.</summary>
    private void OnWatchedStopped(IActorRef actor)
    {
        if (_senders is null || !_senders.TryRemove(actor, out var gone))
        {
            DetachSession(actor);
            return;
        }
        // told to it and not confirmed: told again through the region, in the order issued
        foreach (var batch in _state.Outbox)
            if (batch.To == gone) _users.Tell(new StoreReceipts(batch.To, _state.Profile!.Id, batch));
    }
}
