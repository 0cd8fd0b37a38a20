using System.Collections.Frozen;
using System.Reflection;
using MessagePack;

namespace Chat.Protocol;

/// <summary>
/// One protocol frame. On the wire a frame is a 4-byte big-endian payload length followed by
/// a MessagePack array <c>[opcode, [field0, field1, ...]]</c>. Opcodes are stable and never reused;
/// fields are positional (integer keys), new fields are only ever appended, and readers ignore
/// fields they do not know. See <c>docs/protocol.md</c>.
/// </summary>
/// <remarks>
/// Opcode ranges: 1-31 core (session, users, one-to-one messages), 32-63 groups, 64-79 media,
/// 80-95 presence and typing. Unassigned opcodes in a range are reserved.
/// </remarks>
[Union(Opcodes.Hello, typeof(Hello))]
[Union(Opcodes.Welcome, typeof(Welcome))]
[Union(Opcodes.Register, typeof(Register))]
[Union(Opcodes.Registered, typeof(Registered))]
[Union(Opcodes.Login, typeof(Login))]
[Union(Opcodes.LoggedIn, typeof(LoggedIn))]
[Union(Opcodes.Lookup, typeof(Lookup))]
[Union(Opcodes.LookupResult, typeof(LookupResult))]
[Union(Opcodes.Send, typeof(Send))]
[Union(Opcodes.Accepted, typeof(Accepted))]
[Union(Opcodes.Message, typeof(Message))]
[Union(Opcodes.Receipt, typeof(Receipt))]
[Union(Opcodes.Ack, typeof(Ack))]
[Union(Opcodes.Read, typeof(Read))]
[Union(Opcodes.Sync, typeof(Sync))]
[Union(Opcodes.SyncComplete, typeof(SyncComplete))]
[Union(Opcodes.Ping, typeof(Ping))]
[Union(Opcodes.Pong, typeof(Pong))]
[Union(Opcodes.Error, typeof(Error))]
[Union(Opcodes.Ok, typeof(Ok))]
[Union(Opcodes.ReceiptSet, typeof(ReceiptSet))]
[Union(Opcodes.CodeSent, typeof(CodeSent))]
[Union(Opcodes.Verify, typeof(Verify))]
[Union(Opcodes.CreateGroup, typeof(CreateGroup))]
[Union(Opcodes.GroupCreated, typeof(GroupCreated))]
[Union(Opcodes.AddMembers, typeof(AddMembers))]
[Union(Opcodes.RemoveMembers, typeof(RemoveMembers))]
[Union(Opcodes.LeaveGroup, typeof(LeaveGroup))]
[Union(Opcodes.RenameGroup, typeof(RenameGroup))]
[Union(Opcodes.SetAdmin, typeof(SetAdmin))]
[Union(Opcodes.GetGroupInfo, typeof(GetGroupInfo))]
[Union(Opcodes.GroupInfo, typeof(GroupInfo))]
[Union(Opcodes.ListGroups, typeof(ListGroups))]
[Union(Opcodes.GroupList, typeof(GroupList))]
[Union(Opcodes.SendGroup, typeof(SendGroup))]
[Union(Opcodes.GroupNotice, typeof(GroupNotice))]
[Union(Opcodes.SetGroupImage, typeof(SetGroupImage))]
[Union(Opcodes.StartUpload, typeof(StartUpload))]
[Union(Opcodes.UploadStatus, typeof(UploadStatus))]
[Union(Opcodes.ResumeUpload, typeof(ResumeUpload))]
[Union(Opcodes.UploadChunk, typeof(UploadChunk))]
[Union(Opcodes.UploadComplete, typeof(UploadComplete))]
[Union(Opcodes.Download, typeof(Download))]
[Union(Opcodes.MediaChunk, typeof(MediaChunk))]
[Union(Opcodes.WhoIs, typeof(WhoIs))]
[Union(Opcodes.Profiles, typeof(Profiles))]
[Union(Opcodes.Subscribe, typeof(Subscribe))]
[Union(Opcodes.Presence, typeof(Presence))]
[Union(Opcodes.Typing, typeof(Typing))]
[Union(Opcodes.UserTyping, typeof(UserTyping))]
[Union(Opcodes.SetPrivacy, typeof(SetPrivacy))]
public abstract record Frame
{
    /// <summary>The stable opcode of this frame type (from the union above).</summary>
    [IgnoreMember]
    public int Opcode => Opcodes.Of(GetType());
}

