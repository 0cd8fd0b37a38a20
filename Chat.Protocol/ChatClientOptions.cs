namespace Chat.Protocol;

/// <summary>Settings of a <see cref="ChatClient"/>.</summary>
public sealed class ChatClientOptions
{
    /// <summary>Name sent in <see cref="Hello"/>.</summary>
    public string ClientName { get; set; } = "chat-dotnet";
    /// <summary>Device name sent in <see cref="Login"/>; a second login with the same device replaces the first.</summary>
    public string Device { get; set; } = "default";
    /// <summary>Largest frame accepted from the server.</summary>
    public int MaxFrameBytes { get; set; } = 8 << 20;
    /// <summary>How long a request (other than Send) waits for its answer.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);
    /// <summary>Inbox entries buffered for the application before the client stops reading the socket.</summary>
    public int EntryBuffer { get; set; } = 10_000;
    /// <summary>Reconnect, log in again, resend unaccepted sends and resume sync when the connection drops.</summary>
    public bool AutoReconnect { get; set; }
    /// <summary>How often a Send answered <see cref="ErrorCode.Unavailable"/> is resent (same client message id) before it fails.</summary>
    public int SendRetries { get; set; } = 5;
    /// <summary>How often to Ping when nothing else is sent, so the server's idle timeout never closes the connection. Zero disables.</summary>
    public TimeSpan KeepAlive { get; set; } = TimeSpan.FromSeconds(60);
    /// <summary>
    /// How long one address may take to accept the TCP connection and answer Hello with Welcome before the client
    /// gives it up and tries the next address.
    /// </summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);
    /// <summary>
    /// Whether acks queued before the connection's next write go out as one Ack (the highest: acks are cumulative, so
    /// the server loses nothing). Off, every <see cref="ChatClient.Ack"/> call is written as its own Ack frame, as from a
    /// client that acknowledges each entry the moment it has stored it; a load generator uses this to make the acks
    /// such a client makes.
    /// </summary>
    public bool CoalesceAcks { get; set; } = true;
    /// <summary>
    /// <see cref="ChatClient.TypingAsync"/> tells the server at most once per this per conversation. The server's own bound
    /// (<c>chat.presence.typing-interval</c>, 3 s by default) still applies; a shorter value here only earns RateLimited answers.
    /// </summary>
    public TimeSpan TypingInterval { get; set; } = TimeSpan.FromSeconds(3);
}
