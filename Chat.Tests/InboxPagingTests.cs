using System.Text;
using Akka.Actor;
using Akka.Cluster.Sharding;
using Chat.Node;
using Chat.Node.Persistence;
using Chat.Node.Retention;
using Chat.Node.Users;
using Chat.Protocol;
using Microsoft.Data.Sqlite;

namespace Chat.Tests;

/// <summary>
/// Inboxes longer than the tail a user entity holds: the snapshot and the memory stay the tail's size, and the older
/// entries come back from the journal for a sync, acknowledgements, resends and retention.
/// </summary>
public sealed class InboxPagingTests
{
    private const int Tail = 64;
    private const string SmallTail = """
        chat.users.inbox-tail = 64
        chat.users.snapshot-every = 100
        chat.retention.sweep-interval = 3650d
        """;

    [Fact]
    public async Task Two_thousand_waiting_texts_keep_the_snapshot_and_memory_at_the_tail_and_all_come_back_in_order_after_a_restart()
    {
        const int count = 2000;
        var data = TestNode.NewDataDirectory();
        var padding = new string('x', 1000); // about 1 KiB a text
        string bobId, bobToken, aliceToken;
        var accepted = new List<Accepted>();
        try
        {
            await using (var node = await TestNode.StartAsync(data, SmallTail))
            {
                await using var alice = await node.NewUserAsync("Alice");
                aliceToken = alice.Token;
                await using (var bob = await node.NewUserAsync("Bob"))
                    (bobId, bobToken) = (bob.Id, bob.Token); // Bob goes offline
                for (var i = 0; i < count; i++)
                    accepted.Add(await alice.Client.SendAsync(bobId, $"n{i:D5}-{padding}", clientMessageId: $"c{i}"));

                // the entity holds the tail, not the inbox
                var probe = await ProbeAsync(node, bobId);
                Assert.Equal(count, probe.Kept);
                Assert.True(probe.Held <= Tail, $"{probe.Held} entries held in memory");

                // the snapshot holds the tail, and some 25 bytes a message for its dedup key and the stranger quota's
                // count (Bob never wrote to Alice); the whole inbox is over 2 MB
                var bytes = SnapshotBytes(data, "user-" + bobId);
                Assert.True(bytes > 0, "no snapshot was written");
                Assert.True(bytes < Tail * 1100 + count * 25 + 16 * 1024, $"Bob's snapshot is {bytes} bytes");
            }

            await using (var node = await TestNode.StartAsync(data, SmallTail))
            {
                await using var bob = await node.ConnectAsync();
                await bob.LoginAsync(bobToken);
                var last = await bob.SyncAsync(0);
                Assert.Equal(count, last);
                var seen = new List<Message>();
                while (bob.Entries.TryRead(out var entry))
                    if (entry is Message m) seen.Add(m);
                Assert.Equal(Enumerable.Range(1, count).Select(i => (long)i), seen.Select(m => m.Seq));
                Assert.Equal(Enumerable.Range(0, count).Select(i => $"n{i:D5}-{padding}"), seen.Select(m => m.Text));
                Assert.Equal(accepted.Select(a => a.MessageId), seen.Select(m => m.MessageId));
                var probe = await ProbeAsync(node, bobId);
                Assert.True(probe.Held <= Tail + node.Node.Settings.SyncBatch, $"{probe.Held} entries held in memory after the sync");

                // Bob acknowledges everything: Alice is told every message was delivered (the receipts are built from
                // entries read back from the journal)
                bob.Ack(last);
                await using var alice = await node.ConnectAsync("alice");
                await alice.LoginAsync(aliceToken);
                await alice.SyncAsync(0);
                var delivered = new HashSet<string>();
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
                while (delivered.Count < count)
                {
                    var frame = await alice.Entries.ReadAsync(timeout.Token);
                    if (frame is Receipt { Status: ReceiptStatus.Delivered } r) delivered.UnionWith(r.MessageIds);
                    if (frame is ReceiptSet set)
                        foreach (var item in set.Items.Where(i => i.Status == ReceiptStatus.Delivered)) delivered.UnionWith(item.MessageIds);
                }
                Assert.True(accepted.Select(a => a.MessageId).ToHashSet().SetEquals(delivered));

                // a resend of the first message (long out of memory) is answered as the first time and stored once
                var again = await alice.SendAsync(bobId, $"n00000-{padding}", clientMessageId: "c0");
                Assert.Equal(accepted[0].MessageId, again.MessageId);
                Assert.Equal(count, (await ProbeAsync(node, bobId)).Kept);
            }
        }
        finally
        {
            TestNode.TryDelete(data);
        }
    }