/// <summary>A frame that the server answers; <see cref="RequestId"/> is echoed in the answer or in an <see cref="Error"/>.</summary>
public interface IRequest
{
    /// <summary>Chosen by the client; echoed in the answer. 0 is allowed but cannot be told apart from connection-level errors.</summary>
    uint RequestId { get; }
}

/// <summary>Stable opcodes of every frame type.</summary>
public static class Opcodes
{
#pragma warning disable CS1591 // names match the frame types, which are documented
    public const int Hello = 1;
    public const int Welcome = 2;
    public const int Register = 3;
    public const int Registered = 4;
    public const int Login = 5;
    public const int LoggedIn = 6;
    public const int Lookup = 7;
    public const int LookupResult = 8;
    public const int Send = 9;
    public const int Accepted = 10;
    public const int Message = 11;
    public const int Receipt = 12;
    public const int Ack = 13;
    public const int Read = 14;
    public const int Sync = 15;
    public const int SyncComplete = 16;
    public const int Ping = 17;
    public const int Pong = 18;
    public const int Error = 19;
    public const int Ok = 20;
    public const int ReceiptSet = 21;
    public const int CodeSent = 22;
    public const int Verify = 23;
    public const int WhoIs = 24;
    public const int Profiles = 25;
    public const int CreateGroup = 32;
    public const int GroupCreated = 33;
    public const int AddMembers = 34;
    public const int RemoveMembers = 35;
    public const int LeaveGroup = 36;
    public const int RenameGroup = 37;
    public const int SetAdmin = 38;
    public const int GetGroupInfo = 39;
    public const int GroupInfo = 40;
    public const int ListGroups = 41;
    public const int GroupList = 42;
    public const int SendGroup = 43;
    public const int GroupNotice = 44;
    public const int SetGroupImage = 45;
    public const int StartUpload = 64;
    public const int UploadStatus = 65;
    public const int ResumeUpload = 66;
    public const int UploadChunk = 67;
    public const int UploadComplete = 68;
    public const int Download = 69;
    public const int MediaChunk = 70;
    public const int Subscribe = 80;
    public const int Presence = 81;
    public const int Typing = 82;
    public const int UserTyping = 83;
    public const int SetPrivacy = 84;
#pragma warning restore CS1591

    // The [Union] attributes on Frame are the one table of which type has which opcode; what follows is read from them.
    private static readonly FrozenDictionary<Type, int> ByType = typeof(Frame)
        .GetCustomAttributes<UnionAttribute>(inherit: false)
        .ToFrozenDictionary(u => u.SubType, u => u.Key);
    private static readonly bool[] Known = KnownTable();

    private static bool[] KnownTable()
    {
        var known = new bool[ByType.Values.Max() + 1];
        foreach (var opcode in ByType.Values) known[opcode] = true;
        return known;
    }

    /// <summary>Every frame type of this version of the protocol.</summary>
    public static IEnumerable<Type> FrameTypes => ByType.Keys;

    /// <summary>True when <paramref name="opcode"/> names a frame this version of the protocol knows.</summary>
    public static bool IsKnown(int opcode) => (uint)opcode < (uint)Known.Length && Known[opcode];

    /// <summary>The opcode of a frame type.</summary>
    /// <exception cref="ArgumentException">The type is not a frame of the protocol.</exception>
    public static int Of(Type frameType) =>
        ByType.TryGetValue(frameType, out var opcode) ? opcode : throw new ArgumentException($"{frameType} is not a frame type", nameof(frameType));
}

/// <summary>First frame from the client: the protocol version it speaks and a free-form client name.</summary>
[MessagePackObject]
public sealed record Hello([property: Key(0)] int Version, [property: Key(1)] string Client) : Frame;

