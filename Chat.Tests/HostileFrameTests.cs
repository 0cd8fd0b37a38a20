using System.Buffers.Binary;
using System.Net.Sockets;
using Chat.Protocol;
using MessagePack;

namespace Chat.Tests;

/// <summary>Bad bytes on one connection get an Error frame and a close of that connection only.</summary>
public sealed class HostileFrameTests(SharedNode shared) : IClassFixture<SharedNode>
{
    private readonly TestNode _node = shared.Node;

    private async Task<NetworkStream> RawAsync(bool hello)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync("127.0.0.1", _node.Port);
        var stream = new NetworkStream(socket, ownsSocket: true);
        if (hello)
        {
            await stream.WriteAsync(FrameCodec.ToBytes(new Hello(1, "raw")));
            Assert.IsType<Welcome>(await ReadFrameAsync(stream));
        }
        return stream;
    }

    private static async Task<Frame?> ReadFrameAsync(NetworkStream stream)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        var header = new byte[4];
        try { await stream.ReadExactlyAsync(header, cts.Token); }
        catch (EndOfStreamException) { return null; }
        var length = BinaryPrimitives.ReadInt32BigEndian(header);
        var payload = new byte[length];
        await stream.ReadExactlyAsync(payload, cts.Token);
        return FrameCodec.Decode(new System.Buffers.ReadOnlySequence<byte>(payload));
    }

    private static async Task AssertClosedAsync(NetworkStream stream)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        var buffer = new byte[1];
        int read;
        try { read = await stream.ReadAsync(buffer, cts.Token); }
        catch (IOException) { read = 0; }
        Assert.Equal(0, read);
    }

    private async Task AssertErrorAndCloseAsync(byte[] bytes, ErrorCode expected, bool hello = true)
    {
        await using var stream = await RawAsync(hello);
        await stream.WriteAsync(bytes);
        var error = Assert.IsType<Error>(await ReadFrameAsync(stream));
        Assert.Equal(expected, error.Code);
        Assert.Equal(0u, error.RequestId);
        Assert.False(string.IsNullOrWhiteSpace(error.Message));
        await AssertClosedAsync(stream);
    }

    private static byte[] Framed(byte[] payload)
    {
        var bytes = new byte[4 + payload.Length];
        BinaryPrimitives.WriteInt32BigEndian(bytes, payload.Length);
        payload.CopyTo(bytes, 4);
        return bytes;
    }

    [Fact]
    public async Task Before_login_a_frame_above_the_small_limit_closes_the_connection_and_after_login_large_frames_are_read()
    {
        // a stranger may not make the node hold most of a full-size frame: 200 KiB declared before login is refused at once
        await AssertErrorAndCloseAsync([0x00, 0x03, 0x20, 0x00, 1, 2, 3], ErrorCode.FrameTooLarge);
        // once logged in, 256 KiB upload chunks are read as before
        await using var user = await _node.NewUserAsync("Uploader");
        var image = MediaTests.FakeFile("image/png", 600_000);
        var stored = await user.Client.UploadAsync(new MemoryStream(image), "image/png");
        Assert.Equal(image.Length, stored.Size);
    }

    [Fact]
    public async Task A_client_that_sends_requests_and_never_reads_the_answers_is_cut_off_and_others_are_still_served()
    {
        // each Ping is answered; a client that never reads makes the answers pile up in the node until it is dropped
        using var stream = await RawAsync(hello: true);
        var burst = Enumerable.Repeat(FrameCodec.ToBytes(new Ping(1)), 1_000).SelectMany(b => b).ToArray();
        var dropped = false;
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            for (var i = 0; i < 2_000 && !dropped; i++) await stream.WriteAsync(burst, limit.Token); // at most 2,000,000 pings
        }
        catch (IOException)
        {
            dropped = true;
        }
        Assert.True(dropped, "the node kept reading pings from a client that reads none of the answers");
        await using var user = await _node.NewUserAsync("After");
        await user.Client.PingAsync();
    }

    [Fact]
    public Task Huge_declared_length_is_refused_before_reading_it() =>
        AssertErrorAndCloseAsync([0x7f, 0xff, 0xff, 0xff, 1, 2, 3], ErrorCode.FrameTooLarge);

    [Fact]
    public Task Garbage_bytes_are_a_bad_frame() =>
        AssertErrorAndCloseAsync(Framed([0xc1, 0xc1, 0xc1, 0x00]), ErrorCode.BadFrame);

    [Fact]
    public Task An_unknown_opcode_is_refused() =>
        AssertErrorAndCloseAsync(Framed(MessagePackSerializer.Serialize(new object[] { 999, Array.Empty<object>() })), ErrorCode.UnknownOpcode);

    [Fact]
    public Task Fields_of_the_wrong_type_are_a_bad_frame() =>
        AssertErrorAndCloseAsync(Framed(MessagePackSerializer.Serialize(new object[] { Opcodes.Send, new object[] { "x", 1, 2 } })), ErrorCode.BadFrame);

    [Fact]
    public Task Send_before_login_is_the_wrong_state() =>
        AssertErrorAndCloseAsync(FrameCodec.ToBytes(new Send(1, "c", "uaaaaaaaaaaaaaaaa", "hi")), ErrorCode.WrongState);

    [Fact]
    public Task Anything_before_hello_is_the_wrong_state() =>
        AssertErrorAndCloseAsync(FrameCodec.ToBytes(new Login(1, "x.y", "d")), ErrorCode.WrongState, hello: false);

    [Fact]
    public Task An_unknown_protocol_version_is_refused() =>
        AssertErrorAndCloseAsync(FrameCodec.ToBytes(new Hello(99, "future")), ErrorCode.UnsupportedVersion, hello: false);

    [Fact]
    public Task A_server_frame_sent_by_a_client_is_the_wrong_state() =>
        AssertErrorAndCloseAsync(FrameCodec.ToBytes(new Pong(1)), ErrorCode.WrongState);

    [Fact]
    public async Task A_frame_cut_off_by_the_close_harms_nobody_and_other_clients_keep_chatting()
    {
        await using var alice = await _node.NewUserAsync("Alice");
        await using var bob = await _node.NewUserAsync("Bob");
        await bob.Client.SyncAsync(0);

        // hostile connections while Alice and Bob chat
        var truncated = await RawAsync(hello: true);
        var full = FrameCodec.ToBytes(new Ping(5));
        await truncated.WriteAsync(full.AsMemory(0, full.Length - 2));
        truncated.Socket.Shutdown(SocketShutdown.Send);
        await AssertErrorAndCloseAsync([0x7f, 0xff, 0xff, 0xff], ErrorCode.FrameTooLarge);
        await AssertErrorAndCloseAsync(Framed([0xde, 0xad, 0xbe, 0xef]), ErrorCode.BadFrame);
        var error = Assert.IsType<Error>(await ReadFrameAsync(truncated));
        Assert.Equal(ErrorCode.BadFrame, error.Code);
        await truncated.DisposeAsync();

        for (var i = 0; i < 20; i++) await alice.Client.SendAsync(bob.Id, $"m{i}");
        for (var i = 0; i < 20; i++) Assert.Equal($"m{i}", (await bob.Client.NextAsync<Message>()).Text);
    }

    [Fact]
    public async Task Too_many_unanswered_sends_get_rate_limited_not_dropped_silently()
    {
        // a window of 4: a burst of 40 sends in one write reaches the session long before the first is stored
        await using var node = await TestNode.StartAsync(extraHocon: "chat.limits.max-in-flight = 4");
        await using var alice = await node.NewUserAsync("Alice");
        await using var bob = await node.NewUserAsync("Bob");
        await bob.Client.SyncAsync(0);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync("127.0.0.1", node.Port);
        await using var stream = new NetworkStream(socket, ownsSocket: true);
        await stream.WriteAsync(FrameCodec.ToBytes(new Hello(1, "raw")));
        Assert.IsType<Welcome>(await ReadFrameAsync(stream));
        await stream.WriteAsync(FrameCodec.ToBytes(new Login(1, alice.Token, "raw")));
        Assert.IsType<LoggedIn>(await ReadFrameAsync(stream));
        var max = alice.Client.Welcome.MaxInFlight;
        Assert.Equal(4, max);
        const int total = 40;
        var burst = new List<byte>();
        for (var i = 0; i < total; i++) burst.AddRange(FrameCodec.ToBytes(new Send((uint)(i + 10), $"c{i}", bob.Id, $"x{i}")));
        await stream.WriteAsync(burst.ToArray());
        var accepted = new List<string>();
        var limited = 0;
        for (var i = 0; i < total; i++)
        {
            switch (await ReadFrameAsync(stream))
            {
                case Accepted a: accepted.Add(a.ClientMessageId); break;
                case Error { Code: ErrorCode.RateLimited } e:
                    Assert.InRange(e.RequestId, 10u, 10u + total - 1);
                    limited++;
                    break;
                case var other: Assert.Fail($"unexpected {other}"); break;
            }
        }
        Assert.True(limited > 0, $"all {total} sends were accepted: nothing enforced the window of {max} unanswered sends");
        Assert.True(accepted.Count >= max, $"{accepted.Count} accepted");
        Assert.Equal(total, accepted.Count + limited); // every send answered, one way or the other
        Assert.Subset(accepted.ToHashSet(), Enumerable.Range(0, max).Select(i => $"c{i}").ToHashSet()); // the first window always goes through

        // Bob receives exactly the accepted ones: a limited send was refused, not stored
        await using var marker = await node.NewUserAsync("Marker");
        var received = new List<string>();
        await marker.Client.SendAsync(bob.Id, "end");
        while (true)
        {
            var m = await bob.Client.NextAsync<Message>();
            if (m.From == marker.Id) break;
            received.Add(m.Text);
        }
        Assert.Equal(accepted.Select(c => "x" + c[1..]), received);
    }
}

