using System.Diagnostics;
using Chat.Protocol;
using Xunit.Abstractions;

namespace Chat.Tests;

/// <summary>Presence across a cluster: a user whose node crashes does not stay "online" for the people following them.</summary>
[Collection(ClusterCollection.Name)]
public sealed class PresenceClusterTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_user_on_a_killed_node_shows_offline_to_a_follower_on_another_node_within_a_bounded_time()
    {
        await using var cluster = await TestCluster.StartAsync(3, await PostgresServer.NewDatabaseAsync(), output);
        // several users on node 2, so that some have their entity on the node that dies and some elsewhere: both ways
        // of losing a session (the entity's death watch, the entity itself recovering on another node) are crossed
        var watched = new List<(ChatClient Client, string Id)>();
        await using var bob = await ChatClient.ConnectAsync(cluster.Servers(0).Split(',')[0], new ChatClientOptions { Device = "bob" });
        await bob.LoginAsync((await bob.RegisterAsync("Bob", Phones.Next())).Token);
        for (var i = 0; i < 6; i++)
        {
            // one address only: the client does not move to another node when its own dies
            var client = await ChatClient.ConnectAsync(cluster.Servers(2).Split(',')[0], new ChatClientOptions { Device = "phone" });
            var id = (await client.LoginAsync((await client.RegisterAsync($"User{i}", Phones.Next())).Token)).UserId;
            await client.SendAsync(bob.UserId!, $"hello from {i}");
            watched.Add((client, id));
        }
        await bob.SubscribeAsync(typing: false, presence: watched.Select(w => w.Id).ToList());
        using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
            while (watched.Any(w => !bob.PresenceOf.TryGetValue(w.Id, out var p) || !p.Online))
                await bob.Signals.ReadAsync(cts.Token);

        await cluster.KillAsync(2);
        var killedAt = Stopwatch.GetTimestamp();
        var killedAtMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
            while (watched.Any(w => bob.PresenceOf[w.Id].Online))
                await bob.Signals.ReadAsync(cts.Token);
        var offlineAfter = Stopwatch.GetElapsedTime(killedAt);
        cluster.Log($"every user of the killed node shown offline {offlineAfter.TotalSeconds:0.0} s after the kill");
        // within the cluster's failure detection (about 8-12 s on loopback) and one keep-attached interval (15 s)
        Assert.True(offlineAfter < TimeSpan.FromSeconds(40), $"shown online {offlineAfter.TotalSeconds:0.0} s after their node died");
        foreach (var (client, id) in watched)
        {
            // last seen: no later than now, and no earlier than when they came online
            Assert.InRange(bob.PresenceOf[id].LastSeen, killedAtMs - 120_000, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            await client.DisposeAsync();
        }
    }
}
