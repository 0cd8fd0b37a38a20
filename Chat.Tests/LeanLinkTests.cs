using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Chat.Cli.Bench;
using Chat.Protocol;

namespace Chat.Tests;

/// <summary>The load generator's lean connection against a stand-in server that writes prepared frames.</summary>
public sealed class LeanLinkTests
{
    [Fact]
    public async Task A_sync_larger_than_the_receive_buffer_with_a_frame_larger_than_it_is_read_whole()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var frames = new ArrayBufferWriter<byte>();
        FrameCodec.Write(frames, new Welcome(ChatClient.ProtocolVersion, "stand-in", 1 << 20, 65536, 100, 500));
        FrameCodec.Write(frames, new LoggedIn(1, "uaaaaaaaaaaaaaaaa", "Ann", "+14155550100", 300));
        // 300 entries (some 120 KB) written at once, one of them a 100 KB text: more than a small buffer, in one burst, and
        // a frame larger than the most the buffer grows to when reads fill it (64 KiB), which only the frame itself can grow it to
        for (var seq = 1; seq <= 300; seq++)
            FrameCodec.Write(frames, new Message(seq, $"m{seq}", "ubbbbbbbbbbbbbbbb", seq == 150 ? new string('x', 100_000) : $"text {seq}", seq));
        FrameCodec.Write(frames, new SyncComplete(300));
        var server = Task.Run(async () =>
        {
            using var client = await listener.AcceptSocketAsync();
            var hello = new byte[256];
            _ = await client.ReceiveAsync(hello); // Hello and Login
            await client.SendAsync(frames.WrittenMemory);
            _ = await client.ReceiveAsync(hello); // Sync, then the link closes
        });

        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var (link, highest, last) = await LeanLink.OpenAndSyncAllAsync($"127.0.0.1:{port}", 0, "token", "phone", CancellationToken.None)
            .WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal((300L, 300L), (highest, last));
        await link.DisposeAsync();
        await server.WaitAsync(TimeSpan.FromSeconds(30));
    }
}
