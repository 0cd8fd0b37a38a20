using Chat.Protocol;

namespace Chat.Tests;

/// <summary>
/// The node gives the runtime's youngest generation 16 MiB unless its environment says otherwise, by starting its own
/// program again in the same process (docs/operations.md, "Garbage collection and latency").
/// </summary>
public sealed class YoungGenerationTests
{
    private static string? Budget(int pid) =>
        File.ReadAllText($"/proc/{pid}/environ").Split('\0')
            .FirstOrDefault(v => v.StartsWith("DOTNET_GCgen0size=", StringComparison.Ordinal))?["DOTNET_GCgen0size=".Length..];

    [Fact]
    public async Task A_node_started_without_the_setting_runs_with_16_MiB_under_the_process_id_it_was_started_as_and_stops_on_SIGTERM()
    {
        if (!OperatingSystem.IsLinux()) return; // the setting is made only on Linux
        var data = TestNode.NewDataDirectory();
        try
        {
            await using var node = await NodeProcess.StartAsync(data);
            Assert.Equal("0x1000000", Budget(node.Pid));
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
    public async Task A_setting_in_the_environment_is_left_as_the_operator_gave_it()
    {
        if (!OperatingSystem.IsLinux()) return;
        var data = TestNode.NewDataDirectory();
        try
        {
            await using var node = await NodeProcess.StartAsync(data, environment: new Dictionary<string, string> { ["DOTNET_GCgen0size"] = "0x2000000" });
            Assert.Equal("0x2000000", Budget(node.Pid));
        }
        finally
        {
            TestNode.TryDelete(data);
        }
    }
}
