using Akka.Actor;
using Chat.Node.Serialization;
using Chat.Protocol;
using Chat.Node.Groups;
using MessagePack;

namespace Chat.Node.Users;

/// <summary>Every message routed to a user entity names its user.</summary>
public interface IUserCommand : IChatMessage
{
    UserId UserId { get; }
}

// ---------- inbox entries (stored in events and snapshots) ----------

/// <summary>One entry of a user's inbox, numbered by the user's inbox sequence.</summary>
[Union(0, typeof(InboxMessage))]
[Union(1, typeof(InboxReceipt))]
[Union(2, typeof(InboxGroupNotice))]
[Union(3, typeof(InboxReceiptSet))]
public abstract record InboxEntry
{
    [IgnoreMember] public abstract long Seq { get; init; }
}

[MessagePackObject]
public sealed record InboxMessage(
    [property: Key(0)] long Seq,
    [property: Key(1)] string MessageId,
    [property: Key(2)] UserId From,
    [property: Key(3)] string Text,
    [property: Key(4)] long SentAt,
    [property: Key(5)] string ClientMessageId,
    [property: Key(6)] GroupId? Group = null,
    [property: Key(7)] long GroupSeq = 0,
    [property: Key(8)] MediaRef? Media = null) : InboxEntry;

[MessagePackObject]
public sealed record InboxGroupNotice(
    [property: Key(0)] long Seq,
    [property: Key(1)] GroupId Group,
    [property: Key(2)] long GroupSeq,
    [property: Key(3)] GroupNoticeKind Kind,
    [property: Key(4)] UserId Actor,
    [property: Key(5)] IReadOnlyList<UserId> Members,
    [property: Key(6)] string Name,
    [property: Key(7)] long At,
    [property: Key(8)] MediaRef? Image = null) : InboxEntry;

/// <summary>Several receipts stored as one entry (they arrived while the previous write was in flight).</summary>
[MessagePackObject]
public sealed record InboxReceiptSet(
    [property: Key(0)] long Seq,
    [property: Key(1)] IReadOnlyList<InboxReceiptItem> Items,
    [property: Key(2)] long At) : InboxEntry;

[MessagePackObject]
public sealed record InboxReceiptItem(
    [property: Key(0)] ReceiptStatus Status,
    [property: Key(1)] UserId By,
    [property: Key(2)] IReadOnlyList<string> MessageIds);

[MessagePackObject]
public sealed record ReceiptSource([property: Key(0)] UserId By, [property: Key(1)] long BatchNo);

[MessagePackObject]
public sealed record InboxReceipt(
    [property: Key(0)] long Seq,
    [property: Key(1)] ReceiptStatus Status,
    [property: Key(2)] UserId By,
    [property: Key(3)] IReadOnlyList<string> MessageIds,
    [property: Key(4)] long At) : InboxEntry;

/// <summary>Receipts owed to one sender, numbered per (issuer, sender) so the sender stores each batch once.</summary>
[MessagePackObject]
public sealed record ReceiptBatch(
    [property: Key(0)] UserId To,
    [property: Key(1)] long BatchNo,
    [property: Key(2)] ReceiptStatus Status,
    [property: Key(3)] IReadOnlyList<string> MessageIds,
    [property: Key(4)] long At);

// ---------- events ----------

public interface IUserEvent : IChatMessage;

[MessagePackObject, Manifest("u1")]
public sealed record UserRegistered(
    [property: Key(0)] UserId Id,
    [property: Key(1)] string Name,
    [property: Key(2)] string Phone,
    [property: Key(3)] string? Email,
    [property: Key(4)] byte[] TokenHash,
    [property: Key(5)] long At) : IUserEvent;

[MessagePackObject, Manifest("u2")]
public sealed record MessageStored([property: Key(0)] InboxMessage Entry) : IUserEvent;

[MessagePackObject, Manifest("u3")]
public sealed record ReceiptStored([property: Key(0)] InboxReceipt Entry, [property: Key(1)] long BatchNo) : IUserEvent;

[MessagePackObject, Manifest("u4")]
/// <param name="Replaces">
/// Batches lists every keyed delivered receipt not yet confirmed (written when the entity stops): keyed batches not in
/// it were confirmed. Events written before this existed only add theirs.
/// </param>
public sealed record Acknowledged([property: Key(0)] long UpTo, [property: Key(1)] IReadOnlyList<ReceiptBatch> Batches,
    [property: Key(2)] bool Replaces = false) : IUserEvent;

