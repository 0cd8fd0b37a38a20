using System.Runtime.InteropServices;
using System.Text;

namespace Chat.Node.Hosting;

/// <summary>
/// Gives the runtime's youngest generation a 16 MiB budget unless the environment already says otherwise. The runtime
/// sizes it from the processor's cache, and reads a setting for it only from the environment (<c>DOTNET_GCgen0size</c>;
/// not from runtimeconfig.json), before any of the node's code runs: so on Linux the node starts its own program again,
/// once, in the same process (<c>execve</c>), with the variable set. Measured on a host that reports no cache sizes
/// (6 MiB by default): group fan-out 58,152-63,689 deliveries/s against 46,710-53,704, at 6,000 messages/s p99 36-61 ms
/// against 52-78, at 1,000/s the tail as it was (bench/RESULTS.md, docs/operations.md "Garbage collection and latency").
/// </summary>
internal static class YoungGeneration
{
    public const string Variable = "DOTNET_GCgen0size";

    /// <summary>16 MiB, in the hexadecimal the runtime reads.</summary>
    public const string DefaultBudget = "0x1000000";

    /// <summary>
    /// Returns at once when the variable (or its older <c>COMPlus_</c> spelling) is set, or off Linux; otherwise replaces
    /// this process's program with itself, same arguments, plus the variable. Returns only if that fails, and the node then
    /// starts with the runtime's own budget.
    /// </summary>
    public static void EnsureBudget()
    {
        if (!OperatingSystem.IsLinux()) return;
        var given = Environment.GetEnvironmentVariable(Variable) ?? Environment.GetEnvironmentVariable("COMPlus_GCgen0size");
        if (given is not null) return;
        string[] argv;
        try
        {
            // the arguments exactly as the process was started with (the host's, then the node's)
            var raw = File.ReadAllBytes("/proc/self/cmdline");
            argv = Encoding.UTF8.GetString(raw).TrimEnd('\0').Split('\0');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return; // no /proc (a container without it): the runtime's own budget
        }
        var environment = Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
            .Where(e => (string)e.Key != Variable).Select(e => $"{e.Key}={e.Value}").Append($"{Variable}={DefaultBudget}");
        ForgetDiagnosticsSocket();
        execve("/proc/self/exe", [.. argv, null], [.. environment, null]);
        Console.Error.WriteLine($"could not set {Variable} for the runtime (execve: error {Marshal.GetLastPInvokeError()}); starting with its own budget");
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