/// <summary>Clients that stop reading: the node must not keep their connections, or their answers, for ever.</summary>
public sealed class SlowClientTests
{
    [Fact]
    public async Task A_connection_closed_for_a_protocol_error_is_cut_off_within_seconds_even_when_its_client_does_not_read()
    {
        // answers may pile up far beyond the socket buffers here, so that only the close deadline can end the connection
        await using var node = await TestNode.StartAsync(extraHocon: "chat.limits.max-queued-bytes = 1 GiB");
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        await socket.ConnectAsync("127.0.0.1", node.Port);
        await using var stream = new NetworkStream(socket, ownsSocket: true);
        await stream.WriteAsync(FrameCodec.ToBytes(new Hello(1, "raw")));
        var burst = Enumerable.Repeat(FrameCodec.ToBytes(new Ping(1)), 10_000).SelectMany(b => b).ToArray();
        for (var i = 0; i < 40; i++) await stream.WriteAsync(burst); // 400,000 Pongs the client never reads
        await stream.WriteAsync(new byte[] { 0, 0, 0, 1, 0xc1 }); // not MessagePack: the node answers BadFrame and closes

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var cut = false;
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        try
        {
            while (true) await stream.WriteAsync(burst, limit.Token); // blocks once the node stops reading
        }
        catch (IOException)
        {
            cut = true;
        }
        catch (OperationCanceledException)
        {
            // still open after 20 s
        }
        Assert.True(cut, "the node kept a connection it had closed for a protocol error open for its unread answers");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"cut off only after {clock.Elapsed.TotalSeconds:0.0} s");
    }
}
