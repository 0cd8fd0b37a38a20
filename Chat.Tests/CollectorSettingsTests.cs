using System.Collections.Concurrent;
using Chat.Node.Hosting;
using Chat.Protocol;

namespace Chat.Tests;

/// <summary>
/// The node runs on the server garbage collector, a heap per processor, each heap's young generation capped at 16 MiB,
/// unless its environment sets any of the collector's settings (docs/operations.md, "Garbage collection and latency").
/// </summary>
public sealed class CollectorSettingsTests
{
    private static Dictionary<string, string> Environ(int pid) =>
        File.ReadAllText($"/proc/{pid}/environ").Split('\0', StringSplitOptions.RemoveEmptyEntries)
            .Select(v => v.Split('=', 2)).Where(v => v.Length == 2).ToDictionary(v => v[0], v => v[1]);

    [Fact]
    public async Task A_node_started_without_settings_collects_on_every_processor_with_capped_young_heaps_under_its_own_process_id()
    {
        if (!OperatingSystem.IsLinux()) return; // the settings are made only on Linux
        var data = TestNode.NewDataDirectory();
        var lines = new ConcurrentQueue<string>();
        try
        {
            await using var node = await NodeProcess.StartAsync(data, output: lines.Enqueue);
            // the names and the hexadecimal the runtime reads (a decimal "16" would be read as 22 heaps)
            var environ = Environ(node.Pid);
            Assert.Equal("1", environ["DOTNET_gcServer"]);
            Assert.Equal($"0x{Environment.ProcessorCount:x}", environ["DOTNET_GCHeapCount"]);
            Assert.Equal("0x1000000", environ["DOTNET_GCGen0MaxBudget"]);
            // and the runtime took them: the node says how it collects
            var heaps = Environment.ProcessorCount == 1 ? "1 heap" : $"{Environment.ProcessorCount} heaps";
            Assert.Contains($"garbage collector: server, {heaps}, young generation up to 16 MiB each", lines);
            // the program started again is the node that serves, signals included
            await using (var client = await ChatClient.ConnectAsync("127.0.0.1", node.Port))
            {
                var registered = await client.RegisterAsync("Ada", Phones.Next());
                Assert.Equal("Ada", (await client.LoginAsync(registered.Token)).Name);
            }
            Assert.Equal(0, await node.TerminateAsync());
        }
        finally
        {
            TestNode.TryDelete(data);
        }
    }

    [Fact]
    public async Task A_node_started_again_with_the_collectors_settings_still_samples_what_it_allocates_when_asked()
    {
        if (!OperatingSystem.IsLinux()) return;
        var data = TestNode.NewDataDirectory();
        var lines = new ConcurrentQueue<string>();
        var sampled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // with the warm-up, as a node starts by default (tests turn it off): with it the samples once went missing
        var warm = data + "-warm.conf";
        try
        {
            File.WriteAllText(warm, "chat.startup.warm-up = on\n");
            await using var node = await NodeProcess.StartAsync(data, extraArgs: ["--config", warm],
                output: l =>
                {
                    lines.Enqueue(l);
                    if (l.StartsWith("alloc: ", StringComparison.Ordinal)) sampled.TrySetResult();
                },
                environment: new Dictionary<string, string> { ["CHAT_GC_TRACE"] = "alloc" });
            Assert.Equal("1", Environ(node.Pid)["DOTNET_gcServer"]); // the program started again, as by default
            Assert.Contains(lines, l => l.Contains("before listening", StringComparison.Ordinal)); // and warmed up
            await using var client = await ChatClient.ConnectAsync("127.0.0.1", node.Port);
            var me = (await client.LoginAsync((await client.RegisterAsync("Ada", Phones.Next())).Token)).UserId;
            // the samples are reported every 10 s of the node's life: notes to self until the first report, at most 60 s
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            for (var n = 0; !sampled.Task.IsCompleted && !deadline.IsCancellationRequested; n++)
                await client.SendAsync(me, $"note {n}");
            Assert.True(sampled.Task.IsCompleted, "no allocation report within 60 s: " + string.Join(" | ", lines.Where(l => l.StartsWith("gc", StringComparison.Ordinal)).Take(3)));
            Assert.Contains(lines, l => l.StartsWith("gc: ", StringComparison.Ordinal)); // and the collections, as with CHAT_GC_TRACE=1
        }
        finally
        {
            TestNode.TryDelete(data);
            File.Delete(warm);
        }
    }

    [Fact]
    public async Task An_operator_who_sets_one_of_the_collectors_settings_gets_none_of_the_others_from_the_node()
    {
        if (!OperatingSystem.IsLinux()) return;
        var data = TestNode.NewDataDirectory();
        var lines = new ConcurrentQueue<string>();
        try
        {
            await using var node = await NodeProcess.StartAsync(data, output: lines.Enqueue,
                environment: new Dictionary<string, string> { ["DOTNET_gcServer"] = "0" });
            var environ = Environ(node.Pid);
            Assert.Equal("0", environ["DOTNET_gcServer"]);
            Assert.False(environ.ContainsKey("DOTNET_GCHeapCount"));
            Assert.False(environ.ContainsKey("DOTNET_GCGen0MaxBudget"));
            Assert.False(environ.ContainsKey("DOTNET_GCgen0size"));
            Assert.Contains(lines, l => l.StartsWith("garbage collector: workstation", StringComparison.Ordinal));
        }
        finally
        {
            TestNode.TryDelete(data);
        }
    }

    [Theory]
    [InlineData("DOTNET_gcServer")]
    [InlineData("COMPlus_gcServer")]
    [InlineData("DOTNET_GCHeapCount")]
    [InlineData("DOTNET_GCGen0MaxBudget")]
    [InlineData("COMPlus_GCgen0size")]
    public void Any_one_setting_in_either_spelling_leaves_the_collector_to_the_operator(string given)
    {
        Assert.Empty(CollectorSettings.Defaults(name => name == given ? "1" : null, 2));
    }

    [Fact]
    public void The_heap_count_is_one_per_processor_written_in_hexadecimal()
    {
        var added = CollectorSettings.Defaults(_ => null, 16).ToDictionary(kv => kv.Key, kv => kv.Value);
        Assert.Equal("0x10", added["DOTNET_GCHeapCount"]);
        Assert.Equal("1", added["DOTNET_gcServer"]);
    }
}
