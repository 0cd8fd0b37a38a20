using Chat.Node.Sessions;
using Chat.Protocol;
using Xunit.Abstractions;

namespace Chat.Tests;

/// <summary>
/// <c>chat.limits.sends-per-user</c> is a limit per user across the cluster: each node grants its share, so devices on
/// several nodes do not multiply it.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class SendRateClusterTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_user_on_both_nodes_of_a_two_node_cluster_sends_the_limit_in_all_not_on_each()
    {
        await using var cluster = await TestCluster.StartAsync(2, await PostgresServer.NewDatabaseAsync(), output,
            hocon: "chat.limits.sends-per-user = 4");
        string Node(int index) => cluster.Servers(index).Split(',')[0];
        await WaitForMembersUpAsync(cluster, 2);

        await using var bob = await ChatClient.ConnectAsync(Node(1));
        var bobId = (await bob.RegisterAsync("Bob", Phones.Next())).UserId;
        await using var annPhone = await ChatClient.ConnectAsync(Node(0), new ChatClientOptions { Device = "phone" });
        var annToken = (await annPhone.RegisterAsync("Ann", Phones.Next())).Token;
        await annPhone.LoginAsync(annToken);
        await using var annDesk = await ChatClient.ConnectAsync(Node(1), new ChatClientOptions { Device = "desk" });
        await annDesk.LoginAsync(annToken);

        // four a minute, two on each node: two from the phone pass, the third is refused and says why
        await annPhone.SendAsync(bobId, "phone 1");
        await annPhone.SendAsync(bobId, "phone 2");
        var refused = await Assert.ThrowsAsync<ChatException>(() => annPhone.SendAsync(bobId, "phone 3"));
        Assert.Equal(ErrorCode.RateLimited, refused.Code);
        Assert.Contains("4 messages a minute across the cluster (2 on each of its 2 nodes)", refused.Message);
        // the desk, on the other node, has that node's share and no more
        await annDesk.SendAsync(bobId, "desk 1");
        await annDesk.SendAsync(bobId, "desk 2");
        Assert.Equal(ErrorCode.RateLimited, (await Assert.ThrowsAsync<ChatException>(() => annDesk.SendAsync(bobId, "desk 3"))).Code);
    }

    /// <summary>Until every node lists <paramref name="count"/> members Up (nodes start together; each sees the other soon after).</summary>
    private static async Task WaitForMembersUpAsync(TestCluster cluster, int count)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        for (var node = 0; node < cluster.Size; node++)
            while (true)
            {
                var status = await AdminCli.JsonAsync(["status", "--node", cluster.Admin(node), "--data", cluster.DataDirectory(node)]);
                if (status.GetProperty("members").EnumerateArray().Count(m => m.GetProperty("status").GetString() == "Up") == count) break;
                Assert.True(DateTime.UtcNow < deadline, $"node {node} does not see {count} members up");
                await Task.Delay(200);
            }
    }
}

/// <summary>The share of the send rate a node grants, as the cluster's size changes.</summary>
public sealed class SendRateShareTests
{
    [Fact]
    public void Each_node_grants_the_limit_divided_by_the_nodes_and_a_smaller_share_cuts_a_fuller_bucket()
    {
        var clock = new ManualClock(DateTimeOffset.UtcNow);
        var rates = new SendRates(6, clock);
        rates.SetNodes(3);
        Assert.True(rates.TryTake("ann", out _));
        Assert.True(rates.TryTake("ann", out _));
        Assert.False(rates.TryTake("ann", out var wait));
        Assert.Equal(TimeSpan.FromSeconds(30), wait); // 2 a minute on this node: one every 30 s
        Assert.Contains("6 messages a minute across the cluster (2 on each of its 3 nodes)", rates.Refusal(wait));

        // one node: the whole limit; Bob's bucket starts full at 6
        rates.SetNodes(1);
        for (var i = 0; i < 6; i++) Assert.True(rates.TryTake("bob", out _));
        Assert.False(rates.TryTake("bob", out _));
        // a node joins while Carol's bucket is full: it holds the new share (3), not the old one
        Assert.True(rates.TryTake("carol", out _));
        rates.SetNodes(2);
        clock.Advance(TimeSpan.FromMinutes(5));
        for (var i = 0; i < 3; i++) Assert.True(rates.TryTake("carol", out _));
        Assert.False(rates.TryTake("carol", out _));
    }
}
