using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using Amazon.S3;
using Amazon.S3.Model;
using Chat.Node;

namespace Chat.Tests;

/// <summary>
/// A throwaway S3-compatible server (s3rver, a Node.js program from npm) on 127.0.0.1, in a temporary directory that is
/// removed when it stops. One is shared by the test run (<see cref="NewBucketAsync"/> gives each test its own bucket);
/// a test that stops and restarts the store starts its own (<see cref="StartAsync"/>). s3rver is installed with npm
/// into a cache directory on first use (<c>$CHAT_TEST_CACHE</c>, else <c>~/.cache/chat-tests</c>); when npm is missing
/// and the tests run as root, Node.js and npm are installed with apt-get first.
/// </summary>
public sealed partial class S3Server : IAsyncDisposable
{
    public const string Version = "3.7.1";
    /// <summary>s3rver's fixed credentials.</summary>
    public const string AccessKey = "S3RVER";
    public const string SecretKey = "S3RVER";

    private static readonly Lazy<Task<S3Server>> Shared = new(() => StartAsync());
    private static readonly SemaphoreSlim Installing = new(1, 1);
    private static int _buckets;

    private readonly string _directory;
    private readonly string _script;
    private readonly bool _shared;
    private Process? _process;

    private S3Server(string directory, string script, bool shared)
    {
        _directory = directory;
        _script = script;
        _shared = shared;
    }

    public int Port { get; private set; }
    public string Endpoint => $"http://127.0.0.1:{Port}";

    /// <summary>A new, empty bucket on the shared server, and the settings of a store on it.</summary>
    public static async Task<S3Settings> NewBucketAsync()
    {
        var server = await Shared.Value;
        return await server.CreateBucketAsync();
    }

    /// <summary>A bucket on this server and the settings of a store on it.</summary>
    public async Task<S3Settings> CreateBucketAsync()
    {
        var settings = new S3Settings
        {
            Endpoint = Endpoint, Bucket = $"chat-{Environment.ProcessId}-{Interlocked.Increment(ref _buckets)}", ForcePathStyle = true, Region = "us-east-1",
            AccessKey = AccessKey, SecretKey = SecretKey, PartSize = 5L << 20,
        };
        using var client = Node.Media.S3MediaStore.Client(settings);
        await client.PutBucketAsync(new PutBucketRequest { BucketName = settings.Bucket });
        return settings;
    }

    /// <summary>HOCON that selects the S3 store with these settings (credentials included unless <paramref name="withKeys"/> is false).</summary>
    public static string Hocon(S3Settings s, bool withKeys = true) =>
        $"""
        chat.media.store = s3
        chat.media.s3 {"{"}
          endpoint = "{s.Endpoint}"
          bucket = "{s.Bucket}"
          region = "{s.Region}"
          force-path-style = {(s.ForcePathStyle ? "on" : "off")}
          part-size = {s.PartSize}
          {(withKeys ? $"access-key = \"{s.AccessKey}\"\n  secret-key = \"{s.SecretKey}\"" : "")}
        {"}"}
        """;