    [Fact]
    public async Task Retention_removes_old_entries_that_only_the_journal_held_and_keeps_the_young_ones_in_order()
    {
        var data = TestNode.NewDataDirectory();
        var clock = new ManualClock(DateTimeOffset.UtcNow);
        var tag = Guid.NewGuid().ToString("N")[..10];
        var old = Enumerable.Range(0, 300).Select(i => $"day0-{tag}-{i:D4}").ToList();
        var young = Enumerable.Range(0, 150).Select(i => $"day20-{tag}-{i:D4}").ToList();
        string bobId, bobToken;
        try
        {
            await using (var node = await TestNode.StartAsync(data, SmallTail, clock))
            {
                await using var alice = await node.NewUserAsync("Alice");
                await using (var bob = await node.NewUserAsync("Bob"))
                    (bobId, bobToken) = (bob.Id, bob.Token);
                foreach (var text in old) await alice.Client.SendAsync(bobId, text);
                clock.Advance(TimeSpan.FromDays(20));
                foreach (var text in young) await alice.Client.SendAsync(bobId, text);
            }
            Assert.True(RowsHolding(data, "events", old[0]) > 0, "the oldest text was never in the journal");

            clock.Advance(TimeSpan.FromDays(11));
            await using (var node = await TestNode.StartAsync(data, SmallTail, clock))
            {
                var report = await node.Node.Retention.Ask<RetentionReport>(RetentionSweeper.SweepNow.Instance, TimeSpan.FromSeconds(60));
                Assert.Equal(0, report.Failures);
                foreach (var text in old)
                {
                    Assert.Equal(0, RowsHolding(data, "events", text));
                    Assert.Equal(0, RowsHolding(data, "snapshots", text));
                }
                Assert.True(RowsHolding(data, "events", young[0]) > 0, "the oldest young text left the journal");
                Assert.Equal(young, await SyncTextsAsync(node, bobToken));
            }

            // and again after a restart (the kept entries are read from the journal, not from a snapshot)
            await using (var node = await TestNode.StartAsync(data, SmallTail, clock))
                Assert.Equal(young, await SyncTextsAsync(node, bobToken));
        }
        finally
        {
            TestNode.TryDelete(data);
        }
    }

    private static async Task<List<string>> SyncTextsAsync(TestNode node, string token)
    {
        await using var client = await node.ConnectAsync();
        await client.LoginAsync(token);
        await client.SyncAsync(0);
        var texts = new List<string>();
        while (client.Entries.TryRead(out var entry))
            if (entry is Message m) texts.Add(m.Text);
        return texts;
    }

    internal static Task<InboxProbeReply> ProbeAsync(TestNode node, string userId) =>
        ClusterSharding.Get(node.Node.System).ShardRegion(UserEntity.RegionName)
            .Ask<InboxProbeReply>(new InboxProbe(new UserId(userId)), TimeSpan.FromSeconds(20));

    /// <summary>The size of the newest snapshot of <paramref name="persistenceId"/> (0: none).</summary>
    private static long SnapshotBytes(string data, string persistenceId)
    {
        using var connection = new SqliteConnection(SqliteStore.ConnectionString(data));
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT coalesce(max(length(payload)), 0) FROM snapshots WHERE persistence_id = $p";
        command.Parameters.AddWithValue("$p", persistenceId);
        return (long)command.ExecuteScalar()!;
    }

    private static long RowsHolding(string data, string table, string text) => RetentionTests.RowsHolding(data, table, text);
}
