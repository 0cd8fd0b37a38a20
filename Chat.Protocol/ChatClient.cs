using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Threading.Channels;

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
}

/// <summary>How far an upload or download is: <see cref="Done"/> of <see cref="Total"/> bytes.</summary>
public readonly record struct TransferProgress(long Done, long Total);

/// <summary>An error answer from the server.</summary>
public sealed class ChatException(ErrorCode code, string message) : Exception(message)
{
    /// <summary>The server's error code.</summary>
    public ErrorCode Code { get; } = code;
}

/// <summary>
/// An asynchronous client of the chat protocol. Requests may be issued from any thread.
/// Inbox entries (<see cref="Message"/>, <see cref="Receipt"/>) arrive in order on <see cref="Entries"/>.
/// </summary>
/// <remarks>
/// Sends that were written but not yet answered survive a lost connection: <see cref="ReconnectAsync"/>
/// (or <see cref="ChatClientOptions.AutoReconnect"/>) resends them with the same client message id, and the
/// server answers each once. The number of unanswered sends is capped by the server's
/// <see cref="Welcome.MaxInFlight"/>; <see cref="SendAsync"/> waits for room.
/// A client may be given several server addresses (the nodes of a cluster); it connects to the first that
/// answers and, when that connection is lost, moves on to the next (see <see cref="Servers"/>).
/// </remarks>
public sealed partial class ChatClient : IAsyncDisposable
{
    /// <summary>The protocol version this client speaks.</summary>
    public const int ProtocolVersion = 1;

    private readonly ChatClientOptions _options;
    private readonly Channel<Frame> _entries;
    private readonly ConcurrentDictionary<uint, TaskCompletionSource<Frame>> _requests = new();
    private readonly ConcurrentDictionary<string, PendingSend> _sends = new();
    private readonly CancellationTokenSource _disposed = new();
    private readonly SemaphoreSlim _inFlight = new(1);
    private Connection? _connection;
    // The logged-in connection on which every pending send has been resent: where logged-in traffic goes.
    // Null while (re)connecting, so nothing reaches a new connection before its Login.
    private Connection? _session;
    private readonly Lock _sendGate = new();
    private readonly Lock _sendOrder = new();
    private Task _lastSendWritten = Task.CompletedTask;
    private uint _nextRequestId;
    private long _lastSeq;
    private bool _syncing;
    private string? _token;
    private TaskCompletionSource<long>? _syncDone;

    private sealed record PendingSend(Frame Frame, uint RequestId, string ClientMessageId, TaskCompletionSource<Accepted> Done)
    {
        public int Attempts;
    }

