using Akka.Actor;
using Chat.Protocol;

namespace Chat.Tests;

/// <summary>
/// Sessions tell their own user's entity, and the entities of users they write to, directly once those have answered.
/// When such an entity stops while its users stay connected (its shard moved, or it failed), nothing waits for it.
/// </summary>
public sealed class EntityRouteTests(SharedNode shared) : IClassFixture<SharedNode>
{
    private readonly TestNode _node = shared.Node;

    /// <summary>The user's entity if one is running (a selection with a wildcard answers nothing when none matches).</summary>
    private async Task<IActorRef?> TryEntityOf(string userId)
    {
        try
        {
            return (await _node.Node.System.ActorSelection($"/system/sharding/user/*/{userId}")
                .Ask<ActorIdentity>(new Identify(userId), TimeSpan.FromMilliseconds(500))).Subject;
        }
        catch (AskTimeoutException)
        {
            return null;
        }
    }

    private async Task<IActorRef> EntityOf(string userId) =>
        await TryEntityOf(userId) ?? throw new InvalidOperationException($"no entity running for {userId}");

    [Fact]
    public async Task When_a_connected_users_entity_stops_their_next_message_and_its_delivered_receipt_still_come_at_once()
    {
        await using var alice = await _node.NewUserAsync("Alice");
        await using var bob = await _node.NewUserAsync("Bob");
        await alice.Client.SyncAsync(0);
        await bob.Client.SyncAsync(0);
        var first = await alice.Client.SendAsync(bob.Id, "one");
        var one = await bob.Client.NextAsync<Message>();
        bob.Client.Ack(one.Seq);
        var receipt = await alice.Client.NextAsync<Receipt>();
        Assert.Equal([first.MessageId], receipt.MessageIds);
        alice.Client.Ack(receipt.Seq);

        // Bob's entity stops while both stay connected; his session has the next one started and attaches to it
        var stopped = await EntityOf(bob.Id);
        Assert.True(await stopped.GracefulStop(TimeSpan.FromSeconds(5)));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(8);
        while (await TryEntityOf(bob.Id) is not { } next || next.Equals(stopped))
        {
            Assert.True(DateTime.UtcNow < deadline, "no new entity for Bob while his session stayed connected");
            await Task.Delay(50);
        }

        // well within the request timeout (10 s) and the sessions' keep-attached interval (15 s)
        var second = await alice.Client.SendAsync(bob.Id, "two").WaitAsync(TimeSpan.FromSeconds(8));
        var two = await bob.Client.NextAsync<Message>(timeoutSeconds: 8);
        Assert.Equal((second.MessageId, "two", one.Seq + 1), (two.MessageId, two.Text, two.Seq));
        bob.Client.Ack(two.Seq);
        // the entity was stopped as a crash would stop it, so Bob's ack of "one", held only in memory, went with it: his
        // session tells the new entity again, and "one" may be receipted a second time (docs/protocol.md 9.4)
        var named = new List<string>();
        while (!named.Contains(second.MessageId))
            named.AddRange(await alice.Client.NextAsync(timeoutSeconds: 8) switch
            {
                Receipt r => r.MessageIds,
                ReceiptSet set => set.Items.SelectMany(i => i.MessageIds),
                var other => throw new Xunit.Sdk.XunitException($"Alice got {other} instead of a receipt"),
            });
        Assert.All(named, id => Assert.Contains(id, new[] { first.MessageId, second.MessageId }));
    }
}