    /// <summary>Every key in the bucket, in order.</summary>
    public static async Task<List<string>> KeysAsync(S3Settings settings, string prefix = "")
    {
        using var client = Node.Media.S3MediaStore.Client(settings);
        var keys = new List<string>();
        string? token = null;
        do
        {
            var page = await client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = settings.Bucket, Prefix = prefix, ContinuationToken = token });
            keys.AddRange((page.S3Objects ?? []).Select(o => o.Key));
            token = page.IsTruncated == true ? page.NextContinuationToken : null;
        } while (token is not null);
        return keys;
    }

    /// <summary>Starts a server of its own (stopped and its directory removed by <see cref="DisposeAsync"/>).</summary>
    public static async Task<S3Server> StartAsync() => await StartAsync(shared: false);

    private static async Task<S3Server> StartAsync(bool shared = true)
    {
        var script = await InstallAsync();
        var directory = Path.Combine(Path.GetTempPath(), "chat-s3-" + Guid.NewGuid().ToString("N")[..12]);
        System.IO.Directory.CreateDirectory(directory);
        var server = new S3Server(directory, script, shared);
        await server.RunAsync(port: 0);
        if (shared) AppDomain.CurrentDomain.ProcessExit += (_, _) => server.Kill();
        return server;
    }

    /// <summary>Stops the server (SIGKILL); what it stored stays in its directory for <see cref="RestartAsync"/>.</summary>
    public async Task StopAsync()
    {
        if (_process is null) return;
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
        _process.Dispose();
        _process = null;
    }

    /// <summary>Starts the server again on the same port and directory.</summary>
    public Task RestartAsync() => RunAsync(Port);

    public async ValueTask DisposeAsync()
    {
        if (_shared) return;
        await StopAsync();
        TestNode.TryDelete(_directory);
    }

    private void Kill()
    {
        try { _process?.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
        TestNode.TryDelete(_directory);
    }

    [GeneratedRegex(@"S3rver listening on [^:]+:(\d+)")]
    private static partial Regex Listening();

    private async Task RunAsync(int port)
    {
        var info = new ProcessStartInfo("node")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            WorkingDirectory = _directory,
        };
        foreach (var a in new[] { _script, "-d", Path.Combine(_directory, "data"), "-a", "127.0.0.1", "-p", port.ToString(), "-s" })
            info.ArgumentList.Add(a);
        var process = Process.Start(info) ?? throw new InvalidOperationException("cannot start node (s3rver)");
        StartWatchdog(process.Id, _directory);
        var errors = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            while (await process.StandardOutput.ReadLineAsync(cts.Token) is { } line)
            {
                var match = Listening().Match(line);
                if (!match.Success) continue;
                Port = int.Parse(match.Groups[1].Value);
                _process = process;
                // keep reading so that a full pipe never blocks it
                _ = process.StandardOutput.BaseStream.CopyToAsync(Stream.Null);
                return;
            }
        }
        catch (OperationCanceledException)
        {
        }
        process.Kill(entireProcessTree: true);
        throw new InvalidOperationException($"s3rver did not start on port {port}: {await errors}");
    }

    /// <summary>
    /// The test runner may kill the test process right after the last test, before exit handlers run, and the server runs
    /// on in its own process: a detached shell waits for this process to end, then stops the server and removes its directory.
    /// </summary>
    private static void StartWatchdog(int serverPid, string directory)
    {
        static string Q(string s) => "'" + s.Replace("'", "'\\''") + "'";
        var script = $"while kill -0 {Environment.ProcessId} 2>/dev/null; do sleep 1; done; grep -qF {Q(directory)} /proc/{serverPid}/cmdline 2>/dev/null && kill -9 {serverPid}; rm -rf {Q(directory)}";
        var info = new ProcessStartInfo("setsid") { UseShellExecute = false, RedirectStandardInput = true, WorkingDirectory = "/" };
        foreach (var a in new[] { "sh", "-c", $"({script}) </dev/null >/dev/null 2>&1 &" }) info.ArgumentList.Add(a);
        using var shell = Process.Start(info) ?? throw new InvalidOperationException("cannot start the s3rver watchdog");
        shell.WaitForExit();
    }

    /// <summary>The path of s3rver's program, installed with npm into the cache directory when it is not there yet.</summary>
    private static async Task<string> InstallAsync()
    {
        var cache = Environment.GetEnvironmentVariable("CHAT_TEST_CACHE") is { Length: > 0 } c
            ? c
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "chat-tests");
        var home = Path.Combine(cache, "s3rver-" + Version);
        var script = Path.Combine(home, "node_modules", "s3rver", "bin", "s3rver.js");
        await Installing.WaitAsync();
        try
        {
            if (File.Exists(script)) return script;
            if (!OnPath("npm") || !OnPath("node"))
            {
                if (!Programs.IsRoot)
                    throw new InvalidOperationException(
                        "The S3 tests need Node.js and npm to run s3rver, and they are not installed. Install them " +
                        "(Debian/Ubuntu: sudo apt-get install -y nodejs npm), or run the tests as root to have them installed.");
                Console.Error.WriteLine("S3 tests: npm not found; installing nodejs and npm with apt-get (running as root)");
                await Programs.RunAsync("apt-get", ["update"], TimeSpan.FromMinutes(10));
                await Programs.RunAsync("apt-get", ["install", "-y", "nodejs", "npm"], TimeSpan.FromMinutes(15),
                    new Dictionary<string, string> { ["DEBIAN_FRONTEND"] = "noninteractive" });
            }
            // into a fresh folder, moved into place when complete: an interrupted install is never taken for a good one
            var staging = home + ".installing-" + Environment.ProcessId;
            TestNode.TryDelete(staging);
            System.IO.Directory.CreateDirectory(staging);
            await Programs.RunAsync("npm", ["install", "--no-audit", "--no-fund", "--no-save", "--prefix", staging, $"s3rver@{Version}"], TimeSpan.FromMinutes(10));
            if (!File.Exists(Path.Combine(staging, "node_modules", "s3rver", "bin", "s3rver.js")))
                throw new InvalidOperationException($"npm installed s3rver@{Version} into {staging}, but without bin/s3rver.js");
            TestNode.TryDelete(home);
            System.IO.Directory.Move(staging, home);
            return script;
        }
        finally
        {
            Installing.Release();
        }
    }

    private static bool OnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Any(dir => File.Exists(Path.Combine(dir, program)));
}