/// <summary>Messages of a conversation (a user id or a group id) marked read up to a sequence.</summary>
[MessagePackObject, Manifest("u5")]
public sealed record ReadMarked(
    [property: Key(0)] string With,
    [property: Key(1)] long UpTo,
    [property: Key(2)] ReceiptBatch? Batch,
    [property: Key(3)] IReadOnlyList<ReceiptBatch>? Batches = null) : IUserEvent;

[MessagePackObject, Manifest("u6")]
public sealed record ReceiptsConfirmed([property: Key(0)] UserId To, [property: Key(1)] long UpToBatch) : IUserEvent;

/// <summary>An entry of a group's log stored in this inbox.</summary>
[MessagePackObject, Manifest("u7")]
public sealed record GroupEntryStored([property: Key(0)] InboxEntry Entry, [property: Key(1)] GroupId Group, [property: Key(2)] long GroupSeq) : IUserEvent;

/// <summary>Several one-to-one messages stored in one write; each is its own inbox entry.</summary>
[MessagePackObject, Manifest("u10")]
public sealed record MessagesBatchStored([property: Key(0)] IReadOnlyList<MessageStored> Messages) : IUserEvent;

/// <summary>Several group entries (from any groups) stored in one write; each is its own inbox entry.</summary>
[MessagePackObject, Manifest("u9")]
public sealed record GroupEntriesBatchStored([property: Key(0)] IReadOnlyList<GroupEntryStored> Entries) : IUserEvent;

/// <summary>Receipt batches from one or more issuers stored as one inbox entry.</summary>
[MessagePackObject, Manifest("u8")]
public sealed record ReceiptsStored([property: Key(0)] InboxEntry Entry, [property: Key(1)] IReadOnlyList<ReceiptSource> Sources) : IUserEvent;

/// <summary>
/// Retention: inbox entries up to <see cref="UpTo"/>, and receipts owed that are older than <see cref="Cutoff"/>, are
/// dropped. It is the one event the journal keeps after the older ones are deleted, and it holds no text.
/// </summary>
[MessagePackObject, Manifest("u11")]
public sealed record InboxExpired([property: Key(0)] long UpTo, [property: Key(1)] long Cutoff) : IUserEvent;

/// <summary>
/// The account is closed: its phone number was verified by <see cref="MovedTo"/>. Its token no longer logs in and it
/// receives nothing new; what its inbox holds stays until retention removes it.
/// </summary>
[MessagePackObject, Manifest("u12")]
public sealed record AccountClosed([property: Key(0)] UserId MovedTo, [property: Key(1)] long At) : IUserEvent;

/// <summary>
/// This user wrote to <see cref="Users"/> (a one-to-one message of theirs was accepted): messages from them are no
/// longer from a stranger (<see cref="UserState.DecideDeliver"/>'s quota).
/// </summary>
[MessagePackObject, Manifest("u13")]
public sealed record ContactsAdded([property: Key(0)] IReadOnlyList<UserId> Users) : IUserEvent;

/// <summary>
/// A closed account is out of these groups: each group took its leave (or had no such member). Removes them from
/// the account's group list, so that the leaves are not asked again.
/// </summary>
[MessagePackObject, Manifest("u14")]
public sealed record GroupsLeft([property: Key(0)] IReadOnlyList<GroupId> Groups) : IUserEvent;

/// <summary>
/// Entries of a snapshot that held the whole inbox, written to the journal once so that they can be read from there
/// like every other entry (the state holds them already: applying it changes nothing else).
/// </summary>
[MessagePackObject, Manifest("u17")]
public sealed record EntriesCarried([property: Key(0)] IReadOnlyList<InboxEntry> Entries) : IUserEvent;

// ---------- commands and replies ----------

/// <summary>
/// Told by a session once a one-to-one message of <see cref="UserId"/> to <see cref="To"/> is accepted: the user has
/// written to them. Not answered; a lost one is told again with the next message to them from another session.
/// </summary>
[MessagePackObject, Manifest("uc31")]
public sealed record WroteTo([property: Key(0)] UserId UserId, [property: Key(1)] UserId To) : IUserCommand;

/// <summary>Closes the account because its phone moved to another (sent by the phone directory). Answered with <see cref="AccountClosedConfirmed"/>; idempotent.</summary>
[MessagePackObject, Manifest("uc26")]
public sealed record CloseAccount([property: Key(0)] UserId UserId, [property: Key(1)] string Phone, [property: Key(2)] UserId MovedTo) : IUserCommand;

[MessagePackObject, Manifest("uc27")]
public sealed record AccountClosedConfirmed([property: Key(0)] UserId UserId) : IChatMessage;

