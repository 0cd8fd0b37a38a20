using Akka.Actor;
using Chat.Node.Groups;
using Chat.Node.Serialization;
using Chat.Node.Users;
using MessagePack;

namespace Chat.Node.Presence;

// Typing and presence travel the sharded routes of messages: a session tells the recipient's user entity (or the group,
// which tells each member's user entity), and the entity tells the sessions it knows, wherever they are. Nothing here is
// persisted, and nothing is kept for a user with no session: a signal nobody is connected to hear is dropped.

/// <summary>
/// <see cref="From"/> is typing to <see cref="UserId"/> (the recipient). Answered with <see cref="Done"/> (relayed, or
/// dropped because the two share no conversation), <see cref="TypingTooSoon"/> or <see cref="Rejected"/> (no such user).
/// </summary>
[MessagePackObject, Manifest("pr1")]
public sealed record RelayTyping([property: Key(0)] UserId UserId, [property: Key(1)] UserId From, [property: Key(2)] uint RequestId) : IPresenceCommand;

/// <summary>Told by a user entity to each of its sessions: <see cref="From"/> is typing (in <see cref="Group"/> when not null).</summary>
[MessagePackObject, Manifest("pr2")]
public sealed record TypingSeen([property: Key(0)] UserId From, [property: Key(1)] GroupId? Group, [property: Key(2)] int ForMs) : IChatMessage;

/// <summary><see cref="From"/> is typing in a group. Answered with <see cref="Done"/>, <see cref="TypingTooSoon"/>, or <see cref="Rejected"/> (not a member, no such group).</summary>
[MessagePackObject, Manifest("pr3")]
public sealed record RelayGroupTyping([property: Key(0)] GroupId GroupId, [property: Key(1)] UserId From, [property: Key(2)] uint RequestId) : IGroupCommand;

/// <summary>Told by a group to a member's user entity: these members are typing in it. Not answered.</summary>
[MessagePackObject, Manifest("pr4")]
public sealed record GroupTyping(
    [property: Key(0)] UserId UserId,
    [property: Key(1)] GroupId Group,
    [property: Key(2)] IReadOnlyList<UserId> Typists,
    [property: Key(3)] int ForMs) : IPresenceCommand;

/// <summary>
/// A session of <see cref="Watcher"/> follows <see cref="UserId"/>'s presence. Told again every keep-attached interval: a
/// follower not renewed for a few intervals is forgotten (its session is gone, or the entity restarted and it re-asks).
/// A first follow is answered with <see cref="PresenceNow"/>, when the watcher may follow this user.
/// </summary>
[MessagePackObject, Manifest("pr5")]
public sealed record WatchPresence([property: Key(0)] UserId UserId, [property: Key(1)] UserId Watcher, [property: Key(2)] IActorRef Session) : IPresenceCommand;

/// <summary>The session no longer follows <see cref="UserId"/>. Not answered.</summary>
[MessagePackObject, Manifest("pr6")]
public sealed record UnwatchPresence([property: Key(0)] UserId UserId, [property: Key(1)] IActorRef Session) : IPresenceCommand;

/// <summary>Told to followers: <see cref="UserId"/>'s presence now (LastSeen 0 while online, unknown or hidden).</summary>
[MessagePackObject, Manifest("pr7")]
public sealed record PresenceNow([property: Key(0)] UserId UserId, [property: Key(1)] bool Online, [property: Key(2)] long LastSeen) : IChatMessage;

/// <summary>Sets whether the user hides their last seen. Answered with <see cref="Done"/> once stored.</summary>
[MessagePackObject, Manifest("pr8")]
public sealed record SetLastSeenHidden([property: Key(0)] UserId UserId, [property: Key(1)] bool Hidden, [property: Key(2)] uint RequestId) : IPresenceCommand;

/// <summary>
/// The answer to a <see cref="RelayTyping"/> or <see cref="RelayGroupTyping"/> from a user whose last typing to that
/// conversation was relayed less than <c>chat.presence.typing-interval</c> ago, from any of their connections on any
/// node: not relayed. The entity that relays (the recipient's user entity, or the group) is one in the cluster, so the
/// bound holds however many nodes the typist is connected to.
/// </summary>
[MessagePackObject, Manifest("pr9")]
public sealed record TypingTooSoon([property: Key(0)] uint RequestId, [property: Key(1)] long RetryAfterMs) : IChatMessage;

/// <summary>The presence and typing commands a user entity handles (in UserEntity.Presence).</summary>
public interface IPresenceCommand : IUserCommand;
