using Chat.Node.Serialization;
using MessagePack;

namespace Chat.Node.Users;

// The two facts of presence that outlive a connection: when the user was last seen, and whether they hide it. Typing and
// being online are never stored.

/// <summary>
/// The user's first session attached, or their last one went away, at <see cref="At"/> (Unix ms): what followers see as
/// last seen once the user is offline. Stored on both changes so that after a crash of the node holding the user, the
/// last seen shown is at worst when they came online, not an older disconnect.
/// </summary>
[MessagePackObject, Manifest("u15")]
public sealed record LastSeenSet([property: Key(0)] long At) : IUserEvent;

/// <summary>The user's privacy setting: followers see 0 instead of their last seen while <see cref="HideLastSeen"/>.</summary>
[MessagePackObject, Manifest("u16")]
public sealed record PrivacySet([property: Key(0)] bool HideLastSeen) : IUserEvent;
