using System.Diagnostics;

namespace Chat.Tests;

/// <summary>
/// A terminal a test types into and reads, as a person would: a tmux session on its own server socket (so that it
/// never touches anyone else's tmux), driven with send-keys and read with capture-pane. tmux is installed with apt-get
/// when missing and the tests run as root, as PostgresServer installs PostgreSQL.
/// </summary>
internal sealed class Tmux : IAsyncDisposable
{
    private readonly string _socket = "chat-test-" + Guid.NewGuid().ToString("N")[..12];
    private const string Session = "chat";

    private Tmux() { }

    /// <summary>Starts <paramref name="command"/> (a shell command line) in a new terminal of the given size.</summary>
    public static async Task<Tmux> StartAsync(string command, int width = 120, int height = 30)
    {
        await EnsureInstalledAsync();
        var tmux = new Tmux();
        await tmux.RunAsync("new-session", "-d", "-s", Session, "-x", width.ToString(), "-y", height.ToString(), command);
        return tmux;
    }

    private static async Task EnsureInstalledAsync()
    {
        if (File.Exists("/usr/bin/tmux") || File.Exists("/usr/local/bin/tmux")) return;
        if (!Programs.IsRoot) throw new InvalidOperationException("tmux is missing; install it (apt-get install tmux) or run the tests as root");
        var env = new Dictionary<string, string> { ["DEBIAN_FRONTEND"] = "noninteractive" };
        await Programs.RunAsync("apt-get", ["update", "-q"], TimeSpan.FromMinutes(5), env);
        await Programs.RunAsync("apt-get", ["install", "-y", "-q", "tmux"], TimeSpan.FromMinutes(5), env);
    }

    /// <summary>Types text (literally, no key names).</summary>
    public Task TypeAsync(string text) => RunAsync("send-keys", "-t", Session, "-l", text);

    /// <summary>Presses keys by tmux name: Enter, Up, Down, Escape, C-c.</summary>
    public Task PressAsync(params string[] keys) => RunAsync(["send-keys", "-t", Session, .. keys]);

    /// <summary>Makes the terminal <paramref name="width"/> columns by <paramref name="height"/> rows, as a person dragging its window.</summary>
    public Task ResizeAsync(int width, int height) =>
        RunAsync("resize-window", "-t", Session, "-x", width.ToString(), "-y", height.ToString());

    /// <summary>The screen's text now; with <paramref name="colours"/>, with the escape sequences of its colours.</summary>
    public Task<string> ScreenAsync(bool colours = false) =>
        colours ? RunAsync("capture-pane", "-p", "-e", "-t", Session) : RunAsync("capture-pane", "-p", "-t", Session);

    /// <summary>Waits until the screen shows what <paramref name="shows"/> accepts; fails with the last screen after <paramref name="seconds"/>.</summary>
    public async Task<string> WaitForAsync(Func<string, bool> shows, string what, int seconds = 20, bool colours = false)
    {
        var deadline = Stopwatch.StartNew();
        var screen = "";
        while (deadline.Elapsed < TimeSpan.FromSeconds(seconds))
        {
            screen = await ScreenAsync(colours);
            if (shows(screen)) return screen;
            await Task.Delay(100); // a terminal has no event to await: poll, bounded by the deadline
        }
        throw new TimeoutException($"the screen did not show {what} within {seconds} s; it shows:\n{screen}");
    }

    /// <summary>Whether the program in the terminal is still running.</summary>
    public async Task<bool> IsRunningAsync()
    {
        try
        {
            await RunAsync("has-session", "-t", Session);
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    private Task<string> RunAsync(params string[] args) => RunAsync((IReadOnlyList<string>)args);

    private async Task<string> RunAsync(IReadOnlyList<string> args)
    {
        var info = new ProcessStartInfo("tmux") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add("-L");
        info.ArgumentList.Add(_socket);
        foreach (var a in args) info.ArgumentList.Add(a);
        using var process = Process.Start(info) ?? throw new InvalidOperationException("cannot run tmux");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await process.WaitForExitAsync(cts.Token);
        if (process.ExitCode != 0) throw new InvalidOperationException($"tmux {string.Join(' ', args)}: {await stderr}");
        return await stdout;
    }

    public async ValueTask DisposeAsync()
    {
        try { await RunAsync("kill-server"); }
        catch (InvalidOperationException) { /* the program ended and took the server with it */ }
    }
}
