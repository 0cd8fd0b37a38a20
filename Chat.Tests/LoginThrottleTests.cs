using System.Buffers.Binary;
using System.Net.Sockets;
using Chat.Protocol;

namespace Chat.Tests;

/// <summary>Connections that do not log in, or keep failing to, are closed; everyone else carries on.</summary>
public sealed class LoginThrottleTests
{
    private static async Task<NetworkStream> HelloAsync(TestNode node)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync("127.0.0.1", node.Port);
        var stream = new NetworkStream(socket, ownsSocket: true);
        await stream.WriteAsync(FrameCodec.ToBytes(new Hello(1, "raw")));
        Assert.IsType<Welcome>(await ReadFrameAsync(stream));
        return stream;
    }

    /// <summary>The next frame, or null once the server has closed the connection.</summary>
    private static async Task<Frame?> ReadFrameAsync(NetworkStream stream, int timeoutSeconds = 15)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(timeoutSeconds));
        var header = new byte[4];
        try { await stream.ReadExactlyAsync(header, cts.Token); }
        catch (Exception e) when (e is EndOfStreamException or IOException) { return null; }
        var payload = new byte[BinaryPrimitives.ReadInt32BigEndian(header)];
        await stream.ReadExactlyAsync(payload, cts.Token);
        return FrameCodec.Decode(new System.Buffers.ReadOnlySequence<byte>(payload));
    }

    [Fact]
    public async Task A_connection_that_pings_but_never_logs_in_is_closed_after_the_login_timeout_while_logged_in_users_carry_on()
    {
        await using var node = await TestNode.StartAsync(extraHocon: "chat.session.login-timeout = 2s");
        var alice = await node.NewUserAsync("Alice");
        var bob = await node.NewUserAsync("Bob");
        await bob.Client.SyncAsync(0);
        await using var lurker = await HelloAsync(node);

        var clock = System.Diagnostics.Stopwatch.StartNew();
        Error? closedWith = null;
        var pings = Task.Run(async () =>
        {
            // a Ping every 200 ms keeps the idle timeout away; only the login timeout can end this connection
            for (var i = 0; i < 100; i++)
            {
                try { await lurker.WriteAsync(FrameCodec.ToBytes(new Ping(i))); }
                catch (IOException) { return; }
                await Task.Delay(200);
            }
        });
        while (await ReadFrameAsync(lurker) is { } frame)
            if (frame is Error { RequestId: 0 } error) closedWith = error;
        var elapsed = clock.Elapsed;

        Assert.Equal(ErrorCode.IdleTimeout, closedWith?.Code);
        Assert.InRange(elapsed, TimeSpan.FromSeconds(1.5), TimeSpan.FromSeconds(10));
        // Alice and Bob logged in before the lurker came and are still connected after its deadline passed
        await alice.Client.SendAsync(bob.Id, "still here?");
        Assert.Equal("still here?", (await bob.Client.NextOfAsync<Message>()).Text);
        await pings;
    }

    [Fact]
    public async Task The_fifth_failed_login_closes_the_connection_and_the_right_token_works_on_a_new_one()
    {
        await using var node = await TestNode.StartAsync();
        var alice = await node.NewUserAsync("Alice");
        var wrongSecret = alice.Token[..(alice.Token.IndexOf('.') + 1)] + "not-the-secret";
        await using var guesser = await HelloAsync(node);

        for (uint i = 1; i <= 5; i++)
        {
            // well-formed tokens with a wrong secret (checked by the user entity) and malformed ones (checked at once)
            var token = i % 2 == 1 ? wrongSecret : "garbage";
            await guesser.WriteAsync(FrameCodec.ToBytes(new Login(i, token, "phone")));
            var answer = Assert.IsType<Error>(await ReadFrameAsync(guesser));
            Assert.Equal((i, ErrorCode.AuthFailed), (answer.RequestId, answer.Code));
        }
        var fatal = Assert.IsType<Error>(await ReadFrameAsync(guesser));
        Assert.Equal((0u, ErrorCode.AuthFailed), (fatal.RequestId, fatal.Code));
        Assert.Null(await ReadFrameAsync(guesser));

        await using var again = await node.ConnectAsync("laptop");
        var loggedIn = await again.LoginAsync(alice.Token);
        Assert.Equal(alice.Id, loggedIn.UserId);
    }
}
