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
    private EntityRoutes<UserId>? _memberEntitiesMade;
    private EntityRoutes<UserId> MemberEntities => _memberEntitiesMade ??= new(_settings.GroupMaxMembers);

    /// <summary>Where entries for <paramref name="member"/> go.</summary>
    private IActorRef RouteTo(UserId member) => MemberEntities.Or(member, _users);

    private void LearnMemberEntity(UserId member, IActorRef from)
    {
        if (MemberEntities.Contains(member) || !UserEntity.IsEntityOf(from, member)) return;
        if (_storedUpTo.GetValueOrDefault(member) < Math.Min(_state.LastFor(member), _durableSeq)) return; // some still on the way
        // (bounded by the group's size: members come and go, and a group with a long history does not watch all who ever were)
        MemberEntities.Add(member, from, Context);
    }

    private void OnMemberEntityStopped(IActorRef entity)
    {
        if (MemberEntities.TryRemove(entity, out var member)) Resend(member); // through the region now
    }
}