/// <summary>The server's answer to <see cref="Hello"/>: its version, name and the limits it enforces.</summary>
[MessagePackObject]
public sealed record Welcome(
    [property: Key(0)] int Version,
    [property: Key(1)] string Server,
    [property: Key(2)] int MaxFrameBytes,
    [property: Key(3)] int MaxTextBytes,
    [property: Key(4)] int MaxInFlight,
    [property: Key(5)] int SyncBatch) : Frame;

/// <summary>
/// Asks for a phone number (E.164) to become an account. Allowed before login. A node that verifies numbers (the
/// default) sends a code to the phone and answers <see cref="CodeSent"/>; the account exists once <see cref="Verify"/>
/// brings the code back. A node with verification off creates the account at once and answers <see cref="Registered"/>.
/// </summary>
[MessagePackObject]
public sealed record Register(
    [property: Key(0)] uint RequestId,
    [property: Key(1)] string Name,
    [property: Key(2)] string Phone,
    [property: Key(3)] string? Email) : Frame, IRequest;

/// <summary>
/// A new user's id and access token, the answer to <see cref="Verify"/> (or to <see cref="Register"/> on a node with
/// verification off). The token is shown once: the server keeps only its hash.
/// </summary>
[MessagePackObject]
public sealed record Registered(
    [property: Key(0)] uint RequestId,
    [property: Key(1)] string UserId,
    [property: Key(2)] string Token) : Frame;

/// <summary>
/// The answer to <see cref="Register"/> on a node that verifies numbers: a code was sent to <see cref="Phone"/> and is
/// valid for <see cref="ExpiresIn"/> seconds. <see cref="Code"/> is null, except on a node in the test mode
/// <c>auto</c>, which hands the code back here instead of sending it.
/// </summary>
[MessagePackObject]
public sealed record CodeSent(
    [property: Key(0)] uint RequestId,
    [property: Key(1)] string Phone,
    [property: Key(2)] int ExpiresIn,
    [property: Key(3)] string? Code = null) : Frame;

/// <summary>
/// Proves the phone is the sender's: the code the node sent after <see cref="Register"/>, with the new account's
/// name and e-mail. Allowed before login. Answered by <see cref="Registered"/>. The number then belongs to the new
/// account; if another account had it, that account is closed (its sessions get <see cref="ErrorCode.PhoneMoved"/>).
/// </summary>
[MessagePackObject]
public sealed record Verify(
    [property: Key(0)] uint RequestId,
    [property: Key(1)] string Phone,
    [property: Key(2)] string Code,
    [property: Key(3)] string Name,
    [property: Key(4)] string? Email) : Frame, IRequest;

/// <summary>Authenticates the connection as the token's user, for the named device.</summary>
[MessagePackObject]
public sealed record Login(
    [property: Key(0)] uint RequestId,
    [property: Key(1)] string Token,
    [property: Key(2)] string Device) : Frame, IRequest;

/// <summary>The connection now acts as <see cref="UserId"/>. <see cref="LastSeq"/> is the newest inbox sequence.</summary>
[MessagePackObject]
public sealed record LoggedIn(
    [property: Key(0)] uint RequestId,
    [property: Key(1)] string UserId,
    [property: Key(2)] string Name,
    [property: Key(3)] string Phone,
    [property: Key(4)] long LastSeq) : Frame;

/// <summary>Finds the user who registered a phone number (E.164).</summary>
[MessagePackObject]
public sealed record Lookup([property: Key(0)] uint RequestId, [property: Key(1)] string Phone) : Frame, IRequest;

/// <summary>The answer to <see cref="Lookup"/>.</summary>
[MessagePackObject]
public sealed record LookupResult(
    [property: Key(0)] uint RequestId,
    [property: Key(1)] string Phone,
    [property: Key(2)] string UserId,
    [property: Key(3)] string Name) : Frame;

/// <summary>
/// Sends a text, or an image or video (<see cref="Media"/>, with <see cref="Text"/> as its optional caption), to a user.
/// <see cref="ClientMessageId"/> is unique per sender: sending it again gets the same <see cref="Accepted"/> and is
/// never delivered twice.
/// </summary>
[MessagePackObject]
public sealed record Send(
    [property: Key(0)] uint RequestId,
    [property: Key(1)] string ClientMessageId,
    [property: Key(2)] string To,
    [property: Key(3)] string Text,
    [property: Key(4)] MediaRef? Media = null) : Frame, IRequest;

