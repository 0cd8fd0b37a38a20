using Chat.Node.Hosting;
using Xunit;

namespace Chat.Tests;

public sealed class MemoryTrimmerTests
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
}
