using MessagePack;

namespace Chat.Protocol;

// Typing and presence (opcodes 80-95): ephemeral signals, never stored and never queued for a user who is offline.
// A connection receives Presence and UserTyping only after it asked for them with Subscribe, so a client written before
// these frames existed never sees an opcode it does not know.

/// <summary>
/// Asks for ephemeral signals on this connection. <see cref="Typing"/>: <see cref="UserTyping"/> frames for every
/// conversation of this user (one-to-one and groups). <see cref="Presence"/>: the users whose online state and last
/// seen to follow (at most <see cref="MaxWatched"/>); each Subscribe replaces the previous list, an empty list follows
/// nobody. Answered by <see cref="Ok"/>; then a <see cref="Protocol.Presence"/> frame for each listed user the asker
/// may follow (someone they share a one-to-one conversation with: either sent the other a message that is still kept),
/// and another on each change. Users the asker may not follow are left out without a word, as in <see cref="WhoIs"/>.
/// The subscription lasts as long as the connection: after a reconnect, subscribe again.
/// </summary>
[MessagePackObject]
public sealed record Subscribe(
    [property: Key(0)] uint RequestId,
    [property: Key(1)] bool Typing,
    [property: Key(2)] IReadOnlyList<string> Presence) : Frame, IRequest
{
    /// <summary>The most users one connection may follow.</summary>
    public const int MaxWatched = 100;
}

/// <summary>
/// Whether <see cref="UserId"/> is connected now (from any device). When <see cref="Online"/> is false,
/// <see cref="LastSeen"/> is when they were last connected (Unix milliseconds), or 0 when unknown or when they hide it
/// (<see cref="SetPrivacy"/>); while online it is 0. Sent after <see cref="Subscribe"/> and on changes, at most one per
/// user per coalescing interval of the server (a quick disconnect and reconnect may not show at all).
/// </summary>
[MessagePackObject]
public sealed record Presence(
    [property: Key(0)] string UserId,
    [property: Key(1)] bool Online,
    [property: Key(2)] long LastSeen) : Frame;

/// <summary>
/// Says that this user is typing to <see cref="To"/>: a user id (a one-to-one conversation) or a group id (the user must
/// be a member). Answered by <see cref="Ok"/> once relayed; to a user who has no one-to-one conversation with the sender,
/// Ok as well, but nothing is relayed. At most one per conversation per the server's typing interval; a faster one gets
/// <see cref="ErrorCode.RateLimited"/> with <see cref="Error.RetryAfterMs"/>, and is not relayed. Send it again while the
/// user keeps typing: the other side shows "typing…" for <see cref="UserTyping.ForMs"/>.
/// </summary>
[MessagePackObject]
public sealed record Typing([property: Key(0)] uint RequestId, [property: Key(1)] string To) : Frame, IRequest;

/// <summary>
/// <see cref="From"/> is typing in a conversation with this user: one-to-one when <see cref="Group"/> is null, else in
/// that group. Show it for <see cref="ForMs"/> milliseconds, or until a message from them arrives. Sent only to
/// connections that subscribed (<see cref="Subscribe.Typing"/>); never stored.
/// </summary>
[MessagePackObject]
public sealed record UserTyping(
    [property: Key(0)] string From,
    [property: Key(1)] string? Group,
    [property: Key(2)] int ForMs) : Frame;

/// <summary>
/// This user's privacy settings, kept by the server. <see cref="HideLastSeen"/>: the people who follow this user's
/// presence see whether they are online, but <see cref="Presence.LastSeen"/> 0 instead of when they were last connected.
/// Answered by <see cref="Ok"/> once stored.
/// </summary>
[MessagePackObject]
public sealed record SetPrivacy([property: Key(0)] uint RequestId, [property: Key(1)] bool HideLastSeen) : Frame, IRequest;
