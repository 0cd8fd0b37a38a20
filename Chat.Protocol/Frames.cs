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
public abstract record Frame
{
    /// <summary>The stable opcode of this frame type.</summary>
    [IgnoreMember]
    public abstract int Opcode { get; }
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
#pragma warning restore CS1591

    /// <summary>True when <paramref name="opcode"/> names a frame this version of the protocol knows.</summary>
    public static bool IsKnown(int opcode) => opcode is >= Hello and <= Ok;
}

/// <summary>First frame from the client: the protocol version it speaks and a free-form client name.</summary>
[MessagePackObject]
public sealed record Hello([property: Key(0)] int Version, [property: Key(1)] string Client) : Frame
{
    /// <inheritdoc />
    [IgnoreMember] public override int Opcode => Opcodes.Hello;
}

/// <summary>The server's answer to <see cref="Hello"/>: its version, name and the limits it enforces.</summary>
[MessagePackObject]
public sealed record Welcome(
    [property: Key(0)] int Version,
    [property: Key(1)] string Server,
    [property: Key(2)] int MaxFrameBytes,
    [property: Key(3)] int MaxTextBytes,
    [property: Key(4)] int MaxInFlight,
    [property: Key(5)] int SyncBatch) : Frame
{
    /// <inheritdoc />
    [IgnoreMember] public override int Opcode => Opcodes.Welcome;
}

/// <summary>Creates a user. Allowed before login. Answered by <see cref="Registered"/>.</summary>
[MessagePackObject]
public sealed record Register(
    [property: Key(0)] uint RequestId,
    [property: Key(1)] string Name,
    [property: Key(2)] string Phone,
    [property: Key(3)] string? Email) : Frame, IRequest
{
    /// <inheritdoc />
    [IgnoreMember] public override int Opcode => Opcodes.Register;
}

/// <summary>A new user's id and access token. The token is shown once: the server keeps only its hash.</summary>
[MessagePackObject]
public sealed record Registered(
    [property: Key(0)] uint RequestId,
    [property: Key(1)] string UserId,
    [property: Key(2)] string Token) : Frame
{
    /// <inheritdoc />
    [IgnoreMember] public override int Opcode => Opcodes.Registered;
}

/// <summary>Authenticates the connection as the token's user, for the named device.</summary>
[MessagePackObject]
public sealed record Login(
    [property: Key(0)] uint RequestId,
    [property: Key(1)] string Token,
    [property: Key(2)] string Device) : Frame, IRequest
{
    /// <inheritdoc />
    [IgnoreMember] public override int Opcode => Opcodes.Login;
}

/// <summary>The connection now acts as <see cref="UserId"/>. <see cref="LastSeq"/> is the newest inbox sequence.</summary>
[MessagePackObject]
public sealed record LoggedIn(
    [property: Key(0)] uint RequestId,
    [property: Key(1)] string UserId,
    [property: Key(2)] string Name,
    [property: Key(3)] string Phone,
    [property: Key(4)] long LastSeq) : Frame
{
    /// <inheritdoc />
    [IgnoreMember] public override int Opcode => Opcodes.LoggedIn;
}

/// <summary>Finds the user who registered a phone number (E.164).</summary>
[MessagePackObject]
public sealed record Lookup([property: Key(0)] uint RequestId, [property: Key(1)] string Phone) : Frame, IRequest
{
    /// <inheritdoc />
    [IgnoreMember] public override int Opcode => Opcodes.Lookup;
}

/// <summary>The answer to <see cref="Lookup"/>.</summary>
[MessagePackObject]
public sealed record LookupResult(
    [property: Key(0)] uint RequestId,
    [property: Key(1)] string Phone,
    [property: Key(2)] string UserId,
    [property: Key(3)] string Name) : Frame
{
    /// <inheritdoc />
    [IgnoreMember] public override int Opcode => Opcodes.LookupResult;
}

/// <summary>
/// Sends a text to a user. <see cref="ClientMessageId"/> is unique per sender: sending it again
/// gets the same <see cref="Accepted"/> and is never delivered twice.
/// </summary>
[MessagePackObject]
public sealed record Send(
    [property: Key(0)] uint RequestId,
    [property: Key(1)] string ClientMessageId,
    [property: Key(2)] string To,
    [property: Key(3)] string Text) : Frame, IRequest
{
    /// <inheritdoc />
    [IgnoreMember] public override int Opcode => Opcodes.Send;
}

