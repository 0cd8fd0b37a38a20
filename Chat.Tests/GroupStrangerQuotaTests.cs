using Akka.Actor;
using Akka.Cluster.Sharding;
using Chat.Node;
using Chat.Node.Users;
using Chat.Protocol;

namespace Chat.Tests;

/// <summary>
/// Groups are no way around the stranger quota: a stranger's add takes a place in it and is refused when it is full,
/// posts by strangers in a stranger's group wait in the group (not in the absent member's inbox) beyond it and arrive
/// once there is room, and a contact's group, or one the member took part in, is not counted.
/// </summary>
public sealed class GroupStrangerQuotaTests : IAsyncLifetime
{
    private TestNode _node = null!;

    public async Task InitializeAsync() => _node = await TestNode.StartAsync(extraHocon: """
        chat.limits.stranger-inbox-messages = 3
        chat.groups.fanout-retry-interval = 200ms
        """);

    public async Task DisposeAsync() => await _node.DisposeAsync();

    [Fact]
    public async Task A_strangers_group_fills_an_absent_members_quota_then_adds_are_refused_and_posts_wait_until_there_is_room()
    {
        await using var bob = await _node.NewUserAsync("Bob");
        await using var mallory = await _node.NewUserAsync("Mallory");
        await using var dave = await _node.NewUserAsync("Dave");
        await using var carol = await _node.NewUserAsync("Carol");
        await bob.Client.SendAsync(dave.Id, "hi dave"); // Dave is Bob's contact
        await bob.Client.DisposeAsync(); // Bob goes away
        var before = await InboxEndAsync(bob.Id);

        // Mallory, a stranger to Bob, makes a group with him: the notice takes one place, two posts the other two
        var deals = await mallory.Client.CreateGroupAsync("Deals", [bob.Id]);
        for (var i = 1; i <= 4; i++) await mallory.Client.SendGroupAsync(deals, $"deal {i}"); // the group stores all four
        await WaitForInboxEndAsync(bob.Id, before + 3); // its fan-out to Bob's inbox follows the answers

        // Bob's quota is full: no stranger may add him to another group, nor write to him
        var refused = await Assert.ThrowsAsync<ChatException>(() => mallory.Client.CreateGroupAsync("More deals", [bob.Id, carol.Id]));
        Assert.Equal(ErrorCode.StrangerQuota, refused.Code);
        Assert.Contains(bob.Id, refused.Message);
        var empty = await carol.Client.CreateGroupAsync("Carol's", []);
        Assert.Equal(ErrorCode.StrangerQuota, (await Assert.ThrowsAsync<ChatException>(() => carol.Client.AddMembersAsync(empty, [bob.Id]))).Code);
        Assert.Equal(ErrorCode.StrangerQuota, (await Assert.ThrowsAsync<ChatException>(() => carol.Client.SendAsync(bob.Id, "hello"))).Code);
        Assert.Equal(before + 3, await InboxEndAsync(bob.Id)); // deals 3 and 4 wait in the group
        // Bob's contact still adds him
        var friends = await dave.Client.CreateGroupAsync("Friends", [bob.Id]);
        Assert.DoesNotContain(bob.Id, (await carol.Client.GetGroupInfoAsync(empty)).Members);

        // Bob comes back: the notice and two deals wait in his inbox, then Dave's group
        await using var back = await _node.ConnectAsync();
        await back.LoginAsync(bob.Token);
        await back.SyncAsync(0);
        Assert.Equal(deals, (await back.NextOfAsync<GroupNotice>()).Group);
        Assert.Equal("deal 1", (await back.NextOfAsync<Message>()).Text);
        var second = await back.NextOfAsync<Message>();
        Assert.Equal("deal 2", second.Text);
        Assert.Equal(friends, (await back.NextOfAsync<GroupNotice>()).Group);
        // once his device has them, the deals the group held back come, in order
        back.Ack(second.Seq + 1);
        var third = await back.NextOfAsync<Message>();
        Assert.Equal(("deal 3", deals), (third.Text, third.Group));
        Assert.Equal("deal 4", (await back.NextOfAsync<Message>()).Text);

        // Bob answers in the group and goes away again: it is no longer a stranger's group, its posts do not count
        await back.SendGroupAsync(deals, "no thanks");
        await back.DisposeAsync();
        for (var i = 5; i <= 8; i++) await mallory.Client.SendGroupAsync(deals, $"deal {i}");
        // (deals 3 and 4, not yet received, stopped counting too): a stranger has all three places, and no more
        for (var i = 1; i <= 3; i++) await carol.Client.SendAsync(bob.Id, $"carol {i}");
        Assert.Equal(ErrorCode.StrangerQuota, (await Assert.ThrowsAsync<ChatException>(() => carol.Client.SendAsync(bob.Id, "carol 4"))).Code);
    }

    /// <summary>The sequence of the newest entry of a user's inbox, asked of the user's entity.</summary>
    private async Task<long> InboxEndAsync(string userId) =>
        (await ClusterSharding.Get(_node.Node.System).ShardRegion(UserEntity.RegionName)
            .Ask<UserDescription>(new DescribeUser(new UserId(userId)), TimeSpan.FromSeconds(10))).LastSeq;

    private async Task WaitForInboxEndAsync(string userId, long lastSeq)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (await InboxEndAsync(userId) < lastSeq)
        {
            Assert.True(DateTime.UtcNow < deadline, $"the inbox of {userId} does not reach {lastSeq}");
            await Task.Delay(50);
        }
    }
}
