using System.Buffers;
using System.Buffers.Binary;
using System.Net.Sockets;
using Chat.Protocol;

namespace Chat.Cli.Bench;

/// <summary>
/// One bench user's logged-in connection without the reference client's machinery: frames are written on the caller's
/// thread, straight to the socket (each at once, or queued and written together by <see cref="Flush"/>), and one
/// receive loop decodes what arrives and hands each frame to the workload on its own thread. No write loop or request
/// table between the socket and the workload, so the load generator spends its CPU on the protocol's system calls
/// rather than on handing frames between tasks: on this machine the reference client costs the generator about as much
/// CPU per message as the node under test spends (bench/RESULTS.md).
/// </summary>
/// <remarks>
/// It does not reconnect: a connection that closes ends its loop, and the workload counts what is missing. Nor does it
/// hold sends back at the node's cap on unanswered sends (<see cref="Welcome.MaxInFlight"/>): beyond it the node
/// refuses them with an error frame, which the workload counts as not accepted.
/// </remarks>
internal sealed class LeanLink : IAsyncDisposable
{
    /// <summary>What the workload does with what arrives: each frame, then the end of each batch read at once.</summary>
    public interface IReader
    {
        void OnFrame(LeanLink link, Frame frame);
        void OnBatchEnd(LeanLink link);
    }

    /// <summary>
    /// A reader that takes each frame's payload (the MessagePack <c>[opcode, fields]</c>, valid only during the call)
    /// instead of a decoded frame: it reads the few fields it needs where they lie, so the generator makes no objects per
    /// frame and does not collect (and pause) while it measures. <see cref="IReader.OnFrame"/> is not called.
    /// </summary>
    public interface IPayloadReader : IReader
    {
        void OnPayload(LeanLink link, ReadOnlyMemory<byte> payload);
    }

    private readonly Socket _socket;
    private readonly Lock _writeGate = new();
    private readonly ArrayBufferWriter<byte> _out = new(512);
    /// <summary>
    /// What arrived and is not decoded yet. It starts small, since most users' connections carry a frame at a time and a
    /// restart check holds ten thousand of them (8 KiB each cost the generator about a tenth of its CPU in clearing fresh
    /// memory), and doubles, up to <see cref="MaxReceiveBytes"/>, whenever a read fills it or a frame does not fit.
    /// </summary>
    private byte[] _in = new byte[1024];

    private const int MaxReceiveBytes = 64 * 1024;
    private int _filled;
    private int _maxFrameBytes = 1 << 20;
    private Task _loop = Task.CompletedTask;

    private LeanLink(Socket socket) => _socket = socket;

    /// <summary>The user this connection is logged in as.</summary>
    public string UserId { get; private set; } = "";

    /// <summary>Which of the workload's users this is.</summary>
    public int Index { get; private init; }

    /// <summary>Connects to the first address of <paramref name="server"/>, logs in with <paramref name="token"/> and syncs the (empty) inbox.</summary>
    public static async Task<LeanLink> OpenAsync(string server, int index, string token, string device, CancellationToken ct) =>
        (await OpenAsync(server, index, token, device, fromStart: false, ct)).Link;

    /// <summary>
    /// Connects, logs in and reads the whole stored inbox, as a device that comes back after the node restarted:
    /// the highest inbox sequence among the entries the node sends before <see cref="SyncComplete"/>, and the last one
    /// that frame reports.
    /// </summary>
    public static Task<(LeanLink Link, long HighestSeq, long LastSeq)> OpenAndSyncAllAsync(
        string server, int index, string token, string device, CancellationToken ct) =>
        OpenAsync(server, index, token, device, fromStart: true, ct);

