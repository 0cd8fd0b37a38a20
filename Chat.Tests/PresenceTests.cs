using Chat.Protocol;

namespace Chat.Tests;

/// <summary>
/// Typing and presence end to end on one node: who receives them (only connections that subscribed, only people who
/// share a conversation), their bounds, last-seen privacy, and that nothing of them is stored.
/// </summary>
public sealed class PresenceTests : IAsyncLifetime
{
    private TestNode _node = null!;

    public async Task InitializeAsync() => _node = await TestNode.StartAsync();
    public async Task DisposeAsync() => await _node.DisposeAsync();

    private static async Task<T> NextSignalAsync<T>(ChatClient client, int timeoutSeconds = 15) where T : Frame
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(timeoutSeconds));
        while (true)
        {
            var frame = await client.Signals.ReadAsync(cts.Token);
            if (frame is T t) return t;
        }
    }

    private static List<Frame> SignalsSoFar(ChatClient client)
    {
        var frames = new List<Frame>();
        while (client.Signals.TryRead(out var frame)) frames.Add(frame);
        return frames;
    }

    /// <summary>Alice and Bob with a conversation (Alice wrote to Bob), Bob syncing.</summary>
    private async Task<(User Alice, User Bob)> ConversationAsync()
    {
        var alice = await _node.NewUserAsync("Alice");
        var bob = await _node.NewUserAsync("Bob");
        await alice.Client.SendAsync(bob.Id, "Hi Bob!");
        await bob.Client.SyncAsync(0);
        Assert.Equal("Hi Bob!", (await bob.Client.NextAsync<Message>()).Text);
        return (alice, bob);
    }

    [Fact]
    public async Task Typing_reaches_the_subscribed_side_and_a_connection_that_did_not_subscribe_gets_no_new_frame()
    {
        var (alice, bob) = await ConversationAsync();
        await using var _ = alice;
        await using var __ = bob;
        // Bob's second device speaks only what version 1 had: it never subscribes
        await using var oldDevice = await _node.ConnectAsync("old-phone");
        await oldDevice.LoginAsync(bob.Token);
        await oldDevice.SyncAsync(0);
        Assert.Equal("Hi Bob!", (await oldDevice.NextAsync<Message>()).Text);
        await bob.Client.SubscribeAsync(typing: true, presence: [alice.Id]);
        Assert.True((await NextSignalAsync<Presence>(bob.Client)).Online);

        Assert.True(await alice.Client.TypingAsync(bob.Id));
        var typing = await NextSignalAsync<UserTyping>(bob.Client);
        Assert.Equal(alice.Id, typing.From);
        Assert.Null(typing.Group);
        Assert.Equal(6000, typing.ForMs);
        Assert.Equal([alice.Id], bob.Client.TypingIn(alice.Id));

        // a message ends "typing…", and reaches the old device after anything sent to it before
        await alice.Client.SendAsync(bob.Id, "there?");
        Assert.Equal("there?", (await bob.Client.NextAsync<Message>()).Text);
        Assert.Empty(bob.Client.TypingIn(alice.Id));
        Assert.Equal("there?", (await oldDevice.NextAsync<Message>()).Text);
        Assert.Empty(SignalsSoFar(oldDevice));
    }

    [Fact]
    public async Task A_stranger_typing_is_not_relayed_and_a_bad_conversation_gets_a_clear_error()
    {
        var (alice, bob) = await ConversationAsync();
        await using var _ = alice;
        await using var __ = bob;
        await using var mallory = await _node.NewUserAsync("Mallory");
        await bob.Client.SubscribeAsync(typing: true, presence: []);

        Assert.True(await mallory.Client.TypingAsync(bob.Id)); // answered as any typing: it does not tell who exists
        Assert.Equal(ErrorCode.InvalidArgument, (await Assert.ThrowsAsync<ChatException>(() => mallory.Client.TypingAsync("nobody"))).Code);
        Assert.Equal(ErrorCode.UnknownGroup, (await Assert.ThrowsAsync<ChatException>(() => mallory.Client.TypingAsync("g" + new string('a', 16)))).Code);
        Assert.True(await alice.Client.TypingAsync(bob.Id));
        // typing from one entity reaches Bob's connection in order: Mallory's, had it been relayed, came first
        Assert.Equal(alice.Id, (await NextSignalAsync<UserTyping>(bob.Client)).From);
        Assert.Empty(SignalsSoFar(bob.Client));
    }

    [Fact]
    public async Task Group_typing_reaches_the_other_members_and_a_non_member_is_refused()
    {
        await using var alice = await _node.NewUserAsync("Alice");
        await using var bob = await _node.NewUserAsync("Bob");
        await using var carol = await _node.NewUserAsync("Carol");
        var group = await alice.Client.CreateGroupAsync("hikers", [bob.Id, carol.Id]);
        foreach (var member in new[] { alice, bob, carol })
        {
            await member.Client.SyncAsync(0);
            await member.Client.NextAsync<GroupNotice>(); // in the group once the inbox says so
            await member.Client.SubscribeAsync(typing: true, presence: []);
        }

        Assert.True(await alice.Client.TypingAsync(group));
        foreach (var member in new[] { bob, carol })
        {
            var typing = await NextSignalAsync<UserTyping>(member.Client);
            Assert.Equal((alice.Id, group), (typing.From, typing.Group));
            Assert.Equal([alice.Id], member.Client.TypingIn(group));
        }
        await using var dave = await _node.NewUserAsync("Dave");
        Assert.Equal(ErrorCode.NotMember, (await Assert.ThrowsAsync<ChatException>(() => dave.Client.TypingAsync(group))).Code);
    }

    [Fact]
    public async Task Typing_faster_than_the_interval_is_refused_with_when_to_retry_and_relayed_once()
    {
        var (alice, bob) = await ConversationAsync();
        await using var _ = alice;
        await using var __ = bob;
        await bob.Client.SubscribeAsync(typing: true, presence: []);
        // a client that does not hold itself back (and another device of the same user): the server's bound answers
        await using var eager = await ChatClient.ConnectAsync("127.0.0.1", _node.Port,
            new ChatClientOptions { Device = "eager", TypingInterval = TimeSpan.Zero });
        await eager.LoginAsync(alice.Token);

        Assert.True(await eager.TypingAsync(bob.Id));
        Assert.False(await eager.TypingAsync(bob.Id)); // RateLimited by the server: its own throttle is off
        Assert.False(await alice.Client.TypingAsync(bob.Id)); // the bound is per user and conversation, not per connection

        await alice.Client.SendAsync(bob.Id, "marker");
        Assert.Equal("marker", (await bob.Client.NextAsync<Message>()).Text);
        Assert.Single(SignalsSoFar(bob.Client).OfType<UserTyping>());
    }

    [Fact]
    public async Task Presence_shows_online_then_last_seen_and_a_stranger_follows_nobody()
    {
        var (alice, bob) = await ConversationAsync();
        await using var _ = bob;
        await using var carol = await _node.NewUserAsync("Carol");
        await carol.Client.SendAsync(bob.Id, "hello");
        await bob.Client.SubscribeAsync(typing: false, presence: [alice.Id]);
        Assert.Equal(new Presence(alice.Id, true, 0), await NextSignalAsync<Presence>(bob.Client));
        // Carol shares a conversation with Bob but not with Alice
        await carol.Client.SubscribeAsync(typing: false, presence: [alice.Id, bob.Id]);
        Assert.Equal(bob.Id, (await NextSignalAsync<Presence>(carol.Client)).UserId);

        var before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        await alice.DisposeAsync();
        var offline = await NextSignalAsync<Presence>(bob.Client);
        Assert.Equal(alice.Id, offline.UserId);
        Assert.False(offline.Online);
        Assert.InRange(offline.LastSeen, before - 1000, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        Assert.False(bob.Client.PresenceOf[alice.Id].Online);

        // Alice's change went to her followers; Carol is not one. Bob going away is a change Carol follows: once it
        // arrives, Alice's (told earlier, coalesced at most 2 s) would have arrived too
        await bob.Client.DisposeAsync();
        var bobAway = await NextSignalAsync<Presence>(carol.Client);
        Assert.Equal((bob.Id, false), (bobAway.UserId, bobAway.Online));
        Assert.DoesNotContain(alice.Id, carol.Client.PresenceOf.Keys);
    }

    [Fact]
    public async Task Hidden_last_seen_shows_zero_and_is_kept_across_a_restart()
    {
        var dir = TestNode.NewDataDirectory();
        try
        {
            string aliceId, aliceToken, bobToken;
            await using (var node = await TestNode.StartAsync(dir))
            {
                await using var alice = await node.NewUserAsync("Alice");
                await using var bob = await node.NewUserAsync("Bob");
                await alice.Client.SendAsync(bob.Id, "Hi Bob!");
                (aliceId, aliceToken, bobToken) = (alice.Id, alice.Token, bob.Token);
                await bob.Client.SubscribeAsync(typing: false, presence: [alice.Id]);
                Assert.True((await NextSignalAsync<Presence>(bob.Client)).Online);
                await alice.Client.SetLastSeenHiddenAsync(true);
                await alice.Client.DisposeAsync();
                var hidden = await NextSignalAsync<Presence>(bob.Client);
                Assert.Equal(new Presence(aliceId, false, 0), hidden);
            }

            await using (var node = await TestNode.StartAsync(dir))
            {
                await using var bob = await node.ConnectAsync();
                await bob.LoginAsync(bobToken);
                await bob.SubscribeAsync(typing: false, presence: [aliceId]);
                Assert.Equal(new Presence(aliceId, false, 0), await NextSignalAsync<Presence>(bob));

                // shown again: the stored last seen, from before the restart
                await using var alice = await node.ConnectAsync();
                await alice.LoginAsync(aliceToken);
                await alice.SetLastSeenHiddenAsync(false);
                await alice.DisposeAsync();
                var shown = await NextSignalAsync<Presence>(bob, 20);
                while (shown.Online || shown.LastSeen == 0) shown = await NextSignalAsync<Presence>(bob, 20);
                Assert.InRange(shown.LastSeen, DateTimeOffset.UtcNow.AddMinutes(-2).ToUnixTimeMilliseconds(), DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            }
        }
        finally
        {
            TestNode.TryDelete(dir);
        }
    }

    [Fact]
    public async Task Typing_is_not_stored_after_a_restart_nothing_of_it_is_replayed()
    {
        var dir = TestNode.NewDataDirectory();
        try
        {
            string aliceToken, bobId, bobToken;
            await using (var node = await TestNode.StartAsync(dir))
            {
                await using var alice = await node.NewUserAsync("Alice");
                await using var carol = await node.NewUserAsync("Carol");
                await using var bob = await node.NewUserAsync("Bob");
                (aliceToken, bobId, bobToken) = (alice.Token, bob.Id, bob.Token);
                await alice.Client.SendAsync(bob.Id, "Hi Bob!");
                await carol.Client.SendAsync(bob.Id, "Hi, Carol here");
                await bob.Client.DisposeAsync();
                Assert.True(await alice.Client.TypingAsync(bob.Id)); // while Bob is away: relayed to nobody

                await using var bobAgain = await node.ConnectAsync();
                await bobAgain.LoginAsync(bobToken);
                await bobAgain.SubscribeAsync(typing: true, presence: []);
                Assert.True(await carol.Client.TypingAsync(bob.Id)); // while he is connected: seen live, Alice's is not
                Assert.Equal(carol.Id, (await NextSignalAsync<UserTyping>(bobAgain)).From);
                Assert.Empty(SignalsSoFar(bobAgain));
            }

            await using (var node = await TestNode.StartAsync(dir))
            {
                await using var bob = await node.ConnectAsync();
                await bob.LoginAsync(bobToken);
                await bob.SubscribeAsync(typing: true, presence: []);
                await bob.SyncAsync(0);
                await using var alice = await node.ConnectAsync();
                await alice.LoginAsync(aliceToken);
                await alice.SendAsync(bobId, "marker");
                Assert.Equal("Hi Bob!", (await bob.NextAsync<Message>()).Text);
                Assert.Equal("Hi, Carol here", (await bob.NextAsync<Message>()).Text);
                Assert.Equal("marker", (await bob.NextAsync<Message>()).Text);
                Assert.False(bob.Entries.TryRead(out _));
                Assert.Empty(SignalsSoFar(bob));
            }
        }
        finally
        {
            TestNode.TryDelete(dir);
        }
    }

    [Fact]
    public async Task A_group_where_many_type_at_once_relays_a_bounded_number_of_typing_signals()
    {
        await using var node = await TestNode.StartAsync(extraHocon: """
            chat.presence.group-typing-interval = 2s
            chat.presence.max-group-typists = 2
            """);
        var users = new List<User>();
        for (var i = 0; i < 5; i++) users.Add(await node.NewUserAsync($"Member{i}"));
        try
        {
            var bob = users[0];
            var group = await bob.Client.CreateGroupAsync("busy", users.Skip(1).Select(u => u.Id).ToList());
            foreach (var member in users)
            {
                await member.Client.SyncAsync(0);
                await member.Client.NextAsync<GroupNotice>();
            }
            await bob.Client.SubscribeAsync(typing: true, presence: []);

            // four members type at once: the first is relayed at once, the next ones wait for the interval and at most
            // two of them are named then
            foreach (var typist in users.Skip(1)) Assert.True(await typist.Client.TypingAsync(group));
            var seen = new List<UserTyping>();
            while (seen.Count < 3) seen.Add(await NextSignalAsync<UserTyping>(bob.Client, 20));
            // a group message travels the same way after them: whatever the group relayed before it has arrived
            await users[1].Client.SendGroupAsync(group, "marker");
            Assert.Equal("marker", (await bob.Client.NextOfAsync<Message>()).Text);
            seen.AddRange(SignalsSoFar(bob.Client).OfType<UserTyping>());

            Assert.Equal(3, seen.Count);
            Assert.Equal(users[1].Id, seen[0].From);
            Assert.Equal(3, seen.Select(t => t.From).Distinct().Count());
            Assert.All(seen, t => Assert.Equal(group, t.Group));
        }
        finally
        {
            foreach (var user in users) await user.DisposeAsync();
        }
    }

    [Fact]
    public async Task Typing_to_many_conversations_at_once_is_bounded_by_the_send_rate()
    {
        await using var node = await TestNode.StartAsync(extraHocon: "chat.limits.sends-per-user = 3");
        await using var alice = await node.NewUserAsync("Alice");
        var others = new List<User>();
        for (var i = 0; i < 3; i++) others.Add(await node.NewUserAsync($"Other{i}"));
        try
        {
            await alice.Client.SendAsync(others[0].Id, "one message: two tokens left");
            Assert.True(await alice.Client.TypingAsync(others[0].Id));
            Assert.True(await alice.Client.TypingAsync(others[1].Id));
            Assert.False(await alice.Client.TypingAsync(others[2].Id)); // RateLimited: each conversation's interval is fresh
            var send = await Assert.ThrowsAsync<ChatException>(() => alice.Client.SendAsync(others[2].Id, "and no more messages"));
            Assert.Equal(ErrorCode.RateLimited, send.Code);
        }
        finally
        {
            foreach (var user in others) await user.DisposeAsync();
        }
    }
}
