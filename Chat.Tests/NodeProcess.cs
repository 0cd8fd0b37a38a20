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

    /// <summary>Starts the node and waits for its "listening on" line.</summary>
    /// <param name="extraArgs">Further command-line flags (e.g. <c>--seeds</c>, <c>--config</c>).</param>
    /// <param name="environment">Environment variables set for the node (e.g. <c>CHAT_POSTGRES</c>).</param>
    /// <param name="output">Receives every line the node prints (standard output and error).</param>
    public static async Task<NodeProcess> StartAsync(string dataDirectory, int port = 0, IEnumerable<string>? extraArgs = null,
        IReadOnlyDictionary<string, string>? environment = null, Action<string>? output = null)
    {
        var exe = Path.Combine(AppContext.BaseDirectory, "Chat.Node");
        var info = new ProcessStartInfo(exe)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "--port", port.ToString(), "--data", dataDirectory }.Concat(extraArgs ?? [])) info.ArgumentList.Add(a);
        info.Environment["CHAT_HOST"] = "127.0.0.1";
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) info.Environment[name] = value;
        var process = Process.Start(info)!;
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) output?.Invoke(e.Data); };
        process.BeginErrorReadLine();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (true)
        {
            var line = await process.StandardOutput.ReadLineAsync(cts.Token)
                ?? throw new InvalidOperationException($"node exited with {process.ExitCode} before listening");
            output?.Invoke(line);
            if (line.StartsWith("listening on ", StringComparison.Ordinal))
            {
                var p = int.Parse(line[(line.LastIndexOf(':') + 1)..]);
                _ = DrainAsync(process, output);
                return new NodeProcess(process, p);
            }
        }
    }

    private static async Task DrainAsync(Process p, Action<string>? output)
    {
        try
        {
            while (await p.StandardOutput.ReadLineAsync() is { } line) output?.Invoke(line);
        }
        catch (Exception)
        {
            // gone
        }
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