/// <summary>The message is durable in the recipient's inbox. <see cref="ServerTime"/> is Unix milliseconds.</summary>
[MessagePackObject]
public sealed record Accepted(
    [property: Key(0)] uint RequestId,
    [property: Key(1)] string ClientMessageId,
    [property: Key(2)] string MessageId,
    [property: Key(3)] long ServerTime) : Frame;

/// <summary>
/// An inbox entry: a message for this user. <see cref="Seq"/> is the user's inbox sequence. A group message
/// names its <see cref="Group"/> (null for one-to-one) and its place in the group's log (<see cref="GroupSeq"/>).
/// </summary>
[MessagePackObject]
public sealed record Message(
    [property: Key(0)] long Seq,
    [property: Key(1)] string MessageId,
    [property: Key(2)] string From,
    [property: Key(3)] string Text,
    [property: Key(4)] long SentAt,
    [property: Key(5)] string? Group = null,
    [property: Key(6)] long GroupSeq = 0,
    [property: Key(7)] MediaRef? Media = null) : Frame;

/// <summary>Delivery status of a message.</summary>
public enum ReceiptStatus
{
    /// <summary>At least one of the recipient's devices acknowledged the message.</summary>
    Delivered = 1,
    /// <summary>The recipient marked the message read.</summary>
    Read = 2,
}

/// <summary>
/// An inbox entry: messages this user sent reached <see cref="Status"/> at <see cref="By"/>.
/// One receipt may cover several messages.
/// </summary>
[MessagePackObject]
public sealed record Receipt(
    [property: Key(0)] long Seq,
    [property: Key(1)] ReceiptStatus Status,
    [property: Key(2)] string By,
    [property: Key(3)] IReadOnlyList<string> MessageIds,
    [property: Key(4)] long At) : Frame;

/// <summary>Cumulative acknowledgement: every inbox entry up to and including <see cref="Seq"/> was received.</summary>
[MessagePackObject]
public sealed record Ack([property: Key(0)] long Seq) : Frame;

/// <summary>Marks every message from <see cref="With"/> up to inbox sequence <see cref="UpTo"/> read. Answered by <see cref="Ok"/>.</summary>
[MessagePackObject]
public sealed record Read(
    [property: Key(0)] uint RequestId,
    [property: Key(1)] string With,
    [property: Key(2)] long UpTo) : Frame, IRequest;

/// <summary>Streams every inbox entry newer than <see cref="After"/>, then <see cref="SyncComplete"/>, then live entries.</summary>
[MessagePackObject]
public sealed record Sync([property: Key(0)] long After) : Frame;

/// <summary>Every stored entry up to <see cref="LastSeq"/> has been sent; live entries follow.</summary>
[MessagePackObject]
public sealed record SyncComplete([property: Key(0)] long LastSeq) : Frame;

/// <summary>Liveness check; answered by <see cref="Pong"/> with the same nonce. Allowed in every state.</summary>
[MessagePackObject]
public sealed record Ping([property: Key(0)] long Nonce) : Frame;

/// <summary>The answer to <see cref="Ping"/>.</summary>
[MessagePackObject]
public sealed record Pong([property: Key(0)] long Nonce) : Frame;

/// <summary>
/// A request failed, or the connection is about to be closed (<see cref="RequestId"/> 0 and a fatal code).
/// <see cref="RetryAfterMs"/> is how long to wait before the same request may succeed, when the server knows
/// (a quota over time: <see cref="ErrorCode.RateLimited"/> for the send rate, registrations and lookups); 0 when it does not say.
/// </summary>
[MessagePackObject]
public sealed record Error(
    [property: Key(0)] uint RequestId,
    [property: Key(1)] ErrorCode Code,
    [property: Key(2)] string Message,
    [property: Key(3)] long RetryAfterMs = 0) : Frame;

