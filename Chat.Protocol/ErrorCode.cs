namespace Chat.Protocol;

/// <summary>
/// Error codes carried by <see cref="Error"/>. Codes below 100 are fatal: the server closes the
/// connection right after the Error frame. Codes from 100 answer one request; the connection stays open.
/// </summary>
public enum ErrorCode
{
    /// <summary>The bytes of a frame could not be decoded.</summary>
    BadFrame = 1,
    /// <summary>A frame's declared length exceeds the server's maximum frame size.</summary>
    FrameTooLarge = 2,
    /// <summary>The opcode is not one this server knows.</summary>
    UnknownOpcode = 3,
    /// <summary>The frame is not allowed in the connection's state (for example Send before Login).</summary>
    WrongState = 4,
    /// <summary>The client's protocol version is not supported.</summary>
    UnsupportedVersion = 5,
    /// <summary>Another login named the same device; this connection is replaced.</summary>
    Replaced = 6,
    /// <summary>The server is shutting down.</summary>
    ShuttingDown = 7,
    /// <summary>The connection sent no frame within the idle timeout.</summary>
    IdleTimeout = 8,
    /// <summary>The account's phone number was verified by another account, which now owns it: this account is closed and its token no longer logs in.</summary>
    PhoneMoved = 9,

    /// <summary>A field is missing or malformed.</summary>
    InvalidArgument = 100,
    /// <summary>The phone number is not in E.164 form (+ then 8 to 15 digits).</summary>
    InvalidPhone = 101,
    /// <summary>The phone number is already registered (only on a node with verification off; otherwise a verified Register moves the number).</summary>
    PhoneTaken = 102,
    /// <summary>No user has that id or phone.</summary>
    UnknownUser = 103,
    /// <summary>The text is empty.</summary>
    EmptyText = 104,
    /// <summary>The text is longer than the server's limit (see <see cref="Welcome.MaxTextBytes"/>).</summary>
    TextTooLong = 105,
    /// <summary>The token is not valid.</summary>
    AuthFailed = 106,
    /// <summary>Too many requests are unanswered (see <see cref="Welcome.MaxInFlight"/>) or the request rate is exceeded.</summary>
    RateLimited = 107,
    /// <summary>The server could not complete the request in time. Resending a Send with the same client message id is safe (it is stored once); a Verify (or, with verification off, a Register) may have completed, its code used and its number now taken: log in fails without the token, so register again.</summary>
    Unavailable = 108,
    /// <summary>The name is empty or too long.</summary>
    InvalidName = 109,
    /// <summary>The e-mail address is malformed.</summary>
    InvalidEmail = 110,
    /// <summary>The client message id is empty or longer than 64 characters.</summary>
    InvalidMessageId = 111,
    /// <summary>No group has that id.</summary>
    UnknownGroup = 112,
    /// <summary>Only members of the group may do this.</summary>
    NotMember = 113,
    /// <summary>Only admins of the group may do this.</summary>
    NotAdmin = 114,
    /// <summary>The group would exceed its maximum size.</summary>
    GroupFull = 115,
    /// <summary>The user already belongs to the maximum number of groups.</summary>
    TooManyGroups = 116,
    /// <summary>The declared size is larger than the server allows for that kind of media (the limit is in the message).</summary>
    MediaTooLarge = 117,
    /// <summary>The content type is not one the server accepts (the accepted ones are in the message).</summary>
    MediaTypeNotAllowed = 118,
    /// <summary>The file's leading bytes do not match its declared content type; the upload is discarded.</summary>
    MediaTypeMismatch = 119,
    /// <summary>A chunk does not start where the server's copy ends; the chunk is not stored (the expected offset is in the message).</summary>
    WrongOffset = 120,
    /// <summary>The uploaded bytes do not match the declared SHA-256; the upload is discarded and nothing is stored.</summary>
    HashMismatch = 121,
    /// <summary>No unfinished upload of this user has that id (it completed, failed, or expired).</summary>
    UnknownUpload = 122,
    /// <summary>No media has that id (it never existed or was removed by retention).</summary>
    UnknownMedia = 123,
    /// <summary>A chunk or an inline thumbnail is larger than the server allows.</summary>
    ChunkTooLarge = 124,
    /// <summary>Another connection is writing to the same upload right now.</summary>
    UploadBusy = 125,
    /// <summary>The code is not the one sent to the phone; the message says how many attempts are left.</summary>
    WrongCode = 126,
    /// <summary>No code is valid for this phone: it expired, was used, was voided, or none was sent. Register again for a new one.</summary>
    CodeExpired = 127,
    /// <summary>That was the last wrong attempt allowed for this code: the code is void. Register again for a new one.</summary>
    TooManyAttempts = 128,
    /// <summary>The phone was sent as many codes as allowed in the past hour; the message says when the next one may be asked for.</summary>
    TooManyCodes = 129,
    /// <summary>
    /// The recipient has never written to the sender, and the messages from people they never wrote to that wait in
    /// their inbox, not yet received by any of their devices, are at the server's limit. Nothing is stored; sending
    /// again later (same client message id) succeeds once the recipient has received what waits, or has written to the sender.
    /// </summary>
    StrangerQuota = 130,
}

/// <summary>Helpers over <see cref="ErrorCode"/>.</summary>
public static class ErrorCodes
{
    /// <summary>True when the server closes the connection after sending this code.</summary>
    public static bool IsFatal(this ErrorCode code) => (int)code < 100;
}
