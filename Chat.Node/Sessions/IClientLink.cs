using System.Net;
using Chat.Protocol;

namespace Chat.Node.Sessions;

/// <summary>
/// What a session needs of its client's connection: queue answers and inbox entries, learn when a slow client has room
/// again, say when an inbound frame is handled (reading resumes), and close. <see cref="Tcp.ClientConnection"/> is the
/// TCP one; the session's specs drive a session through a recording one, without sockets.
/// </summary>
public interface IClientLink
{
    IPEndPoint? RemoteEndPoint { get; }

    /// <summary>Queues an answer or notice.</summary>
    void Write(Frame frame);

    /// <summary>Queues an inbox entry unless the client is behind; then false, and <see cref="Tcp.ConnectionSignals.Drained"/> comes later.</summary>
    bool TryWriteEntry(Frame frame);

    /// <summary>True when there is room for entries now; otherwise <see cref="Tcp.ConnectionSignals.Drained"/> comes once there is.</summary>
    bool NotifyWhenRoom();

    /// <summary>One inbound frame was handled.</summary>
    void Processed();

    /// <summary>Raises (or lowers) the largest frame read from now on.</summary>
    void AllowFramesUpTo(int bytes);

    /// <summary>Sends what is queued, then closes.</summary>
    void Close();

    /// <summary>Closes at once, dropping what is queued.</summary>
    void Abort();
}
