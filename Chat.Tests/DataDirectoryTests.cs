using System.Collections.Concurrent;

namespace Chat.Tests;

/// <summary>A node that cannot write its data directory refuses to start, instead of listening and failing every send.</summary>
public sealed class DataDirectoryTests
{
    private static async Task<(int ExitCode, List<string> Lines)> StartAndWaitForExitAsync(string data)
    {
        var lines = new ConcurrentQueue<string>();
        using var process = NodeProcess.Launch(data, output: lines.Enqueue);
        try
        {
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            var stdout = process.StandardOutput.ReadToEndAsync(wait.Token);
            await process.WaitForExitAsync(wait.Token);
            var all = (await stdout).Split('\n').Concat(lines).ToList();
            return (process.ExitCode, all);
        }
        finally
        {
            if (!process.HasExited) process.Kill();
        }
    }

    [Fact]
    public async Task A_data_directory_that_cannot_be_created_stops_the_node_with_a_clear_message()
    {
        var file = Path.GetTempFileName(); // a regular file: nothing can be created below it, not even by root
        try
        {
            var data = Path.Combine(file, "data");
            var (exitCode, lines) = await StartAndWaitForExitAsync(data);
            Assert.Equal(1, exitCode);
            Assert.DoesNotContain(lines, l => l.StartsWith("listening on", StringComparison.Ordinal));
            Assert.Contains(lines, l => l.Contains("cannot start") && l.Contains("not writable") && l.Contains(data));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task An_existing_directory_that_takes_no_writes_stops_the_node_with_a_clear_message()
    {
        // /proc/1 exists on every Linux machine and no file can be created in it, as on a read-only mount
        var (exitCode, lines) = await StartAndWaitForExitAsync("/proc/1");
        Assert.Equal(1, exitCode);
        Assert.DoesNotContain(lines, l => l.StartsWith("listening on", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("cannot start") && l.Contains("/proc/1 is not writable"));
    }
}
