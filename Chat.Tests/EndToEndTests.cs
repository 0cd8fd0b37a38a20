using Chat.Protocol;

namespace Chat.Tests;

public sealed class EndToEndTests(SharedNode shared) : IClassFixture<SharedNode>
{
    private readonly TestNode _node = shared.Node;

    [Fact]
    public async Task Message_is_delivered_then_receipted_delivered_and_read()
    {
        await using var alice = await _node.NewUserAsync("Alice");
        await using var bob = await _node.NewUserAsync("Bob");
        await alice.Client.SyncAsync(0);
        await bob.Client.SyncAsync(0);

        var accepted = await alice.Client.SendAsync(bob.Id, "hello bob");
        Assert.StartsWith("m", accepted.MessageId);

        var message = await bob.Client.NextAsync<Message>();
        Assert.Equal("hello bob", message.Text);
        Assert.Equal(alice.Id, message.From);
        Assert.Equal(accepted.MessageId, message.MessageId);
        Assert.Equal(1, message.Seq);

        bob.Client.Ack(message.Seq);
        var delivered = await alice.Client.NextAsync<Receipt>();
        Assert.Equal(ReceiptStatus.Delivered, delivered.Status);
        Assert.Equal(bob.Id, delivered.By);
        Assert.Equal([accepted.MessageId], delivered.MessageIds);

        await bob.Client.ReadAsync(alice.Id, message.Seq);
        var read = await alice.Client.NextAsync<Receipt>();
        Assert.Equal(ReceiptStatus.Read, read.Status);
        Assert.Equal([accepted.MessageId], read.MessageIds);
        Assert.True(read.Seq > delivered.Seq);
    }

    [Fact]
    public async Task Lookup_finds_a_user_by_phone()
    {
        await using var alice = await _node.NewUserAsync("Alice");
        await using var bob = await _node.NewUserAsync("Bob");
        var found = await alice.Client.LookupAsync(bob.Phone);
        Assert.Equal(bob.Id, found.UserId);
        Assert.Equal("Bob", found.Name);
        var missing = await Assert.ThrowsAsync<ChatException>(() => alice.Client.LookupAsync("+19999999999"));
        Assert.Equal(ErrorCode.UnknownUser, missing.Code);
    }

    [Fact]
    public async Task Offline_recipient_receives_all_100_messages_in_order_on_sync()
    {
        await using var alice = await _node.NewUserAsync("Alice");
        var bobClient = await _node.ConnectAsync();
        var bob = await bobClient.RegisterAsync("Bob", Phones.Next());
        await bobClient.DisposeAsync(); // Bob is offline

        var sends = Enumerable.Range(1, 100).Select(i => alice.Client.SendAsync(bob.UserId, $"message {i}")).ToList();
        await Task.WhenAll(sends);

        await using var bobAgain = await _node.ConnectAsync();
        await bobAgain.LoginAsync(bob.Token);
        var last = await bobAgain.SyncAsync(0);
        Assert.Equal(100, last);
        for (var i = 1; i <= 100; i++)
        {
            var m = await bobAgain.NextAsync<Message>();
            Assert.Equal($"message {i}", m.Text);
            Assert.Equal(i, m.Seq);
        }
    }

    [Fact]
    public async Task A_resent_client_message_id_is_accepted_once_and_delivered_once()
    {
        await using var alice = await _node.NewUserAsync("Alice");
        await using var bob = await _node.NewUserAsync("Bob");
        await bob.Client.SyncAsync(0);

        var first = await alice.Client.SendAsync(bob.Id, "only once", "cmid-1");
        // a second connection of Alice (e.g. after a reconnect) resends the same id
        await using var aliceAgain = await _node.ConnectAsync("other");
        await aliceAgain.LoginAsync(alice.Token);
        var second = await aliceAgain.SendAsync(bob.Id, "only once", "cmid-1");
        Assert.Equal(first.MessageId, second.MessageId);
        Assert.Equal(first.ServerTime, second.ServerTime);

        var after = await alice.Client.SendAsync(bob.Id, "next", "cmid-2");
        var m1 = await bob.Client.NextAsync<Message>();
        var m2 = await bob.Client.NextAsync<Message>();
        Assert.Equal("only once", m1.Text);
        Assert.Equal("next", m2.Text); // not the duplicate
        Assert.Equal(after.MessageId, m2.MessageId);
    }

