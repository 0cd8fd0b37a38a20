using System.Buffers;
using System.Buffers.Binary;
using System.Net.Sockets;
using Chat.Protocol;
using Xunit.Abstractions;

namespace Chat.Tests;

/// <summary>
/// Mutated frames, generated from a seed: the codec answers each with a frame, "not yet whole" or a protocol violation
/// (never another exception), and a node fed them on many connections keeps serving everyone else. Each test runs once
/// with a fixed seed and once with a new one, printed so that a failure can be replayed (CHAT_FUZZ_SEED=N).
/// </summary>
public sealed class FuzzTests(ITestOutputHelper output)
{
    private const int FixedSeed = 20261130;

    private int NewSeed()
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable("CHAT_FUZZ_SEED"), out var given) ? given : Random.Shared.Next();
        output.WriteLine($"fuzz seed {seed} (replay: CHAT_FUZZ_SEED={seed})");
        return seed;
    }

    /// <summary>A valid frame's bytes with a few random changes: bytes flipped, cut, repeated, or the length prefix rewritten.</summary>
    private static byte[] Mutant(Random random)
    {
        var bytes = FrameCodec.ToBytes(CodecTests.Samples[random.Next(CodecTests.Samples.Length)]).Skip(4).ToList(); // the payload
        for (var changes = random.Next(1, 4); changes > 0; changes--)
        {
            if (bytes.Count == 0) bytes.Add((byte)random.Next(256));
            var at = random.Next(bytes.Count);
            switch (random.Next(6))
            {
                case 0: bytes[at] = (byte)random.Next(256); break;
                case 1: bytes[at] ^= (byte)(1 << random.Next(8)); break;
                case 2: bytes.RemoveRange(at, 1 + random.Next(Math.Min(8, bytes.Count - at))); break;
                case 3: bytes.InsertRange(at, Enumerable.Range(0, 1 + random.Next(8)).Select(_ => (byte)random.Next(256))); break;
                case 4: bytes[at] = (byte)new[] { 0xc0, 0xc1, 0xd9, 0xdc, 0xde, 0x7f, 0xff }[random.Next(7)]; break;
                default: break;
            }
        }
        bytes.InsertRange(0, new byte[4]);
        // most mutants keep a consistent length prefix, so that the payload (not only the prefix) is what is tested
        var payload = bytes.Count - 4;
        var length = random.Next(10) switch { 0 => random.Next(), 1 => payload + random.Next(-3, 4), _ => payload };
        var result = bytes.ToArray();
        BinaryPrimitives.WriteInt32BigEndian(result, length);
        return result;
    }

    private void Codec(int seed)
    {
        var random = new Random(seed);
        int frames = 0, refused = 0, partial = 0;
        for (var i = 0; i < 50_000; i++)
        {
            var bytes = Mutant(random);
            var buffer = new ReadOnlySequence<byte>(bytes);
            try
            {
                if (FrameCodec.TryRead(ref buffer, 1 << 20, out _)) frames++;
                else partial++;
            }
            catch (FrameViolationException)
            {
                refused++;
            }
            catch (Exception e)
            {
                Assert.Fail($"seed {seed}, mutant {i} ({Convert.ToHexString(bytes)}): {e.GetType().Name}: {e.Message}");
            }
        }
        output.WriteLine($"{frames} decoded, {refused} refused, {partial} incomplete");
        Assert.True(refused > 1_000 && frames > 1_000, "the mutants should include both decodable and refused frames");
    }

    [Fact]
    public void Codec_with_the_fixed_seed() => Codec(FixedSeed);

    [Fact]
    public void Codec_with_a_new_seed() => Codec(NewSeed());

    private async Task Node(int seed)
    {
        await using var node = await TestNode.StartAsync();
        var random = new Random(seed);
        var hello = FrameCodec.ToBytes(new Hello(1, "fuzz"));
        async Task Connection(int n)
        {
            var mine = new Random(random.Next());
            using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync("127.0.0.1", node.Port);
            await using var stream = new NetworkStream(socket);
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            // read everything the node answers, until it closes the connection or this side stops
            var reading = Task.Run(async () =>
            {
                var sink = new byte[64 * 1024];
                try { while (await stream.ReadAsync(sink, deadline.Token) > 0) { } }
                catch (Exception e) when (e is IOException or OperationCanceledException) { }
            });
            try
            {
                if (n % 4 != 0) await stream.WriteAsync(hello, deadline.Token); // most get past Hello first
                for (var i = 0; i < 200; i++) await stream.WriteAsync(Mutant(mine), deadline.Token);
                socket.Shutdown(SocketShutdown.Send);
            }
            catch (Exception e) when (e is IOException or SocketException or OperationCanceledException) { } // closed by the node: fine
            await reading;
        }
        await Task.WhenAll(Enumerable.Range(0, 40).Select(Connection));

        // the node is intact: two users register, log in and talk
        await using var ann = await node.NewUserAsync("Ann");
        await using var bob = await node.NewUserAsync("Bob");
        await bob.Client.SyncAsync(0);
        var sent = await ann.Client.SendAsync(bob.Id, "still here");
        Assert.Equal(sent.MessageId, (await bob.Client.NextAsync<Message>()).MessageId);
    }

    [Fact]
    public Task Node_with_the_fixed_seed() => Node(FixedSeed);

    [Fact]
    public Task Node_with_a_new_seed() => Node(NewSeed());
}
