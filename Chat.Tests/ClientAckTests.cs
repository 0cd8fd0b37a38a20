using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Chat.Protocol;

namespace Chat.Tests;

/// <summary>The Ack frames a client writes, seen by a stand-in server that counts them.</summary>
public sealed class ClientAckTests
{
    private const int Entries = 200;

    [Fact]
    public async Task With_coalescing_off_each_ack_is_written_as_its_own_frame()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var server = ServeAsync(listener, timeout.Token);

        await using var client = await ChatClient.ConnectAsync($"127.0.0.1:{port}", new ChatClientOptions { CoalesceAcks = false }, timeout.Token);
        await client.LoginAsync("token", timeout.Token);
        await client.SyncAsync(0, timeout.Token);
        var read = new List<long>();
        while (read.Count < Entries && await client.Entries.WaitToReadAsync(timeout.Token))
            while (client.Entries.TryRead(out var entry)) read.Add(ChatClient.SeqOf(entry));
        // every entry is in before the first ack: a coalescing client would find many acks queued at its next write
        foreach (var seq in read) client.Ack(seq);

        Assert.Equal(read, await server);
    }

    /// <summary>Greets, logs in, answers the Sync with <see cref="Entries"/> messages in one write; returns the Acks up to the last.</summary>
    private static async Task<List<long>> ServeAsync(TcpListener listener, CancellationToken ct)
    {
        using var socket = await listener.AcceptSocketAsync(ct);
        await using var stream = new NetworkStream(socket);
        var acks = new List<long>();
        while (acks.Count == 0 || acks[^1] < Entries)
        {
            switch (await ReadFrameAsync(stream, ct))
            {
                case Hello:
                    await stream.WriteAsync(FrameCodec.ToBytes(new Welcome(1, "stand-in", 1 << 20, 4096, 256, 500)), ct);
                    break;
                case Login login:
                    await stream.WriteAsync(FrameCodec.ToBytes(new LoggedIn(login.RequestId, "uaaaaaaaaaaaaaaaa", "A", "+15550000000", 0)), ct);
                    break;
                case Sync:
                    var batch = new ArrayBufferWriter<byte>();
                    FrameCodec.Write(batch, new SyncComplete(0));
                    for (var seq = 1; seq <= Entries; seq++)
                        FrameCodec.Write(batch, new Message(seq, $"m{seq:D16}", "ubbbbbbbbbbbbbbbb", "hi", 0));
                    await stream.WriteAsync(batch.WrittenMemory, ct);
                    break;
                case Ack ack:
                    acks.Add(ack.Seq);
                    break;
            }
        }
        return acks;
    }

    private static async Task<Frame> ReadFrameAsync(NetworkStream stream, CancellationToken ct)
    {
        var header = new byte[4];
        await stream.ReadExactlyAsync(header, ct);
        var payload = new byte[BinaryPrimitives.ReadInt32BigEndian(header)];
        await stream.ReadExactlyAsync(payload, ct);
        return FrameCodec.Decode(new ReadOnlySequence<byte>(payload));
    }
}
