using System.Collections.Concurrent;
using System.Threading.Channels;

namespace Chat.Protocol;

// The client's state, its public view (Welcome, LastSeq, Entries, CloseReason), requests and their answers (one
// request id each, answered in OnFrameAsync), Lookup, Ping and disposal. Each other concern has its own file:
// ChatClient.Failover (connecting, login, reconnecting), .Registration, .Sends, .Inbox, .Groups, .Media, .Contacts, and
// .Connection (the framed socket); the options are in ChatClientOptions.cs.

/// <summary>An error answer from the server.</summary>
public sealed class ChatException(ErrorCode code, string message, TimeSpan? retryAfter = null) : Exception(message)
{
    /// <summary>The server's error code.</summary>
    public ErrorCode Code { get; } = code;

    /// <summary>How long to wait before the same request may succeed, when the server said (a rate limit); otherwise null.</summary>
    public TimeSpan? RetryAfter { get; } = retryAfter;

    /// <summary>The exception for an <see cref="Error"/> frame.</summary>
    public static ChatException From(Error error) =>
        new(error.Code, error.Message, error.RetryAfterMs > 0 ? TimeSpan.FromMilliseconds(error.RetryAfterMs) : null);
}

/// <summary>
/// An asynchronous client of the chat protocol. Requests may be issued from any thread.
/// Inbox entries (<see cref="Message"/>, <see cref="Receipt"/>) arrive in order on <see cref="Entries"/>.
/// </summary>
/// <remarks>
/// Sends that were written but not yet answered survive a lost connection: <see cref="ReconnectAsync"/>
/// (or <see cref="ChatClientOptions.AutoReconnect"/>) resends them with the same client message id, and the
/// server answers each once. The number of unanswered sends is capped by the server's
/// <see cref="Welcome.MaxInFlight"/>; <see cref="SendAsync"/> waits for room. An upload given a <c>resumeWithin</c>
/// (<see cref="UploadAsync"/>) likewise waits for the client to log in again and goes on where the server's copy ends.
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
    {
        var found = (LookupResult)await RequestAsync(id => new Lookup(id, phone), cancellationToken).ConfigureAwait(false);
        RememberContact(new UserProfile(found.UserId, found.Name, found.Phone));
        return found;
    }

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
        var connection = Current();
        connection.Enqueue(make(id));
        // closed meanwhile: its close may have failed the waiting requests before this one was added, so fail it here
        // rather than let it wait out the request timeout
        if (connection.IsClosed) wait.TrySetException(new IOException($"connection to {Server} closed"));
        return await WaitAsync(wait.Task, id, ct).ConfigureAwait(false);
    }

    private async Task<Frame> WaitAsync(Task<Frame> task, uint id, CancellationToken ct)
    {
        try
        {
            var answer = await task.WaitAsync(_options.RequestTimeout, ct).ConfigureAwait(false);
            if (answer is Error error) throw ChatException.From(error);
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
                if (frame is Message m) StopTypingOf(m);
                await _entries.Writer.WriteAsync(frame).ConfigureAwait(false);
                return;
            }
            case Presence or UserTyping:
                OnSignal(frame);
                return;
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
            case Profiles p: Complete(p.RequestId, p); return;
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
                        pending.Done.TrySetException(ChatException.From(error));
                    }
                    return;
                }
                Complete(error.RequestId, error);
                return;
        }
    }

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
        _signals.Writer.TryComplete();
    }
}
