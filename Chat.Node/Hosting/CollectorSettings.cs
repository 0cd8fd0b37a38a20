using System.Runtime.InteropServices;
using System.Text;

namespace Chat.Node.Hosting;

/// <summary>
/// Runs the node on the server garbage collector, one heap per processor, each heap's youngest generation collected
/// after at most 16 MiB, unless the environment already sets any of the collector's settings named here. The runtime
/// reads those settings only from the environment, before any of the node's code runs: so on Linux the node starts
/// its own program again, once, in the same process (<c>execve</c>), with the variables set.
/// </summary>
/// <remarks>
/// Why (bench/RESULTS.md, "Collections on both cores"; docs/operations.md, "Garbage collection and latency"): a young
/// collection's pause is mostly reading through the old objects written since the last one, about 7 µs per user who
/// was active in between. The server collector does that on every core at once; the workstation collector on one.
/// Without the cap, the server collector lets each heap's young generation grow to tens of megabytes and pauses ~100
/// ms; with it, on two cores, young pauses of 11-13 ms against 17-19 at 1,000 messages/s (the tail there within the
/// machine's spread), and at 6,000/s p99 28 ms against 34-125, direct sends 79-82k/s against 61-74k, the restart check
/// 4.8 s against 5.1, memory within a few per cent. The cap was 8 MiB until a later comparison: 16 MiB halves the
/// young collections, each a little longer (p99 at 1,000 messages/s 6.4 ms against 7.3 over six pairs, at 6,000/s
/// within the spread).
/// An environment that sets any of these (<c>DOTNET_gcServer=0</c> for the workstation collector, say) gets none of
/// the others from the node: the runtime's own choices apply to what it leaves unset.
/// </remarks>
internal static class CollectorSettings
{
    public const string Server = "DOTNET_gcServer";
    public const string HeapCount = "DOTNET_GCHeapCount";
    /// <summary>The cap on each heap's young generation (this spelling; <c>GCgen0MaxBudget</c> is not read).</summary>
    public const string Gen0MaxBudget = "DOTNET_GCGen0MaxBudget";
    public const string Gen0Size = "DOTNET_GCgen0size";

    /// <summary>16 MiB, in the hexadecimal the runtime reads.</summary>
    public const string DefaultGen0MaxBudget = "0x1000000";

    /// <summary>16 MiB: the young generation's starting budget, set with the cap as in the measured configuration (the cap decides).</summary>
    public const string DefaultGen0Size = "0x1000000";

    private static readonly string[] Names = [Server, HeapCount, Gen0MaxBudget, Gen0Size];

    /// <summary>
    /// The variables the node adds to an environment that sets none of <see cref="Names"/> (in either spelling,
    /// <c>DOTNET_</c> or <c>COMPlus_</c>), for a machine with <paramref name="processors"/> processors; none when it sets any:
    /// an operator who tunes the collector tunes all of it.
    /// </summary>
    public static IReadOnlyList<KeyValuePair<string, string>> Defaults(Func<string, string?> environment, int processors)
    {
        foreach (var name in Names)
            if (environment(name) is not null || environment("COMPlus_" + name["DOTNET_".Length..]) is not null) return [];
        return
        [
            new(Server, "1"),
            new(HeapCount, $"0x{Math.Max(1, processors):x}"),
            new(Gen0MaxBudget, DefaultGen0MaxBudget),
            new(Gen0Size, DefaultGen0Size),
        ];
    }

    /// <summary>
    /// Returns at once off Linux, or when the environment sets any of the collector's settings; otherwise replaces this
    /// process's program with itself, same arguments, plus <see cref="Defaults"/>. Returns only if that fails, and the
    /// node then starts with the runtime's own settings.
    /// </summary>
    public static void Ensure()
    {
        if (!OperatingSystem.IsLinux()) return;
        var added = Defaults(Environment.GetEnvironmentVariable, Environment.ProcessorCount);
        if (added.Count == 0) return;
        string[] argv;
        try
        {
            // the arguments exactly as the process was started with (the host's, then the node's)
            var raw = File.ReadAllBytes("/proc/self/cmdline");
            argv = Encoding.UTF8.GetString(raw).TrimEnd('\0').Split('\0');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return; // no /proc (a container without it): the runtime's own settings
        }
        var environment = Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
            .Select(e => $"{e.Key}={e.Value}").Concat(added.Select(a => $"{a.Key}={a.Value}"));
        ForgetDiagnosticsSocket();
        execve("/proc/self/exe", [.. argv, null], [.. environment, null]);
        Console.Error.WriteLine($"could not set the garbage collector's settings (execve: error {Marshal.GetLastPInvokeError()}); starting with the runtime's own");
    }

    /// <summary>How the collector runs, for the node's start-up line: "server, 2 heaps, young generation up to 16 MiB each".</summary>
    public static string Describe()
    {
        var settings = GC.GetConfigurationVariables();
        var server = System.Runtime.GCSettings.IsServerGC;
        var heaps = settings.TryGetValue("HeapCount", out var h) ? Convert.ToInt64(h) : 1;
        var budget = settings.TryGetValue("GCGen0MaxBudget", out var b) ? Convert.ToInt64(b) : 0;
        var kind = server ? $"server, {heaps} heap{(heaps == 1 ? "" : "s")}" : "workstation";
        return budget > 0 ? $"{kind}, young generation up to {budget / 1048576.0:0.#} MiB{(server ? " each" : "")}" : kind;
    }

    /// <summary>
    /// The runtime's diagnostics socket (dotnet-trace, dotnet-counters) is named by process id and start time, which the
    /// program started again keeps: the file is removed here so that its new runtime can listen under the same name.
    /// </summary>
    private static void ForgetDiagnosticsSocket()
    {
        try
        {
            foreach (var socket in System.IO.Directory.EnumerateFiles(Path.GetTempPath(), $"dotnet-diagnostic-{Environment.ProcessId}-*-socket"))
                File.Delete(socket);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int execve(string path, string?[] argv, string?[] envp);
}