    [Fact]
    public async Task A_token_acts_only_as_its_own_user()
    {
        await using var alice = await _node.NewUserAsync("Alice");
        await using var bob = await _node.NewUserAsync("Bob");

        // Bob's secret glued to Alice's id is not Alice's token
        var bobSecret = bob.Token[(bob.Token.IndexOf('.') + 1)..];
        await using var mallory = await _node.ConnectAsync();
        var denied = await Assert.ThrowsAsync<ChatException>(() => mallory.LoginAsync($"{alice.Id}.{bobSecret}"));
        Assert.Equal(ErrorCode.AuthFailed, denied.Code);
        var garbage = await Assert.ThrowsAsync<ChatException>(() => mallory.LoginAsync("not-a-token"));
        Assert.Equal(ErrorCode.AuthFailed, garbage.Code);

        // Bob's connection sends as Bob, whatever he would like to claim
        await alice.Client.SyncAsync(0);
        await bob.Client.SendAsync(alice.Id, "from bob");
        var m = await alice.Client.NextAsync<Message>();
        Assert.Equal(bob.Id, m.From);
    }

    [Fact]
    public async Task A_read_up_to_a_negative_position_is_refused_and_marks_nothing()
    {
        await using var alice = await _node.NewUserAsync("Alice");
        await using var bob = await _node.NewUserAsync("Bob");
        await alice.Client.SyncAsync(0);
        await bob.Client.SyncAsync(0);
        await alice.Client.SendAsync(bob.Id, "hi");
        var message = await bob.Client.NextAsync<Message>();

        var refused = await Assert.ThrowsAsync<ChatException>(() => bob.Client.ReadAsync(alice.Id, -1));
        Assert.Equal(ErrorCode.InvalidArgument, refused.Code);
        Assert.Contains("upTo", refused.Message);

        // the connection stays open, and the read that follows is the first Alice hears of
        await bob.Client.ReadAsync(alice.Id, message.Seq);
        var receipts = new List<ReceiptStatus>();
        while (!receipts.Contains(ReceiptStatus.Read))
            switch (await alice.Client.NextAsync())
            {
                case Receipt r: receipts.Add(r.Status); break;
                case ReceiptSet set: receipts.AddRange(set.Items.Select(i => i.Status)); break;
            }
        Assert.Single(receipts, ReceiptStatus.Read);
    }

