using Akka.Actor;
using Chat.Node.Users;

namespace Chat.Node.Groups;

// Fan-out straight to members' entities: an entry for each member went through the user region and the member's shard
// (two actor hops each, 49 deliveries for a post to 50). A member's entity is learned from its confirmation, once it has
// stored everything sent to it (so that no entry still on its way through the region is overtaken), and watched: when
// it stops, entries go through the region again, and what it may not have stored is sent again from its confirmed
// point (inboxes keep one copy of each entry).
public sealed partial class GroupEntity
{
    /// <summary>Members' entities that confirmed entries, by member.</summary>
    private readonly Dictionary<UserId, IActorRef> _memberEntities = [];

    /// <summary>Where entries for <paramref name="member"/> go.</summary>
    private IActorRef RouteTo(UserId member) => _memberEntities.TryGetValue(member, out var entity) ? entity : _users;

    private void LearnMemberEntity(UserId member, IActorRef from)
    {
        if (_memberEntities.ContainsKey(member) || !UserEntity.IsEntityOf(from, member)) return;
        if (_storedUpTo.GetValueOrDefault(member) < Math.Min(_state.LastFor(member), _durableSeq)) return; // some still on the way
        if (_memberEntities.Count >= _settings.GroupMaxMembers)
        {
            // members come and go: a bound, so that a group with a long history does not watch all who ever were
            var (other, entity) = _memberEntities.First();
            _memberEntities.Remove(other);
            Context.Unwatch(entity);
        }
        _memberEntities[member] = from;
        Context.Watch(from);
    }

    private void OnMemberEntityStopped(IActorRef entity)
    {
        UserId? stopped = null;
        foreach (var (member, known) in _memberEntities)
            if (known.Equals(entity))
            {
                stopped = member;
                break;
            }
        if (stopped is not { } gone) return;
        _memberEntities.Remove(gone);
        Resend(gone); // through the region now
    }
}
