using System.Collections.Concurrent;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Configuration;
using Akka.Event;
using Akka.TestKit.Xunit2;
using Chat.Node;
using Chat.Node.Tcp;

namespace Chat.Tests;

/// <summary>The accept loop when accept keeps failing, as it does with the descriptor table full.</summary>
public sealed class AcceptBackoffSpecs() : TestKit(ConfigurationFactory.ParseString("akka.loglevel = WARNING"))
{
    [Fact]
    public async Task A_failing_accept_is_retried_with_a_growing_pause_and_logged_once_not_per_failure()
    {
        var warnings = new ConcurrentQueue<string>();
        var listener = Sys.ActorOf(Props.Create(() => new WarningCollector(warnings)));
        Sys.EventStream.Subscribe(listener, typeof(Warning));
        var calls = 0;
        var edge = new TcpEdge(Sys, TestNode.DefaultSettings() with { Port = 0 }, _ => Props.Empty)
        {
            Accept = (_, _) =>
            {
                Interlocked.Increment(ref calls);
                throw new SocketException((int)SocketError.TooManyOpenSockets);
            },
        };
        edge.Start();
        await Task.Delay(TimeSpan.FromSeconds(3));
        await edge.StopAsync();

        // pauses of 10, 20, 40 ... 640 ms, then 1 s each: about 9 tries in 3 s (retrying at once makes millions); fewer
        // when a busy machine fires the timers late
        Assert.InRange(calls, 3, 15);
        var failed = warnings.Where(w => w.Contains("accept failed", StringComparison.Ordinal)).ToList();
        Assert.Single(failed);
        Assert.Contains("backing off", failed[0]);
    }

    [Fact]
    public void A_recurring_warning_is_written_first_and_then_summarised_once_per_interval()
    {
        var clock = new SteppedClock();
        var throttle = new LogThrottle(TimeSpan.FromMilliseconds(300), clock);
        Assert.True(throttle.Occurred(out var count, out _));
        Assert.Equal(1, count);
        for (var i = 0; i < 1_000; i++) Assert.False(throttle.Occurred(out _, out _));
        clock.Advance(TimeSpan.FromMilliseconds(299));
        Assert.False(throttle.Occurred(out _, out _)); // not yet an interval
        clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(throttle.Occurred(out count, out var since));
        Assert.Equal(1_002, count);
        Assert.Equal(TimeSpan.FromMilliseconds(300), since);
        Assert.False(throttle.Occurred(out _, out _)); // the next interval starts at that line
    }

    /// <summary>A clock that only moves when told to.</summary>
    private sealed class SteppedClock : TimeProvider
    {
        private long _ticks;
        public override long TimestampFrequency => TimeSpan.TicksPerSecond;
        public override long GetTimestamp() => _ticks;
        public void Advance(TimeSpan by) => _ticks += by.Ticks;
    }

    private sealed class WarningCollector : ReceiveActor
    {
        public WarningCollector(ConcurrentQueue<string> into) => Receive<Warning>(w => into.Enqueue(w.Message?.ToString() ?? ""));
    }
}
