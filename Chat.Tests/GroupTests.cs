using Chat.Protocol;
using Microsoft.Data.Sqlite;

namespace Chat.Tests;

public sealed class GroupTests : IAsyncLifetime
{
    private TestNode _node = null!;
    public async Task InitializeAsync() => _node = await TestNode.StartAsync();
    public async Task DisposeAsync() => await _node.DisposeAsync();

    private static async Task<List<Frame>> TakeAsync(ChatClient c, int count, Func<Frame, bool>? where = null)
    {
        var got = new List<Frame>();
        while (got.Count < count)
        {
            var f = await c.NextAsync(30);
            c.Ack(ChatClient.SeqOf(f));
            if (where is null || where(f)) got.Add(f);
        }
        return got;
    }

    [Fact]
    public async Task A_group_of_50_with_10_offline_members_gets_every_message_once_in_group_order()
    {
        // 50 accounts, registered over one connection
        var accounts = new List<Registered>();
        await using (var setup = await _node.ConnectAsync())
            for (var i = 0; i < 50; i++) accounts.Add(await setup.RegisterAsync($"member{i}", Phones.Next()));
        var online = new List<ChatClient>();
        foreach (var a in accounts.Take(40))
        {
            var c = await _node.ConnectAsync();
            await c.LoginAsync(a.Token);
            await c.SyncAsync(0);
            online.Add(c);
        }
        try
        {
            var groupId = await online[0].CreateGroupAsync("fifty", accounts.Skip(1).Select(a => a.UserId).ToList());
            // five members post four messages each, at the same time
            var posts = Enumerable.Range(0, 5).SelectMany(p => Enumerable.Range(0, 4)
                .Select(k => online[p * 3].SendGroupAsync(groupId, $"p{p}-{k}", $"g{p}-{k}"))).ToList();
            await Task.WhenAll(posts);

            async Task<List<Message>> MessagesOf(ChatClient c)
            {
                var frames = await TakeAsync(c, 21); // the Created notice and 20 messages
                Assert.IsType<GroupNotice>(frames[0]);
                return frames.Skip(1).Cast<Message>().ToList();
            }

            var reference = await MessagesOf(online[0]);
            Assert.Equal(Enumerable.Range(2, 20).Select(i => (long)i), reference.Select(m => m.GroupSeq));
            Assert.All(reference, m => Assert.Equal(groupId, m.Group));
            Assert.Equal(20, reference.Select(m => m.MessageId).Distinct().Count());
            foreach (var c in online.Skip(1))
                Assert.Equal(reference.Select(m => m.MessageId), (await MessagesOf(c)).Select(m => m.MessageId));

            foreach (var a in accounts.Skip(40))
            {
                await using var late = await _node.ConnectAsync();
                await late.LoginAsync(a.Token);
                Assert.Equal(21, await late.SyncAsync(0));
                Assert.Equal(reference.Select(m => m.MessageId), (await MessagesOf(late)).Select(m => m.MessageId));
                Assert.Equal(0, late.Entries.Count); // nothing twice
            }
        }
        finally
        {
            foreach (var c in online) await c.DisposeAsync();
        }
    }

    [Fact]
    public async Task Adding_and_removing_takes_effect_exactly_at_the_right_message()
    {
        await using var ann = await _node.NewUserAsync("Ann");
        await using var bob = await _node.NewUserAsync("Bob");
        await using var cat = await _node.NewUserAsync("Cat");
        foreach (var u in new[] { ann, bob, cat }) await u.Client.SyncAsync(0);

        var g = await ann.Client.CreateGroupAsync("club", [bob.Id]);
        await ann.Client.SendGroupAsync(g, "one");
        await ann.Client.AddMembersAsync(g, [cat.Id]);
        await ann.Client.SendGroupAsync(g, "two");
        await ann.Client.RemoveMembersAsync(g, [bob.Id]);
        await ann.Client.SendGroupAsync(g, "three");
        await ann.Client.RenameGroupAsync(g, "club 2");

        string Show(Frame f) => f switch
        {
            Message m => m.Text,
            GroupNotice n => $"{n.Kind}:{string.Join(",", n.Members)}",
            _ => f.GetType().Name,
        };
        var bobSaw = (await TakeAsync(bob.Client, 5, f => f is Message or GroupNotice)).Select(Show).ToList();
        Assert.Equal(["Created:" + ann.Id + "," + bob.Id, "one", "Added:" + cat.Id, "two", "Removed:" + bob.Id], bobSaw);
        var catSaw = (await TakeAsync(cat.Client, 5, f => f is Message or GroupNotice)).Select(Show).ToList();
        Assert.Equal(["Added:" + cat.Id, "two", "Removed:" + bob.Id, "three", "Renamed:"], catSaw);

        // Bob gets nothing more, and his group list no longer has the group; Cat's has it, renamed
        await ann.Client.SendGroupAsync(g, "four");
        Assert.Equal("four", ((Message)(await TakeAsync(cat.Client, 1, f => f is Message))[0]).Text);
        Assert.Empty(await bob.Client.ListGroupsAsync());
        Assert.Equal("club 2", Assert.Single(await cat.Client.ListGroupsAsync()).Name);
        var info = await cat.Client.GetGroupInfoAsync(g);
        Assert.Equal(new[] { ann.Id, cat.Id }.Order(), info.Members.Order());
        Assert.Equal([ann.Id], info.Admins);
    }

