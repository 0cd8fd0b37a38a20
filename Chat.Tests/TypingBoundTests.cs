using Chat.Node.Presence;
using Chat.Node;

namespace Chat.Tests;

/// <summary>The bound a relaying entity keeps on typing: one per typist per interval, with when to retry, in bounded memory.</summary>
public sealed class TypingBoundTests
{
    private static readonly UserId Ann = new("uaaaaaaaaaaaaaaaa");
    private static readonly UserId Bob = new("ubbbbbbbbbbbbbbbb");

    [Fact]
    public void A_typist_is_relayed_once_per_interval_with_the_wait_stated_and_others_are_not_held_back()
    {
        var bound = new TypingBound(TimeSpan.FromSeconds(3));
        Assert.True(bound.TryTake(Ann, 10_000, out _));
        Assert.False(bound.TryTake(Ann, 10_400, out var wait)); // from another connection, maybe on another node
        Assert.Equal(2_600, wait);
        Assert.True(bound.TryTake(Bob, 10_400, out _));
        Assert.False(bound.TryTake(Ann, 12_999, out wait));
        Assert.Equal(1, wait);
        Assert.True(bound.TryTake(Ann, 13_000, out _));
        Assert.False(bound.TryTake(Ann, 13_500, out wait)); // counted from the last one relayed
        Assert.Equal(2_500, wait);
    }

    [Fact]
    public void Typists_whose_interval_passed_are_forgotten_so_a_crowd_over_time_holds_little()
    {
        var bound = new TypingBound(TimeSpan.FromSeconds(3));
        // 10,000 typists, one every 10 ms: about 300 within any interval
        for (var i = 0; i < 10_000; i++)
            Assert.True(bound.TryTake(new UserId("u" + i.ToString("D16")), i * 10L, out _));
        Assert.InRange(bound.Count, 300, 700);
    }
}
