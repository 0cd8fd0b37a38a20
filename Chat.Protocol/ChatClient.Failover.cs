using System.Net.Sockets;
using System.Runtime.ExceptionServices;

namespace Chat.Protocol;

// Connecting, logging in and reconnecting over a list of server addresses (the nodes of a cluster).
public sealed partial class ChatClient
{
    private readonly IReadOnlyList<ServerAddress> _servers;
    private int _serverIndex;
    // 1 while a connect, login failover or reconnect is running: a connection lost meanwhile is that run's to handle.
    private int _reconnecting;
    private LoggedIn? _loggedIn;
    // Completed (and replaced) each time a login makes a connection the session: what a request cut off by a lost
    // connection waits on before it goes on (see LoggedInAgainAsync).
    private TaskCompletionSource _sessionOpened = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>
    /// The addresses this client connects to, in the order given. <see cref="ConnectAsync(IReadOnlyList{ServerAddress}, ChatClientOptions?, CancellationToken)"/>
    /// tries them from the first on; after a lost connection the client moves on to the next one, round robin.
    /// </summary>
    /// <remarks>
    /// Connecting always starts at the first address rather than a random one: the order is the caller's preference
    /// (nearest node first), and callers that want to spread load give each client the list rotated to a different
    /// start, as <c>chat bench</c> does. That keeps which node a client uses predictable for its operator.
    /// </remarks>
    public IReadOnlyList<ServerAddress> Servers => _servers;

    /// <summary>The address of the current connection; while reconnecting, the address being tried (or tried last).</summary>
    public ServerAddress Server => _servers[Volatile.Read(ref _serverIndex)];

    /// <summary>Connects to one address and exchanges Hello/Welcome.</summary>
    public static Task<ChatClient> ConnectAsync(string host, int port, ChatClientOptions? options = null,
        CancellationToken cancellationToken = default)
        => ConnectAsync([new ServerAddress(host, port)], options, cancellationToken);

    /// <summary>
    /// Parses <c>host:port</c>, or a comma-separated list of a cluster's nodes (<c>a:7400,b:7400,c:7400</c>), and
    /// connects as <see cref="ConnectAsync(IReadOnlyList{ServerAddress}, ChatClientOptions?, CancellationToken)"/> does.
    /// Throws <see cref="ArgumentException"/> if an entry is not <c>host:port</c>.
    /// </summary>
    public static Task<ChatClient> ConnectAsync(string server, ChatClientOptions? options = null,
        CancellationToken cancellationToken = default)
        => ConnectAsync(ServerAddress.ParseList(server), options, cancellationToken);

