using Chat.Protocol;

namespace Chat.Tests;

/// <summary>
/// <c>chat.limits.sends-per-user</c>: a user's sends beyond the token bucket are refused with RateLimited and when to
/// retry, and not stored; the user's other requests, and other users, go on; once the bucket refills they go through.
/// </summary>
public sealed class SendRateTests : IAsyncLifetime
{
    private readonly ManualClock _clock = new(DateTimeOffset.UtcNow);
    private TestNode _node = null!;

    public async Task InitializeAsync() =>
        _node = await TestNode.StartAsync(extraHocon: "chat.limits.sends-per-user = 3", clock: _clock);

    public async Task DisposeAsync() => await _node.DisposeAsync();

    [Fact]
    public async Task The_send_beyond_the_rate_is_refused_with_when_to_retry_and_not_stored_and_goes_through_after_the_wait()
    {
        await using var ann = await _node.NewUserAsync("Ann");
        await using var bob = await _node.NewUserAsync("Bob");
        await using var carol = await _node.NewUserAsync("Carol");
        await bob.Client.SyncAsync(0);

        // three sends: the whole bucket, each accepted
        for (var i = 1; i <= 3; i++) await ann.Client.SendAsync(bob.Id, $"ann {i}", $"a-{i}");
        var refused = await Assert.ThrowsAsync<ChatException>(() => ann.Client.SendAsync(bob.Id, "ann 4", "a-4"));
        Assert.Equal(ErrorCode.RateLimited, refused.Code);
        Assert.Contains("3 messages a minute", refused.Message);
        // 3 a minute: the next token comes 20 s after the last refill (less the time the sends took on a busy machine)
        Assert.NotNull(refused.RetryAfter);
        Assert.InRange(refused.RetryAfter!.Value, TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(20));

        // a second connection of the same user shares the bucket, group sends too
        await using (var annAgain = await _node.ConnectAsync("tablet"))
        {
            await annAgain.LoginAsync(ann.Token);
            Assert.Equal(ErrorCode.RateLimited, (await Assert.ThrowsAsync<ChatException>(() => annAgain.SendAsync(bob.Id, "ann 5", "a-5"))).Code);
        }

        // Ann's other requests are not held back, and another user sends at once
        Assert.Equal(bob.Id, (await ann.Client.LookupAsync(bob.Phone)).UserId);
        await ann.Client.PingAsync();
        await carol.Client.SendAsync(bob.Id, "carol 1");

        // Bob has Ann's three, then Carol's: the refused send was not stored
        for (var i = 1; i <= 3; i++) Assert.Equal($"ann {i}", (await bob.Client.NextAsync<Message>()).Text);
        Assert.Equal("carol 1", (await bob.Client.NextAsync<Message>()).Text);

        // 20 s later one token is back: the refused message, sent again with its client message id, goes through once
        _clock.Advance(TimeSpan.FromSeconds(20));
        var accepted = await ann.Client.SendAsync(bob.Id, "ann 4", "a-4");
        var fourth = await bob.Client.NextAsync<Message>();
        Assert.Equal("ann 4", fourth.Text);
        Assert.Equal(accepted.MessageId, fourth.MessageId);
        Assert.Equal(ErrorCode.RateLimited, (await Assert.ThrowsAsync<ChatException>(() => ann.Client.SendAsync(bob.Id, "ann 6"))).Code);
    }
}
