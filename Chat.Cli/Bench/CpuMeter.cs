using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;

namespace Chat.Cli.Bench;

/// <summary>
/// CPU time over one measured phase: the load generator's own (user plus system, all its threads), and with the node's
/// pid the node's from /proc. On one machine the two share the cores, so a figure per message is what each side costs.
/// </summary>
internal sealed class CpuMeter
{
    private static readonly Lazy<double> s_ticksPerSecond = new(ClockTicksPerSecond);
    private readonly int? _serverPid;
    private readonly TimeSpan _clientStart;
    private readonly double? _serverStart;
    private readonly int _gcsStart;
    private readonly TimeSpan _pausedStart;
    private readonly long _allocatedStart;

    private CpuMeter(int? serverPid)
    {
        _serverPid = serverPid;
        _serverStart = serverPid is { } pid ? ProcessSeconds(pid) : null;
        _gcsStart = GC.CollectionCount(0);
        _pausedStart = GC.GetTotalPauseDuration();
        _allocatedStart = GC.GetTotalAllocatedBytes();
        _clientStart = Process.GetCurrentProcess().TotalProcessorTime;
    }

    /// <summary>Starts measuring now (the clock-tick rate is looked up before, so that costs the phase nothing).</summary>
    public static CpuMeter Start(int? serverPid)
    {
        _ = s_ticksPerSecond.Value;
        return new CpuMeter(serverPid);
    }

    public CpuUse Stop()
    {
        var client = (Process.GetCurrentProcess().TotalProcessorTime - _clientStart).TotalSeconds;
        double? server = _serverPid is { } pid && _serverStart is { } before && ProcessSeconds(pid) is { } after ? after - before : null;
        return new CpuUse(client, server, GC.CollectionCount(0) - _gcsStart, (GC.GetTotalPauseDuration() - _pausedStart).TotalMilliseconds,
            GC.GetTotalAllocatedBytes() - _allocatedStart);
    }

    /// <summary>User plus system CPU time of a process so far, from /proc/PID/stat (Linux); null when it cannot be read.</summary>
    public static double? ProcessSeconds(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            // utime and stime, in clock ticks
            return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / s_ticksPerSecond.Value;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    /// <summary>The kernel's clock ticks per second as <c>getconf CLK_TCK</c> tells them; 100, Linux's usual value, if it cannot.</summary>
    private static double ClockTicksPerSecond()
    {
        try
        {
            using var getconf = Process.Start(new ProcessStartInfo("getconf", "CLK_TCK") { RedirectStandardOutput = true, UseShellExecute = false });
            if (getconf is null) return 100;
            var text = getconf.StandardOutput.ReadToEnd();
            getconf.WaitForExit(2000);
            return double.TryParse(text.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var ticks) && ticks > 0 ? ticks : 100;
        }
        catch (Exception e) when (e is Win32Exception or InvalidOperationException or IOException)
        {
            return 100;
        }
    }
}

/// <summary>
/// CPU seconds of the load generator and (when its pid was given) of the node over a measured phase, and the generator's
/// own collections: how often it stopped itself (a message due or arriving then waits with it), for how long in all, and
/// what it allocated.
/// </summary>
internal readonly record struct CpuUse(double ClientSeconds, double? ServerSeconds, int ClientGcs = 0, double ClientGcPauseMs = 0, long ClientAllocated = 0)
{
    /// <summary>
    /// Adds <c>client_cpu_s</c>, <c>client_cpu_us_per_UNIT</c> for each unit, <c>client_gcs</c>, <c>client_gc_pause_ms</c>
    /// and <c>client_alloc_bytes_per_UNIT</c>, then the CPU figures for the server when it was measured.
    /// </summary>
    public BenchResult AddTo(BenchResult result, params (string Unit, long Count)[] per)
    {
        result.Add("client_cpu_s", Math.Round(ClientSeconds, 3));
        foreach (var (unit, count) in per) result.Add($"client_cpu_us_per_{unit}", PerUnit(ClientSeconds, count));
        result.Add("client_gcs", ClientGcs);
        result.Add("client_gc_pause_ms", Math.Round(ClientGcPauseMs, 1));
        foreach (var (unit, count) in per) result.Add($"client_alloc_bytes_per_{unit}", count > 0 ? ClientAllocated / count : 0);
        if (ServerSeconds is not { } server) return result;
        result.Add("server_cpu_s", Math.Round(server, 3));
        foreach (var (unit, count) in per) result.Add($"server_cpu_us_per_{unit}", PerUnit(server, count));
        return result;
    }

    private static double PerUnit(double seconds, long count) => count > 0 ? Math.Round(seconds * 1e6 / count, 1) : 0;
}
