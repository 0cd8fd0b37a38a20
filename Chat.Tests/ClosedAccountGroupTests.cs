using Chat.Protocol;

namespace Chat.Tests;

/// <summary>An account closed because its phone number was verified on another account leaves its groups.</summary>
public sealed class ClosedAccountGroupTests
{
    [Fact]
    public async Task A_closed_account_leaves_its_groups_and_the_other_members_see_it_leave()
    {
        await using var node = await TestNode.StartAsync();
        await using var ann = await node.NewUserAsync("Ann");
        await using var bob = await node.NewUserAsync("Bob");
        await using var cat = await node.NewUserAsync("Cat");
        await ann.Client.SyncAsync(0);
        await bob.Client.SyncAsync(0);
        await cat.Client.SyncAsync(0);
        var first = await ann.Client.CreateGroupAsync("first", [bob.Id, cat.Id]);
        var second = await ann.Client.CreateGroupAsync("second", [bob.Id]);
        // Bob's inbox has both groups (his notices are stored)
        await bob.Client.NextOfAsync<GroupNotice>();
        await bob.Client.NextOfAsync<GroupNotice>();
        Assert.Equal(2, (await bob.Client.ListGroupsAsync()).Count);

        // Bob's number is verified on a new phone: a new account, and the old one is closed
        await using var newPhone = await node.ConnectAsync("new phone");
        var moved = await newPhone.RegisterAsync("Bob", bob.Phone);
        await newPhone.LoginAsync(moved.Token);
        Assert.NotEqual(bob.Id, moved.UserId);

        // Ann sees the old account leave both groups
        var left = new HashSet<string>();
        while (left.Count < 2)
        {
            var notice = await ann.Client.NextOfAsync<GroupNotice>();
            if (notice.Kind == GroupNoticeKind.Left && notice.Actor == bob.Id && notice.Members.SequenceEqual([bob.Id])) left.Add(notice.Group);
        }
        Assert.Equal(new HashSet<string> { first, second }, left);
        Assert.Equal(new[] { ann.Id, cat.Id }.Order(), (await ann.Client.GetGroupInfoAsync(first)).Members.Order());
        Assert.Equal([ann.Id], (await ann.Client.GetGroupInfoAsync(second)).Members);
        // the group goes on for the others; the new account is in no group
        await ann.Client.SendGroupAsync(first, "still here?");
        Assert.Equal("still here?", (await cat.Client.NextOfAsync<Message>()).Text);
        Assert.Empty(await newPhone.ListGroupsAsync());
    }
}