/// <summary>The message is durable in the recipient's inbox. <see cref="ServerTime"/> is Unix milliseconds.</summary>
[MessagePackObject]
public sealed record Accepted(
    [property: Key(0)] uint RequestId,
    [property: Key(1)] string ClientMessageId,
    [property: Key(2)] string MessageId,
    [property: Key(3)] long ServerTime) : Frame
{
    /// <inheritdoc />
    [IgnoreMember] public override int Opcode => Opcodes.Accepted;
}

/// <summary>An inbox entry: a message for this user. <see cref="Seq"/> is the user's inbox sequence.</summary>
[MessagePackObject]
public sealed record Message(
    [property: Key(0)] long Seq,
    [property: Key(1)] string MessageId,
    [property: Key(2)] string From,
    [property: Key(3)] string Text,
    [property: Key(4)] long SentAt) : Frame
{
    /// <inheritdoc />
    [IgnoreMember] public override int Opcode => Opcodes.Message;
}

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
    [property: Key(4)] long At) : Frame
{
    /// <inheritdoc />
    [IgnoreMember] public override int Opcode => Opcodes.Receipt;
}

/// <summary>Cumulative acknowledgement: every inbox entry up to and including <see cref="Seq"/> was received.</summary>
[MessagePackObject]
public sealed record Ack([property: Key(0)] long Seq) : Frame
{
    /// <inheritdoc />
    [IgnoreMember] public override int Opcode => Opcodes.Ack;
}

/// <summary>Marks every message from <see cref="With"/> up to inbox sequence <see cref="UpTo"/> read. Answered by <see cref="Ok"/>.</summary>
[MessagePackObject]
public sealed record Read(
    [property: Key(0)] uint RequestId,
    [property: Key(1)] string With,
    [property: Key(2)] long UpTo) : Frame, IRequest
{
    /// <inheritdoc />
    [IgnoreMember] public override int Opcode => Opcodes.Read;
}

/// <summary>Streams every inbox entry newer than <see cref="After"/>, then <see cref="SyncComplete"/>, then live entries.</summary>
[MessagePackObject]
public sealed record Sync([property: Key(0)] long After) : Frame
{
    /// <inheritdoc />
    [IgnoreMember] public override int Opcode => Opcodes.Sync;
}

/// <summary>Every stored entry up to <see cref="LastSeq"/> has been sent; live entries follow.</summary>
[MessagePackObject]
public sealed record SyncComplete([property: Key(0)] long LastSeq) : Frame
{
    /// <inheritdoc />
    [IgnoreMember] public override int Opcode => Opcodes.SyncComplete;
}

/// <summary>Liveness check; answered by <see cref="Pong"/> with the same nonce. Allowed in every state.</summary>
[MessagePackObject]
public sealed record Ping([property: Key(0)] long Nonce) : Frame
{
    /// <inheritdoc />
    [IgnoreMember] public override int Opcode => Opcodes.Ping;
}

/// <summary>The answer to <see cref="Ping"/>.</summary>
[MessagePackObject]
public sealed record Pong([property: Key(0)] long Nonce) : Frame
{
    /// <inheritdoc />
    [IgnoreMember] public override int Opcode => Opcodes.Pong;
}

/// <summary>
/// A request failed, or the connection is about to be closed (<see cref="RequestId"/> 0 and a fatal code).
/// </summary>
[MessagePackObject]
public sealed record Error(
    [property: Key(0)] uint RequestId,
    [property: Key(1)] ErrorCode Code,
    [property: Key(2)] string Message) : Frame
{
    /// <inheritdoc />
    [IgnoreMember] public override int Opcode => Opcodes.Error;
}

/// <summary>A request without a result of its own succeeded.</summary>
[MessagePackObject]
public sealed record Ok([property: Key(0)] uint RequestId) : Frame
{
    /// <inheritdoc />
    [IgnoreMember] public override int Opcode => Opcodes.Ok;
}
