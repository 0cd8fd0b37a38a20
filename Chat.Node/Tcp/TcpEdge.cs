using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;
using Chat.Node.Sessions;

namespace Chat.Node.Tcp;

/// <summary>Accepts client connections; each gets a <see cref="ClientConnection"/> and a <see cref="Session"/> actor.</summary>
public sealed class TcpEdge
{
    private readonly ActorSystem _system;
    private readonly ChatSettings _settings;
    private readonly Func<ClientConnection, Props> _sessionProps;
    private readonly ILoggingAdapter _log;
    private readonly CancellationTokenSource _stopping = new();
    private Socket? _listener;
    private Task _acceptLoop = Task.CompletedTask;
    private long _accepted;
    private int _open;
    private int _connectionLimit = int.MaxValue;
    private readonly ConcurrentDictionary<IPAddress, int> _perAddress = new();
    private readonly LogThrottle _acceptFailures = new(LogInterval, TimeProvider.System);
    private readonly LogThrottle _limitRefusals = new(LogInterval, TimeProvider.System);
    private readonly LogThrottle _addressRefusals = new(LogInterval, TimeProvider.System);

    private static readonly TimeSpan FirstAcceptBackoff = TimeSpan.FromMilliseconds(10);
    private static readonly TimeSpan MaxAcceptBackoff = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan LogInterval = TimeSpan.FromSeconds(10);

    public TcpEdge(ActorSystem system, ChatSettings settings, Func<ClientConnection, Props> sessionProps)
    {
        _system = system;
        _settings = settings;
        _sessionProps = sessionProps;
        _log = Logging.GetLogger(system, "tcp-edge");
    }

    /// <summary>Takes the next connection off the listener; tests replace it to make accept fail on demand.</summary>
    internal Func<Socket, CancellationToken, ValueTask<Socket>> Accept { get; init; } = (listener, ct) => listener.AcceptAsync(ct);

    public IPEndPoint? LocalEndPoint => _listener?.LocalEndPoint as IPEndPoint;

    /// <summary>Connections open at most: <see cref="ChatSettings.MaxConnections"/> or what the open-files limit leaves room for.</summary>
    public int ConnectionLimitInEffect => _connectionLimit;

    /// <summary>Connections open now.</summary>
    public int OpenConnections => Volatile.Read(ref _open);

    /// <summary>The client port is open and connections are being taken (false before start and once stopping).</summary>
    public bool Accepting => _listener is not null && !_stopping.IsCancellationRequested && !_acceptLoop.IsCompleted;

    /// <summary>Connections accepted since start.</summary>
    public long AcceptedConnections => Interlocked.Read(ref _accepted);

    public IPEndPoint Start()
    {
        var address = IPAddress.Parse(_settings.Host);
        var listener = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        listener.Bind(new IPEndPoint(address, _settings.Port));
        listener.Listen(4096);
        _listener = listener;
        _connectionLimit = ConnectionLimit();
        _acceptLoop = Task.Run(AcceptLoopAsync);
        return (IPEndPoint)listener.LocalEndPoint!;
    }