    [Fact]
    public async Task Non_members_and_non_admins_get_clear_errors()
    {
        await using var ann = await _node.NewUserAsync("Ann");
        await using var bob = await _node.NewUserAsync("Bob");
        await using var eve = await _node.NewUserAsync("Eve");
        var g = await ann.Client.CreateGroupAsync("private", [bob.Id]);

        async Task<ErrorCode> Fails(Func<Task> f) => (await Assert.ThrowsAsync<ChatException>(f)).Code;
        Assert.Equal(ErrorCode.NotMember, await Fails(() => eve.Client.SendGroupAsync(g, "let me in")));
        Assert.Equal(ErrorCode.NotMember, await Fails(() => eve.Client.GetGroupInfoAsync(g)));
        Assert.Equal(ErrorCode.NotAdmin, await Fails(() => bob.Client.AddMembersAsync(g, [eve.Id])));
        Assert.Equal(ErrorCode.NotAdmin, await Fails(() => bob.Client.RemoveMembersAsync(g, [ann.Id])));
        Assert.Equal(ErrorCode.UnknownGroup, await Fails(() => ann.Client.SendGroupAsync("gaaaaaaaaaaaaaaaa", "x")));
        Assert.Equal(ErrorCode.UnknownGroup, await Fails(() => ann.Client.SendGroupAsync("not-a-group", "x")));
        Assert.Equal(ErrorCode.UnknownUser, await Fails(() => ann.Client.AddMembersAsync(g, ["uzzzzzzzzzzzzzzzz"])));
        Assert.Equal(ErrorCode.InvalidName, await Fails(() => ann.Client.CreateGroupAsync("", [])));
        Assert.Equal(ErrorCode.EmptyText, await Fails(() => bob.Client.SendGroupAsync(g, " ")));
        // the members still talk
        await bob.Client.SendGroupAsync(g, "fine");
    }

    [Fact]
    public async Task The_sender_sees_who_has_it_in_a_few_receipt_frames_not_one_per_member()
    {
        const int members = 30;
        var accounts = new List<Registered>();
        await using (var setup = await _node.ConnectAsync())
            for (var i = 0; i < members; i++) accounts.Add(await setup.RegisterAsync($"r{i}", Phones.Next()));
        var clients = new List<ChatClient>();
        foreach (var a in accounts)
        {
            var c = await _node.ConnectAsync();
            await c.LoginAsync(a.Token);
            await c.SyncAsync(0);
            clients.Add(c);
        }
        try
        {
            var sender = clients[0];
            var g = await sender.CreateGroupAsync("receipts", accounts.Skip(1).Select(a => a.UserId).ToList());
            var accepted = await sender.SendGroupAsync(g, "who has it?");
            // every other member receives and acknowledges (TakeAsync acks)
            await Task.WhenAll(clients.Skip(1).Select(c => TakeAsync(c, 2)));

            var deliveredBy = new HashSet<string>();
            var frames = 0;
            while (deliveredBy.Count < members - 1)
            {
                var f = await sender.NextAsync(30);
                sender.Ack(ChatClient.SeqOf(f));
                var items = f switch
                {
                    Receipt r => [new ReceiptItem(r.Status, r.By, r.MessageIds)],
                    ReceiptSet s => s.Items,
                    _ => [],
                };
                if (items.Count == 0) continue;
                frames++;
                foreach (var item in items.Where(i => i.Status == ReceiptStatus.Delivered && i.MessageIds.Contains(accepted.MessageId)))
                    deliveredBy.Add(item.By);
            }
            Assert.Equal(accounts.Skip(1).Select(a => a.UserId).Order(), deliveredBy.Order());
            Assert.True(frames < members / 2, $"{frames} receipt frames for {members - 1} members");

            // read receipts for the group by group id
            await clients[1].ReadAsync(g, long.MaxValue);
            var read = await sender.NextAsync(30);
            var readItems = read is ReceiptSet rs ? rs.Items : [new ReceiptItem(((Receipt)read).Status, ((Receipt)read).By, ((Receipt)read).MessageIds)];
            Assert.Contains(readItems, i => i.Status == ReceiptStatus.Read && i.By == accounts[1].UserId && i.MessageIds.Contains(accepted.MessageId));
        }
        finally
        {
            foreach (var c in clients) await c.DisposeAsync();
        }
    }
}

