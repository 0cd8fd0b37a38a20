using Chat.Protocol;

namespace Chat.Tests;

/// <summary>Registrations per address and lookups per user are limited node-wide, with a clear error; others are not held back.</summary>
public sealed class RequestQuotaTests : IAsyncLifetime
{
    private TestNode _node = null!;

    public async Task InitializeAsync() => _node = await TestNode.StartAsync(extraHocon: """
        chat.limits.registrations-per-address = 3
        chat.limits.lookups-per-user = 5
        chat.limits.whois-per-user = 4
        """);

    public async Task DisposeAsync() => await _node.DisposeAsync();

    [Fact]
    public async Task Registrations_from_one_address_are_limited_across_connections()
    {
        // three registrations from 127.0.0.1, on two connections, then a fourth on a third connection is refused
        await using (var first = await _node.ConnectAsync())
        {
            await first.RegisterAsync("One", Phones.Next());
            await first.RegisterAsync("Two", Phones.Next());
        }
        await using (var second = await _node.ConnectAsync())
            await second.RegisterAsync("Three", Phones.Next());
        await using var third = await _node.ConnectAsync();
        var refused = await Assert.ThrowsAsync<ChatException>(() => third.RegisterAsync("Four", Phones.Next()));
        Assert.Equal(ErrorCode.RateLimited, refused.Code);
        Assert.Contains("registrations from this address", refused.Message);
        await third.PingAsync(); // the connection stays usable
    }

    [Fact]
    public async Task Lookups_are_limited_per_user_across_connections()
    {
        var owner = Phones.Next();
        await using var ann = await NewLoggedInUser("Ann", owner);
        for (var i = 0; i < 5; i++) Assert.Equal(owner, (await ann.LookupAsync(owner)).Phone);
        var refused = await Assert.ThrowsAsync<ChatException>(() => ann.LookupAsync(owner));
        Assert.Equal(ErrorCode.RateLimited, refused.Code);
        Assert.Contains("lookups in a minute", refused.Message);
        // a second connection of the same user shares the quota
        await using var annAgain = await _node.ConnectAsync();
        await annAgain.LoginAsync(_annToken!);
        Assert.Equal(ErrorCode.RateLimited, (await Assert.ThrowsAsync<ChatException>(() => annAgain.LookupAsync(owner))).Code);
    }

    [Fact]
    public async Task WhoIs_requests_are_limited_per_user_across_connections_and_not_for_others()
    {
        await using var ann = await NewLoggedInUser("Ann", Phones.Next());
        var annId = ann.UserId!;
        for (var i = 0; i < 4; i++) Assert.Equal("Ann", Assert.Single(await ann.WhoIsAsync([annId])).Name);
        var refused = await Assert.ThrowsAsync<ChatException>(() => ann.WhoIsAsync([annId]));
        Assert.Equal(ErrorCode.RateLimited, refused.Code);
        Assert.Contains("WhoIs requests in a minute", refused.Message);
        Assert.InRange(refused.RetryAfter!.Value, TimeSpan.FromMilliseconds(1), TimeSpan.FromMinutes(1));
        // the user's second connection shares the quota; another user has a quota of their own
        await using var annAgain = await _node.ConnectAsync();
        await annAgain.LoginAsync(_annToken!);
        Assert.Equal(ErrorCode.RateLimited, (await Assert.ThrowsAsync<ChatException>(() => annAgain.WhoIsAsync([annId]))).Code);
        await using var bob = await NewLoggedInUser("Bob", Phones.Next());
        Assert.Single(await bob.WhoIsAsync([annId, bob.UserId!]));
    }

    private string? _annToken;

    /// <summary>A new user, logged in (each test has a node of its own, so its registrations quota is untouched).</summary>
    private async Task<ChatClient> NewLoggedInUser(string name, string phone)
    {
        var client = await _node.ConnectAsync();
        var registered = await client.RegisterAsync(name, phone);
        _annToken = registered.Token;
        await client.LoginAsync(registered.Token);
        return client;
    }
}