/// <summary>Told to each session of a closed account: the phone number now belongs to another account.</summary>
[MessagePackObject, Manifest("uc28")]
public sealed record PhoneMovedAway([property: Key(0)] string Phone) : IChatMessage;

/// <summary>Retention: drop what is older than <see cref="Cutoff"/> (Unix ms). Answered with <see cref="EntriesExpired"/>.</summary>
[MessagePackObject, Manifest("uc24")]
public sealed record ExpireUserEntries([property: Key(0)] UserId UserId, [property: Key(1)] long Cutoff) : IUserCommand;

/// <summary>
/// What an entity removed; <see cref="Compacted"/> when its journal and snapshots were rewritten (false: nothing to do,
/// or a step failed). <see cref="KeepMedia"/> names media the entity still refers to outside messages (a group's
/// picture): retention keeps it.
/// </summary>
[MessagePackObject, Manifest("uc25")]
public sealed record EntriesExpired(
    [property: Key(0)] string PersistenceId,
    [property: Key(1)] int Entries,
    [property: Key(2)] bool Compacted,
    [property: Key(3)] IReadOnlyList<string>? KeepMedia = null) : IChatMessage;

/// <summary>Creates the user (sent by the phone directory once the phone is claimed). Idempotent.</summary>
[MessagePackObject, Manifest("uc1")]
public sealed record CreateUser(
    [property: Key(0)] UserId UserId,
    [property: Key(1)] string Name,
    [property: Key(2)] string Phone,
    [property: Key(3)] string? Email,
    [property: Key(4)] byte[] TokenHash) : IUserCommand;

[MessagePackObject, Manifest("uc2")]
public sealed record UserCreated([property: Key(0)] UserId UserId) : IChatMessage;

/// <summary>Checks a token and attaches the session for live pushes.</summary>
[MessagePackObject, Manifest("uc3")]
public sealed record Authenticate(
    [property: Key(0)] UserId UserId,
    [property: Key(1)] byte[] TokenHash,
    [property: Key(2)] string Device,
    [property: Key(3)] IActorRef Session,
    [property: Key(4)] uint RequestId) : IUserCommand;

[MessagePackObject, Manifest("uc4")]
public sealed record Authenticated(
    [property: Key(0)] uint RequestId,
    [property: Key(1)] UserId UserId,
    [property: Key(2)] string Name,
    [property: Key(3)] string Phone,
    [property: Key(4)] long LastSeq) : IChatMessage;

/// <summary>A request to a user entity failed.</summary>
[MessagePackObject, Manifest("uc5")]
public sealed record Rejected(
    [property: Key(0)] uint RequestId,
    [property: Key(1)] ErrorCode Code,
    [property: Key(2)] string Message) : IChatMessage;

/// <summary>Keeps a session attached (sent periodically; re-attaches after the entity restarted or moved).</summary>
[MessagePackObject, Manifest("uc6")]
public sealed record KeepAttached(
    [property: Key(0)] UserId UserId,
    [property: Key(1)] string Device,
    [property: Key(2)] IActorRef Session) : IUserCommand;

[MessagePackObject, Manifest("uc7")]
public sealed record AttachState([property: Key(0)] long LastSeq) : IChatMessage;

[MessagePackObject, Manifest("uc8")]
public sealed record Detach([property: Key(0)] UserId UserId, [property: Key(1)] IActorRef Session) : IUserCommand;

/// <summary>The session was replaced by a newer login on the same device.</summary>
[MessagePackObject, Manifest("uc9")]
public sealed record SessionReplaced([property: Key(0)] string Device) : IChatMessage;

/// <summary>A one-to-one text for <see cref="UserId"/> (the recipient). Answered with <see cref="TextAccepted"/> once durable.</summary>
[MessagePackObject, Manifest("uc10")]
public sealed record DeliverText(
    [property: Key(0)] UserId UserId,
    [property: Key(1)] UserId From,
    [property: Key(2)] string ClientMessageId,
    [property: Key(3)] string Text,
    [property: Key(4)] uint RequestId,
    [property: Key(5)] MediaRef? Media = null) : IUserCommand;

[MessagePackObject, Manifest("uc11")]
public sealed record TextAccepted(
    [property: Key(0)] uint RequestId,
    [property: Key(1)] string ClientMessageId,
    [property: Key(2)] string MessageId,
    [property: Key(3)] long ServerTime) : IChatMessage;

/// <summary>Durable inbox entries after <see cref="After"/>, at most <see cref="Max"/>.</summary>
[MessagePackObject, Manifest("uc12")]
public sealed record FetchEntries([property: Key(0)] UserId UserId, [property: Key(1)] long After, [property: Key(2)] int Max) : IUserCommand;