    [Fact]
    public async Task Bad_requests_get_clear_errors_and_the_connection_stays_open()
    {
        await using var alice = await _node.NewUserAsync("Alice");
        await using var bob = await _node.NewUserAsync("Bob");

        async Task<ErrorCode> Fails(Func<Task> f) => (await Assert.ThrowsAsync<ChatException>(f)).Code;

        Assert.Equal(ErrorCode.UnknownUser, await Fails(() => alice.Client.SendAsync("uzzzzzzzzzzzzzzzz", "hi")));
        Assert.Equal(ErrorCode.UnknownUser, await Fails(() => alice.Client.SendAsync("nobody", "hi")));
        Assert.Equal(ErrorCode.EmptyText, await Fails(() => alice.Client.SendAsync(bob.Id, "  ")));
        var tooLong = new string('x', alice.Client.Welcome.MaxTextBytes + 1);
        Assert.Equal(ErrorCode.TextTooLong, await Fails(() => alice.Client.SendAsync(bob.Id, tooLong)));

        await using var fresh = await _node.ConnectAsync();
        Assert.Equal(ErrorCode.InvalidPhone, await Fails(() => fresh.RegisterAsync("Eve", "12345")));
        Assert.Equal(ErrorCode.CodeExpired, await Fails(() => fresh.VerifyAsync(Phones.Next(), "123456", "Eve"))); // no code was sent
        Assert.Equal(ErrorCode.InvalidArgument, await Fails(() => fresh.VerifyAsync(Phones.Next(), "12ab", "Eve")));
        Assert.Equal(ErrorCode.InvalidName, await Fails(() => fresh.RegisterAsync("", Phones.Next())));
        Assert.Equal(ErrorCode.InvalidEmail, await Fails(() => fresh.RegisterAsync("Eve", Phones.Next(), "not-an-email")));

        // still open and working
        await bob.Client.SyncAsync(0);
        await alice.Client.SendAsync(bob.Id, "still here");
        Assert.Equal("still here", (await bob.Client.NextAsync<Message>()).Text);
        Assert.True((await fresh.PingAsync()) < TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Live_messages_follow_sync_without_gaps_or_duplicates()
    {
        await using var alice = await _node.NewUserAsync("Alice");
        await using var bob = await _node.NewUserAsync("Bob");
        for (var i = 1; i <= 10; i++) await alice.Client.SendAsync(bob.Id, $"before {i}");
        var syncing = bob.Client.SyncAsync(0);
        var sends = Enumerable.Range(1, 200).Select(i => alice.Client.SendAsync(bob.Id, $"during {i}")).ToList();
        await Task.WhenAll(sends);
        await syncing;
        var texts = new List<string>();
        for (var i = 0; i < 210; i++)
        {
            var m = await bob.Client.NextAsync<Message>();
            Assert.Equal(i + 1, m.Seq);
            texts.Add(m.Text);
        }
        Assert.Equal(Enumerable.Range(1, 10).Select(i => $"before {i}").Concat(Enumerable.Range(1, 200).Select(i => $"during {i}")), texts);
    }

    [Fact]
    public async Task Second_device_gets_its_own_stream_and_same_device_replaces_the_old_session()
    {
        await using var alice = await _node.NewUserAsync("Alice");
        await using var bob = await _node.NewUserAsync("Bob", device: "phone");
        await using var bobLaptop = await _node.ConnectAsync("laptop");
        await bobLaptop.LoginAsync(bob.Token);
        await bob.Client.SyncAsync(0);
        await bobLaptop.SyncAsync(0);

        await alice.Client.SendAsync(bob.Id, "to both");
        Assert.Equal("to both", (await bob.Client.NextAsync<Message>()).Text);
        Assert.Equal("to both", (await bobLaptop.NextAsync<Message>()).Text);

        await using var bobPhoneAgain = await _node.ConnectAsync("phone");
        await bobPhoneAgain.LoginAsync(bob.Token);
        await bob.Client.Closed.WaitAsync(TimeSpan.FromSeconds(15));
        Assert.Equal(ErrorCode.Replaced, bob.Client.CloseReason?.Code);
    }

    [Fact]
    public async Task Sync_from_beyond_the_end_of_the_inbox_resumes_from_the_real_end()
    {
        await using var alice = await _node.NewUserAsync("Alice");
        await using var bob = await _node.NewUserAsync("Bob");
        await alice.Client.SendAsync(bob.Id, "one");
        Assert.Equal(1, await bob.Client.SyncAsync(50));
        await alice.Client.SendAsync(bob.Id, "two");
        var m = await bob.Client.NextAsync<Message>();
        Assert.Equal(("two", 2L), (m.Text, m.Seq));
    }
}

public sealed class SendOrderTests
{
    [Fact]
    public async Task Sends_made_faster_than_the_in_flight_window_allows_arrive_in_the_order_they_were_made()
    {
        // a small window, so most sends wait for room; they must still leave, and arrive, in the order they were made
        await using var node = await TestNode.StartAsync(extraHocon: "chat.limits.max-in-flight = 4");
        await using var alice = await node.NewUserAsync("Alice");
        await using var bob = await node.NewUserAsync("Bob");
        await bob.Client.SyncAsync(0);
        var sends = Enumerable.Range(1, 300).Select(i => alice.Client.SendAsync(bob.Id, $"m{i}")).ToList();
        await Task.WhenAll(sends);
        var received = new List<string>();
        while (received.Count < 300)
        {
            if (await bob.Client.NextAsync() is Message m) received.Add(m.Text);
        }
        Assert.Equal(Enumerable.Range(1, 300).Select(i => $"m{i}"), received);
    }
}
