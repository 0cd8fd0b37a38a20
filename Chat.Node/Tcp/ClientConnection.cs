using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Akka.Actor;
using Chat.Protocol;

namespace Chat.Node.Tcp;

/// <summary>What the connection tells its session. Local only: never serialized.</summary>
public static class ConnectionSignals
{
    /// <summary>A decoded frame from the client.</summary>
    public sealed record Inbound(Frame Frame) : INoSerializationVerificationNeeded;
    /// <summary>The client broke the protocol; the session answers with an Error and closes.</summary>
    public sealed record Violation(ErrorCode Code, string Message) : INoSerializationVerificationNeeded;
    /// <summary>Queued inbox entries fell below the low-water mark: the session may send more.</summary>
    public sealed class Drained : INoSerializationVerificationNeeded { public static readonly Drained Instance = new(); }
    /// <summary>The socket is closed.</summary>
    public sealed class Closed : INoSerializationVerificationNeeded { public static readonly Closed Instance = new(); }
}

/// <summary>
/// The bytes side of one client: a socket read by a loop that decodes frames and tells the session,
/// and a write loop that encodes queued frames and flushes them in batches. The session never blocks:
/// answers are always queued, inbox entries only while fewer than the high-water mark are waiting.
/// </summary>
/// <remarks>
/// The edge is a socket with System.IO.Pipelines owned by the session rather than Akka.Streams TCP:
/// on this hardware the raw socket path measured several times the frame rate for small frames
/// (see docs/operations.md, "TCP edge").
/// </remarks>
public sealed class ClientConnection : Sessions.IClientLink
{
    private const int MaxUnprocessedInbound = 512;

    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private volatile int _maxFrameBytes;
    private readonly int _highWater;
    private readonly Channel<Frame> _outgoing = Channel.CreateUnbounded<Frame>(new UnboundedChannelOptions { SingleReader = true });
    private readonly SemaphoreSlim _inboundRoom = new(0);
    private IActorRef _session = ActorRefs.Nobody;
    private readonly long _maxQueuedBytes;
    private readonly TimeSpan _closeGrace;
    private long _queuedBytes;
    private int _queuedEntries;
    private int _unprocessed;
    private int _wantsDrained;
    private int _closed;