/// <summary>A request without a result of its own succeeded.</summary>
[MessagePackObject]
public sealed record Ok([property: Key(0)] uint RequestId) : Frame;

/// <summary>
/// An inbox entry: several receipts stored together (one per member and status), so that a message to a
/// large group does not cost the sender a frame per member. Each item is as a <see cref="Receipt"/>.
/// </summary>
[MessagePackObject]
public sealed record ReceiptSet(
    [property: Key(0)] long Seq,
    [property: Key(1)] IReadOnlyList<ReceiptItem> Items,
    [property: Key(2)] long At) : Frame;

/// <summary>One receipt inside a <see cref="ReceiptSet"/>.</summary>
[MessagePackObject]
public sealed record ReceiptItem(
    [property: Key(0)] ReceiptStatus Status,
    [property: Key(1)] string By,
    [property: Key(2)] IReadOnlyList<string> MessageIds,
    [property: Key(3)] string? Group = null);

/// <summary>
/// Creates a group with the sender as admin and the listed users as members. Answered by <see cref="GroupCreated"/>.
/// With a <see cref="ClientGroupId"/> (1 to 64 characters, the client's own) a repeat of the request by the same user
/// is the same creation: it is answered with the same group id and creates nothing more.
/// </summary>
[MessagePackObject]
public sealed record CreateGroup(
    [property: Key(0)] uint RequestId,
    [property: Key(1)] string Name,
    [property: Key(2)] IReadOnlyList<string> Members,
    [property: Key(3)] string? ClientGroupId = null) : Frame, IRequest;

/// <summary>The new group's id.</summary>
[MessagePackObject]
public sealed record GroupCreated([property: Key(0)] uint RequestId, [property: Key(1)] string GroupId) : Frame;

/// <summary>Adds users to a group (admins only). Answered by <see cref="Ok"/>.</summary>
[MessagePackObject]
public sealed record AddMembers(
    [property: Key(0)] uint RequestId,
    [property: Key(1)] string GroupId,
    [property: Key(2)] IReadOnlyList<string> Members) : Frame, IRequest;

/// <summary>Removes users from a group (admins only). Answered by <see cref="Ok"/>.</summary>
[MessagePackObject]
public sealed record RemoveMembers(
    [property: Key(0)] uint RequestId,
    [property: Key(1)] string GroupId,
    [property: Key(2)] IReadOnlyList<string> Members) : Frame, IRequest;

/// <summary>Leaves a group. Answered by <see cref="Ok"/>.</summary>
[MessagePackObject]
public sealed record LeaveGroup([property: Key(0)] uint RequestId, [property: Key(1)] string GroupId) : Frame, IRequest;

/// <summary>Renames a group (any member). Answered by <see cref="Ok"/>.</summary>
[MessagePackObject]
public sealed record RenameGroup(
    [property: Key(0)] uint RequestId,
    [property: Key(1)] string GroupId,
    [property: Key(2)] string Name) : Frame, IRequest;

/// <summary>Promotes a member to admin or demotes an admin (admins only). Answered by <see cref="Ok"/>.</summary>
[MessagePackObject]
public sealed record SetAdmin(
    [property: Key(0)] uint RequestId,
    [property: Key(1)] string GroupId,
    [property: Key(2)] string Member,
    [property: Key(3)] bool IsAdmin) : Frame, IRequest;

/// <summary>Asks for a group's name, members and admins (members only). Answered by <see cref="GroupInfo"/>.</summary>
[MessagePackObject]
public sealed record GetGroupInfo([property: Key(0)] uint RequestId, [property: Key(1)] string GroupId) : Frame, IRequest;

/// <summary>A group's name, members and admins, and the sequence of its newest log entry.</summary>
[MessagePackObject]
public sealed record GroupInfo(
    [property: Key(0)] uint RequestId,
    [property: Key(1)] string GroupId,
    [property: Key(2)] string Name,
    [property: Key(3)] IReadOnlyList<string> Members,
    [property: Key(4)] IReadOnlyList<string> Admins,
    [property: Key(5)] long LastGroupSeq,
    [property: Key(6)] MediaRef? Image = null) : Frame;

