using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Sockets;
using Chat.Protocol;
using Xunit.Abstractions;

namespace Chat.Tests;

/// <summary>The accept loop under floods: out of descriptors, and many connections from one address.</summary>
public sealed class AcceptLimitTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_node_flooded_past_its_open_files_limit_neither_spins_nor_dies_and_accepts_again_once_the_flood_ends()
    {
        var lines = new ConcurrentQueue<string>();
        var data = TestNode.NewDataDirectory();
        // 400 is enough for the runtime, Akka and SQLite to start (about 230 descriptors in a debug build); 600 connections
        // then cannot all be accepted
        await using var node = await NodeProcess.StartAsync(data, output: lines.Enqueue, openFilesLimit: 400);
        var sockets = new List<Socket>();
        try
        {
            for (var i = 0; i < 600; i++)
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
                sockets.Add(socket);
                // the kernel completes the handshake into the listen backlog whether or not the node can accept
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await socket.ConnectAsync("127.0.0.1", node.Port, cts.Token);
            }
            var cpuBefore = CpuTime(node.Pid);
            var held = Stopwatch.StartNew();
            await Task.Delay(TimeSpan.FromSeconds(4));
            // the runtime cannot start a thread without a spare descriptor, so a spinning loop that starves the pool can end the node
            Assert.True(Directory.Exists($"/proc/{node.Pid}"), "the node died at its open-files limit:\n" + string.Join("\n", lines.Where(l => !IsAboutTheLimit(l)).TakeLast(20)));
            var cpu = (CpuTime(node.Pid) - cpuBefore) / held.Elapsed;
            var linesWhileHeld = lines.Count(IsAboutTheLimit);
            output.WriteLine($"holding 600 connections for {held.Elapsed.TotalSeconds:0.0} s: node CPU {cpu:P0}, {linesWhileHeld} lines about the limit");
            // without this the test would pass on a node that never reached the limit
            Assert.True(linesWhileHeld >= 1, "the node never reached its limit; the test proves nothing");
        }
        finally
        {
            foreach (var socket in sockets) socket.Dispose();
        }

        // the closed connections still in the backlog are accepted and dropped; a real client then gets in
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            try
            {
                await using var client = await ChatClient.ConnectAsync("127.0.0.1", node.Port,
                    new ChatClientOptions { Device = "after-flood", RequestTimeout = TimeSpan.FromSeconds(5) });
                var registered = await client.RegisterAsync("after", Phones.Next());
                await client.LoginAsync(registered.Token);
                break;
            }
            catch (Exception e) when (DateTime.UtcNow < deadline)
            {
                output.WriteLine($"not yet: {e.GetType().Name}: {e.Message}");
                await Task.Delay(250);
            }
        }
        var about = lines.Where(IsAboutTheLimit).ToList();
        foreach (var line in about) output.WriteLine(line);
        Assert.InRange(about.Count, 1, 10);
        TestNode.TryDelete(data);
    }

    private static bool IsAboutTheLimit(string line) =>
        line.Contains("accept failed", StringComparison.Ordinal) || line.Contains("connection limit", StringComparison.Ordinal);

    /// <summary>User plus system time the process has used, from /proc.</summary>
    private static TimeSpan CpuTime(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        // the command name may hold spaces; the fields after its closing parenthesis do not
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11]) + long.Parse(fields[12]); // utime, stime: fields 14 and 15 of proc(5)
        return TimeSpan.FromSeconds(ticks / 100.0); // USER_HZ is 100 on Linux
    }

    [Fact]
    public async Task Connections_beyond_the_per_address_cap_are_closed_at_once_and_a_freed_slot_is_taken_again()
    {
        await using var node = await TestNode.StartAsync(extraHocon: "chat.limits.max-connections-per-address = 3");
        var first = new List<NetworkStream>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                var stream = await ConnectAsync(node.Port);
                Assert.IsType<Welcome>(await HelloAsync(stream));
                first.Add(stream);
            }

            await using (var fourth = await ConnectAsync(node.Port))
                Assert.Null(await HelloAsync(fourth));

            // the first three are untouched by the refusal
            foreach (var stream in first)
            {
                await stream.WriteAsync(FrameCodec.ToBytes(new Ping(7)));
                Assert.IsType<Pong>(await ReadFrameAsync(stream));
            }

            await first[0].DisposeAsync();
            first.RemoveAt(0);
            // the node notices the close on its own time; until then the slot is still taken
            var deadline = DateTime.UtcNow.AddSeconds(15);
            while (true)
            {
                var stream = await ConnectAsync(node.Port);
                if (await HelloAsync(stream) is Welcome)
                {
                    first.Add(stream);
                    break;
                }
                await stream.DisposeAsync();
                Assert.True(DateTime.UtcNow < deadline, "no slot freed within 15 s of a close");
                await Task.Delay(100);
            }

            // full again
            await using (var extra = await ConnectAsync(node.Port))
                Assert.Null(await HelloAsync(extra));
        }
        finally
        {
            foreach (var stream in first) await stream.DisposeAsync();
        }
    }

    private static async Task<NetworkStream> ConnectAsync(int port)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync("127.0.0.1", port);
        return new NetworkStream(socket, ownsSocket: true);
    }

    /// <summary>Says Hello; the answer, or null when the node closed the connection instead.</summary>
    private static async Task<Frame?> HelloAsync(NetworkStream stream)
    {
        try
        {
            await stream.WriteAsync(FrameCodec.ToBytes(new Hello(1, "cap")));
        }
        catch (IOException)
        {
            return null;
        }
        return await ReadFrameAsync(stream);
    }

    private static async Task<Frame?> ReadFrameAsync(NetworkStream stream)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        try
        {
            var header = new byte[4];
            await stream.ReadExactlyAsync(header, cts.Token);
            var payload = new byte[BinaryPrimitives.ReadInt32BigEndian(header)];
            await stream.ReadExactlyAsync(payload, cts.Token);
            return FrameCodec.Decode(new System.Buffers.ReadOnlySequence<byte>(payload));
        }
        // a close with our Hello unread arrives as a reset rather than an end of stream
        catch (Exception e) when (e is EndOfStreamException or IOException)
        {
            return null;
        }
    }
}