    /// <summary>
    /// Connects to the first of <paramref name="servers"/> that accepts the connection and answers Hello with
    /// Welcome within <see cref="ChatClientOptions.ConnectTimeout"/>, trying each once, in order. If none does, it
    /// throws: with one address, that attempt's error (<see cref="SocketException"/>, <see cref="TimeoutException"/>,
    /// <see cref="ChatException"/>, ...); with several, an <see cref="IOException"/> naming each address and why it failed.
    /// </summary>
    public static async Task<ChatClient> ConnectAsync(IReadOnlyList<ServerAddress> servers, ChatClientOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(servers);
        if (servers.Count == 0) throw new ArgumentException("give at least one server address", nameof(servers));
        var client = new ChatClient(servers.ToArray(), options ?? new ChatClientOptions());
        try
        {
            Interlocked.Exchange(ref client._reconnecting, 1);
            try
            {
                await client.ConnectRoundAsync(0, token: null, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                client.EndConnecting();
            }
        }
        catch
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return client;
    }

    /// <summary>
    /// Authenticates this connection with a token from <see cref="Registered"/>. If the node fails to answer in
    /// time, answers <see cref="ErrorCode.Unavailable"/> or drops the connection, and the client has other
    /// <see cref="Servers"/>, it moves on to them (each once, from the next) and logs in there.
    /// </summary>
    public async Task<LoggedIn> LoginAsync(string token, CancellationToken cancellationToken = default)
    {
        var connection = _connection ?? throw new IOException($"not connected to {Server}");
        try
        {
            return await LogInOnAsync(connection, token, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (_servers.Count > 1 && IsTransient(e) && !cancellationToken.IsCancellationRequested)
        {
            if (Interlocked.CompareExchange(ref _reconnecting, 1, 0) != 0) throw; // a reconnect is already moving on
            try
            {
                Detach(connection);
                await ConnectRoundAsync(NextIndex(), token, cancellationToken).ConfigureAwait(false);
                return _loggedIn!;
            }
            finally
            {
                EndConnecting();
            }
        }
    }

    /// <summary>
    /// Drops the current connection and connects again, starting at the next of <see cref="Servers"/> (with one
    /// address, the same one) and trying each once; then logs in with the same token, resends every unaccepted send
    /// with its original client message id and, if a sync was running, resumes it after <see cref="LastSeq"/>.
    /// Throws as <see cref="ConnectAsync(IReadOnlyList{ServerAddress}, ChatClientOptions?, CancellationToken)"/> does
    /// when no address answers, and <see cref="IOException"/> if an automatic reconnect is already under way.
    /// </summary>
    public async Task ReconnectAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.CompareExchange(ref _reconnecting, 1, 0) != 0)
            throw new IOException("already reconnecting");
        try
        {
            var old = _connection;
            Detach(old);
            if (old is not null) await old.Finished.ConfigureAwait(false);
            await ConnectRoundAsync(NextIndex(), _token, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            EndConnecting();
        }
    }

    private int NextIndex() => (Volatile.Read(ref _serverIndex) + 1) % _servers.Count;

    /// <summary>
    /// Tries every address once, from <paramref name="first"/> on: connect, Hello, and with a token Login, resends and
    /// Sync. A failure that another node may not share (no answer, a dropped connection, Unavailable, a node shutting
    /// down) moves on; one every node would repeat (a refused token) ends the round.
    /// </summary>
    private async Task ConnectRoundAsync(int first, string? token, CancellationToken ct)
    {
        var failures = new List<(ServerAddress Address, Exception Error)>();
        for (var i = 0; i < _servers.Count; i++)
        {
            var index = (first + i) % _servers.Count;
            Connection? connection = null;
            try
            {
                connection = await OpenAsync(index, ct).ConfigureAwait(false);
                if (token is not null) await LogInOnAsync(connection, token, ct).ConfigureAwait(false);
                return;
            }
            catch (Exception e) when (IsTransient(e) && !ct.IsCancellationRequested)
            {
                Detach(connection);
                failures.Add((_servers[index], e));
            }
            catch
            {
                Detach(connection);
                throw;
            }
        }
        if (failures.Count == 1) ExceptionDispatchInfo.Throw(failures[0].Error);
        throw new IOException(
            "no server answered: " + string.Join("; ", failures.Select(f => $"{f.Address} ({Reason(f.Error)})")),
            new AggregateException(failures.Select(f => f.Error)));
    }

    private static string Reason(Exception e) => e switch
    {
        ChatException c => $"{c.Code}: {c.Message}",
        _ => e.Message,
    };

    /// <summary>Failures that another node, or the same one a moment later, may not repeat.</summary>
    private static bool IsTransient(Exception e) => e switch
    {
        ChatException c => c.Code is not (ErrorCode.AuthFailed or ErrorCode.InvalidArgument),
        IOException or SocketException or TimeoutException or OperationCanceledException => true,
        _ => false,
    };

    /// <summary>Opens a connection to one address and exchanges Hello/Welcome within the connect timeout.</summary>
    private async Task<Connection> OpenAsync(int index, CancellationToken ct)
    {
        Volatile.Write(ref _serverIndex, index);
        var address = _servers[index];
        CloseReason = null;
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        limit.CancelAfter(_options.ConnectTimeout);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        Connection? connection = null;
        try
        {
            await socket.ConnectAsync(address.Host, address.Port, limit.Token).ConfigureAwait(false);
            connection = new Connection(this, socket);
            _connection = connection;
            var welcomeWait = new TaskCompletionSource<Frame>(TaskCreationOptions.RunContinuationsAsynchronously);
            _requests[0] = welcomeWait;
            connection.Start();
            connection.Enqueue(new Hello(ProtocolVersion, _options.ClientName));
            if (_keepAlive is null && _options.KeepAlive > TimeSpan.Zero)
                _keepAlive = new Timer(_ => _connection?.Enqueue(new Ping(-1)), null, _options.KeepAlive, _options.KeepAlive);
            var answer = await WaitAsync(welcomeWait.Task, 0, limit.Token).ConfigureAwait(false);
            var first = Welcome is null;
            Welcome = (Welcome)answer;
            if (first && Welcome.MaxInFlight > 1) _inFlight.Release(Welcome.MaxInFlight - 1);
            return connection;
        }
        catch (Exception e)
        {
            if (connection is null) socket.Dispose();
            else Detach(connection);
            if (e is OperationCanceledException && !ct.IsCancellationRequested)
                throw new TimeoutException($"no answer from {address} within {_options.ConnectTimeout.TotalSeconds:0.#} s", e);
            throw;
        }
    }

    /// <summary>Logs in on a greeted connection, then resends every unaccepted send and resumes a running sync there.</summary>
    private async Task<LoggedIn> LogInOnAsync(Connection connection, string token, CancellationToken ct)
    {
        var id = NextRequestId();
        var wait = new TaskCompletionSource<Frame>(TaskCreationOptions.RunContinuationsAsynchronously);
        _requests[id] = wait;
        connection.Enqueue(new Login(id, token, _options.Device));
        var answer = (LoggedIn)await WaitAsync(wait.Task, id, ct).ConfigureAwait(false);
        _token = token;
        if (UserId != answer.UserId) Interlocked.Exchange(ref _highestAck, 0); // another user's acks are not this one's
        UserId = answer.UserId;
        _loggedIn = answer;
        RememberContact(new UserProfile(answer.UserId, answer.Name, answer.Phone));
        lock (_sendGate)
        {
            // In the order they were first sent, so that each recipient still receives them in that order; the
            // server answers an id it already stored with the original Accepted and does not deliver it again.
            foreach (var pending in _sends.Values.OrderBy(p => p.RequestId))
                connection.Enqueue(pending.Frame);
            _session = connection;
        }
        if (connection.IsClosed) Interlocked.CompareExchange(ref _session, null, connection); // lost already: the reconnect will resend
        else Interlocked.Exchange(ref _sessionOpened, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
        if (_syncing)
        {
            _syncDone = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
            connection.Enqueue(new Sync(LastSeq));
        }
        if (Interlocked.Read(ref _highestAck) is > 0 and var acked) connection.Enqueue(new Ack(acked)); // see Ack
        ResubscribeOn(connection);
        return answer;
    }

    /// <summary>
    /// True once this client is logged in on a live connection: at once if it is, otherwise when a reconnect (automatic,
    /// or the application's <see cref="ReconnectAsync"/>) has logged in again. False when that did not happen within
    /// <paramref name="within"/>, or the client was disposed.
    /// </summary>
    private async Task<bool> LoggedInAgainAsync(TimeSpan within, CancellationToken ct)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct, _disposed.Token);
        while (true)
        {
            var opened = Volatile.Read(ref _sessionOpened); // taken before the check: a login in between completes it
            if (Volatile.Read(ref _session) is { IsClosed: false }) return true;
            var left = within - System.Diagnostics.Stopwatch.GetElapsedTime(started);
            if (left <= TimeSpan.Zero || _disposed.IsCancellationRequested) return false;
            try
            {
                await opened.Task.WaitAsync(left, stop.Token).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                return false;
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                return false; // disposed
            }
        }
    }

    /// <summary>Forgets a connection (its close is then not reported as a loss) and closes it.</summary>
    private void Detach(Connection? connection)
    {
        if (connection is null) return;
        Interlocked.CompareExchange(ref _connection, null, connection);
        Interlocked.CompareExchange(ref _session, null, connection);
        connection.Abort();
    }

    private void OnClosed(Connection connection, Exception? error)
    {
        if (!ReferenceEquals(connection, _connection)) return;
        Interlocked.CompareExchange(ref _session, null, connection);
        Exception reason = CloseReason is { } r ? new ChatException(r.Code, r.Message)
            : new IOException($"connection to {Server} closed", error);
        foreach (var (id, wait) in _requests)
            if (wait.TrySetException(reason)) _requests.TryRemove(id, out _);
        _syncDone?.TrySetException(reason);
        if (ShouldReconnect()) StartReconnecting();
    }

    private bool ShouldReconnect()
        => _options.AutoReconnect && !_disposed.IsCancellationRequested && CloseReason?.Code != ErrorCode.Replaced;

    private void StartReconnecting()
    {
        if (Interlocked.CompareExchange(ref _reconnecting, 1, 0) != 0) return;
        _ = ReconnectLoopAsync();
    }

    /// <summary>Ends a connect or reconnect; a connection lost while it ran started no reconnect of its own, so start one.</summary>
    private void EndConnecting()
    {
        Interlocked.Exchange(ref _reconnecting, 0);
        if (_connection is { IsClosed: true } && ShouldReconnect()) StartReconnecting();
    }

    /// <summary>
    /// Rounds over the addresses, from the one after the lost connection's, until one serves the client again or the
    /// client is disposed. Between failed rounds it waits 200 ms, doubling up to 5 s.
    /// </summary>
    private async Task ReconnectLoopAsync()
    {
        try
        {
            // Every client of a node that died notices at the same moment; a little jitter spreads them over the next node.
            var delay = TimeSpan.FromMilliseconds(Random.Shared.Next(10, 100));
            var next = NextIndex();
            while (true)
            {
                try
                {
                    await Task.Delay(delay, _disposed.Token).ConfigureAwait(false);
                    Detach(_connection);
                    await ConnectRoundAsync(next, _token, _disposed.Token).ConfigureAwait(false);
                    return;
                }
                catch (OperationCanceledException) when (_disposed.IsCancellationRequested)
                {
                    return;
                }
                catch (ChatException e) when (!IsTransient(e))
                {
                    // Every node would refuse this token in the same way: stop, and let the waiting senders know.
                    FailPendingSends(e);
                    return;
                }
                catch (Exception)
                {
                    delay = TimeSpan.FromMilliseconds(Math.Clamp(delay.TotalMilliseconds * 2, 200, 5_000));
                }
            }
        }
        finally
        {
            EndConnecting();
        }
    }

    private void FailPendingSends(Exception reason)
    {
        foreach (var pending in _sends.Values)
        {
            if (!_sends.TryRemove(pending.ClientMessageId, out _)) continue;
            _inFlight.Release();
            pending.Done.TrySetException(reason);
        }
    }
}