[MessagePackObject, Manifest("uc13")]
public sealed record Entries(
    [property: Key(0)] IReadOnlyList<InboxEntry> Items,
    [property: Key(1)] long LastSeq,
    [property: Key(2)] long After) : IChatMessage;

/// <summary>A new durable inbox entry, pushed to every attached session.</summary>
[MessagePackObject, Manifest("uc14")]
public sealed record Pushed([property: Key(0)] InboxEntry Entry) : IChatMessage;

[MessagePackObject, Manifest("uc15")]
public sealed record Acknowledge([property: Key(0)] UserId UserId, [property: Key(1)] long UpTo) : IUserCommand;

[MessagePackObject, Manifest("uc16")]
public sealed record MarkRead(
    [property: Key(0)] UserId UserId,
    [property: Key(1)] string With,
    [property: Key(2)] long UpTo,
    [property: Key(3)] uint RequestId) : IUserCommand;

[MessagePackObject, Manifest("uc17")]
public sealed record Done([property: Key(0)] uint RequestId) : IChatMessage;

/// <summary>Receipts from <see cref="By"/> for messages <see cref="UserId"/> sent. Answered with <see cref="ReceiptsStoredAck"/>.</summary>
[MessagePackObject, Manifest("uc18")]
public sealed record StoreReceipts(
    [property: Key(0)] UserId UserId,
    [property: Key(1)] UserId By,
    [property: Key(2)] ReceiptBatch Batch) : IUserCommand;

/// <summary>Routed back to the issuer: the batch is durable at the sender.</summary>
[MessagePackObject, Manifest("uc19")]
public sealed record ReceiptsStoredAck([property: Key(0)] UserId UserId, [property: Key(1)] UserId Sender, [property: Key(2)] long BatchNo) : IUserCommand;

[MessagePackObject, Manifest("uc20")]
public sealed record ListMyGroups([property: Key(0)] UserId UserId, [property: Key(1)] uint RequestId) : IUserCommand;

[MessagePackObject, Manifest("uc21")]
public sealed record MyGroups([property: Key(0)] uint RequestId, [property: Key(1)] IReadOnlyList<GroupSummary> Groups) : IChatMessage;

/// <summary>
/// Whether the user exists, and, when <see cref="Adder"/> is set, whether it may add this user to a group
/// (<see cref="Group"/>, or a new one when null): see <see cref="UserState.AdmitsAddBy"/>.
/// </summary>
[MessagePackObject, Manifest("uc22")]
public sealed record UserExists(
    [property: Key(0)] UserId UserId,
    [property: Key(1)] UserId? Adder = null,
    [property: Key(2)] GroupId? Group = null) : IUserCommand;

/// <summary><see cref="Admits"/>: false when the adder is a stranger to this user and the user's stranger quota is full.</summary>
[MessagePackObject, Manifest("uc23")]
public sealed record UserExistsReply(
    [property: Key(0)] UserId UserId,
    [property: Key(1)] bool Exists,
    [property: Key(2)] int Groups = 0,
    [property: Key(3)] bool Admits = true) : IChatMessage;

/// <summary>
/// For <c>chat admin user</c>: what an operator may see of a user (profile, devices online, inbox position), never
/// message text. Answered with <see cref="UserDescription"/>.
/// </summary>
[MessagePackObject, Manifest("ua1")]
public sealed record DescribeUser([property: Key(0)] UserId UserId) : IUserCommand;

/// <param name="Exists">False: no user has this id (the other fields are empty).</param>
/// <param name="Devices">Devices with a session attached now, anywhere in the cluster.</param>
/// <param name="InboxLength">Entries kept in the inbox (retention removes older ones).</param>
/// <param name="LastSeq">The newest inbox entry's sequence number.</param>
/// <param name="AckedSeq">The highest sequence number any of the user's devices acknowledged.</param>
/// <param name="Closed">The account was closed (its phone was verified on another account).</param>
[MessagePackObject, Manifest("ua2")]
public sealed record UserDescription(
    [property: Key(0)] UserId UserId,
    [property: Key(1)] bool Exists,
    [property: Key(2)] string Name,
    [property: Key(3)] string Phone,
    [property: Key(4)] IReadOnlyList<string> Devices,
    [property: Key(5)] int InboxLength,
    [property: Key(6)] long LastSeq,
    [property: Key(7)] long AckedSeq,
    [property: Key(8)] int Groups,
    [property: Key(9)] bool Closed) : IChatMessage;

