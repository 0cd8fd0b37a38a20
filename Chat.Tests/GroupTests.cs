using Chat.Protocol;
using Chat.Node.Users;
using MessagePack;
using Microsoft.Data.Sqlite;

namespace Chat.Tests;

public sealed class GroupTests(SharedNode shared) : IClassFixture<SharedNode>
{
    private readonly TestNode _node = shared.Node;

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
                // the Created notice and 20 messages; a poster's delivered receipts may come in between, whenever members acknowledge
                var frames = await TakeAsync(c, 21, f => f is not (Receipt or ReceiptSet));
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
    public async Task A_CreateGroup_asked_again_with_its_client_group_id_answers_the_same_group_and_creates_no_second()
    {
        await using var ann = await _node.NewUserAsync("Ann");
        await using var bob = await _node.NewUserAsync("Bob");
        await using var eve = await _node.NewUserAsync("Eve");
        await bob.Client.SyncAsync(0);

        var first = await ann.Client.CreateGroupAsync("club", [bob.Id], "create-1");
        Assert.Equal(first, await ann.Client.CreateGroupAsync("club", [bob.Id], "create-1")); // after a timeout, say
        var second = await ann.Client.CreateGroupAsync("club", [bob.Id], "create-2");
        Assert.NotEqual(first, second);
        Assert.NotEqual(first, await eve.Client.CreateGroupAsync("club", [], "create-1")); // another user's id is another group
        await ann.Client.SendGroupAsync(second, "after");

        // Bob is told of two groups, not three, and Ann is in two
        var created = new List<string>();
        while (await bob.Client.NextAsync(30) is var f && f is not Message { Text: "after" })
        {
            bob.Client.Ack(ChatClient.SeqOf(f));
            if (f is GroupNotice { Kind: GroupNoticeKind.Created } n) created.Add(n.Group);
        }
        Assert.Equal(new[] { first, second }.Order(), created.Order());
        Assert.Equal(new[] { first, second }.Order(), (await ann.Client.ListGroupsAsync()).Select(g => g.GroupId).Order());

        async Task<ErrorCode> Fails(Func<Task> f) => (await Assert.ThrowsAsync<ChatException>(f)).Code;
        Assert.Equal(ErrorCode.InvalidArgument, await Fails(() => ann.Client.CreateGroupAsync("club", [], new string('k', 65))));
        Assert.Equal(ErrorCode.InvalidArgument, await Fails(() => ann.Client.CreateGroupAsync("club", [], "")));
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
        const int members = 80, postsPerRound = 10;
        var data = TestNode.NewDataDirectory();
        try
        {
            var accounts = new List<Registered>();
            string groupId;
            var accepted = new List<string>();
            var posted = 0;
            await using (var node = await NodeProcess.StartAsync(data))
            {
                await using var setup = await ChatClient.ConnectAsync("127.0.0.1", node.Port);
                for (var i = 0; i < members; i++) accounts.Add(await setup.RegisterAsync($"m{i}", Phones.Next()));
                await using var poster = await ChatClient.ConnectAsync("127.0.0.1", node.Port);
                await poster.LoginAsync(accounts[0].Token);
                groupId = await poster.CreateGroupAsync("crash", accounts.Skip(1).Select(a => a.UserId).ToList());

                // Posts go out ten at a time; the node is frozen (SIGSTOP) as soon as the first of a round is accepted,
                // while the others are still being stored and fanned out. The database then shows whether some entry
                // of the group's log is in some members' inboxes and not yet in others'; if not, the node resumes and
                // the next round tries again.
                var rounds = new List<Task<Accepted>>();
                var copies = new Dictionary<long, int>();
                var partial = false;
                for (var round = 0; round < 40 && !partial; round++)
                {
                    var batch = Enumerable.Range(round * postsPerRound, postsPerRound)
                        .Select(i => poster.SendGroupAsync(groupId, $"post {i}", $"c{i}")).ToList();
                    rounds.AddRange(batch);
                    posted = rounds.Count;
                    await Task.WhenAny(batch).WaitAsync(TimeSpan.FromSeconds(60));
                    Signal(node.Pid, "STOP");
                    copies = CopiesInInboxes(data, groupId);
                    partial = copies.Values.Any(n => n is > 0 and < members);
                    if (partial) break;
                    Signal(node.Pid, "CONT");
                    await Task.WhenAll(batch).WaitAsync(TimeSpan.FromSeconds(60));
                }
                Assert.True(copies.Count > 0, "no group entry was found in any inbox: the count reads the wrong rows");
                Assert.True(partial, $"every round's fan-out had finished or not begun when the node was frozen: {string.Join(", ", copies.Select(c => $"{c.Key}:{c.Value}"))}");
                await node.KillAsync(); // SIGKILL in the middle of the fan-out
                // the client would keep reconnecting to the dead node and hold its unanswered sends: close it, which
                // ends them (an answer that arrived before the kill stays a success)
                await poster.DisposeAsync();
                foreach (var t in rounds)
                {
                    try { accepted.Add((await t.WaitAsync(TimeSpan.FromSeconds(30))).ClientMessageId); }
                    catch (Exception e) when (e is ChatException or IOException or ObjectDisposedException or OperationCanceledException or InvalidOperationException) { }
                }
            }
            Assert.NotEmpty(accepted);

            await using (var node = await NodeProcess.StartAsync(data))
            {
                var clients = new List<ChatClient>();
                try
                {
                    foreach (var a in accounts)
                    {
                        var c = await ChatClient.ConnectAsync("127.0.0.1", node.Port);
                        clients.Add(c);
                        await c.LoginAsync(a.Token);
                        await c.SyncAsync(0);
                    }
                    // a last post goes through the same fan-out, behind anything still owed: what a member has when it
                    // arrives is everything, and a duplicate of an earlier post would have come before it
                    await clients[0].SendGroupAsync(groupId, "last", "c-last");
                    List<string>? reference = null;
                    foreach (var c in clients)
                    {
                        var texts = new List<string>();
                        var seqs = new List<long>();
                        while (true)
                        {
                            var f = await c.NextAsync(60);
                            if (f is not Message m) continue;
                            seqs.Add(m.GroupSeq);
                            if (m.Text == "last") break;
                            texts.Add(m.Text);
                            Assert.True(texts.Count <= posted, $"{texts.Count} messages before the last post, of {posted} posted");
                        }
                        Assert.Equal(texts.Count, texts.Distinct().Count()); // nothing twice
                        Assert.Equal(seqs.Order(), seqs); // group order
                        Assert.Subset(texts.ToHashSet(), accepted.Select(id => "post " + id[1..]).ToHashSet()); // every accepted post
                        reference ??= texts;
                        Assert.Equal(reference, texts); // the same entries for everyone
                    }
                }
                finally
                {
                    foreach (var c in clients) await c.DisposeAsync();
                }
            }
        }
        finally
        {
            TestNode.TryDelete(data);
        }
    }

