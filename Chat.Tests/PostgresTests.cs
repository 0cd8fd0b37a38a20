using System.Collections.Concurrent;
using System.Text;
using Akka.Actor;
using Chat.Node.Retention;
using Chat.Protocol;
using Npgsql;

namespace Chat.Tests;

/// <summary>The node on PostgreSQL (chat.persistence = postgres), against a real server from <see cref="PostgresServer"/>.</summary>
[Collection(ClusterCollection.Name)]
public sealed class PostgresTests
{
    // snapshots every few events, so day-0 texts are in snapshots (and in kept deleted rows) before the sweep
    private const string NoAutomaticSweep = "chat.retention.sweep-interval = 3650d\nchat.users.snapshot-every = 2";

    [Fact]
    public async Task A_node_restarted_on_the_same_database_keeps_accounts_phone_numbers_inboxes_receipts_and_groups()
    {
        var db = await PostgresServer.NewDatabaseAsync();
        var data = TestNode.NewDataDirectory();
        try
        {
            string aliceToken, bobToken, bobId, bobPhone, carolToken, groupId;
            Accepted direct, post;
            await using (var node = await PostgresServer.StartNodeAsync(db, data))
            {
                await using var alice = await node.NewUserAsync("Alice");
                await using var bob = await node.NewUserAsync("Bob");
                await using var carol = await node.NewUserAsync("Carol");
                (aliceToken, bobToken, bobId, bobPhone, carolToken) = (alice.Token, bob.Token, bob.Id, bob.Phone, carol.Token);
                direct = await alice.Client.SendAsync(bob.Id, "hello Bob");
                groupId = await alice.Client.CreateGroupAsync("Climbers", [bob.Id, carol.Id]);
                post = await alice.Client.SendGroupAsync(groupId, "rope at nine");

                // Bob receives both and acknowledges: Alice gets a delivered receipt
                await bob.Client.SyncAsync(0);
                Assert.Equal("hello Bob", (await bob.Client.NextOfAsync<Message>()).Text);
                var groupMessage = await bob.Client.NextOfAsync<Message>();
                Assert.Equal("rope at nine", groupMessage.Text);
                bob.Client.Ack(groupMessage.Seq);
                await alice.Client.SyncAsync(0);
                var receipt = await alice.Client.NextOfAsync<Receipt>();
                Assert.Equal(ReceiptStatus.Delivered, receipt.Status);
                Assert.Contains(direct.MessageId, receipt.MessageIds);
            }
            // the database is PostgreSQL's: nothing of the embedded store was created in the data directory
            Assert.Empty(Directory.Exists(data) ? Directory.GetFiles(data, "chat.db*") : []);

            await using (var node = await PostgresServer.StartNodeAsync(db, data))
            {
                // the token and the phone number still belong to Bob
                await using var bob = await node.ConnectAsync();
                Assert.Equal(bobId, (await bob.LoginAsync(bobToken)).UserId);
                Assert.Equal(bobId, (await bob.LookupAsync(bobPhone)).UserId);
                await using var stranger = await node.ConnectAsync("stranger");
                Assert.IsType<CodeSent>(await stranger.RequestCodeAsync("Mallory", bobPhone)); // without the code, nothing moves
                Assert.Equal(bobId, (await bob.LookupAsync(bobPhone)).UserId);

                // Bob's inbox, from the start, holds both messages in order
                await bob.SyncAsync(0);
                var messages = new List<Message>();
                while (bob.Entries.TryRead(out var entry))
                    if (entry is Message m) messages.Add(m);
                Assert.Equal([direct.MessageId, post.MessageId], messages.Select(m => m.MessageId));
                Assert.Equal(groupId, messages[1].Group);

                // Alice's delivered receipt survived
                await using var alice = await node.ConnectAsync("alice");
                await alice.LoginAsync(aliceToken);
                await alice.SyncAsync(0);
                var receipts = new List<Receipt>();
                while (alice.Entries.TryRead(out var entry))
                    if (entry is Receipt r) receipts.Add(r);
                Assert.Contains(receipts, r => r.Status == ReceiptStatus.Delivered && r.MessageIds.Contains(direct.MessageId));

                // the group: name and members survived, and a member's post reaches the others
                var info = await bob.GetGroupInfoAsync(groupId);
                Assert.Equal("Climbers", info.Name);
                Assert.Equal(3, info.Members.Count);
                await using var carol = await node.ConnectAsync("carol");
                await carol.LoginAsync(carolToken);
                await carol.SendGroupAsync(groupId, "on my way");
                Assert.Equal("on my way", (await bob.NextOfAsync<Message>()).Text);
            }
        }
        finally
        {
            TestNode.TryDelete(data);
        }
    }

