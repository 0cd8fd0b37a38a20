using System.Diagnostics;

namespace Chat.Tests;

/// <summary>The node as its own process (the Chat.Node executable), for tests that kill it.</summary>
public sealed class NodeProcess : IAsyncDisposable
{
    private readonly Process _process;

    private NodeProcess(Process process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }
    public int Pid => _process.Id;

    public static async Task<NodeProcess> StartAsync(string dataDirectory, int port = 0)
    {
        var exe = Path.Combine(AppContext.BaseDirectory, "Chat.Node");
        var info = new ProcessStartInfo(exe)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "--port", port.ToString(), "--data", dataDirectory }) info.ArgumentList.Add(a);
        info.Environment["CHAT_HOST"] = "127.0.0.1";
        var process = Process.Start(info)!;
        process.ErrorDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (true)
        {
            var line = await process.StandardOutput.ReadLineAsync(cts.Token)
                ?? throw new InvalidOperationException($"node exited with {process.ExitCode} before listening");
            if (line.StartsWith("listening on ", StringComparison.Ordinal))
            {
                var p = int.Parse(line[(line.LastIndexOf(':') + 1)..]);
                _ = DrainAsync(process);
                return new NodeProcess(process, p);
            }
        }
    }

    private static async Task DrainAsync(Process p)
    {
        try { while (await p.StandardOutput.ReadLineAsync() is not null) { } } catch (Exception) { /* gone */ }
    }

    /// <summary>SIGKILL: no shutdown code runs.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
    }

    /// <summary>SIGTERM and wait for a clean exit.</summary>
    public async Task<int> TerminateAsync()
    {
        Process.Start("kill", ["-TERM", _process.Id.ToString()])!.WaitForExit();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _process.WaitForExitAsync(cts.Token);
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited) await KillAsync();
        _process.Dispose();
    }
}