public sealed class GroupCrashTests
{
    [Fact]
    public async Task A_crash_in_the_middle_of_a_fan_out_still_gives_every_member_each_message_exactly_once()
    {
        const int members = 40, posts = 50;
        var data = TestNode.NewDataDirectory();
        try
        {
            var accounts = new List<Registered>();
            string groupId;
            await using (var node = await NodeProcess.StartAsync(data))
            {
                await using var setup = await ChatClient.ConnectAsync("127.0.0.1", node.Port);
                for (var i = 0; i < members; i++) accounts.Add(await setup.RegisterAsync($"m{i}", Phones.Next()));
                await using var poster = await ChatClient.ConnectAsync("127.0.0.1", node.Port);
                await poster.LoginAsync(accounts[0].Token);
                groupId = await poster.CreateGroupAsync("crash", accounts.Skip(1).Select(a => a.UserId).ToList());
                await Task.WhenAll(Enumerable.Range(0, posts).Select(i => poster.SendGroupAsync(groupId, $"post {i}", $"c{i}")));
                await node.KillAsync(); // SIGKILL as soon as the last post is accepted
            }

            // the kill did land in the middle of the fan-out: not every inbox had every post yet
            var stored = CountGroupEntriesInInboxes(data);
            Assert.True(stored < (long)members * (posts + 1), $"fan-out had already finished ({stored} entries); the test proves nothing");

            await using (var node = await NodeProcess.StartAsync(data))
            {
                foreach (var a in accounts)
                {
                    await using var c = await ChatClient.ConnectAsync("127.0.0.1", node.Port);
                    await c.LoginAsync(a.Token);
                    await c.SyncAsync(0);
                    var texts = new List<string>();
                    var seqs = new List<long>();
                    while (texts.Count < posts)
                    {
                        var f = await c.NextAsync(60);
                        if (f is Message m) { texts.Add(m.Text); seqs.Add(m.GroupSeq); }
                    }
                    Assert.Equal(posts, texts.Distinct().Count());
                    Assert.Equal(seqs.Order(), seqs); // group order
                    // nothing more arrives: no duplicate shows up later
                    await Task.Delay(100);
                    Assert.Equal(0, c.Entries.Count);
                }
            }
        }
        finally
        {
            TestNode.TryDelete(data);
        }
    }

    private static long CountGroupEntriesInInboxes(string data)
    {
        using var connection = new SqliteConnection($"Data Source={Path.Combine(data, "chat.db")};Mode=ReadOnly");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM events WHERE manifest = 'u7'";
        return (long)command.ExecuteScalar()!;
    }
}

public sealed class GroupLimitTests : IAsyncLifetime
{
    private TestNode _node = null!;
    public async Task InitializeAsync() => _node = await TestNode.StartAsync(extraHocon: """
        chat.groups.max-per-user = 2
        chat.groups.max-members = 3
        """);
    public async Task DisposeAsync() => await _node.DisposeAsync();

    [Fact]
    public async Task Group_size_and_groups_per_user_are_limited_with_clear_errors()
    {
        await using var ann = await _node.NewUserAsync("Ann");
        await using var bob = await _node.NewUserAsync("Bob");
        await using var cat = await _node.NewUserAsync("Cat");
        await using var dan = await _node.NewUserAsync("Dan");
        async Task<ChatException> Fails(Func<Task> f) => await Assert.ThrowsAsync<ChatException>(f);

        var full = await Fails(() => ann.Client.CreateGroupAsync("four", [bob.Id, cat.Id, dan.Id]));
        Assert.Equal(ErrorCode.GroupFull, full.Code);
        Assert.Contains("3", full.Message);
        var g1 = await ann.Client.CreateGroupAsync("one", [bob.Id, cat.Id]);
        Assert.Equal(ErrorCode.GroupFull, (await Fails(() => ann.Client.AddMembersAsync(g1, [dan.Id]))).Code);

        await bob.Client.CreateGroupAsync("two", []); // Bob is now in two groups
        Assert.Equal(ErrorCode.TooManyGroups, (await Fails(() => bob.Client.CreateGroupAsync("three", []))).Code);
        Assert.Equal(ErrorCode.TooManyGroups, (await Fails(() => dan.Client.CreateGroupAsync("with bob", [bob.Id]))).Code);
    }
}
