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
        var (held, release) = HoldWriter();
        var before = _store.Commits;
        var writes = Enumerable.Range(0, 100).Select(e => _store.AppendAsync([Row($"q{e}", 1, $"q{e}")])).ToList();
        release();
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

    /// <summary>Waits (bounded) until every committed row has its entry in the index by entity.</summary>
    private static async Task AllIndexed(SqliteEventStore store)
    {
        var deadline = DateTime.UtcNow + SqliteEventStore.IndexEvery * 10;
        while (store.PendingIndexEntries > 0 && DateTime.UtcNow < deadline) await Task.Delay(20);
        Assert.Equal(0, store.PendingIndexEntries);
    }

    [Fact]
    public async Task Events_are_read_the_same_before_and_after_their_index_entries_are_written()
    {
        await _store.AppendAsync([.. Enumerable.Range(1, 30).Select(i => Row("g", i, $"g{i}")), Row("h", 1)]);
        Assert.True(_store.PendingIndexEntries > 0, "just committed, the rows wait for their index entries");
        var before = _store.ReadEvents("g", 5, 25, 10).Select(r => Text(r)).ToList();
        await AllIndexed(_store);
        Assert.Equal(before, _store.ReadEvents("g", 5, 25, 10).Select(r => Text(r)).ToList());
        Assert.Equal(Enumerable.Range(5, 10).Select(i => $"g{i}"), before);

        // indexed and pending rows of one entity together, in order, within the bounds
        await _store.AppendAsync([Row("g", 31, "g31"), Row("g", 32, "g32")]);
        Assert.Equal(["g29", "g30", "g31"], _store.ReadEvents("g", 29, 40, 3).Select(r => Text(r)));
        Assert.Equal(32, _store.HighestSequenceNr("g"));

        // an indexed event cannot be written again; deleting reaches indexed and pending rows alike
        await Assert.ThrowsAnyAsync<Exception>(() => _store.AppendAsync([Row("g", 7, "again")]));
        await _store.DeleteEventsAsync("g", 31);
        Assert.Equal(["g32"], _store.ReadEvents("g", 1, long.MaxValue, long.MaxValue).Select(r => Text(r)));
        using (var connection = _store.OpenConnection())
        using (var count = connection.CreateCommand())
        {
            count.CommandText = "SELECT count(*) FROM events WHERE persistence_id = 'g'"; // gone from the file, not only unlisted
            Assert.Equal(1L, count.ExecuteScalar());
        }
        Assert.Equal(32, _store.HighestSequenceNr("g"));
        Assert.Single(_store.ReadEvents("h", 1, 1, 1));
    }

    [Fact]
    public async Task Rows_committed_but_not_yet_indexed_when_the_node_dies_are_found_after_it_starts_again()
    {
        await _store.AppendAsync([.. Enumerable.Range(1, 300).Select(i => Row($"c{i % 7}", i / 7 + 1))]);
        await AllIndexed(_store);
        await _store.AppendAsync([.. Enumerable.Range(301, 199).Select(i => Row($"c{i % 7}", i / 7 + 1))]);
        // the files as a power cut would leave them: copied on the writer's thread between two commits, while the
        // newest rows' index entries exist only in memory
        var copy = TestNode.NewDataDirectory();
        Directory.CreateDirectory(copy);
        var pendingThen = 0;
        await _store.ExecuteAsync(_ =>
        {
            pendingThen = _store.PendingIndexEntries;
            foreach (var file in new[] { "chat.db", "chat.db-wal" })
                File.Copy(Path.Combine(_data, file), Path.Combine(copy, file));
        });
        Assert.True(pendingThen > 0, "the copy was taken with rows waiting for their index entries");
        var restarted = SqliteEventStore.Acquire(SqliteStore.ConnectionString(copy), "NORMAL");
        try
        {
            for (var e = 0; e < 7; e++)
            {
                var expected = Enumerable.Range(1, 499).Where(i => i % 7 == e).Select(i => (long)(i / 7 + 1)).ToList();
                Assert.Equal(expected, restarted.ReadEvents($"c{e}", 1, long.MaxValue, long.MaxValue).Select(r => r.SequenceNr));
                Assert.Equal(expected[^1], restarted.HighestSequenceNr($"c{e}"));
            }
            Assert.Equal(0, restarted.PendingIndexEntries);
        }
        finally
        {
            restarted.Release();
            TestNode.TryDelete(copy);
        }
    }

    [Fact]
    public async Task Rows_a_previous_version_wrote_and_deleted_in_the_file_are_replayed_as_it_left_them()
    {
        await _store.AppendAsync([Row("r", 1, "one"), Row("r", 2, "two"), Row("r", 3, "three")]);
        _store.Release();
        // what the previous version does with the file: builds its index by entity again, deletes, appends (SQLite numbers
        // the new row after the highest left: 1, a number this version's index had for another event)
        using (var old = new Microsoft.Data.Sqlite.SqliteConnection(SqliteStore.ConnectionString(_data)))
        {
            old.Open();
            using var command = old.CreateCommand();
            command.CommandText = """
                CREATE UNIQUE INDEX IF NOT EXISTS events_by_entity ON events (persistence_id, sequence_nr);
                DELETE FROM events WHERE persistence_id = 'r' AND sequence_nr <= 3;
                INSERT INTO events (persistence_id, sequence_nr, manifest, serializer_id, payload, created)
                    VALUES ('r', 4, 'm', 4201, CAST('four' AS BLOB), 1004);
                """;
            command.ExecuteNonQuery();
        }
        var reopened = SqliteEventStore.Acquire(SqliteStore.ConnectionString(_data), "NORMAL");
        try
        {
            Assert.Equal([(4L, "four")], reopened.ReadEvents("r", 1, long.MaxValue, long.MaxValue).Select(r => (r.SequenceNr, Text(r))));
            await Assert.ThrowsAnyAsync<Exception>(() => reopened.AppendAsync([Row("r", 4, "again")]));
            await reopened.AppendAsync([Row("r", 5, "five")]);
            Assert.Equal(5, reopened.HighestSequenceNr("r"));
        }
        finally
        {
            reopened.Release();
            SqliteEventStore.Acquire(SqliteStore.ConnectionString(_data), "NORMAL"); // for Dispose's Release
        }
    }

    /// <summary>Holds the writer inside a transaction until the returned action runs: what is queued meanwhile shares its next commit.</summary>
    private (Task Held, Action Release) HoldWriter()
    {
        var inCommit = new ManualResetEventSlim();
        var release = new ManualResetEventSlim();
        var held = _store.ExecuteAsync(_ =>
        {
            inCommit.Set();
            release.Wait(TimeSpan.FromSeconds(30));
        });
        Assert.True(inCommit.Wait(TimeSpan.FromSeconds(10)), "the writer never started the holding commit");
        return (held, release.Set);
    }

    [Fact]
    public async Task Events_deleted_in_the_commit_that_stored_them_stay_deleted_across_a_restart()
    {
        var (held, release) = HoldWriter();
        var writes = new[]
        {
            _store.AppendAsync([Row("e", 1), Row("e", 2), Row("e", 3)]),
            _store.DeleteEventsAsync("e", long.MaxValue),
            _store.AppendAsync([Row("f", 1, "one"), Row("f", 2, "two")]),
            _store.DeleteEventsAsync("f", 1),
        };
        release();
        await held;
        await Task.WhenAll(writes);
        void Check(SqliteEventStore store)
        {
            Assert.Empty(store.ReadEvents("e", 1, long.MaxValue, long.MaxValue));
            Assert.Equal(3, store.HighestSequenceNr("e"));
            Assert.Equal([(2L, "two")], store.ReadEvents("f", 1, long.MaxValue, long.MaxValue).Select(r => (r.SequenceNr, Text(r))));
            Assert.Equal(2, store.HighestSequenceNr("f"));
        }
        Check(_store);
        await AllIndexed(_store);
        Check(_store);
        _store.Release();
        var reopened = SqliteEventStore.Acquire(SqliteStore.ConnectionString(_data), "NORMAL");
        try
        {
            Check(reopened);
        }
        finally
        {
            reopened.Release();
            SqliteEventStore.Acquire(SqliteStore.ConnectionString(_data), "NORMAL"); // for Dispose's Release
        }
    }

    [Fact]
    public async Task A_stored_sequence_number_is_refused_even_when_the_writer_forgets_entities_in_the_middle_of_a_commit()
    {
        _store.HighestKept = 2; // the writer's memory of entities' highest numbers fills after two
        var (held, release) = HoldWriter();
        var writes = new[]
        {
            _store.AppendAsync([Row("dup", 7, "first incarnation")]),
            _store.AppendAsync([Row("o1", 1)]),
            _store.AppendAsync([Row("o2", 1)]),
            _store.AppendAsync([Row("dup", 6, "second incarnation")]),
        };
        release();
        await held;
        await Task.WhenAll(writes);
        await Assert.ThrowsAnyAsync<Exception>(() => _store.AppendAsync([Row("dup", 7, "second incarnation")]));
        Assert.Equal([(6L, "second incarnation"), (7L, "first incarnation")],
            _store.ReadEvents("dup", 1, long.MaxValue, long.MaxValue).Select(r => (r.SequenceNr, Text(r))));
    }

    [Fact]
    public async Task A_read_that_a_delete_overtakes_between_the_index_and_the_newest_rows_leaves_no_gap()
    {
        await _store.AppendAsync([.. Enumerable.Range(1, 4).Select(i => Row("g", i))]);
        await AllIndexed(_store);
        await _store.AppendAsync([.. Enumerable.Range(5, 4).Select(i => Row("g", i))]); // 5-8: not indexed yet
        Assert.True(_store.PendingIndexEntries > 0);
        _store.BetweenReads = () =>
        {
            _store.BetweenReads = null;
            _store.DeleteEventsAsync("g", 6).Wait(TimeSpan.FromSeconds(10));
        };
        var read = _store.ReadEvents("g", 1, long.MaxValue, long.MaxValue).Select(r => r.SequenceNr).ToList();
        // as before the delete or as after it, never part of each
        Assert.True(read.SequenceEqual([1L, 2, 3, 4, 5, 6, 7, 8]) || read.SequenceEqual([7L, 8]), $"read {string.Join(", ", read)}");
        Assert.Equal([7L, 8L], _store.ReadEvents("g", 1, long.MaxValue, long.MaxValue).Select(r => r.SequenceNr));
    }

    [Fact]
    public async Task Retention_finds_the_entities_of_a_file_an_older_version_wrote_and_this_store_has_not_opened()
    {
        var old = TestNode.NewDataDirectory();
        Directory.CreateDirectory(old);
        try
        {
            // a file of the first version (as `chat.persistence = sqlite-sql` leaves it): events, no index by entity yet
            using (var connection = new Microsoft.Data.Sqlite.SqliteConnection(SqliteStore.ConnectionString(old)))
            {
                connection.Open();
                using var command = connection.CreateCommand();
                command.CommandText = """
                    CREATE TABLE events (ordering INTEGER PRIMARY KEY, persistence_id TEXT NOT NULL, sequence_nr INTEGER NOT NULL,
                        manifest TEXT NOT NULL, serializer_id INTEGER NOT NULL, payload BLOB NOT NULL, created INTEGER NOT NULL);
                    INSERT INTO events (persistence_id, sequence_nr, manifest, serializer_id, payload, created)
                        VALUES ('a', 1, 'm', 4201, x'00', 1), ('b', 1, 'm', 4201, x'00', 1), ('a', 2, 'm', 4201, x'00', 2);
                    """;
                command.ExecuteNonQuery();
            }
            var ids = await new SqliteStore.Maintenance(old).PersistenceIdsAsync();
            Assert.Equal(["a", "b"], ids.Order());
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            TestNode.TryDelete(old);
        }
    }

    private static string? Text(StoredRow? row) => row is { } r ? System.Text.Encoding.UTF8.GetString(r.Payload) : null;
}
