using Akka.Actor;
using Akka.TestKit.Xunit2;
using Chat.Node.Hosting;
using Xunit;

namespace Chat.Tests;

public sealed class MemoryTrimmerTests : TestKit
{
    private const long Quiet = 64 << 20;

    [Fact]
    public void A_quiet_node_whose_entities_mostly_stopped_since_the_last_full_collection_gives_memory_back()
    {
        // 99,000 users registered, then all passivated while nothing else happened
        Assert.True(MemoryTrimmer.ShouldTrim(allocatedSinceLastCheck: 6 << 20, Quiet, entitiesAtLastFull: 99_000, entitiesNow: 0));
        Assert.True(MemoryTrimmer.ShouldTrim(6 << 20, Quiet, entitiesAtLastFull: 3_240, entitiesNow: 1_000));
    }

    [Fact]
    public void A_busy_node_or_one_that_kept_its_entities_is_left_alone()
    {
        // busy: a collection comes by itself, and its pause would fall on traffic
        Assert.False(MemoryTrimmer.ShouldTrim(allocatedSinceLastCheck: 200 << 20, Quiet, entitiesAtLastFull: 99_000, entitiesNow: 0));
        // fewer than half stopped: what they held is not most of the heap
        Assert.False(MemoryTrimmer.ShouldTrim(6 << 20, Quiet, entitiesAtLastFull: 99_000, entitiesNow: 60_000));
        // a handful stopped: not worth a full collection
        Assert.False(MemoryTrimmer.ShouldTrim(6 << 20, Quiet, entitiesAtLastFull: 1_500, entitiesNow: 700));
        // more entities than before
        Assert.False(MemoryTrimmer.ShouldTrim(6 << 20, Quiet, entitiesAtLastFull: 0, entitiesNow: 2_000));
    }

    [Fact]
    public async Task Entities_that_start_and_stop_with_no_full_collection_in_between_are_still_given_back()
    {
        // 99,000 registrations with a 10 s idle timeout: up to ~10,000 entities running at a time, then all passivated,
        // and not one full collection meanwhile (the server collector with capped young heaps): the node must trim
        long entities = 0;
        var looked = 0;
        var trimmed = new TaskCompletionSource<OperatorLine>(TaskCreationOptions.RunContinuationsAsynchronously);
        var report = new OperatorReport(line => { if (line.Event == "memory-trimmed") trimmed.TrySetResult(line); });
        Func<long> count = () =>
        {
            Interlocked.Increment(ref looked);
            return Interlocked.Read(ref entities);
        };
        Sys.ActorOf(Props.Create(() => new MemoryTrimmer(TimeSpan.FromMilliseconds(50), long.MaxValue, report, count, () => 7)));
        await AwaitConditionAsync(() => Task.FromResult(Volatile.Read(ref looked) >= 1), TimeSpan.FromSeconds(5)); // started with none
        Interlocked.Exchange(ref entities, 10_000);
        var before = Volatile.Read(ref looked);
        await AwaitConditionAsync(() => Task.FromResult(Volatile.Read(ref looked) >= before + 2), TimeSpan.FromSeconds(5));
        Assert.False(trimmed.Task.IsCompleted); // running: nothing to give back
        Interlocked.Exchange(ref entities, 0);
        var line = await trimmed.Task.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Contains("10000 entities stopped", line.Text);
    }
}