    private static async Task<(LeanLink Link, long HighestSeq, long LastSeq)> OpenAsync(
        string server, int index, string token, string device, bool fromStart, CancellationToken ct)
    {
        var address = ServerAddress.ParseList(server)[0];
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        var link = new LeanLink(socket) { Index = index };
        try
        {
            await socket.ConnectAsync(address.Host, address.Port, ct);
            // Hello and Login in one write: the protocol lets a client pipeline its requests up to the login
            link.Queue(new Hello(ChatClient.ProtocolVersion, "chat-bench"));
            link.Write(new Login(1, token, device));
            link._maxFrameBytes = (await link.ExpectAsync<Welcome>(ct)).MaxFrameBytes;
            var loggedIn = await link.ExpectAsync<LoggedIn>(ct);
            link.UserId = loggedIn.UserId;
            link.Write(new Sync(fromStart ? 0 : loggedIn.LastSeq));
            long highest = 0;
            var complete = await link.ExpectAsync<SyncComplete>(ct, frame => highest = Math.Max(highest, ChatClient.SeqOf(frame)));
            return (link, highest, complete.LastSeq);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Writes one frame, whole, and any queued before it, before returning; safe from any thread.</summary>
    public void Write(Frame frame)
    {
        lock (_writeGate)
        {
            FrameCodec.Write(_out, frame);
            SendQueued();
        }
    }

    /// <summary>
    /// Adds a frame to those written with the next <see cref="Flush"/> or <see cref="Write"/>: frames decided while
    /// reading one batch then leave in one system call, as a client that answers a batch at once sends them.
    /// </summary>
    public void Queue(Frame frame)
    {
        lock (_writeGate) FrameCodec.Write(_out, frame);
    }

    /// <summary>Writes the queued frames.</summary>
    public void Flush()
    {
        lock (_writeGate) SendQueued();
    }

    private void SendQueued()
    {
        var bytes = _out.WrittenSpan;
        try
        {
            while (!bytes.IsEmpty) bytes = bytes[_socket.Send(bytes)..];
        }
        finally
        {
            _out.ResetWrittenCount();
        }
    }

    /// <summary>Starts the receive loop: until the connection closes, every frame goes to <paramref name="reader"/>.</summary>
    public void Start(IReader reader) => _loop = Task.Run(() => ReceiveLoopAsync(reader));

    private async Task ReceiveLoopAsync(IReader reader)
    {
        var payloads = reader as IPayloadReader;
        try
        {
            while (true)
            {
                var any = false;
                int kept;
                if (payloads is not null)
                {
                    var at = 0;
                    while (_filled - at >= 4)
                    {
                        var length = BinaryPrimitives.ReadUInt32BigEndian(_in.AsSpan(at));
                        if (length == 0 || length > (uint)_maxFrameBytes) return; // not a frame: the connection is unusable
                        if (_filled - at - 4 < (int)length) break;
                        payloads.OnPayload(this, new ReadOnlyMemory<byte>(_in, at + 4, (int)length));
                        at += 4 + (int)length;
                        any = true;
                    }
                    kept = _filled - at;
                }
                else
                {
                    var buffered = new ReadOnlySequence<byte>(_in, 0, _filled);
                    while (FrameCodec.TryRead(ref buffered, _maxFrameBytes, out var frame))
                    {
                        reader.OnFrame(this, frame);
                        any = true;
                    }
                    kept = (int)buffered.Length;
                }
                if (any) reader.OnBatchEnd(this);
                // awaited here rather than in a method of its own: one state machine for the whole loop, not one per read
                KeepForNextRead(kept);
                var n = await _socket.ReceiveAsync(_in.AsMemory(_filled), SocketFlags.None, CancellationToken.None);
                if (!Received(n)) return;
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or FrameViolationException
                                       or MessagePack.MessagePackSerializationException) { /* closed, or not a frame the bench reads */ }
    }

    /// <summary>Keeps the undecoded rest of the buffer and reads more after it; false when the connection closed.</summary>
    private async ValueTask<bool> ReceiveMoreAsync(ReadOnlySequence<byte> rest, CancellationToken ct)
    {
        KeepForNextRead((int)rest.Length);
        return Received(await _socket.ReceiveAsync(_in.AsMemory(_filled), SocketFlags.None, ct));
    }

    /// <summary>Moves the last <paramref name="kept"/> bytes (a frame not whole yet) to the start; grows a full buffer.</summary>
    private void KeepForNextRead(int kept)
    {
        if (kept > 0 && kept != _filled) Buffer.BlockCopy(_in, _filled - kept, _in, 0, kept);
        _filled = kept;
        if (_filled == _in.Length) Array.Resize(ref _in, _in.Length * 2); // a frame larger than the buffer
    }

    /// <summary>Counts <paramref name="n"/> bytes read; false when the connection closed.</summary>
    private bool Received(int n)
    {
        _filled += n;
        // a read that filled the buffer likely left more waiting: read more at a time from now on
        if (_filled == _in.Length && _in.Length < MaxReceiveBytes) Array.Resize(ref _in, _in.Length * 2);
        return n > 0;
    }

    /// <summary>Reads frames until one of type <typeparamref name="T"/>, handing the others to <paramref name="other"/>; an error frame throws.</summary>
    private async Task<T> ExpectAsync<T>(CancellationToken ct, Action<Frame>? other = null) where T : Frame
    {
        while (true)
        {
            var buffered = new ReadOnlySequence<byte>(_in, 0, _filled);
            while (FrameCodec.TryRead(ref buffered, _maxFrameBytes, out var frame))
            {
                if (frame is Error error) throw ChatException.From(error);
                if (frame is not T wanted)
                {
                    other?.Invoke(frame);
                    continue;
                }
                var kept = (int)buffered.Length;
                Buffer.BlockCopy(_in, _filled - kept, _in, 0, kept);
                _filled = kept;
                return wanted;
            }
            if (!await ReceiveMoreAsync(buffered, ct)) throw new IOException($"the server closed the connection before {typeof(T).Name}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        try { _socket.Shutdown(SocketShutdown.Both); } catch (Exception) { /* already closed */ }
        _socket.Dispose();
        await _loop;
    }
}
