using System.Diagnostics;

namespace Chat.Tests;

/// <summary>The node as its own process (the Chat.Node executable), for tests that kill it.</summary>
public sealed class NodeProcess : IAsyncDisposable
{
    private readonly Process _process;

    private NodeProcess(Process process, int port, int? adminPort)
    {
        _process = process;
        Port = port;
        AdminPort = adminPort;
    }

    public int Port { get; }
    /// <summary>The admin endpoint's port, from the node's "admin on" line; null when it runs without one.</summary>
    public int? AdminPort { get; }
    public int Pid => _process.Id;

    /// <summary>Starts the node and waits for its "listening on" line (with <c>--log-format json</c>, its <c>listening</c> event).</summary>
    /// <param name="extraArgs">Further command-line flags (e.g. <c>--seeds</c>, <c>--config</c>).</param>
    /// <param name="environment">Environment variables set for the node (e.g. <c>CHAT_POSTGRES</c>).</param>
    /// <param name="output">Receives every line the node prints (standard output and error).</param>
    /// <param name="openFilesLimit">When set, the node runs under <c>ulimit -n</c> of this many descriptors.</param>
    public static async Task<NodeProcess> StartAsync(string dataDirectory, int port = 0, IEnumerable<string>? extraArgs = null,
        IReadOnlyDictionary<string, string>? environment = null, Action<string>? output = null, int? openFilesLimit = null)
    {
        var process = Launch(dataDirectory, port, extraArgs, environment, output, openFilesLimit);
        int? admin = null;
        var line = await ReadUntilAsync(process, l =>
        {
            if (l.StartsWith("admin on ", StringComparison.Ordinal)) admin = int.Parse(l[(l.LastIndexOf(':') + 1)..]);
            else if (Event(l, "admin") is { } adminPort) admin = adminPort;
            return l.StartsWith("listening on ", StringComparison.Ordinal) || Event(l, "listening") is not null;
        }, TimeSpan.FromSeconds(60), output);
        _ = DrainAsync(process, output);
        return new NodeProcess(process, Event(line, "listening") ?? int.Parse(line[(line.LastIndexOf(':') + 1)..]), admin);
    }

    /// <summary>The port of a JSON line of the event <paramref name="name"/> (<c>listening</c>, <c>admin</c>); null for any other line.</summary>
    private static int? Event(string line, string name)
    {
        if (!line.StartsWith('{')) return null;
        try
        {
            using var json = System.Text.Json.JsonDocument.Parse(line);
            return json.RootElement.TryGetProperty("event", out var e) && e.GetString() == name ? json.RootElement.GetProperty("port").GetInt32() : null;
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }

    /// <summary>Starts the node process without waiting for anything; read its standard output with <see cref="ReadUntilAsync"/>.</summary>
    public static Process Launch(string dataDirectory, int port = 0, IEnumerable<string>? extraArgs = null,
        IReadOnlyDictionary<string, string>? environment = null, Action<string>? output = null, int? openFilesLimit = null)
    {
        var exe = Path.Combine(AppContext.BaseDirectory, "Chat.Node");
        // phone verification in its test mode, so tests register users without a phone; later --config files win
        var args = new[] { "--port", port.ToString(), "--data", dataDirectory, "--config", TestConfig.Value }.Concat(extraArgs ?? []).ToList();
        // a limit set from .NET would bind the test process too; bash sets it for the node alone, and exec keeps the pid the node's
        var info = openFilesLimit is { } limit ? new ProcessStartInfo("bash") : new ProcessStartInfo(exe);
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        info.UseShellExecute = false;
        if (openFilesLimit is not null)
        {
            info.ArgumentList.Add("-c");
            info.ArgumentList.Add($"ulimit -n {openFilesLimit} && exec \"$0\" \"$@\"");
            info.ArgumentList.Add(exe);
        }
        foreach (var a in args) info.ArgumentList.Add(a);
        info.Environment["CHAT_HOST"] = "127.0.0.1";
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) info.Environment[name] = value;
        var process = Process.Start(info)!;
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) output?.Invoke(e.Data); };
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>A configuration file for test node processes: <c>chat.verification.mode = auto</c>, no warm-up (they start faster).</summary>
    private static readonly Lazy<string> TestConfig = new(() =>
    {
        var path = Path.Combine(Path.GetTempPath(), $"chat-test-node-{Environment.ProcessId}.conf");
        File.WriteAllText(path, "chat.verification.mode = auto\nchat.limits.registrations-per-address = 0\nchat.limits.lookups-per-user = 0\nchat.limits.whois-per-user = 0\n" +
            "chat.limits.sends-per-user = 0\nchat.limits.stranger-inbox-messages = 0\nchat.limits.stranger-inbox-bytes = 0\n" +
            "chat.startup.warm-up = off\n");
        return path;
    });

    /// <summary>Reads the node's standard output until a line matches; fails if the node exits or the time runs out first.</summary>
    public static async Task<string> ReadUntilAsync(Process process, Func<string, bool> match, TimeSpan timeout, Action<string>? output = null)
    {
        using var cts = new CancellationTokenSource(timeout);
        while (true)
        {
            string? line;
            try
            {
                line = await process.StandardOutput.ReadLineAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"the node printed no matching line within {timeout.TotalSeconds:0} s");
            }
            if (line is null)
            {
                await process.WaitForExitAsync();
                throw new InvalidOperationException($"node exited with {process.ExitCode} before printing the line awaited");
            }
            output?.Invoke(line);
            if (match(line)) return line;
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

    /// <summary>Waits for the node to exit by itself and returns its exit code.</summary>
    public async Task<int> ExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        return _process.ExitCode;
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