/// <summary>Asks for the groups this user belongs to. Answered by <see cref="GroupList"/>.</summary>
[MessagePackObject]
public sealed record ListGroups([property: Key(0)] uint RequestId) : Frame, IRequest;

/// <summary>The groups this user belongs to.</summary>
[MessagePackObject]
public sealed record GroupList([property: Key(0)] uint RequestId, [property: Key(1)] IReadOnlyList<GroupSummary> Groups) : Frame;

/// <summary>One entry of <see cref="GroupList"/>.</summary>
[MessagePackObject]
public sealed record GroupSummary([property: Key(0)] string GroupId, [property: Key(1)] string Name);

/// <summary>
/// Sends a text to a group (members only). Answered by <see cref="Accepted"/> once it is durable in the
/// group's log; then every member receives it. Idempotent by <see cref="ClientMessageId"/> as <see cref="Send"/>.
/// </summary>
[MessagePackObject]
public sealed record SendGroup(
    [property: Key(0)] uint RequestId,
    [property: Key(1)] string ClientMessageId,
    [property: Key(2)] string GroupId,
    [property: Key(3)] string Text,
    [property: Key(4)] MediaRef? Media = null) : Frame, IRequest;

/// <summary>What changed in a group.</summary>
public enum GroupNoticeKind
{
    /// <summary>The group was created with <see cref="GroupNotice.Members"/> (the creator first).</summary>
    Created = 1,
    /// <summary><see cref="GroupNotice.Members"/> were added.</summary>
    Added = 2,
    /// <summary><see cref="GroupNotice.Members"/> were removed.</summary>
    Removed = 3,
    /// <summary>The actor left.</summary>
    Left = 4,
    /// <summary>The group was renamed to <see cref="GroupNotice.Name"/>.</summary>
    Renamed = 5,
    /// <summary><see cref="GroupNotice.Members"/> became admins.</summary>
    Promoted = 6,
    /// <summary><see cref="GroupNotice.Members"/> are no longer admins.</summary>
    Demoted = 7,
    /// <summary>The group's picture was set to <see cref="GroupNotice.Image"/> (null: removed).</summary>
    ImageChanged = 8,
}

/// <summary>An inbox entry: a change to a group this user is (or was just) a member of.</summary>
[MessagePackObject]
public sealed record GroupNotice(
    [property: Key(0)] long Seq,
    [property: Key(1)] string Group,
    [property: Key(2)] long GroupSeq,
    [property: Key(3)] GroupNoticeKind Kind,
    [property: Key(4)] string Actor,
    [property: Key(5)] IReadOnlyList<string> Members,
    [property: Key(6)] string Name,
    [property: Key(7)] long At,
    [property: Key(8)] MediaRef? Image = null) : Frame;

/// <summary>
/// An image or video in a message: the media id from <see cref="UploadComplete"/>, its content type and size (filled in
/// by the server from what it stored: a sender may leave them empty), and an optional small inline preview.
/// </summary>
[MessagePackObject]
public sealed record MediaRef(
    [property: Key(0)] string MediaId,
    [property: Key(1)] string ContentType = "",
    [property: Key(2)] long Size = 0,
    [property: Key(3)] byte[]? Thumbnail = null);

/// <summary>
/// Declares an upload: content type, exact size in bytes and the SHA-256 of the whole file (32 bytes).
/// Answered by <see cref="UploadStatus"/> with a new upload id, or an Error when the type or size is not allowed.
/// </summary>
[MessagePackObject]
public sealed record StartUpload(
    [property: Key(0)] uint RequestId,
    [property: Key(1)] string ContentType,
    [property: Key(2)] long Size,
    [property: Key(3)] byte[] Sha256) : Frame, IRequest;

/// <summary>
/// Where an upload stands: the server holds <see cref="Received"/> of <see cref="Size"/> bytes, durably. The next
/// chunk starts at <see cref="Received"/> and carries at most <see cref="MaxChunkBytes"/>.
/// </summary>
[MessagePackObject]
public sealed record UploadStatus(
    [property: Key(0)] uint RequestId,
    [property: Key(1)] string UploadId,
    [property: Key(2)] long Received,
    [property: Key(3)] long Size,
    [property: Key(4)] int MaxChunkBytes) : Frame;

