using System.Text;
using Akka.Actor;
using Chat.Node.Persistence;
using Chat.Node.Retention;
using Chat.Protocol;
using Microsoft.Data.Sqlite;

namespace Chat.Tests;

/// <summary>A clock that tests move forward by days instead of waiting.</summary>
public sealed class ManualClock(DateTimeOffset start) : TimeProvider
{
    private long _ticks = start.UtcTicks;
    public override DateTimeOffset GetUtcNow() => new(Interlocked.Read(ref _ticks), TimeSpan.Zero);
    public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
}

public sealed class RetentionTests
{
    private const string NoAutomaticSweep = "chat.retention.sweep-interval = 3650d";

    [Fact]
    public async Task After_31_days_day_0_messages_media_and_group_posts_are_gone_from_the_database_and_disk_and_day_20_ones_stay()
    {
        var data = TestNode.NewDataDirectory();
        var clock = new ManualClock(DateTimeOffset.UtcNow);
        var tag = Guid.NewGuid().ToString("N")[..10];
        string[] old = [$"day0-text-{tag}", $"day0-caption-{tag}", $"day0-group-{tag}"];
        string[] young = [$"day20-text-{tag}", $"day20-group-{tag}"];
        string bobToken, daveToken, mediaId, groupId, pictureId;
        try
        {
            await using (var node = await TestNode.StartAsync(data, NoAutomaticSweep, clock))
            {
                await using var alice = await node.NewUserAsync("Alice");
                await using var bob = await node.NewUserAsync("Bob");
                bobToken = bob.Token;
                await using var dave = await node.NewUserAsync("Dave");
                daveToken = dave.Token;
                await alice.Client.SendAsync(dave.Id, $"day0-for-dave-{tag}"); // Dave's whole inbox is from day 0
                groupId = await alice.Client.CreateGroupAsync("Hikers", [bob.Id]);

                // day 0: a text, an image with a caption, a group post; Bob never reads any of it
                await alice.Client.SendAsync(bob.Id, old[0]);
                var image = MediaTests.FakeFile("image/png", 100_000);
                mediaId = (await alice.Client.UploadAsync(new MemoryStream(image), "image/png")).MediaId;
                await alice.Client.SendMediaAsync(bob.Id, new MediaRef(mediaId), old[1]);
                await alice.Client.SendGroupAsync(groupId, old[2]);
                // the group's picture, set on day 0, is referred to by the group itself: it stays
                pictureId = (await alice.Client.UploadAsync(new MemoryStream(MediaTests.FakeFile("image/jpeg", 30_000)), "image/jpeg")).MediaId;
                await alice.Client.SetGroupImageAsync(groupId, new MediaRef(pictureId));

                // day 20
                clock.Advance(TimeSpan.FromDays(20));
                await alice.Client.SendAsync(bob.Id, young[0]);
                await alice.Client.SendGroupAsync(groupId, young[1]);
            }

            // the texts are in the database before the sweep (so the checks below can fail)
            foreach (var text in old.Concat(young))
                Assert.True(RowsHolding(data, "events", text) + RowsHolding(data, "snapshots", text) > 0, $"'{text}' was never stored");
            Assert.NotNull(await new Node.Media.FileMediaStore(Path.Combine(data, "media")).GetAsync(mediaId));

            // day 31, a fresh start: no user entity is running when the sweep comes
            clock.Advance(TimeSpan.FromDays(11));
            var reports = new System.Collections.Concurrent.ConcurrentQueue<string>();
            await using (var node = await TestNode.StartAsync(data, NoAutomaticSweep, clock, reports.Enqueue))
            {
                var report = await node.Node.Retention.Ask<RetentionReport>(RetentionSweeper.SweepNow.Instance, TimeSpan.FromSeconds(60));
                Assert.Equal(0, report.Failures);
                Assert.True(report.Reclaimed);
                Assert.Equal(1, report.Media);
                // Bob: group created notice, text, image, group post; Alice: the same notice and post, and her own receipts
                Assert.True(report.Entries >= 6, report.ToString());
                // the operator sees what the sweep removed
                Assert.Contains(reports, line => line.StartsWith("retention sweep") && line.Contains($"{report.Entries} entries removed")
                                                  && line.Contains("1 media files"));

                // no journal or snapshot row holds the day-0 texts; the file and its write-ahead log hold no trace
                foreach (var text in old)
                {
                    Assert.Equal(0, RowsHolding(data, "events", text));
                    Assert.Equal(0, RowsHolding(data, "snapshots", text));
                    Assert.False(FileHolds(SqliteStore.DatabasePath(data), text), $"'{text}' is still readable in chat.db");
                    Assert.False(FileHolds(SqliteStore.DatabasePath(data) + "-wal", text), $"'{text}' is still readable in chat.db-wal");
                }
                // the media file is gone
                Assert.Null(await node.Node.Media.GetAsync(mediaId));
                Assert.DoesNotContain(Directory.GetFiles(Path.Combine(data, "media"), "*", SearchOption.AllDirectories),
                    f => Path.GetFileName(f).StartsWith(mediaId, StringComparison.Ordinal));

                // Bob, syncing from the start, receives the day-20 messages and nothing older
                await using var bob = await node.ConnectAsync();
                await bob.LoginAsync(bobToken);
                var last = await bob.SyncAsync(0);
                var texts = new List<string>();
                while (bob.Entries.TryRead(out var entry))
                    if (entry is Message m) texts.Add(m.Text);
                Assert.Equal(young, texts);
                Assert.True(last > 4, "sequence numbers go on after the removed entries");

                // Dave's whole inbox was removed: his sync completes at once, empty, and the sequence goes on
                await using var dave = await node.ConnectAsync("dave");
                var daveIn = await dave.LoginAsync(daveToken);
                Assert.Equal(daveIn.LastSeq, await dave.SyncAsync(0));
                Assert.False(dave.Entries.TryRead(out _));

                // the group still works: its members and name survived the removal of the entry that created it
                var info = await bob.GetGroupInfoAsync(groupId);
                Assert.Equal("Hikers", info.Name);
                Assert.Equal(pictureId, info.Image!.MediaId);
                Assert.NotNull(await node.Node.Media.GetAsync(pictureId));
                Assert.Equal(2, info.Members.Count);
                await bob.SendGroupAsync(groupId, "still here");

                // a second sweep the same day finds nothing more to remove
                var again = await node.Node.Retention.Ask<RetentionReport>(RetentionSweeper.SweepNow.Instance, TimeSpan.FromSeconds(60));
                Assert.Equal(0, again.Entries);
            }

            // and after another restart the day-20 messages are still there (they live in the snapshots)
            await using (var node = await TestNode.StartAsync(data, NoAutomaticSweep, clock))
            {
                await using var bob = await node.ConnectAsync();
                await bob.LoginAsync(bobToken);
                await bob.SyncAsync(0);
                var texts = new List<string>();
                while (bob.Entries.TryRead(out var entry))
                    if (entry is Message m) texts.Add(m.Text);
                Assert.Equal([.. young, "still here"], texts);
            }
        }
        finally
        {
            TestNode.TryDelete(data);
        }
    }

    /// <summary>Rows of the events or snapshots table whose stored bytes contain <paramref name="text"/> (MessagePack keeps strings as UTF-8).</summary>
    internal static long RowsHolding(string data, string table, string text)
    {
        using var connection = new SqliteConnection(SqliteStore.ConnectionString(data));
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT count(*) FROM {table} WHERE instr(payload, $t) > 0";
        command.Parameters.AddWithValue("$t", Encoding.UTF8.GetBytes(text));
        return (long)command.ExecuteScalar()!;
    }

    private static bool FileHolds(string path, string text)
    {
        if (!File.Exists(path)) return false;
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray().AsSpan().IndexOf(Encoding.UTF8.GetBytes(text)) >= 0;
    }
}
