using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Chat.Cli.Bench;

/// <summary>
/// Waits until a <see cref="Stopwatch"/> timestamp, as close to it as the system allows, for an open-loop timetable.
/// </summary>
/// <remarks>
/// <c>Thread.Sleep</c> takes whole milliseconds: a message due 0.3 ms from now waited a full millisecond and went out
/// ~0.7 ms late, the next ones piled up behind it, and at 6,000/s messages left in bursts of six about once a
/// millisecond instead of one every 167 µs. That lateness is the generator's, yet it counts in every latency measured
/// from the due time. On Linux the stopwatch reads the monotonic clock in nanoseconds, so the wait can be
/// <c>clock_nanosleep</c> to the due time itself (woken within the thread's timer slack, 50 µs by default). Elsewhere,
/// or if the clocks do not agree, it falls back to millisecond sleeps.
/// </remarks>
internal static class DueTimeWait
{
    private const int ClockMonotonic = 1;
    private const int TimerAbsolute = 1;
    private const int Interrupted = 4; // EINTR

    /// <summary>Waits shorter than this are not worth a sleep: the system call and the wake-up take about as long.</summary>
    private static readonly long NotWorthSleeping = Stopwatch.Frequency / 50_000; // 20 µs

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [DllImport("libc", EntryPoint = "clock_nanosleep")]
    private static extern int ClockNanosleep(int clock, int flags, ref TimeSpec request, IntPtr remaining);

    [DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clock, out TimeSpec now);

    /// <summary>Whether waits end at the due time itself (not at the next whole millisecond after it).</summary>
    public static bool Precise { get; } = StopwatchIsMonotonicClock();

    /// <summary>Returns at <paramref name="due"/> (a <see cref="Stopwatch"/> timestamp) or just after it.</summary>
    public static void Until(long due)
    {
        if (Precise) UntilPrecisely(due);
        else UntilByMilliseconds(due);
    }

    private static void UntilPrecisely(long due)
    {
        if (due - Stopwatch.GetTimestamp() >= NotWorthSleeping)
        {
            var request = new TimeSpec { Seconds = due / 1_000_000_000, Nanoseconds = due % 1_000_000_000 };
            // an absolute deadline: a signal that interrupts the wait does not move it
            while (ClockNanosleep(ClockMonotonic, TimerAbsolute, ref request, IntPtr.Zero) == Interrupted) { }
        }
        // the last few microseconds (or the whole wait, when it was too short for a sleep) spun, never returning early
        while (Stopwatch.GetTimestamp() < due) Thread.SpinWait(20);
    }

    /// <summary>The fallback: whole-millisecond sleeps, each ending up to a millisecond after the due time.</summary>
    private static void UntilByMilliseconds(long due)
    {
        while (true)
        {
            var left = due - Stopwatch.GetTimestamp();
            if (left <= 0) return;
            var ms = left * 1000 / Stopwatch.Frequency;
            Thread.Sleep(ms > 2 ? (int)Math.Min(ms - 1, 1000) : 1);
        }
    }

    /// <summary>On Linux the stopwatch is the monotonic clock in nanoseconds; checked rather than assumed.</summary>
    private static bool StopwatchIsMonotonicClock()
    {
        if (!OperatingSystem.IsLinux() || Stopwatch.Frequency != 1_000_000_000) return false;
        try
        {
            var before = Stopwatch.GetTimestamp();
            if (ClockGetTime(ClockMonotonic, out var now) != 0) return false;
            var after = Stopwatch.GetTimestamp();
            var clock = now.Seconds * 1_000_000_000 + now.Nanoseconds;
            return clock >= before - 1_000_000 && clock <= after + 1_000_000;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }
}
