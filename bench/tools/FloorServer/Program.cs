using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Chat.Protocol;

// The least a server can do for `chat bench direct` and `chat bench open` over the real protocol on this host: the same
// frames on the same kind of sockets, with nothing stored, no actors, and every frame handled on the thread that read
// it. What `chat bench --server-pid` reports against it is the floor of the TCP edge and the codec (the kernel's work
// per segment and per wake-up, .NET's socket engine, MessagePack) under the node's CPU per message.
//   DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1 dotnet run -c Release --project bench/tools/FloorServer
// prints "listening on 127.0.0.1:PORT". With that variable frames are handled on the socket engine's thread (the
// lowest floor); without it each read goes on to a thread-pool thread, as the node's do. bench/run.sh floor runs it.
var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
listener.Bind(new IPEndPoint(IPAddress.Loopback, args.Length > 0 ? int.Parse(args[0]) : 0));
listener.Listen(4096);
Console.WriteLine($"listening on {listener.LocalEndPoint}");
Console.WriteLine(Environment.GetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS") == "1"
    ? "frames handled on the socket engine's thread" : "frames handled on thread-pool threads");
while (true)
{
    var socket = await listener.AcceptAsync();
    socket.NoDelay = true;
    _ = Task.Run(() => new Connection(socket).RunAsync());
}

// A user's inbox: entries numbered from 1; the messages not yet acknowledged, to be receipted to their senders.
sealed class User(string id, string name, string phone)
{
    public readonly string Id = id, Name = name, Phone = phone;
    public readonly object Gate = new();
    public long LastSeq;
    public readonly Queue<(long Seq, User From, string MessageId)> Unacked = new();
    public Connection? Online; // read under Gate when writing entries; cleared with CompareExchange
}

sealed class Connection(Socket socket)
{
    private readonly Socket _socket = socket;
    private readonly ArrayBufferWriter<byte> _out = new(4096);
    private readonly object _writeGate = new();
    private User? _user;
    private const int BufferBytes = 64 * 1024;

    public async Task RunAsync()
    {
        var buffer = new byte[BufferBytes];
        int filled = 0;
        try
        {
            while (true)
            {
                var read = await _socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None);
                if (read == 0) break;
                filled += read;
                var sequence = new ReadOnlySequence<byte>(buffer, 0, filled);
                while (FrameCodec.TryRead(ref sequence, buffer.Length, out var frame)) Handle(frame);
                var left = (int)sequence.Length;
                if (left > 0) Buffer.BlockCopy(buffer, filled - left, buffer, 0, left);
                filled = left;
                Flush();
            }
        }
        catch (Exception e) when (e is SocketException or FrameViolationException)
        {
            // a peer gone, a frame it cannot read, or one before Login: the connection ends (the node would answer with
            // an Error first; the bench never does any of these)
        }
        finally
        {
            if (_user is { } u) Interlocked.CompareExchange(ref u.Online, null, this);
            _socket.Dispose();
        }
    }

    private void Handle(Frame frame)
    {
        switch (frame)
        {
            case Sync or Send or Ack when _user is null:
                throw new FrameViolationException(ErrorCode.WrongState, "log in first");
            case Hello:
                Queue(new Welcome(ChatClient.ProtocolVersion, "floor", BufferBytes - FrameCodec.HeaderBytes, 16 * 1024, 1000, 500));
                break;
            case Register r:
            {
                var id = "u" + Interlocked.Increment(ref Floor.NextUser);
                var user = new User(id, r.Name, r.Phone);
                Floor.Users[id] = user;
                Floor.Tokens["t" + id] = user;
                Queue(new Registered(r.RequestId, id, "t" + id));
                break;
            }
            case Login l when Floor.Tokens.TryGetValue(l.Token, out var user):
                _user = user;
                lock (user.Gate)
                {
                    user.Online = this;
                    Queue(new LoggedIn(l.RequestId, user.Id, user.Name, user.Phone, user.LastSeq));
                }
                break;
            case Sync s:
                lock (_user!.Gate) Queue(new SyncComplete(_user.LastSeq));
                break;
            case Ping p:
                Queue(new Pong(p.Nonce));
                break;
            case Send s when Floor.Users.TryGetValue(s.To, out var to):
            {
                var messageId = "m" + Interlocked.Increment(ref Floor.NextMessage);
                var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
                Queue(new Accepted(s.RequestId, s.ClientMessageId, messageId, now));
                lock (to.Gate) // entries leave in the order of their numbers
                {
                    var entry = new Message(++to.LastSeq, messageId, _user!.Id, s.Text, now);
                    to.Unacked.Enqueue((entry.Seq, _user, messageId));
                    to.Online?.Write(entry);
                }
                break;
            }
            case Ack a:
            {
                var user = _user!;
                List<(User From, string MessageId)>? acked = null;
                lock (user.Gate)
                    while (user.Unacked.TryPeek(out var head) && head.Seq <= a.Seq)
                    {
                        user.Unacked.Dequeue();
                        (acked ??= []).Add((head.From, head.MessageId));
                    }
                if (acked is null) break;
                var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
                foreach (var group in acked.GroupBy(m => m.From))
                {
                    lock (group.Key.Gate)
                        group.Key.Online?.Write(new Receipt(++group.Key.LastSeq, ReceiptStatus.Delivered, user.Id, group.Select(m => m.MessageId).ToList(), now));
                }
                break;
            }
            case IRequest request:
                Queue(new Error(request.RequestId, ErrorCode.WrongState, "not served by the floor server"));
                break;
        }
    }

    private void Queue(Frame frame)
    {
        lock (_writeGate) FrameCodec.Write(_out, frame);
    }

    /// <summary>Writes one frame now (from another connection's thread), with any queued before it.</summary>
    public void Write(Frame frame)
    {
        lock (_writeGate)
        {
            FrameCodec.Write(_out, frame);
            SendQueued();
        }
    }

    private void Flush()
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
        catch (SocketException) { }
        catch (ObjectDisposedException) { }
        finally
        {
            _out.ResetWrittenCount();
        }
    }
}

static class Floor
{
    public static readonly ConcurrentDictionary<string, User> Users = new();
    public static readonly ConcurrentDictionary<string, User> Tokens = new();
    public static long NextUser, NextMessage;
}