/// <summary>May this user see the stored media? Yes when a message or notice in their inbox names it.</summary>
[MessagePackObject, Manifest("uc29")]
public sealed record MaySeeMedia([property: Key(0)] UserId UserId, [property: Key(1)] string MediaId) : IUserCommand;

[MessagePackObject, Manifest("uc30")]
public sealed record MediaAccess([property: Key(0)] string MediaId, [property: Key(1)] bool Allowed) : IChatMessage;

/// <summary>
/// A user's state. <see cref="TailOnly"/> (written since inboxes are paged from the journal): <see cref="Inbox"/> holds
/// only the newest entries, the older ones from <see cref="FirstSeq"/> are in the journal where <see cref="Index"/>
/// (sequence, journal sequence number, time; three numbers a point) says. Otherwise <see cref="Inbox"/> is the whole inbox.
/// <see cref="Strangers"/>: the one-to-one messages from strangers waiting unacknowledged (what the stranger quota
/// counts), four numbers each: sequence, index of the sender in <see cref="StrangerSenders"/>, bytes, index of the group
/// in <see cref="StrangerGroups"/> (-1: one-to-one). <see cref="JoinedGroups"/>, <see cref="JoinedAdders"/>,
/// <see cref="JoinedSeqs"/>: the groups a stranger added the user to (the adder, the notice's sequence).
/// </summary>
/// <summary>For tests and operators: how much of the inbox the entity holds in memory. Answered with <see cref="InboxProbeReply"/>.</summary>
[MessagePackObject, Manifest("ua3")]
public sealed record InboxProbe([property: Key(0)] UserId UserId) : IUserCommand;

/// <param name="Held">Entries held in memory (tail, page read, entries still to carry).</param>
/// <param name="Kept">Entries kept (in memory or in the journal only).</param>
/// <param name="DedupKeys">Client message ids recognised for a resend.</param>
/// <param name="IndexPoints">Points of the index into the journal.</param>
/// <param name="HeldBytes">Bytes of the chunks holding the tail's entries (used or not).</param>
/// <param name="Decoded">Entries of the tail also held as objects.</param>
[MessagePackObject, Manifest("ua4")]
public sealed record InboxProbeReply([property: Key(0)] int Held, [property: Key(1)] long Kept, [property: Key(2)] int DedupKeys,
    [property: Key(3)] int IndexPoints, [property: Key(4)] long HeldBytes = 0, [property: Key(5)] int Decoded = 0) : IChatMessage;

[MessagePackObject, Manifest("us1")]
public sealed record UserSnapshot(
    [property: Key(0)] UserRegistered? Profile,
    [property: Key(1)] IReadOnlyList<InboxEntry> Inbox,
    [property: Key(2)] long LastSeq,
    [property: Key(3)] long AckedSeq,
    [property: Key(4)] IReadOnlyDictionary<string, long> ReadUpTo,
    [property: Key(5)] IReadOnlyList<ReceiptBatch> Outbox,
    [property: Key(6)] IReadOnlyDictionary<string, long> LastBatchTo,
    [property: Key(7)] IReadOnlyDictionary<string, long> LastBatchFrom,
    [property: Key(8)] IReadOnlyDictionary<string, long>? GroupCursors = null,
    [property: Key(9)] IReadOnlyDictionary<string, string>? Groups = null,
    [property: Key(10)] long ClosedAt = 0,
    [property: Key(11)] IReadOnlyList<string>? Contacts = null,
    [property: Key(12)] long LastSeen = 0,
    [property: Key(13)] bool HideLastSeen = false,
    [property: Key(14)] bool TailOnly = false,
    [property: Key(15)] long FirstSeq = 0,
    [property: Key(16)] IReadOnlyList<long>? Index = null,
    [property: Key(17)] IReadOnlyList<long>? DedupKeys = null,
    [property: Key(18)] IReadOnlyList<long>? DedupSeqs = null,
    [property: Key(19)] IReadOnlyList<long>? Strangers = null,
    [property: Key(20)] IReadOnlyList<string>? Media = null,
    [property: Key(21)] IReadOnlyList<string>? StrangerSenders = null,
    [property: Key(22)] IReadOnlyList<string>? StrangerGroups = null,
    [property: Key(23)] IReadOnlyList<string>? JoinedGroups = null,
    [property: Key(24)] IReadOnlyList<string>? JoinedAdders = null,
    [property: Key(25)] IReadOnlyList<long>? JoinedSeqs = null,
    [property: Key(26)] IReadOnlyList<long>? MediaTimes = null,
    [property: Key(27)] IReadOnlyList<long>? ReceiptKeys = null) : IChatMessage;
