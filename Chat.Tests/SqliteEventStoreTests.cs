using Chat.Node.Persistence;

namespace Chat.Tests;

/// <summary>The embedded event store's contract: what Akka.Persistence relies on from a journal and a snapshot store.</summary>
public sealed class SqliteEventStoreTests : IDisposable
{
    private readonly string _data = TestNode.NewDataDirectory();
    private readonly SqliteEventStore _store;

    public SqliteEventStoreTests()
    {
        Directory.CreateDirectory(_data);
        _store = SqliteEventStore.Acquire(SqliteStore.ConnectionString(_data), "NORMAL");
    }

    public void Dispose()
    {
        _store.Release();
        TestNode.TryDelete(_data);
    }

    private static StoredRow Row(string id, long seq, string text = "x") =>
        new(id, seq, "m", 4201, System.Text.Encoding.UTF8.GetBytes(text), 1000 + seq);

    [Fact]
    public async Task Writes_queued_while_a_commit_is_under_way_share_the_next_commit()
    {
        // hold the writer inside a commit, queue 100 writes from 100 entities, then let it go
        using var inCommit = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var held = _store.ExecuteAsync(_ =>
        {
            inCommit.Set();
            release.Wait(TimeSpan.FromSeconds(30));
        });
        Assert.True(inCommit.Wait(TimeSpan.FromSeconds(10)), "the writer never started the holding commit");
        var before = _store.Commits;
        var writes = Enumerable.Range(0, 100).Select(e => _store.AppendAsync([Row($"q{e}", 1, $"q{e}")])).ToList();
        release.Set();
        await held;
        await Task.WhenAll(writes);
        // the holding commit, then one commit for all hundred
        Assert.Equal(2, _store.Commits - before);
        for (var e = 0; e < 100; e += 33)
            Assert.Equal($"q{e}", System.Text.Encoding.UTF8.GetString(_store.ReadEvents($"q{e}", 1, 1, 1).Single().Payload));
    }

    [Fact]
    public async Task Under_continuous_writes_the_write_ahead_log_stays_near_its_limit()
    {
        // a passive checkpoint alone never found the log wholly copied, and it grew by all 48 MiB written
        var (largest, _) = await WriteContinuously(walLimit: 1 << 20);
        Assert.True(largest < 16 << 20, $"the write-ahead log reached {largest / 1048576.0:0.0} MiB with a 1 MiB limit");
    }

    [Fact]
    public async Task Under_continuous_writes_the_write_ahead_log_is_reused_in_place_not_truncated()
    {
        // truncating a log of 256 MiB took ~100 ms, and every write queued behind it waited as long: the log is
        // started again from its beginning, in the same file, whose size therefore never goes down
        var (_, shrankFrom) = await WriteContinuously(walLimit: 1 << 20);
        Assert.True(shrankFrom is null, $"the write-ahead log was truncated (from {shrankFrom} bytes) while writes went on");
    }

    /// <summary>
    /// 40 writers append 2 KiB events back to back, 48 MiB in all; the log's file size is watched meanwhile. Returns the
    /// largest size seen, and the size it had before it was first seen smaller (null if never). Checks that nothing was lost.
    /// </summary>
    private static async Task<(long Largest, long? ShrankFrom)> WriteContinuously(long walLimit)
    {
        var data = TestNode.NewDataDirectory();
        Directory.CreateDirectory(data);
        var store = SqliteEventStore.Acquire(SqliteStore.ConnectionString(data), "NORMAL", walLimit);
        try
        {
            var wal = Path.Combine(data, "chat.db-wal");
            var payload = new string('w', 2048);
            long largest = 0, last = 0;
            long? shrankFrom = null;
            using var writing = new CancellationTokenSource();
            var watcher = Task.Run(async () =>
            {
                while (!writing.IsCancellationRequested)
                {
                    var size = File.Exists(wal) ? new FileInfo(wal).Length : 0;
                    if (size < last) shrankFrom ??= last;
                    last = size;
                    largest = Math.Max(largest, size);
                    await Task.Delay(2);
                }
            });
            var writers = Enumerable.Range(0, 40).Select(async e =>
            {
                for (var seq = 1; seq <= 600; seq++) await store.AppendAsync([Row($"w{e}", seq, payload)]);
            });
            await Task.WhenAll(writers);
            writing.Cancel();
            await watcher;
            // and nothing written was lost on the way
            foreach (var e in new[] { 0, 17, 39 })
                Assert.Equal(600, store.ReadEvents($"w{e}", 1, long.MaxValue, long.MaxValue).Count());
            return (largest, shrankFrom);
        }
        finally
        {
            store.Release();
            TestNode.TryDelete(data);
        }
    }

