using Chat.Protocol;

namespace Chat.Tests;

/// <summary>WhoIs: a user learns the names of the people they talk to, and nothing about anyone else.</summary>
public sealed class ProfileTests : IAsyncLifetime
{
    private TestNode _node = null!;

    public async Task InitializeAsync() => _node = await TestNode.StartAsync();
    public async Task DisposeAsync() => await _node.DisposeAsync();

    [Fact]
    public async Task A_conversation_partner_is_named_on_both_sides_and_a_stranger_is_not()
    {
        await using var alice = await _node.NewUserAsync("Alice");
        await using var bob = await _node.NewUserAsync("Bob");
        await using var carol = await _node.NewUserAsync("Carol");
        await alice.Client.SendAsync(bob.Id, "Hi Bob!");

        // Bob received from Alice (his inbox), Alice wrote to Bob (his inbox, asked through Bob's entity)
        var bobSees = await bob.Client.WhoIsAsync([alice.Id, carol.Id]);
        var seen = Assert.Single(bobSees);
        Assert.Equal(new UserProfile(alice.Id, "Alice", alice.Phone), seen);
        var aliceSees = await alice.Client.WhoIsAsync([bob.Id]);
        Assert.Equal(new UserProfile(bob.Id, "Bob", bob.Phone), Assert.Single(aliceSees));

        // Carol shares nothing with either: an existing user and an id nobody has look the same
        Assert.Empty(await carol.Client.WhoIsAsync([alice.Id, bob.Id, "uaaaaaaaaaaaaaaaa", "not an id"]));
        Assert.Equal("Alice", bob.Client.NameOf(alice.Id));
        Assert.Null(carol.Client.NameOf(alice.Id));
    }

    [Fact]
    public async Task Group_members_are_named_to_each_other()
    {
        await using var alice = await _node.NewUserAsync("Alice");
        await using var bob = await _node.NewUserAsync("Bob");
        await using var carol = await _node.NewUserAsync("Carol");
        await using var dave = await _node.NewUserAsync("Dave");
        var group = await alice.Client.CreateGroupAsync("hikers", [bob.Id]);
        await alice.Client.AddMembersAsync(group, [carol.Id]);
        await carol.Client.SyncAsync(0);
        await carol.Client.NextAsync<GroupNotice>(); // Carol is in the group once her inbox says so

        // Carol joined later and nobody has written yet: the group alone makes Bob known to her
        var profiles = await carol.Client.WhoIsAsync([bob.Id, dave.Id]);
        Assert.Equal([bob.Id], profiles.Select(p => p.UserId));
    }

    [Fact]
    public async Task A_looked_up_phone_makes_its_owner_known_on_that_connection()
    {
        await using var alice = await _node.NewUserAsync("Alice");
        await using var carol = await _node.NewUserAsync("Carol");
        Assert.Empty(await carol.Client.WhoIsAsync([alice.Id]));
        await carol.Client.LookupAsync(alice.Phone);
        Assert.Equal([alice.Id], (await carol.Client.WhoIsAsync([alice.Id])).Select(p => p.UserId));
    }

    [Fact]
    public async Task Too_many_ids_get_a_clear_error_and_the_connection_stays()
    {
        await using var alice = await _node.NewUserAsync("Alice");
        var ids = Enumerable.Range(0, WhoIs.MaxUsers + 1).Select(i => $"u{i:D16}").ToList();
        var error = await Assert.ThrowsAsync<ChatException>(() => alice.Client.WhoIsAsync(ids));
        Assert.Equal(ErrorCode.InvalidArgument, error.Code);
        var unknown = alice.Id[..^1] + (alice.Id[^1] == 'a' ? "b" : "a"); // an id one letter from hers
        Assert.Empty(await alice.Client.WhoIsAsync([unknown]));
    }
}
