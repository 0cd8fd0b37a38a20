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

    public TcpEdge(ActorSystem system, ChatSettings settings, Func<ClientConnection, Props> sessionProps)
    {
        _system = system;
        _settings = settings;
        _sessionProps = sessionProps;
        _log = Logging.GetLogger(system, "tcp-edge");
    }

    public IPEndPoint? LocalEndPoint => _listener?.LocalEndPoint as IPEndPoint;

    /// <summary>Connections open now.</summary>
    public int OpenConnections => Volatile.Read(ref _open);

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
        _acceptLoop = Task.Run(AcceptLoopAsync);
        return (IPEndPoint)listener.LocalEndPoint!;
    }

    private async Task AcceptLoopAsync()
    {
        var listener = _listener!;
        while (!_stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) { return; }
            catch (ObjectDisposedException) { return; }
            catch (SocketException e)
            {
                _log.Warning("accept failed: {0}", e.Message);
                continue;
            }
            if (Volatile.Read(ref _open) >= _settings.MaxConnections)
            {
                _log.Warning("connection limit {0} reached; refusing {1}", _settings.MaxConnections, socket.RemoteEndPoint);
                socket.Dispose();
                continue;
            }
            socket.NoDelay = true;
            var connection = new ClientConnection(socket, _settings.MaxFrameBytes, _settings.OutgoingHighWater, _settings.MaxQueuedBytes);
            var n = Interlocked.Increment(ref _accepted);
            Interlocked.Increment(ref _open);
            _ = connection.Completion.ContinueWith(_ => Interlocked.Decrement(ref _open), TaskScheduler.Default);
            var session = _system.ActorOf(_sessionProps(connection), "s-" + n);
            connection.Start(session);
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