/// <summary>Asks how many bytes of an unfinished upload the server has (after a reconnect). Answered by <see cref="UploadStatus"/>.</summary>
[MessagePackObject]
public sealed record ResumeUpload([property: Key(0)] uint RequestId, [property: Key(1)] string UploadId) : Frame, IRequest;

/// <summary>
/// Bytes of an upload at <see cref="Offset"/>, which must equal what the server has received. Answered by
/// <see cref="UploadStatus"/>, or by <see cref="UploadComplete"/> for the chunk that brings the upload to its size.
/// </summary>
[MessagePackObject]
public sealed record UploadChunk(
    [property: Key(0)] uint RequestId,
    [property: Key(1)] string UploadId,
    [property: Key(2)] long Offset,
    [property: Key(3)] byte[] Data) : Frame, IRequest;

/// <summary>Every byte arrived and the hash matched: the media is stored under <see cref="MediaId"/>.</summary>
[MessagePackObject]
public sealed record UploadComplete(
    [property: Key(0)] uint RequestId,
    [property: Key(1)] string UploadId,
    [property: Key(2)] string MediaId,
    [property: Key(3)] string ContentType,
    [property: Key(4)] long Size) : Frame;

/// <summary>Asks for up to <see cref="Length"/> bytes of a media item from <see cref="Offset"/>. Answered by <see cref="MediaChunk"/>.</summary>
[MessagePackObject]
public sealed record Download(
    [property: Key(0)] uint RequestId,
    [property: Key(1)] string MediaId,
    [property: Key(2)] long Offset,
    [property: Key(3)] int Length) : Frame, IRequest;

/// <summary>
/// Bytes of a media item from <see cref="Offset"/> (at most the server's chunk size; empty at the end), with the
/// item's total <see cref="Size"/>, <see cref="ContentType"/> and SHA-256.
/// </summary>
[MessagePackObject]
public sealed record MediaChunk(
    [property: Key(0)] uint RequestId,
    [property: Key(1)] string MediaId,
    [property: Key(2)] long Offset,
    [property: Key(3)] byte[] Data,
    [property: Key(4)] long Size,
    [property: Key(5)] string ContentType,
    [property: Key(6)] byte[] Sha256) : Frame;

/// <summary>
/// Sets the group's picture to an uploaded image (any member; null removes it). Answered by <see cref="Ok"/>; every
/// member receives a <see cref="GroupNotice"/> of kind <see cref="GroupNoticeKind.ImageChanged"/>.
/// </summary>
[MessagePackObject]
public sealed record SetGroupImage(
    [property: Key(0)] uint RequestId,
    [property: Key(1)] string GroupId,
    [property: Key(2)] MediaRef? Image) : Frame, IRequest;

/// <summary>
/// Asks for the names and phones of users by id (at most <see cref="MaxUsers"/>). Answered by <see cref="Profiles"/>, which
/// holds only the users the asker may know: those who share a conversation with the asker (either side sent the other a
/// message that is still kept), a group, or whose phone the asker looked up on this connection. Any other id, known to the
/// server or not, is left out, so the answer never tells whether an account exists.
/// </summary>
[MessagePackObject]
public sealed record WhoIs([property: Key(0)] uint RequestId, [property: Key(1)] IReadOnlyList<string> UserIds) : Frame, IRequest
{
    /// <summary>The most ids one request may name.</summary>
    public const int MaxUsers = 100;
}

/// <summary>The answer to <see cref="WhoIs"/>: the users the asker may know, in no particular order.</summary>
[MessagePackObject]
public sealed record Profiles([property: Key(0)] uint RequestId, [property: Key(1)] IReadOnlyList<UserProfile> Users) : Frame;

/// <summary>One user in <see cref="Profiles"/>: id, display name and phone (E.164).</summary>
[MessagePackObject]
public sealed record UserProfile([property: Key(0)] string UserId, [property: Key(1)] string Name, [property: Key(2)] string Phone);
