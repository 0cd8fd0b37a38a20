using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Chat.Tests;

/// <summary>
/// A TCP forwarder on 127.0.0.1, port 0, in front of a node: to a client it is one more node address, so failover can
/// be tested without a cluster. <see cref="Stop"/> is a node dying: every connection through it drops and new ones
/// are refused. Traffic in either direction can be held back, to lose answers or requests at a chosen moment.
/// Without a target it accepts connections and never answers, like a node that hangs.
/// </summary>
public sealed class TcpProxy : IAsyncDisposable
{
    private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly int? _targetPort;
    private readonly ConcurrentDictionary<Socket, byte> _sockets = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private volatile TaskCompletionSource _requestsFlow = Flowing();
    private volatile TaskCompletionSource _answersFlow = Flowing();
    private int _accepted;

    private TcpProxy(int? targetPort)
    {
        _targetPort = targetPort;
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(128);
        Address = $"127.0.0.1:{((IPEndPoint)_listener.LocalEndPoint!).Port}";
        _accepting = AcceptLoopAsync();
    }

    /// <summary>Forwards every connection to the node on 127.0.0.1:<paramref name="targetPort"/>.</summary>
    public static TcpProxy Start(int targetPort) => new(targetPort);

    /// <summary>Accepts connections and never sends a byte.</summary>
    public static TcpProxy StartSilent() => new(null);

    /// <summary>"127.0.0.1:port", as a client is given it.</summary>
    public string Address { get; }

    /// <summary>Connections accepted so far.</summary>
    public int Accepted => Volatile.Read(ref _accepted);

    /// <summary>From now on, what the node sends is read but not passed on (until <see cref="Stop"/> drops it).</summary>
    public void HoldAnswers() => _answersFlow = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>What the node sent while held back, and all it sends from now on, is passed on again.</summary>
    public void ResumeAnswers() => _answersFlow.TrySetResult();

    /// <summary>From now on, what clients send is read but not passed on (until <see cref="Stop"/> drops it).</summary>
    public void HoldRequests() => _requestsFlow = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>A network blip: every connection through the proxy is dropped, with whatever was held back; new ones are accepted as before.</summary>
    public void DropConnections()
    {
        foreach (var socket in _sockets.Keys) Close(socket);
    }

    /// <summary>The node is gone: every connection is dropped, with whatever was held back, and new ones are refused.</summary>
    public void Stop()
    {
        _stop.Cancel();
        _listener.Dispose();
        foreach (var socket in _sockets.Keys) Close(socket);
    }

    public async ValueTask DisposeAsync()
    {
        Stop();
        try { await _accepting; } catch (Exception) { /* stopped */ }
    }

    private static TaskCompletionSource Flowing()
    {
        var flowing = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        flowing.SetResult();
        return flowing;
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(_stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
            Interlocked.Increment(ref _accepted);
            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(Socket client)
    {
        Track(client);
        if (_targetPort is not { } port) return; // silent: held open until Stop
        var node = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        Track(node);
        try
        {
            await node.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), _stop.Token);
            await Task.WhenAny(PumpAsync(client, node, () => _requestsFlow), PumpAsync(node, client, () => _answersFlow));
        }
        catch (Exception)
        {
            // the node or the client went away; both sides are closed below
        }
        finally
        {
            Close(client);
            Close(node);
        }
    }

    private async Task PumpAsync(Socket from, Socket to, Func<TaskCompletionSource> flow)
    {
        var buffer = new byte[64 * 1024];
        while (true)
        {
            var n = await from.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
            if (n == 0) return;
            await flow().Task.WaitAsync(_stop.Token);
            await to.SendAsync(buffer.AsMemory(0, n), SocketFlags.None, _stop.Token);
        }
    }

    private void Track(Socket socket)
    {
        _sockets[socket] = 0;
        if (_stop.IsCancellationRequested) Close(socket); // accepted while stopping
    }

    private void Close(Socket socket)
    {
        _sockets.TryRemove(socket, out _);
        try { socket.Shutdown(SocketShutdown.Both); } catch (Exception) { /* not connected or closed */ }
        socket.Dispose();
    }
}