    [Fact]
    public async Task Sigkill_under_continuous_sends_loses_nothing_that_was_accepted()
    {
        var db = await PostgresServer.NewDatabaseAsync();
        var data = TestNode.NewDataDirectory();
        try
        {
            string bobToken;
            var accepted = new ConcurrentQueue<Accepted>();
            await using (var node = await PostgresServer.StartNodeProcessAsync(db, data))
            {
                await using var alice = await ChatClient.ConnectAsync("127.0.0.1", node.Port);
                var a = await alice.RegisterAsync("Alice", Phones.Next());
                await alice.LoginAsync(a.Token);
                await using var bobClient = await ChatClient.ConnectAsync("127.0.0.1", node.Port);
                var b = await bobClient.RegisterAsync("Bob", Phones.Next());
                bobToken = b.Token;

                // eight senders keep writing; the node is killed while sends are in flight
                var enough = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                var killed = false;
                async Task SendUntilGone(int lane)
                {
                    for (var i = 0; !Volatile.Read(ref killed); i++)
                    {
                        try
                        {
                            accepted.Enqueue(await alice.SendAsync(b.UserId, $"lane {lane} #{i}", $"c{lane}-{i}"));
                        }
                        catch (Exception)
                        {
                            return; // the connection is gone
                        }
                        if (accepted.Count >= 150) enough.TrySetResult();
                    }
                }
                // not awaited: once the process is gone nothing more is accepted, and a send issued as the connection
                // closed may wait for its request timeout before failing
                foreach (var lane in Enumerable.Range(0, 8)) _ = SendUntilGone(lane);
                await enough.Task.WaitAsync(TimeSpan.FromSeconds(60));
                await node.KillAsync();
                Volatile.Write(ref killed, true);
            }

            await using (var node = await PostgresServer.StartNodeProcessAsync(db, data))
            {
                await using var bob = await ChatClient.ConnectAsync("127.0.0.1", node.Port);
                await bob.LoginAsync(bobToken);
                await bob.SyncAsync(0);
                var received = new List<string>();
                while (bob.Entries.TryRead(out var entry))
                    if (entry is Message m) received.Add(m.MessageId);
                // every accepted send is there, once (sends cut off unanswered may be there too)
                Assert.Empty(accepted.Select(x => x.MessageId).Except(received));
                Assert.Equal(received.Count, received.Distinct().Count());
            }
        }
        finally
        {
            TestNode.TryDelete(data);
        }
    }

    [Fact]
    public async Task After_31_days_no_day_0_text_is_readable_in_any_table_and_day_20_messages_are_still_delivered()
    {
        var db = await PostgresServer.NewDatabaseAsync();
        var data = TestNode.NewDataDirectory();
        var clock = new ManualClock(DateTimeOffset.UtcNow);
        var tag = Guid.NewGuid().ToString("N")[..10];
        string[] old = [$"day0-text-{tag}", $"day0-group-{tag}", $"day0-for-dave-{tag}"];
        string[] young = [$"day20-text-{tag}", $"day20-group-{tag}"];
        string bobToken, daveToken, groupId;
        try
        {
            await using (var node = await PostgresServer.StartNodeAsync(db, data, NoAutomaticSweep, clock))
            {
                await using var alice = await node.NewUserAsync("Alice");
                await using var bob = await node.NewUserAsync("Bob");
                await using var dave = await node.NewUserAsync("Dave");
                (bobToken, daveToken) = (bob.Token, dave.Token);
                await alice.Client.SendAsync(dave.Id, old[2]); // Dave's whole inbox is from day 0
                groupId = await alice.Client.CreateGroupAsync("Hikers", [bob.Id]);
                await alice.Client.SendAsync(bob.Id, old[0]);
                await alice.Client.SendGroupAsync(groupId, old[1]);
                // the group post reaches Bob's inbox after it is accepted; a day-20 message stored before it would hold it
                // back (retention removes from the oldest entry on and stops at the first younger one)
                await bob.Client.SyncAsync(0);
                while ((await bob.Client.NextOfAsync<Message>()).Text != old[1]) { }
                clock.Advance(TimeSpan.FromDays(20));
                await alice.Client.SendAsync(bob.Id, young[0]);
                await alice.Client.SendGroupAsync(groupId, young[1]);
            }

            // the texts are in the database before the sweep (so the checks below can fail)
            foreach (var text in old.Concat(young))
                Assert.True(await RowsHoldingAsync(db, text) > 0, $"'{text}' was never stored");

            clock.Advance(TimeSpan.FromDays(11));
            await using (var node = await PostgresServer.StartNodeAsync(db, data, NoAutomaticSweep, clock))
            {
                var report = await node.Node.Retention.Ask<RetentionReport>(RetentionSweeper.SweepNow.Instance, TimeSpan.FromSeconds(60));
                Assert.Equal(0, report.Failures);
                Assert.True(report.Reclaimed, report.ToString());
                Assert.True(report.Entries >= 4, report.ToString());

                // no row of any table holds a day-0 text, deleted-but-kept journal rows and snapshots included
                foreach (var text in old)
                    Assert.True(await RowsHoldingAsync(db, text) == 0, $"'{text}' is still readable: {await WhereHeldAsync(db, text)}");
                // the sweep vacuumed both tables, so the deleted row versions are gone from them too
                Assert.Equal(2, await VacuumedTablesAsync(db));

                // Bob, syncing from the start, receives the day-20 messages and nothing older
                await using var bob = await node.ConnectAsync();
                await bob.LoginAsync(bobToken);
                await bob.SyncAsync(0);
                var texts = new List<string>();
                while (bob.Entries.TryRead(out var entry))
                    if (entry is Message m) texts.Add(m.Text);
                Assert.Equal(young, texts);

                // Dave's whole inbox was removed: his sync is empty
                await using var dave = await node.ConnectAsync("dave");
                var daveIn = await dave.LoginAsync(daveToken);
                Assert.Equal(daveIn.LastSeq, await dave.SyncAsync(0));
                Assert.False(dave.Entries.TryRead(out _));

                // the group survived the removal of the entry that created it
                Assert.Equal("Hikers", (await bob.GetGroupInfoAsync(groupId)).Name);

                // a second sweep the same day finds nothing more to remove
                var again = await node.Node.Retention.Ask<RetentionReport>(RetentionSweeper.SweepNow.Instance, TimeSpan.FromSeconds(60));
                Assert.Equal(0, again.Entries);
            }

            // after another restart the day-20 messages are still there
            await using (var node = await PostgresServer.StartNodeAsync(db, data, NoAutomaticSweep, clock))
            {
                await using var bob = await node.ConnectAsync();
                await bob.LoginAsync(bobToken);
                await bob.SyncAsync(0);
                var texts = new List<string>();
                while (bob.Entries.TryRead(out var entry))
                    if (entry is Message m) texts.Add(m.Text);
                Assert.Equal(young, texts);
            }
        }
        finally
        {
            TestNode.TryDelete(data);
        }
    }