    private async Task AcceptLoopAsync()
    {
        var listener = _listener!;
        var backoff = TimeSpan.Zero;
        while (!_stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await Accept(listener, _stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) { return; }
            catch (ObjectDisposedException) { return; }
            catch (Exception e)
            {
                // Out of descriptors (EMFILE/ENFILE) the pending connection stays in the backlog, so the listener is
                // ready again at once: retrying without a pause spins a core and floods the log until a descriptor frees.
                // Any other failure is retried the same way, since a loop that ended would leave a node that looks
                // healthy but takes no one.
                backoff = backoff == TimeSpan.Zero ? FirstAcceptBackoff : TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxAcceptBackoff.Ticks));
                if (_acceptFailures.Occurred(out var count, out var since))
                {
                    if (count == 1) _log.Warning("accept failed: {0}; retrying in {1} ms, backing off up to {2} ms while it fails", e.Message, backoff.TotalMilliseconds, MaxAcceptBackoff.TotalMilliseconds);
                    else _log.Warning("accept failed {0} times in the last {1:0} s: {2}; retrying every {3} ms", count, since.TotalSeconds, e.Message, backoff.TotalMilliseconds);
                }
                try
                {
                    await Task.Delay(backoff, _stopping.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) { return; }
                continue;
            }
            backoff = TimeSpan.Zero;
            try
            {
                Admit(socket);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // the peer reset before it was set up (socket options and the remote address need a live socket)
                socket.Dispose();
            }
        }
    }

    private void Admit(Socket socket)
    {
        if (Volatile.Read(ref _open) >= _connectionLimit)
        {
            if (_limitRefusals.Occurred(out var count, out var since))
            {
                if (count == 1) _log.Warning("connection limit {0} reached; refusing {1}", _connectionLimit, socket.RemoteEndPoint);
                else _log.Warning("connection limit {0} reached; refused {1} connections in the last {2:0} s", _connectionLimit, count, since.TotalSeconds);
            }
            socket.Dispose();
            return;
        }
        var address = AddressOf(socket);
        if (address is not null && !TryTakeAddressSlot(address))
        {
            if (_addressRefusals.Occurred(out var count, out var since))
            {
                if (count == 1) _log.Warning("connection limit per address {0} reached; refusing {1}", _settings.MaxConnectionsPerAddress, socket.RemoteEndPoint);
                else _log.Warning("connection limit per address {0} reached; refused {1} connections in the last {2:0} s, the latest from {3}",
                    _settings.MaxConnectionsPerAddress, count, since.TotalSeconds, address);
            }
            socket.Dispose();
            return;
        }
        ClientConnection connection;
        try
        {
            socket.NoDelay = true;
            // a stranger gets the small limit until login: otherwise each connection may make the node hold most of a
            // full-size frame for it without ever logging in
            connection = new ClientConnection(socket, _settings.MaxFrameBytesBeforeLogin, _settings.OutgoingHighWater, _settings.MaxQueuedBytes);
        }
        catch
        {
            if (address is not null) ReleaseAddressSlot(address);
            throw;
        }
        var n = Interlocked.Increment(ref _accepted);
        Interlocked.Increment(ref _open);
        Admin.ChatMetrics.ConnectionOpened();
        _ = connection.Completion.ContinueWith(_ =>
        {
            Interlocked.Decrement(ref _open);
            Admin.ChatMetrics.ConnectionClosed();
            if (address is not null) ReleaseAddressSlot(address);
        }, TaskScheduler.Default);
        var session = _system.ActorOf(_sessionProps(connection), "s-" + n);
        connection.Start(session);
    }

    /// <summary>
    /// <see cref="ChatSettings.MaxConnections"/>, or fewer when the open-files limit would be reached first: with its
    /// descriptor table full the node cannot open its database or a media file, nor start a thread (the runtime then
    /// aborts with "Out of memory."), so connections stop short of the limit and leave some descriptors spare.
    /// </summary>
    private int ConnectionLimit()
    {
        var limit = OpenFilesLimit();
        if (limit is null) return _settings.MaxConnections;
        int inUse;
        try
        {
            inUse = System.IO.Directory.EnumerateFileSystemEntries("/proc/self/fd").Count();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return _settings.MaxConnections;
        }
        // assemblies loaded later, SQLite's journal files, uploads, cluster links and database pools all need some
        var spare = (int)Math.Max(32, limit.Value / 16);
        var room = (int)Math.Clamp(limit.Value - inUse - spare, 1, int.MaxValue);
        if (room >= _settings.MaxConnections) return _settings.MaxConnections;
        _log.Warning("the open-files limit {0} (ulimit -n; {1} in use, {2} kept spare) leaves room for {3} connections, fewer than chat.limits.max-connections {4}; raise it to accept more",
            limit.Value, inUse, spare, room, _settings.MaxConnections);
        return room;
    }

    /// <summary>The soft limit on open descriptors, or null when unknown or unlimited.</summary>
    private static long? OpenFilesLimit()
    {
        try
        {
            if (!File.Exists("/proc/self/limits")) return null;
            var line = File.ReadLines("/proc/self/limits").FirstOrDefault(l => l.StartsWith("Max open files", StringComparison.Ordinal));
            var fields = line?["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return fields is { Length: > 0 } && long.TryParse(fields[0], out var soft) ? soft : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>The address whose connections are counted, or null when no cap applies.</summary>
    private IPAddress? AddressOf(Socket socket)
    {
        if (_settings.MaxConnectionsPerAddress <= 0 || socket.RemoteEndPoint is not IPEndPoint remote) return null;
        // a dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d; one client must count as one address either way
        return remote.Address.IsIPv4MappedToIPv6 ? remote.Address.MapToIPv4() : remote.Address;
    }

    private bool TryTakeAddressSlot(IPAddress address)
    {
        // only the accept loop adds, so no other add can slip in between the check and the add
        if (_perAddress.TryGetValue(address, out var n) && n >= _settings.MaxConnectionsPerAddress) return false;
        _perAddress.AddOrUpdate(address, 1, (_, c) => c + 1);
        return true;
    }

    private void ReleaseAddressSlot(IPAddress address)
    {
        while (_perAddress.TryGetValue(address, out var n))
        {
            // the entry goes with the last connection, or addresses seen once would be kept for ever
            var done = n <= 1
                ? _perAddress.TryRemove(new KeyValuePair<IPAddress, int>(address, n))
                : _perAddress.TryUpdate(address, n - 1, n);
            if (done) return;
        }
    }

    /// <summary>Stops accepting and tells every session the node is going away.</summary>
    public async Task StopAsync()
    {
        _stopping.Cancel();
        _listener?.Dispose();
        await _acceptLoop.ConfigureAwait(false);
        _system.ActorSelection("/user/s-*").Tell(Session.ShutDown.Instance);
        var deadline = DateTime.UtcNow.AddSeconds(2);
        while (OpenConnections > 0 && DateTime.UtcNow < deadline)
            await Task.Delay(20).ConfigureAwait(false);
    }
}