    /// <param name="maxQueuedBytes">
    /// Bytes (estimated) waiting to be written before the client is taken to have stopped reading and the connection
    /// is dropped: otherwise a client that sends requests and never reads the answers grows the node without bound.
    /// </param>
    /// <param name="closeGrace">How long a closing connection may take to hand its last frames to a client that is slow to read.</param>
    public ClientConnection(Socket socket, int maxFrameBytes, int highWater, long maxQueuedBytes = 16L << 20, TimeSpan? closeGrace = null)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _maxFrameBytes = maxFrameBytes;
        _highWater = highWater;
        _maxQueuedBytes = maxQueuedBytes;
        _closeGrace = closeGrace ?? TimeSpan.FromSeconds(5);
        RemoteEndPoint = socket.RemoteEndPoint as IPEndPoint;
    }

    public IPEndPoint? RemoteEndPoint { get; }

    /// <summary>
    /// Raises (or lowers) the largest frame read from now on: a connection starts with the small limit for frames
    /// before login, and the session raises it once the client has logged in.
    /// </summary>
    public void AllowFramesUpTo(int bytes) => _maxFrameBytes = bytes;

    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes when the socket has closed.</summary>
    public Task Completion => _completion.Task;

    public void Start(IActorRef session)
    {
        _session = session;
        _ = Task.Run(ReadLoopAsync);
        _ = Task.Run(WriteLoopAsync);
    }

    /// <summary>Queues an answer or notice; accepted while the connection is open and its client keeps reading.</summary>
    public void Write(Frame frame)
    {
        if (frame is Error error) Admin.ChatMetrics.FrameRejected(error.Code);
        if (Queued(frame)) _outgoing.Writer.TryWrite(frame);
    }

    /// <summary>
    /// Counts an answer as waiting; false (and the connection dropped) when the client has stopped reading. Inbox
    /// entries are not counted here: their number is bounded by the high-water mark (<see cref="TryWriteEntry"/>).
    /// </summary>
    private bool Queued(Frame frame)
    {
        if (IsEntry(frame) || Interlocked.Add(ref _queuedBytes, EstimatedSize(frame)) <= _maxQueuedBytes) return true;
        Abort();
        return false;
    }

    private static bool IsEntry(Frame frame) => frame is Message or Receipt or ReceiptSet or GroupNotice;

    /// <summary>An upper estimate of an answer's encoded size, cheap enough for every frame (UTF-8 takes at most 3 bytes per char).</summary>
    private static long EstimatedSize(Frame frame) => 64 + frame switch
    {
        MediaChunk c => c.Data.Length + c.MediaId.Length + c.ContentType.Length,
        Error e => 3L * e.Message.Length,
        _ => 192,
    };

    /// <summary>Queues an inbox entry unless the client is behind; then returns false and signals Drained later.</summary>
    public bool TryWriteEntry(Frame frame)
    {
        if (Volatile.Read(ref _queuedEntries) >= _highWater)
        {
            Volatile.Write(ref _wantsDrained, 1);
            return false;
        }
        Interlocked.Increment(ref _queuedEntries);
        return _outgoing.Writer.TryWrite(frame);
    }

    /// <summary>
    /// True when there is room for more entries now; otherwise the session is sent
    /// <see cref="ConnectionSignals.Drained"/> once the client has caught up.
    /// </summary>
    public bool NotifyWhenRoom()
    {
        Volatile.Write(ref _wantsDrained, 1);
        if (Volatile.Read(ref _queuedEntries) >= _highWater / 2) return false;
        Interlocked.Exchange(ref _wantsDrained, 0);
        return true;
    }

    /// <summary>The session finished handling one inbound frame (reading resumes when it falls behind).</summary>
    public void Processed()
    {
        if (Interlocked.Decrement(ref _unprocessed) == MaxUnprocessedInbound - 1) _inboundRoom.Release();
    }

    /// <summary>Sends what is queued, then closes; a client that does not take it within the grace period is cut off.</summary>
    public void Close()
    {
        if (!_outgoing.Writer.TryComplete()) return;
        _ = Task.Delay(_closeGrace).ContinueWith(_ => Shutdown(), TaskScheduler.Default);
    }

    /// <summary>Closes at once, dropping what is queued.</summary>
    public void Abort()
    {
        _outgoing.Writer.TryComplete();
        Shutdown();
    }

    private void Shutdown()
    {
        if (Interlocked.Exchange(ref _closed, 1) == 1) return;
        try { _socket.Shutdown(SocketShutdown.Both); } catch (Exception) { /* already gone */ }
        _stream.Dispose();
        _completion.TrySetResult();
    }

    private async Task ReadLoopAsync()
    {
        var reader = PipeReader.Create(_stream, new StreamPipeReaderOptions(bufferSize: 4096, minimumReadSize: 1024, leaveOpen: true, useZeroByteReads: true));
        var violated = false;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync().ConfigureAwait(false);
                var buffer = result.Buffer;
                try
                {
                    while (FrameCodec.TryRead(ref buffer, _maxFrameBytes, out var frame))
                    {
                        _session.Tell(new ConnectionSignals.Inbound(frame));
                        if (Interlocked.Increment(ref _unprocessed) >= MaxUnprocessedInbound)
                            await _inboundRoom.WaitAsync().ConfigureAwait(false);
                    }
                }
                catch (FrameViolationException e)
                {
                    violated = true;
                    _session.Tell(new ConnectionSignals.Violation(e.Code, e.Message));
                    return; // stop reading; the session closes the connection after the Error frame
                }
                if (result.IsCompleted)
                {
                    if (!buffer.IsEmpty && (violated = true))
                        _session.Tell(new ConnectionSignals.Violation(ErrorCode.BadFrame,
                            $"connection closed in the middle of a frame ({buffer.Length} bytes)"));
                    break;
                }
                reader.AdvanceTo(buffer.Start, buffer.End);
            }
        }
        catch (Exception)
        {
            // reset or closed by us: the session is told below
        }
        finally
        {
            await reader.CompleteAsync().ConfigureAwait(false);
            // after a violation the session sends its Error first; the write loop reports the close
            if (!violated) _session.Tell(ConnectionSignals.Closed.Instance);
        }
    }

    private async Task WriteLoopAsync()
    {
        var writer = PipeWriter.Create(_stream, new StreamPipeWriterOptions(leaveOpen: true));
        var queue = _outgoing.Reader;
        try
        {
            while (await queue.WaitToReadAsync().ConfigureAwait(false))
            {
                var entries = 0;
                while (queue.TryRead(out var frame))
                {
                    if (IsEntry(frame)) entries++;
                    else Interlocked.Add(ref _queuedBytes, -EstimatedSize(frame));
                    FrameCodec.Write(writer, frame);
                    if (writer.UnflushedBytes > 64 * 1024)
                    {
                        if ((await writer.FlushAsync().ConfigureAwait(false)).IsCompleted) return;
                    }
                }
                if ((await writer.FlushAsync().ConfigureAwait(false)).IsCompleted) return;
                if (entries > 0)
                {
                    var left = Interlocked.Add(ref _queuedEntries, -entries);
                    if (left < _highWater / 2 && Interlocked.Exchange(ref _wantsDrained, 0) == 1)
                        _session.Tell(ConnectionSignals.Drained.Instance);
                }
            }
        }
        catch (Exception)
        {
            // the socket failed; the read loop reports the close
        }
        finally
        {
            try { await writer.CompleteAsync().ConfigureAwait(false); } catch (Exception) { /* closed */ }
            Shutdown();
            _session.Tell(ConnectionSignals.Closed.Instance);
        }
    }
}