    [Fact]
    public async Task A_node_with_postgres_selected_and_no_connection_string_refuses_to_start_and_says_what_is_missing()
    {
        var data = TestNode.NewDataDirectory();
        try
        {
            var output = new ConcurrentQueue<string>();
            // CHAT_POSTGRES set empty, so a value in the test's own environment cannot leak in
            await Assert.ThrowsAsync<InvalidOperationException>(() => PostgresServer.StartNodeProcessAsync("", data, output.Enqueue));
            var said = string.Join("\n", output);
            Assert.Contains("cannot start", said);
            Assert.Contains("chat.postgres.connection-string", said);
            Assert.Contains("CHAT_POSTGRES", said);
            Assert.Empty(Directory.GetFiles(data, "chat.db*"));
        }
        finally
        {
            TestNode.TryDelete(data);
        }
    }

    /// <summary>Rows, over every bytea column of every table, whose bytes contain <paramref name="text"/> (MessagePack keeps strings as UTF-8).</summary>
    private static async Task<long> RowsHoldingAsync(string db, string text)
    {
        await using var connection = new NpgsqlConnection(db);
        await connection.OpenAsync();
        var columns = new List<(string Table, string Column)>();
        await using (var list = new NpgsqlCommand(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' AND data_type = 'bytea'", connection))
        await using (var reader = await list.ExecuteReaderAsync())
            while (await reader.ReadAsync()) columns.Add((reader.GetString(0), reader.GetString(1)));
        Assert.NotEmpty(columns);
        long rows = 0;
        foreach (var (table, column) in columns)
        {
            await using var count = new NpgsqlCommand($"SELECT count(*) FROM \"{table}\" WHERE position(@t in \"{column}\") > 0", connection);
            count.Parameters.AddWithValue("t", Encoding.UTF8.GetBytes(text));
            rows += (long)(await count.ExecuteScalarAsync())!;
        }
        return rows;
    }

    /// <summary>Which rows hold <paramref name="text"/>, for the failure message.</summary>
    private static async Task<string> WhereHeldAsync(string db, string text)
    {
        await using var connection = new NpgsqlConnection(db);
        await connection.OpenAsync();
        var found = new List<string>();
        foreach (var (table, column) in new[] { ("journal", "message"), ("snapshot", "snapshot") })
        {
            var deleted = table == "journal" ? "deleted" : "false";
            await using var command = new NpgsqlCommand(
                $"SELECT persistence_id, sequence_number, {deleted}, (SELECT max(sequence_number) FROM {table} x WHERE x.persistence_id = t.persistence_id) " +
                $"FROM {table} t WHERE position(@t in {column}) > 0", connection);
            command.Parameters.AddWithValue("t", Encoding.UTF8.GetBytes(text));
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
                found.Add($"{table} {reader.GetString(0)} #{reader.GetInt64(1)} deleted={reader.GetBoolean(2)} (highest #{reader.GetInt64(3)})");
        }
        return string.Join("; ", found);
    }

    /// <summary>How many of the journal and snapshot tables have been vacuumed by a VACUUM command.</summary>
    private static async Task<long> VacuumedTablesAsync(string db)
    {
        await using var connection = new NpgsqlConnection(db);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT count(*) FROM pg_stat_user_tables WHERE relname IN ('journal', 'snapshot') AND last_vacuum IS NOT NULL", connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