    private static void Signal(int pid, string signal)
    {
        using var kill = System.Diagnostics.Process.Start("kill", [$"-{signal}", pid.ToString()])!;
        kill.WaitForExit();
        Assert.Equal(0, kill.ExitCode);
    }

    /// <summary>
    /// How many inboxes hold each entry of the group's log (by group sequence), from single entries (u7) and the
    /// entries of batches (u9).
    /// </summary>
    private static Dictionary<long, int> CopiesInInboxes(string data, string groupId)
    {
        using var connection = new SqliteConnection($"Data Source={Path.Combine(data, "chat.db")};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT manifest, payload FROM events WHERE manifest IN ('u7', 'u9')";
        using var reader = command.ExecuteReader();
        var copies = new Dictionary<long, int>();
        while (reader.Read())
        {
            var payload = (byte[])reader["payload"];
            var entries = reader.GetString(0) == "u7"
                ? [MessagePackSerializer.Deserialize<GroupEntryStored>(payload, MessagePackSerializerOptions.Standard)]
                : MessagePackSerializer.Deserialize<GroupEntriesBatchStored>(payload, MessagePackSerializerOptions.Standard).Entries;
            foreach (var e in entries)
                if (e.Group.Value == groupId) copies[e.GroupSeq] = copies.GetValueOrDefault(e.GroupSeq) + 1;
        }
        return copies;
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
