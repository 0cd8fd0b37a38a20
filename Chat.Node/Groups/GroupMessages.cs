using Chat.Node.Serialization;
using Chat.Node.Users;
using Chat.Protocol;
using MessagePack;

namespace Chat.Node.Groups;

/// <summary>Every message routed to a group entity names its group.</summary>
public interface IGroupCommand : IChatMessage
{
    GroupId GroupId { get; }
}

// ---------- the group's log ----------

/// <summary>One entry of a group's log, numbered by the group sequence; every member receives it in order.</summary>
[Union(0, typeof(GroupPost))]
[Union(1, typeof(GroupChange))]
public abstract record GroupEntry
{
    [IgnoreMember] public abstract long GroupSeq { get; init; }
}

[MessagePackObject]
public sealed record GroupPost(
    [property: Key(0)] long GroupSeq,
    [property: Key(1)] string MessageId,
    [property: Key(2)] UserId From,
    [property: Key(3)] string Text,
    [property: Key(4)] long SentAt,
    [property: Key(5)] string ClientMessageId,
    [property: Key(6)] MediaRef? Media = null) : GroupEntry;

[MessagePackObject]
public sealed record GroupChange(
    [property: Key(0)] long GroupSeq,
    [property: Key(1)] GroupNoticeKind Kind,
    [property: Key(2)] UserId Actor,
    [property: Key(3)] IReadOnlyList<UserId> Members,
    [property: Key(4)] string Name,
    [property: Key(5)] long At,
    [property: Key(6)] MediaRef? Image = null) : GroupEntry;

// ---------- events ----------

public interface IGroupEvent : IChatMessage;

[MessagePackObject, Manifest("g1")]
public sealed record GroupEntryAppended([property: Key(0)] GroupEntry Entry) : IGroupEvent;

/// <summary>Every entry up to <see cref="UpTo"/> is stored in the inbox of each of its recipients.</summary>
[MessagePackObject, Manifest("g2")]
public sealed record FanoutCompleted([property: Key(0)] long UpTo) : IGroupEvent;

/// <summary>
/// Entries up to <see cref="UpTo"/> are older than the retention period and are dropped. Written before the
/// snapshot that lets the older events be deleted: it is the one event the journal keeps, and it holds no text.
/// </summary>
[MessagePackObject, Manifest("g3")]
public sealed record GroupLogExpired([property: Key(0)] long UpTo, [property: Key(1)] long Cutoff) : IGroupEvent;

/// <summary>The group's state (<see cref="Base"/>) and the log entries still kept. Snapshots without a base hold the whole log.</summary>
[MessagePackObject, Manifest("gs1")]
public sealed record GroupSnapshot(
    [property: Key(0)] IReadOnlyList<GroupEntry> Log,
    [property: Key(1)] long FanoutUpTo,
    [property: Key(2)] GroupBase? Base = null) : IChatMessage;

/// <summary>Members (with the sequence they joined at), admins, and former members' spans of the sequence.</summary>
[MessagePackObject]
public sealed record GroupBase(
    [property: Key(0)] string Name,
    [property: Key(1)] UserId Creator,
    [property: Key(2)] long LastSeq,
    [property: Key(3)] IReadOnlyDictionary<string, long> MemberSince,
    [property: Key(4)] IReadOnlyList<string> Admins,
    [property: Key(5)] IReadOnlyDictionary<string, IReadOnlyList<long[]>> Past,
    [property: Key(6)] MediaRef? Image = null);

// ---------- commands and replies ----------

[MessagePackObject, Manifest("gc1")]
public sealed record CreateGroupCommand(
    [property: Key(0)] GroupId GroupId,
    [property: Key(1)] UserId Creator,
    [property: Key(2)] string Name,
    [property: Key(3)] IReadOnlyList<UserId> Members,
    [property: Key(4)] uint RequestId) : IGroupCommand;

[MessagePackObject, Manifest("gc2")]
public sealed record GroupCreatedReply([property: Key(0)] uint RequestId, [property: Key(1)] GroupId GroupId) : IChatMessage;

/// <summary>Add, remove, leave, rename, promote or demote.</summary>
[MessagePackObject, Manifest("gc3")]
public sealed record ChangeGroup(
    [property: Key(0)] GroupId GroupId,
    [property: Key(1)] UserId Actor,
    [property: Key(2)] GroupNoticeKind Kind,
    [property: Key(3)] IReadOnlyList<UserId> Members,
    [property: Key(4)] string? Name,
    [property: Key(5)] uint RequestId,
    [property: Key(6)] MediaRef? Image = null) : IGroupCommand;

[MessagePackObject, Manifest("gc4")]
public sealed record PostToGroup(
    [property: Key(0)] GroupId GroupId,
    [property: Key(1)] UserId From,
    [property: Key(2)] string ClientMessageId,
    [property: Key(3)] string Text,
    [property: Key(4)] uint RequestId,
    [property: Key(5)] MediaRef? Media = null) : IGroupCommand;

/// <summary>Retention: drop log entries older than <see cref="Cutoff"/> (Unix ms). Answered with <see cref="EntriesExpired"/>.</summary>
[MessagePackObject, Manifest("gc9")]
public sealed record ExpireGroupEntries([property: Key(0)] GroupId GroupId, [property: Key(1)] long Cutoff) : IGroupCommand;

[MessagePackObject, Manifest("gc5")]
public sealed record GetGroup([property: Key(0)] GroupId GroupId, [property: Key(1)] UserId Asker, [property: Key(2)] uint RequestId) : IGroupCommand;

[MessagePackObject, Manifest("gc6")]
public sealed record GroupDetails(
    [property: Key(0)] uint RequestId,
    [property: Key(1)] GroupId GroupId,
    [property: Key(2)] string Name,
    [property: Key(3)] IReadOnlyList<UserId> Members,
    [property: Key(4)] IReadOnlyList<UserId> Admins,
    [property: Key(5)] long LastSeq,
    [property: Key(6)] MediaRef? Image = null) : IChatMessage;

/// <summary>Group → member's user entity: store this entry in the inbox (once, in group order).</summary>
[MessagePackObject, Manifest("gc7")]
public sealed record DeliverGroupEntry(
    [property: Key(0)] UserId UserId,
    [property: Key(1)] GroupId GroupId,
    [property: Key(2)] GroupEntry Entry) : IUserCommand;

/// <summary>
/// Member's user entity → group: every entry for this member up to <see cref="UpTo"/> is stored. <see cref="Held"/>: the
/// next one was refused because the member's stranger quota is full; it waits in the group until there is room.
/// </summary>
[MessagePackObject, Manifest("gc8")]
public sealed record GroupEntriesStored(
    [property: Key(0)] GroupId GroupId,
    [property: Key(1)] UserId Member,
    [property: Key(2)] long UpTo,
    [property: Key(3)] bool Held = false) : IGroupCommand;