    private ChatClient(IReadOnlyList<ServerAddress> servers, ChatClientOptions options)
    {
        _servers = servers;
        _options = options;
        _entries = Channel.CreateBounded<Frame>(new BoundedChannelOptions(options.EntryBuffer)
        {
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
    }

    /// <summary>The server's <see cref="Welcome"/> on the current connection.</summary>
    public Welcome Welcome { get; private set; } = null!;
    private Timer? _keepAlive;

    /// <summary>The logged-in user, once <see cref="LoginAsync"/> succeeded.</summary>
    public string? UserId { get; private set; }

    /// <summary>The highest inbox sequence received so far.</summary>
    public long LastSeq => Interlocked.Read(ref _lastSeq);

    /// <summary>Inbox entries in inbox order: <see cref="Message"/>, <see cref="Receipt"/>, <see cref="ReceiptSet"/> and <see cref="GroupNotice"/> frames.</summary>
    public ChannelReader<Frame> Entries => _entries.Reader;

    /// <summary>The fatal <see cref="Error"/> the server sent before closing, if any.</summary>
    public Error? CloseReason { get; private set; }

    /// <summary>Completes when the current connection closes.</summary>
    public Task Closed => _connection?.Finished ?? Task.CompletedTask;

    /// <summary>Sends that have not been accepted yet.</summary>
    public int UnacceptedSends => _sends.Count;

    /// <summary>Finds the user registered with a phone number.</summary>
    public async Task<LookupResult> LookupAsync(string phone, CancellationToken cancellationToken = default)
        => (LookupResult)await RequestAsync(id => new Lookup(id, phone), cancellationToken).ConfigureAwait(false);

    /// <summary>Marks every message from <paramref name="with"/> up to inbox sequence <paramref name="upTo"/> read.</summary>
    public async Task ReadAsync(string with, long upTo, CancellationToken cancellationToken = default)
        => await RequestAsync(id => new Read(id, with, upTo), cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// Sends a text and completes when the server has stored it durably. With the same
    /// <paramref name="clientMessageId"/>, a repeated send is answered with the same message id and
    /// delivered once. Cancelling stops the wait; the send stays queued for resending until disposal.
    /// </summary>
    public Task<Accepted> SendAsync(string to, string text, string? clientMessageId = null,
        CancellationToken cancellationToken = default)
        => SendFrameAsync(clientMessageId, (id, cmid) => new Send(id, cmid, to, text), cancellationToken);

    /// <summary>Sends a text to a group; as <see cref="SendAsync"/>, idempotent by client message id.</summary>
    public Task<Accepted> SendGroupAsync(string groupId, string text, string? clientMessageId = null,
        CancellationToken cancellationToken = default)
        => SendFrameAsync(clientMessageId, (id, cmid) => new SendGroup(id, cmid, groupId, text), cancellationToken);

    /// <summary>Sends an uploaded image or video (see <see cref="UploadAsync"/>) with an optional caption; idempotent as <see cref="SendAsync"/>.</summary>
    public Task<Accepted> SendMediaAsync(string to, MediaRef media, string? caption = null, string? clientMessageId = null,
        CancellationToken cancellationToken = default)
        => SendFrameAsync(clientMessageId, (id, cmid) => new Send(id, cmid, to, caption ?? "", media), cancellationToken);

    /// <summary>Sends an uploaded image or video to a group; as <see cref="SendMediaAsync"/>.</summary>
    public Task<Accepted> SendGroupMediaAsync(string groupId, MediaRef media, string? caption = null, string? clientMessageId = null,
        CancellationToken cancellationToken = default)
        => SendFrameAsync(clientMessageId, (id, cmid) => new SendGroup(id, cmid, groupId, caption ?? "", media), cancellationToken);

    /// <summary>Chunks sent ahead of their answers during an upload or download.</summary>
    public const int TransferWindow = 4;

    /// <summary>Declares an upload; the server answers with its id.</summary>
    public async Task<UploadStatus> StartUploadAsync(string contentType, long size, byte[] sha256, CancellationToken cancellationToken = default)
        => (UploadStatus)await RequestAsync(id => new StartUpload(id, contentType, size, sha256), cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// How many bytes of an unfinished upload the server has. (When it has them all but could not complete the upload
    /// earlier, the server completes it and answers <see cref="UploadComplete"/>: <see cref="UploadAsync"/> handles that.)
    /// </summary>
    public async Task<UploadStatus> ResumeUploadAsync(string uploadId, CancellationToken cancellationToken = default)
        => (UploadStatus)await RequestAsync(id => new ResumeUpload(id, uploadId), cancellationToken).ConfigureAwait(false);

    /// <summary>Sends one chunk and waits for its answer: <see cref="UploadStatus"/>, or <see cref="UploadComplete"/> for the last one.</summary>
    public Task<Frame> UploadChunkAsync(string uploadId, long offset, byte[] data, CancellationToken cancellationToken = default)
        => RequestAsync(id => new UploadChunk(id, uploadId, offset, data), cancellationToken);

    /// <summary>
    /// Uploads <paramref name="content"/> (seekable: it is read once for its SHA-256, then from wherever the server's
    /// copy ends). With <paramref name="uploadId"/> an earlier, interrupted upload of the same content continues.
    /// <paramref name="started"/> learns the upload id before the first chunk, so a caller can resume after a failure.
    /// </summary>
    public async Task<UploadComplete> UploadAsync(Stream content, string contentType, string? uploadId = null,
        IProgress<TransferProgress>? progress = null, Action<string>? started = null, CancellationToken cancellationToken = default)
    {
        if (!content.CanSeek) throw new ArgumentException("the content must be seekable", nameof(content));
        UploadStatus status;
        if (uploadId is null)
        {
            content.Position = 0;
            var hash = await System.Security.Cryptography.SHA256.HashDataAsync(content, cancellationToken).ConfigureAwait(false);
            status = await StartUploadAsync(contentType, content.Length, hash, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            var resumed = await RequestAsync(id => new ResumeUpload(id, uploadId), cancellationToken).ConfigureAwait(false);
            if (resumed is UploadComplete already) // every byte had arrived: the server completed it now
            {
                progress?.Report(new(already.Size, already.Size));
                return already;
            }
            status = (UploadStatus)resumed;
        }
        started?.Invoke(status.UploadId);
        progress?.Report(new(status.Received, status.Size));
        var offset = status.Received;
        var window = new Queue<Task<Frame>>();
        UploadComplete? done = null;
        while (done is null)
        {
            while (offset < status.Size && window.Count < TransferWindow)
            {
                var data = new byte[(int)Math.Min(status.MaxChunkBytes, status.Size - offset)];
                content.Position = offset;
                await content.ReadExactlyAsync(data, cancellationToken).ConfigureAwait(false);
                var at = offset;
                window.Enqueue(RequestAsync(id => new UploadChunk(id, status.UploadId, at, data), cancellationToken));
                offset += data.Length;
            }
            if (window.Count == 0) throw new InvalidOperationException("the server did not complete the upload");
            switch (await window.Dequeue().ConfigureAwait(false))
            {
                case UploadStatus s: progress?.Report(new(s.Received, s.Size)); break;
                case UploadComplete c: progress?.Report(new(c.Size, c.Size)); done = c; break;
            }
        }
        return done;
    }

    /// <summary>
    /// Downloads a media item into <paramref name="destination"/> in ranged chunks and checks its SHA-256.
    /// Returns the item's last chunk (its size, content type and hash).
    /// </summary>
    public async Task<MediaChunk> DownloadAsync(string mediaId, Stream destination, IProgress<TransferProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        const int chunk = 256 * 1024;
        var first = (MediaChunk)await RequestAsync(id => new Download(id, mediaId, 0, chunk), cancellationToken).ConfigureAwait(false);
        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        var last = first;
        var written = 0L;
        async Task Take(MediaChunk c)
        {
            if (c.Offset != written) throw new IOException($"chunk at {c.Offset}, expected {written}");
            await destination.WriteAsync(c.Data, cancellationToken).ConfigureAwait(false);
            hash.AppendData(c.Data);
            written += c.Data.Length;
            progress?.Report(new(written, c.Size));
            last = c;
        }
        await Take(first).ConfigureAwait(false);
        var next = written;
        var step = Math.Max(1, first.Data.Length);
        var window = new Queue<Task<Frame>>();
        while (written < first.Size)
        {
            while (next < first.Size && window.Count < TransferWindow)
            {
                var at = next;
                window.Enqueue(RequestAsync(id => new Download(id, mediaId, at, step), cancellationToken));
                next += step;
            }
            await Take((MediaChunk)await window.Dequeue().ConfigureAwait(false)).ConfigureAwait(false);
        }
        if (!hash.GetHashAndReset().AsSpan().SequenceEqual(first.Sha256))
            throw new IOException($"media {mediaId}: the downloaded bytes do not match its SHA-256");
        return last;
    }

    /// <summary>Creates a group with this user as admin; returns its id.</summary>
    public async Task<string> CreateGroupAsync(string name, IReadOnlyList<string> members, CancellationToken cancellationToken = default)
        => ((GroupCreated)await RequestAsync(id => new CreateGroup(id, name, members), cancellationToken).ConfigureAwait(false)).GroupId;

    /// <summary>Adds members (admins only).</summary>
    public Task AddMembersAsync(string groupId, IReadOnlyList<string> members, CancellationToken cancellationToken = default)
        => RequestAsync(id => new AddMembers(id, groupId, members), cancellationToken);

    /// <summary>Removes members (admins only).</summary>
    public Task RemoveMembersAsync(string groupId, IReadOnlyList<string> members, CancellationToken cancellationToken = default)
        => RequestAsync(id => new RemoveMembers(id, groupId, members), cancellationToken);

    /// <summary>Leaves a group.</summary>
    public Task LeaveGroupAsync(string groupId, CancellationToken cancellationToken = default)
        => RequestAsync(id => new LeaveGroup(id, groupId), cancellationToken);

    /// <summary>Renames a group.</summary>
    public Task RenameGroupAsync(string groupId, string name, CancellationToken cancellationToken = default)
        => RequestAsync(id => new RenameGroup(id, groupId, name), cancellationToken);

    /// <summary>Sets the group's picture to uploaded media (an image), or removes it with null.</summary>
    public Task SetGroupImageAsync(string groupId, MediaRef? image, CancellationToken cancellationToken = default)
        => RequestAsync(id => new SetGroupImage(id, groupId, image), cancellationToken);

    /// <summary>Promotes a member to admin, or demotes an admin (admins only).</summary>
    public Task SetAdminAsync(string groupId, string member, bool isAdmin, CancellationToken cancellationToken = default)
        => RequestAsync(id => new SetAdmin(id, groupId, member, isAdmin), cancellationToken);

    /// <summary>A group's name, members and admins (members only).</summary>
    public async Task<GroupInfo> GetGroupInfoAsync(string groupId, CancellationToken cancellationToken = default)
        => (GroupInfo)await RequestAsync(id => new GetGroupInfo(id, groupId), cancellationToken).ConfigureAwait(false);

    /// <summary>The groups this user belongs to.</summary>
    public async Task<IReadOnlyList<GroupSummary>> ListGroupsAsync(CancellationToken cancellationToken = default)
        => ((GroupList)await RequestAsync(id => new ListGroups(id), cancellationToken).ConfigureAwait(false)).Groups;

    private async Task<Accepted> SendFrameAsync(string? clientMessageId, Func<uint, string, Frame> make, CancellationToken cancellationToken)
    {
        clientMessageId ??= NewClientMessageId();
        if (_sends.TryGetValue(clientMessageId, out var existing))
            return await existing.Done.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        // Sends leave in the order they were made: each waits for the one before it to be written before it waits for
        // room in the server's in-flight window. (Waiters on the window alone were let through in no particular order,
        // and a recipient then received a burst of messages out of order.)
        var written = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task before;
        lock (_sendOrder)
        {
            before = _lastSendWritten;
            _lastSendWritten = written.Task;
        }
        PendingSend pending;
        try
        {
            await before.ConfigureAwait(false);
            await _inFlight.WaitAsync(cancellationToken).ConfigureAwait(false);
            // Under the gate a send is either resent by a reconnect or written here, never both nor neither, and in order.
            lock (_sendGate)
            {
                var requestId = NextRequestId();
                pending = new PendingSend(make(requestId, clientMessageId), requestId, clientMessageId,
                    new TaskCompletionSource<Accepted>(TaskCreationOptions.RunContinuationsAsynchronously));
                _sends[clientMessageId] = pending;
                LoggedInTarget()?.Enqueue(pending.Frame);
            }
        }
        finally
        {
            written.SetResult(); // the next send may go (also when this one was cancelled while waiting)
        }
        return await pending.Done.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A new random client message id (16 hex characters).</summary>
    public static string NewClientMessageId() => Convert.ToHexStringLower(Guid.NewGuid().ToByteArray(), 0, 8);

    /// <summary>
    /// Requests every inbox entry after <paramref name="after"/>; they arrive on <see cref="Entries"/>.
    /// Completes with the last stored sequence once the stored entries have been received; live entries follow.
    /// </summary>
    public async Task<long> SyncAsync(long after, CancellationToken cancellationToken = default)
    {
        var done = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        _syncDone = done;
        Interlocked.Exchange(ref _lastSeq, after);
        _syncing = true;
        Current().Enqueue(new Sync(after));
        return await done.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Acknowledges every inbox entry up to <paramref name="seq"/>. Cheap: acks are coalesced (unless
    /// <see cref="ChatClientOptions.CoalesceAcks"/> is off). An ack made while the
    /// client is reconnecting is dropped; acks are cumulative, so the next one covers it.
    /// </summary>
    public void Ack(long seq) => LoggedInTarget()?.Enqueue(new Ack(seq));

    /// <summary>Measures a round trip to the server.</summary>
    public async Task<TimeSpan> PingAsync(CancellationToken cancellationToken = default)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var nonce = started;
        var wait = new TaskCompletionSource<Frame>(TaskCreationOptions.RunContinuationsAsynchronously);
        var key = (uint)(nonce & 0x7fffffff) | 0x80000000; // pings use the upper half of the id space
        _requests[key] = wait;
        Current().Enqueue(new Ping(key));
        await WaitAsync(wait.Task, key, cancellationToken).ConfigureAwait(false);
        return System.Diagnostics.Stopwatch.GetElapsedTime(started);
    }

    /// <summary>Where a request goes: the logged-in session once logged in, else the greeted connection.</summary>
    private Connection Current() => LoggedInTarget() ?? throw new IOException($"not connected to {Server} (reconnecting)");

    private Connection? LoggedInTarget() => _token is null ? _connection : _session;

    private uint NextRequestId()
    {
        while (true)
        {
            var id = Interlocked.Increment(ref _nextRequestId) & 0x7fffffff;
            if (id != 0) return id;
        }
    }

    private async Task<Frame> RequestAsync(Func<uint, Frame> make, CancellationToken ct)
    {
        var id = NextRequestId();
        var wait = new TaskCompletionSource<Frame>(TaskCreationOptions.RunContinuationsAsynchronously);
        _requests[id] = wait;
        Current().Enqueue(make(id));
        return await WaitAsync(wait.Task, id, ct).ConfigureAwait(false);
    }

    private async Task<Frame> WaitAsync(Task<Frame> task, uint id, CancellationToken ct)
    {
        try
        {
            var answer = await task.WaitAsync(_options.RequestTimeout, ct).ConfigureAwait(false);
            if (answer is Error error) throw new ChatException(error.Code, error.Message);
            return answer;
        }
        finally
        {
            _requests.TryRemove(id, out _);
        }
    }

    private async ValueTask OnFrameAsync(Frame frame)
    {
        switch (frame)
        {
            case Message or Receipt or ReceiptSet or GroupNotice:
            {
                var seq = SeqOf(frame);
                if (seq <= LastSeq) return; // already seen (a resumed sync can overlap)
                Interlocked.Exchange(ref _lastSeq, seq);
                await _entries.Writer.WriteAsync(frame).ConfigureAwait(false);
                return;
            }
            case Accepted accepted:
                if (_sends.TryRemove(accepted.ClientMessageId, out var send))
                {
                    _inFlight.Release();
                    send.Done.TrySetResult(accepted);
                }
                return;
            case SyncComplete complete:
                if (complete.LastSeq < LastSeq) Interlocked.Exchange(ref _lastSeq, complete.LastSeq); // asked from beyond the end
                _syncDone?.TrySetResult(complete.LastSeq);
                return;
            case Welcome welcome:
                Complete(0, welcome);
                return;
            case Registered r: Complete(r.RequestId, r); return;
            case CodeSent cs: Complete(cs.RequestId, cs); return;
            case GroupCreated g: Complete(g.RequestId, g); return;
            case GroupInfo gi: Complete(gi.RequestId, gi); return;
            case GroupList gl: Complete(gl.RequestId, gl); return;
            case LoggedIn l: Complete(l.RequestId, l); return;
            case LookupResult lr: Complete(lr.RequestId, lr); return;
            case Ok ok: Complete(ok.RequestId, ok); return;
            case UploadStatus us: Complete(us.RequestId, us); return;
            case UploadComplete uc: Complete(uc.RequestId, uc); return;
            case MediaChunk mc: Complete(mc.RequestId, mc); return;
            case Pong pong: Complete((uint)pong.Nonce, pong); return;
            case Error error:
                if (error.Code.IsFatal())
                {
                    CloseReason = error;
                    Complete(0, error);
                    return;
                }
                foreach (var pending in _sends.Values)
                {
                    if (pending.RequestId != error.RequestId) continue;
                    if (error.Code == ErrorCode.Unavailable && ++pending.Attempts <= _options.SendRetries)
                    {
                        // safe: the server stores a client message id once
                        _ = Task.Delay(TimeSpan.FromMilliseconds(100 * pending.Attempts))
                            .ContinueWith(_ => _session?.Enqueue(pending.Frame), TaskScheduler.Default);
                        return;
                    }
                    if (_sends.TryRemove(pending.ClientMessageId, out _))
                    {
                        _inFlight.Release();
                        pending.Done.TrySetException(new ChatException(error.Code, error.Message));
                    }
                    return;
                }
                Complete(error.RequestId, error);
                return;
        }
    }

    /// <summary>The inbox sequence of an inbox entry frame (Message, Receipt, ReceiptSet, GroupNotice), else 0.</summary>
    public static long SeqOf(Frame frame) => frame switch
    {
        Message m => m.Seq,
        Receipt r => r.Seq,
        ReceiptSet s => s.Seq,
        GroupNotice n => n.Seq,
        _ => 0,
    };

    private void Complete(uint id, Frame answer)
    {
        if (_requests.TryGetValue(id, out var wait)) wait.TrySetResult(answer);
    }

    /// <summary>Closes the connection. Unaccepted sends are abandoned.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed.IsCancellationRequested) return;
        _disposed.Cancel();
        if (_keepAlive is not null) await _keepAlive.DisposeAsync().ConfigureAwait(false);
        var connection = _connection;
        if (connection is not null)
        {
            await connection.CloseAsync().ConfigureAwait(false);
        }
        foreach (var pending in _sends.Values)
            pending.Done.TrySetException(new ObjectDisposedException(nameof(ChatClient)));
        _entries.Writer.TryComplete();
    }

    /// <summary>One TCP connection: a read loop and a write loop that coalesces frames into few syscalls.</summary>
    private sealed class Connection
    {
        private readonly ChatClient _client;
        private readonly Socket _socket;
        private readonly NetworkStream _stream;
        private readonly Channel<Frame> _outgoing = Channel.CreateUnbounded<Frame>(new UnboundedChannelOptions { SingleReader = true });
        private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private Task _reader = Task.CompletedTask;
        private Task _writer = Task.CompletedTask;

        public Connection(ChatClient client, Socket socket)
        {
            _client = client;
            _socket = socket;
            _stream = new NetworkStream(socket, ownsSocket: true);
        }

        public Task Finished => _finished.Task;

        /// <summary>Set before the client hears of the close, so a reconnect that ends can tell it was missed.</summary>
        public bool IsClosed => _closed;
        private volatile bool _closed;

        public void Start()
        {
            _reader = Task.Run(ReadLoopAsync);
            _writer = Task.Run(WriteLoopAsync);
        }

        public void Enqueue(Frame frame) => _outgoing.Writer.TryWrite(frame);

        public void Abort()
        {
            _outgoing.Writer.TryComplete();
            try { _socket.Shutdown(SocketShutdown.Both); } catch (Exception) { /* already closed */ }
            _stream.Dispose();
        }

        public async Task CloseAsync()
        {
            _outgoing.Writer.TryComplete();
            try { await _writer.WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false); }
            catch (Exception) { /* closing anyway */ }
            Abort();
            try { await _reader.ConfigureAwait(false); } catch (Exception) { /* closing anyway */ }
        }

        private async Task ReadLoopAsync()
        {
            Exception? failure = null;
            var pipe = PipeReader.Create(_stream, new StreamPipeReaderOptions(bufferSize: 16 * 1024, useZeroByteReads: true));
            try
            {
                while (true)
                {
                    var result = await pipe.ReadAsync().ConfigureAwait(false);
                    var buffer = result.Buffer;
                    while (FrameCodec.TryRead(ref buffer, _client._options.MaxFrameBytes, out var frame))
                        await _client.OnFrameAsync(frame).ConfigureAwait(false);
                    pipe.AdvanceTo(buffer.Start, buffer.End);
                    if (result.IsCompleted) break;
                }
            }
            catch (Exception e)
            {
                failure = e;
            }
            finally
            {
                await pipe.CompleteAsync().ConfigureAwait(false);
                _outgoing.Writer.TryComplete();
                try { _socket.Shutdown(SocketShutdown.Both); } catch (Exception) { /* already closed */ }
                _closed = true;
                _client.OnClosed(this, failure);
                _finished.TrySetResult();
            }
        }

        private async Task WriteLoopAsync()
        {
            var pipe = PipeWriter.Create(_stream, new StreamPipeWriterOptions(leaveOpen: true));
            var reader = _outgoing.Reader;
            try
            {
                while (await reader.WaitToReadAsync().ConfigureAwait(false))
                {
                    long ack = -1;
                    while (reader.TryRead(out var frame))
                    {
                        if (frame is Ack a && _client._options.CoalesceAcks) { ack = Math.Max(ack, a.Seq); continue; }
                        FrameCodec.Write(pipe, frame);
                        if (pipe.UnflushedBytes > 256 * 1024) await pipe.FlushAsync().ConfigureAwait(false);
                    }
                    if (ack >= 0) FrameCodec.Write(pipe, new Ack(ack));
                    var flush = await pipe.FlushAsync().ConfigureAwait(false);
                    if (flush.IsCompleted) break;
                }
            }
            catch (Exception)
            {
                // the read loop reports the failure
            }
            finally
            {
                try { await pipe.CompleteAsync().ConfigureAwait(false); } catch (Exception) { /* closed */ }
            }
        }
    }
}