    [Fact]
    public async Task Concurrent_writers_each_read_back_their_events_in_order()
    {
        // 200 entities each write 20 single-event batches, all at once
        var writers = Enumerable.Range(0, 200).Select(async e =>
        {
            for (var seq = 1; seq <= 20; seq++) await _store.AppendAsync([Row($"e{e}", seq, $"e{e}-{seq}")]);
        });
        await Task.WhenAll(writers);
        for (var e = 0; e < 200; e += 37)
        {
            var rows = _store.ReadEvents($"e{e}", 1, long.MaxValue, long.MaxValue);
            Assert.Equal(Enumerable.Range(1, 20).Select(i => (long)i), rows.Select(r => r.SequenceNr));
            Assert.Equal($"e{e}-7", System.Text.Encoding.UTF8.GetString(rows[6].Payload));
            Assert.Equal(20, _store.HighestSequenceNr($"e{e}"));
        }
        Assert.Equal([5L, 6L], _store.ReadEvents("e1", 5, 10, 2).Select(r => r.SequenceNr));
    }

    [Fact]
    public async Task The_write_ahead_log_is_moved_into_the_database_file_without_a_commit_doing_it()
    {
        // the writer never checkpoints (a checkpoint inside a commit made every write queued behind it wait); a
        // thread of its own does, so what was committed reaches the database file and the log is reused
        var db = SqliteStore.DatabasePath(_data);
        var before = new FileInfo(db).Length;
        var payload = new string('p', 2000);
        for (var batch = 0; batch < 50; batch++)
            await _store.AppendAsync(Enumerable.Range(1, 20).Select(i => Row("w", batch * 20 + i, payload)).ToList());
        var grown = false;
        for (var deadline = DateTime.UtcNow.AddSeconds(10); DateTime.UtcNow < deadline && !grown;)
        {
            grown = new FileInfo(db).Length > before + 1_000 * 2000;
            if (!grown) await Task.Delay(50);
        }
        Assert.True(grown, $"chat.db is {new FileInfo(db).Length} bytes: 2 MB committed but not checkpointed into it");
    }

    [Fact]
    public async Task A_write_that_conflicts_fails_alone_and_the_others_in_its_commit_are_stored()
    {
        await _store.AppendAsync([Row("a", 1)]);
        var conflicting = _store.AppendAsync([Row("a", 1, "again")]);
        var fine = _store.AppendAsync([Row("b", 1)]);
        await Assert.ThrowsAnyAsync<Exception>(() => conflicting);
        await fine;
        Assert.Equal("x", System.Text.Encoding.UTF8.GetString(_store.ReadEvents("a", 1, 1, 1).Single().Payload));
        Assert.Single(_store.ReadEvents("b", 1, 1, 1));
    }

    [Fact]
    public async Task Deleting_removes_rows_but_the_highest_sequence_number_is_kept()
    {
        await _store.AppendAsync([Row("d", 1), Row("d", 2), Row("d", 3)]);
        await _store.DeleteEventsAsync("d", 3);
        Assert.Empty(_store.ReadEvents("d", 1, long.MaxValue, long.MaxValue));
        Assert.Equal(3, _store.HighestSequenceNr("d"));
        await _store.AppendAsync([Row("d", 4)]);
        await _store.DeleteEventsAsync("d", 2); // lower than before: the mark stays at 3
        Assert.Equal(4, _store.HighestSequenceNr("d"));
        Assert.Equal(0, _store.HighestSequenceNr("never"));
    }

    [Fact]
    public async Task The_newest_snapshot_within_the_criteria_is_loaded_and_deletes_follow_the_criteria()
    {
        await _store.SaveSnapshotAsync(Row("s", 10, "ten"));
        await _store.SaveSnapshotAsync(Row("s", 20, "twenty"));
        await _store.SaveSnapshotAsync(Row("s", 20, "twenty again")); // same number: replaced
        Assert.Equal("twenty again", Text(_store.LoadSnapshot("s", 0, long.MaxValue, 0, long.MaxValue)));
        Assert.Equal("ten", Text(_store.LoadSnapshot("s", 0, 15, 0, long.MaxValue)));
        await _store.DeleteSnapshotsAsync("s", 0, 19, 0, long.MaxValue);
        Assert.Null(_store.LoadSnapshot("s", 0, 15, 0, long.MaxValue));
        Assert.NotNull(_store.LoadSnapshot("s", 0, long.MaxValue, 0, long.MaxValue));
    }

    [Fact]
    public async Task What_was_acknowledged_is_there_after_the_store_is_closed_and_opened_again()
    {
        await _store.AppendAsync(Enumerable.Range(1, 500).Select(i => Row("p", i)).ToList());
        var second = SqliteEventStore.Acquire(SqliteStore.ConnectionString(_data), "NORMAL");
        second.Release(); // the first user still holds the file
        _store.Release();
        var reopened = SqliteEventStore.Acquire(SqliteStore.ConnectionString(_data), "NORMAL");
        try
        {
            Assert.Equal(500, reopened.ReadEvents("p", 1, long.MaxValue, long.MaxValue).Count);
        }
        finally
        {
            reopened.Release();
            SqliteEventStore.Acquire(SqliteStore.ConnectionString(_data), "NORMAL"); // for Dispose's Release
        }
    }

    private static string? Text(StoredRow? row) => row is { } r ? System.Text.Encoding.UTF8.GetString(r.Payload) : null;
}
