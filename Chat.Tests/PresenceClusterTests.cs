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
        // sessions renew their attachment every 2 s instead of 15: a login's last seen is written at the first renewal
        await using var cluster = await TestCluster.StartAsync(3, await PostgresServer.NewDatabaseAsync(), output,
            "chat.session.keep-attached-interval = 2s");
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

        // one renewal of every session, so that each login's last seen is stored (nothing a client sees tells when)
        await Task.Delay(TimeSpan.FromSeconds(3));
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

    [Fact]
    public async Task A_user_on_two_nodes_typing_through_both_within_the_interval_is_seen_typing_once()
    {
        await using var cluster = await TestCluster.StartAsync(2, await PostgresServer.NewDatabaseAsync(), output);
        var (first, second) = (cluster.Servers(0).Split(',')[0], cluster.Servers(1).Split(',')[0]);
        await using var bob = await ChatClient.ConnectAsync(first, new ChatClientOptions { Device = "bob" });
        await bob.LoginAsync((await bob.RegisterAsync("Bob", Phones.Next())).Token);
        await using var carol = await ChatClient.ConnectAsync(second, new ChatClientOptions { Device = "carol" });
        await carol.LoginAsync((await carol.RegisterAsync("Carol", Phones.Next())).Token);
        // Alice on both nodes: her phone on the first, her laptop on the second
        await using var phone = await ChatClient.ConnectAsync(first, new ChatClientOptions { Device = "phone" });
        var token = (await phone.RegisterAsync("Alice", Phones.Next())).Token;
        await phone.LoginAsync(token);
        await using var laptop = await ChatClient.ConnectAsync(second, new ChatClientOptions { Device = "laptop" });
        await laptop.LoginAsync(token);

        await phone.SendAsync(bob.UserId!, "Hi Bob!");
        var group = await phone.CreateGroupAsync("Trip", [bob.UserId!, carol.UserId!]);
        await bob.SyncAsync(0);
        await bob.NextOfAsync<GroupNotice>(30); // Bob's entity knows he is in the group
        await bob.SubscribeAsync(typing: true, presence: []);

        // one-to-one: Bob's user entity, one in the cluster, relays the first and refuses the second
        Assert.True(await phone.TypingAsync(bob.UserId!));
        var laptopRelayed = await laptop.TypingAsync(bob.UserId!);
        await phone.SendAsync(bob.UserId!, "marker");
        while ((await bob.NextOfAsync<Message>(30)).Text != "marker") { }
        var seen = new List<UserTyping>();
        while (bob.Signals.TryRead(out var frame)) if (frame is UserTyping t) seen.Add(t);
        Assert.Single(seen);
        Assert.Equal((phone.UserId, (string?)null), (seen[0].From, seen[0].Group));
        Assert.False(laptopRelayed); // RateLimited: the laptop's client holds back until the retry time

        // a group: the group entity refuses the second; Carol's typing, relayed after Alice's, would carry a second Alice with it
        Assert.True(await phone.TypingAsync(group));
        laptopRelayed = await laptop.TypingAsync(group);
        Assert.True(await carol.TypingAsync(group));
        seen.Clear();
        using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
            while (!seen.Any(t => t.From == carol.UserId))
                if (await bob.Signals.ReadAsync(cts.Token) is UserTyping t) seen.Add(t);
        Assert.Single(seen, t => t.From == phone.UserId);
        Assert.All(seen, t => Assert.Equal(group, t.Group));
        Assert.False(laptopRelayed);
    }
}
