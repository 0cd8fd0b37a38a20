using Microsoft.Data.Sqlite;

namespace Chat.Node.Persistence;

/// <summary>
/// One stored event or snapshot, serialized. <see cref="Manifest"/> is the serializer's; <see cref="WriterId"/> (the
/// writing incarnation's id) and <see cref="EventManifest"/> (an event adapter's manifest) belong to events only, and
/// are empty when undefined. <see cref="Created"/> is in ticks (UTC).
/// </summary>
public readonly record struct StoredRow(string PersistenceId, long SequenceNr, string Manifest, int SerializerId, byte[] Payload, long Created,
    string WriterId = "", string EventManifest = "");

/// <summary>
/// The embedded event store: events and snapshots in one SQLite file, written by one thread that commits
/// everything queued since its last commit in one transaction (group commit), with prepared statements.
/// A write is acknowledged only after its transaction committed. Reads use their own pooled connections
/// (write-ahead logging lets them run beside the writer).
/// </summary>
/// <remarks>
/// Akka.Persistence.Sql on the same file spends most of a write building SQL text through linq2db; here a
/// write is a bound prepared statement, and every entity writing at the same moment shares one commit.
/// Events are appended in commit order (rowid) with a separate index by entity: a table clustered by
/// (entity, sequence) measured 10× slower to insert into, as every commit touched pages all over the tree. The index
/// is written a second at a time, off the commits that acknowledge writes (<see cref="PendingIndex"/>).
/// </remarks>
public sealed class SqliteEventStore : IDisposable
{
    private static readonly Dictionary<string, SqliteEventStore> Open = [];
    private int _users;

    /// <summary>
    /// The store for a database file (one writer per file in the process), shared by the journal and the snapshot
    /// store; each user calls <see cref="Release"/> when it stops, and the last one closes the file.
    /// </summary>
    public static SqliteEventStore Acquire(string connectionString, string synchronous, long walLimit = DefaultWalLimit)
    {
        lock (Open)
        {
            if (!Open.TryGetValue(connectionString, out var store))
                Open[connectionString] = store = new SqliteEventStore(connectionString, synchronous, walLimit);
            store._users++;
            return store;
        }
    }

    /// <summary>The open store for a database file, if any (the readiness check uses it).</summary>
    internal static SqliteEventStore? Find(string connectionString)
    {
        lock (Open) return Open.GetValueOrDefault(connectionString);
    }

    public void Release()
    {
        lock (Open)
        {
            if (--_users > 0) return;
            Open.Remove(_connectionString);
        }
        lock (_gate)
        {
            _closed = true;
            Monitor.Pulse(_gate);
        }
        _writer.Join(TimeSpan.FromSeconds(30));
        lock (_checkpointGate) Monitor.Pulse(_checkpointGate);
        _checkpointer.Join(TimeSpan.FromSeconds(30));
        while (_readers.TryDequeue(out var reader)) reader.Dispose();
    }

    /// <summary>Work for the writer; it is told its outcome through a task or, for appends, <see cref="Appending.Committed"/>.</summary>
    internal abstract class Work
    {
        private TaskCompletionSource? _done;

        private protected Work() { }

        /// <summary>The outcome as a task (created by the caller before the work is queued).</summary>
        public Task Task => (_done ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

        public virtual void Succeed() => _done?.TrySetResult();

        public virtual void Fail(Exception failure) => _done?.TrySetException(failure);
    }

    /// <summary>
    /// Rows to append (none is allowed), and who learns the outcome: <see cref="Committed"/>, on the writer's thread, once
    /// the transaction holding them ended (by default the task). The first row is held in the object itself and the
    /// others in an array of their own: a journal write is most often one event, and then costs this one object
    /// rather than it, a list and the list's array.
    /// </summary>
    internal class Appending : Work
    {
        private StoredRow _first;
        private StoredRow[]? _more;
        private int _count;

        public int Count => _count;

        public ref readonly StoredRow this[int index] => ref (index == 0 ? ref _first : ref _more![index - 1]);

        public void Add(in StoredRow row)
        {
            if (_count == 0) _first = row;
            else
            {
                if (_more is null || _count - 1 == _more.Length) Array.Resize(ref _more, Math.Max(4, 2 * (_more?.Length ?? 0)));
                _more[_count - 1] = row;
            }
            _count++;
        }

        /// <summary>Drops the rows from <paramref name="start"/> on (those of a write that could not be serialized).</summary>
        public void RemoveFrom(int start)
        {
            for (var i = start; i < _count; i++)
                if (i == 0) _first = default;
                else _more![i - 1] = default;
            _count = start;
        }

        public sealed override void Succeed() => Tell(null);

        public sealed override void Fail(Exception failure) => Tell(failure);

        private void Tell(Exception? failure)
        {
            try { Committed(failure); }
            catch (Exception) { /* the writer goes on; the one waiting learns nothing more than a crash would tell it */ }
        }

        /// <summary>Learns that the rows were committed (null) or were not (the cause); it must be quick and must not throw.</summary>
        protected virtual void Committed(Exception? failure)
        {
            if (failure is null) base.Succeed();
            else base.Fail(failure);
        }
    }

    private sealed class SaveSnapshot(StoredRow row) : Work { public StoredRow Row { get; } = row; }
    private sealed class Execute(Action<SqliteConnection> action) : Work { public Action<SqliteConnection> Action { get; } = action; }

    private readonly string _connectionString;
    private readonly string _pragmas;
    /// <summary>
    /// Work waiting for the writer, guarded by <see cref="_gate"/>. The writer sleeps on the monitor when there is none:
    /// a channel's blocking wait spun first, which on two cores took a tenth of the node's sampled CPU time.
    /// </summary>
    private readonly object _gate = new();
    private List<Work> _waiting = [];
    private bool _closed;
    private Exception? _failed;
    private readonly Thread _writer;

    /// <summary>
    /// Moves the write-ahead log into the database file on a thread of its own: a passive checkpoint (it never waits
    /// for, nor blocks, the writer or readers) whenever something was committed since the last one, at most every
    /// <see cref="CheckpointInterval"/>. SQLite's automatic checkpoint ran inside whichever commit crossed its
    /// threshold, writing and syncing the database file while every write queued behind that commit waited (up to
    /// 14 ms, several times a second at 1,000 messages/s).
    /// </summary>
    private readonly Thread _checkpointer;
    private readonly object _checkpointGate = new();
    private long _commits;
    private static readonly TimeSpan CheckpointInterval = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// The size of write-ahead log beyond which the writer, between two commits, has the log copied to its end and
    /// started again from its beginning. Under continuous writes a passive checkpoint never finds the log wholly copied,
    /// so the log was never restarted: it grew by the whole write rate (measured: 1.1-2.3 GB in 20 s at 6,000
    /// messages/s).
    /// </summary>
    private readonly long _walLimit;

    /// <summary>
    /// Frames (pages) the writer appended to the log since it last started it afresh: SQLite's count of pages written
    /// by the writer's connection, read after each commit. An over-estimate when SQLite restarted the log by itself
    /// (after a passive checkpoint that found it wholly copied): the writer's restart then has nothing to copy.
    /// </summary>
    private long _logFrames;

    private const int FrameHeaderBytes = 24;

    /// <summary>
    /// Set by the checkpointer when the passive checkpoint it just finished left the log over <see cref="_walLimit"/>:
    /// the writer restarts the log after its next commit, when little is left to copy (what was written during that
    /// checkpoint). Restarting 200 ms after the last passive checkpoint instead, it copied up to a quarter of a second
    /// of writes while every write waited: a stall of 30-58 ms every ~2.2 s at 6,000 messages/s.
    /// </summary>
    private volatile bool _restartNow;

    /// <summary>
    /// Held by the checkpointer during its passive checkpoint, and by the writer during its restarting one: SQLite
    /// starts the log afresh at the first commit after a restarting checkpoint only if no checkpoint runs at that
    /// moment, so from the restart until the writer's next commit (<see cref="_restartPending"/>) the checkpointer waits.
    /// </summary>
    private readonly object _checkpointLock = new();
    private volatile bool _restartPending;

    /// <summary>Rows committed but not yet in <c>entity_index</c>: see <see cref="PendingIndex"/>.</summary>
    private readonly PendingIndex _pending = new();

    /// <summary>
    /// How long rows wait before their index entries are written. An index by entity puts each entity's newest entry
    /// on a page of its own, so an index written with every commit added one page to the write-ahead log per event:
    /// at 6,000 messages/s the writer's commits took ~40 % of a core and the log grew by ~45 MB/s (bench/RESULTS.md,
    /// "An index by entity written a second at a time"). Written once a second, in key order, an entity's events of
    /// that second share their page write, and the commits that acknowledge writes only append.
    /// </summary>
    internal static readonly TimeSpan IndexEvery = TimeSpan.FromSeconds(1);

    /// <summary>Rows that start a generation's index write before <see cref="IndexEvery"/> (a bound on memory).</summary>
    internal const int IndexGenerationRows = 50_000;

    /// <summary>
    /// Index entries written per transaction (whole entities, in key order): short enough that a commit waiting behind
    /// one is not held up for long, long enough that a generation is written in a few dozen of them.
    /// </summary>
    internal const int IndexRunRows = 256;

    /// <summary>The rowid of the next row appended (the writer's; see <see cref="FirstOrdering"/>).</summary>
    private long _nextOrdering;

    /// <summary>The default of <c>chat.sqlite.wal-limit</c> for stores opened without it (tests).</summary>
    public const long DefaultWalLimit = 256L << 20;

    /// <summary>Rows written per transaction at most; a larger backlog is committed in several.</summary>
    public const int MaxRowsPerCommit = 4_000;

    private SqliteEventStore(string connectionString, string synchronous, long walLimit)
    {
        _connectionString = connectionString;
        if (walLimit <= 0) throw new ArgumentException($"chat.sqlite.wal-limit must be above 0, not {walLimit}");
        _walLimit = walLimit;
        var mode = synchronous.Trim().ToUpperInvariant();
        if (mode is not ("OFF" or "NORMAL" or "FULL" or "EXTRA"))
            throw new ArgumentException($"chat.sqlite.synchronous must be OFF, NORMAL, FULL or EXTRA, not '{synchronous}'");
        // secure_delete: deleted rows (retention) are overwritten with zeros, not left readable in free pages
        _pragmas = $"PRAGMA journal_mode=WAL; PRAGMA synchronous={mode}; PRAGMA secure_delete=ON;";
        using (var connection = OpenConnection(write: true))
        {
            // the tables as the first version created them (less its index by entity); Migrate adds the later columns and
            // tables, to new and old files alike
            Run(connection, """
                CREATE TABLE IF NOT EXISTS events (
                    ordering INTEGER PRIMARY KEY,
                    persistence_id TEXT NOT NULL,
                    sequence_nr INTEGER NOT NULL,
                    manifest TEXT NOT NULL,
                    serializer_id INTEGER NOT NULL,
                    payload BLOB NOT NULL,
                    created INTEGER NOT NULL);
                CREATE TABLE IF NOT EXISTS deleted_to (
                    persistence_id TEXT NOT NULL PRIMARY KEY,
                    sequence_nr INTEGER NOT NULL) WITHOUT ROWID;
                CREATE TABLE IF NOT EXISTS snapshots (
                    persistence_id TEXT NOT NULL,
                    sequence_nr INTEGER NOT NULL,
                    created INTEGER NOT NULL,
                    manifest TEXT NOT NULL,
                    serializer_id INTEGER NOT NULL,
                    payload BLOB NOT NULL,
                    PRIMARY KEY (persistence_id, sequence_nr));
                """);
            Migrate(connection);
            IndexLeftovers(connection);
            _nextOrdering = FirstOrdering(connection);
        }
        _writer = new Thread(WriteLoop) { IsBackground = true, Name = "sqlite-writer" };
        _writer.Start();
        _checkpointer = new Thread(CheckpointLoop) { IsBackground = true, Name = "sqlite-checkpointer" };
        _checkpointer.Start();
    }

    /// <summary>
    /// Brings a file written by an older version up to today's schema, in place, in one transaction. Each step adds
    /// what is missing and leaves existing rows as they are, so a file opens whichever version wrote it:
    /// <list type="bullet">
    /// <item><c>events.writer_id</c> and <c>events.event_manifest</c>: rows written before them hold NULL, read as
    /// "undefined" (<see cref="string.Empty"/>), which is what those rows were written with (the chat's events have no
    /// adapter manifest) or could not tell (the writer).</item>
    /// <item><c>entity_index</c> (with <c>index_state</c>) instead of the index <c>events_by_entity</c>: filled from the
    /// rows there are, in one pass (the only step whose time grows with the file); again, with every row, if a previous
    /// version opened the file since (it builds <c>events_by_entity</c> again).</item>
    /// </list>
    /// Adding a column with no default rewrites no row.
    /// </summary>
    private static void Migrate(SqliteConnection connection)
    {
        Run(connection, "BEGIN IMMEDIATE");
        try
        {
            var columns = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            using (var list = connection.CreateCommand())
            {
                list.CommandText = "SELECT name FROM pragma_table_info('events')";
                using var reader = list.ExecuteReader();
                while (reader.Read()) columns.Add(reader.GetString(0));
            }
            // no declared type: a writer id that is a GUID is stored as its 16 bytes, any other as text (TryWriterGuid)
            if (!columns.Contains("writer_id")) Run(connection, "ALTER TABLE events ADD COLUMN writer_id");
            if (!columns.Contains("event_manifest")) Run(connection, "ALTER TABLE events ADD COLUMN event_manifest TEXT");
            using (var exists = connection.CreateCommand())
            {
                exists.CommandText = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'entity_index'";
                if (Convert.ToInt64(exists.ExecuteScalar()) == 0)
                    Run(connection, """
                        CREATE TABLE entity_index (
                            persistence_id TEXT NOT NULL,
                            sequence_nr INTEGER NOT NULL,
                            ordering INTEGER NOT NULL,
                            PRIMARY KEY (persistence_id, sequence_nr)) WITHOUT ROWID;
                        INSERT INTO entity_index SELECT persistence_id, sequence_nr, ordering FROM events ORDER BY persistence_id, sequence_nr;
                        CREATE TABLE index_state (id INTEGER PRIMARY KEY CHECK (id = 0), indexed_below INTEGER NOT NULL);
                        INSERT INTO index_state VALUES (0, coalesce((SELECT max(ordering) FROM events), 0) + 1);
                        """);
                else if (HasIndexByEntity(connection))
                    // a previous version opened the file since (it builds that index again) and wrote and deleted rows
                    // without entity_index: it is brought up to date with every row
                    // without entity_index (and SQLite numbered its rows, reusing the numbers of deleted ones): entries
                    // whose row is gone or is another event's go, then every row is indexed
                    Run(connection, """
                        DELETE FROM entity_index WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.ordering = entity_index.ordering
                            AND e.persistence_id = entity_index.persistence_id AND e.sequence_nr = entity_index.sequence_nr);
                        INSERT OR IGNORE INTO entity_index SELECT persistence_id, sequence_nr, ordering FROM events ORDER BY persistence_id, sequence_nr;
                        """);
            }
            // the index by entity that every commit used to write (PendingIndex says why it went)
            Run(connection, "DROP INDEX IF EXISTS events_by_entity");
            Run(connection, "COMMIT");
        }
        catch
        {
            Run(connection, "ROLLBACK");
            throw;
        }
    }

    private static bool HasIndexByEntity(SqliteConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'events_by_entity'";
        return Convert.ToInt64(command.ExecuteScalar()) > 0;
    }

    /// <summary>
    /// Indexes the rows a node that stopped without closing the store (a crash, a kill) left unindexed: those from
    /// <c>index_state.indexed_below</c> on, at most a few seconds of writes. A closed store leaves none.
    /// </summary>
    private static void IndexLeftovers(SqliteConnection connection)
    {
        Run(connection, """
            BEGIN IMMEDIATE;
            INSERT OR IGNORE INTO entity_index
                SELECT persistence_id, sequence_nr, ordering FROM events WHERE ordering >= (SELECT indexed_below FROM index_state)
                ORDER BY persistence_id, sequence_nr;
            UPDATE index_state SET indexed_below = max(indexed_below, coalesce((SELECT max(ordering) FROM events), 0) + 1);
            COMMIT;
            """);
    }

    /// <summary>
    /// The rowid for the next row: above every row there is and every one there was. The writer numbers its rows
    /// itself: SQLite would reuse the numbers of the newest rows once they were deleted, and a row numbered below
    /// <c>index_state.indexed_below</c> that was not indexed when the node stopped would never be.
    /// </summary>
    private static long FirstOrdering(SqliteConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT max(coalesce((SELECT max(ordering) FROM events), 0) + 1, (SELECT indexed_below FROM index_state))";
        return Convert.ToInt64(command.ExecuteScalar());
    }

    /// <summary>A pooled connection; the writer's also gets the durability and secure-delete settings.</summary>
    public SqliteConnection OpenConnection(bool write = false)
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        if (write) Run(connection, _pragmas);
        return connection;
    }

    private static void Run(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    // ---------- writes (queued, group-committed) ----------

    public Task AppendAsync(List<StoredRow> rows)
    {
        var appending = new Appending();
        foreach (var row in rows) appending.Add(row);
        return AppendAsync(appending);
    }

    internal Task AppendAsync(Appending rows) => Enqueue(rows);

    /// <summary>
    /// Appends <paramref name="rows"/> (none is allowed: the outcome still comes in order with the others); the writer
    /// tells <see cref="Appending.Committed"/> on its own thread once the transaction holding them ended, with no task
    /// or thread-pool hop in between.
    /// </summary>
    internal void Append(Appending rows) => Queue(rows);

    public Task SaveSnapshotAsync(StoredRow row) => Enqueue(new SaveSnapshot(row));

    /// <summary>Transactions committed by the writer since the store was opened.</summary>
    internal long Commits => Interlocked.Read(ref _commits);

    /// <summary>Runs <paramref name="action"/> on the writer's connection, inside the writer's next transaction.</summary>
    internal Task ExecuteAsync(Action<SqliteConnection> action) => Enqueue(new Execute(action));

    /// <summary>Deletes events up to <paramref name="toSequenceNr"/>, remembering the highest deleted number.</summary>
    public Task DeleteEventsAsync(string persistenceId, long toSequenceNr) => Enqueue(new DeleteEvents(persistenceId, toSequenceNr));

    private sealed class DeleteEvents(string persistenceId, long toSequenceNr) : Work
    {
        public string PersistenceId { get; } = persistenceId;
        public long ToSequenceNr { get; } = toSequenceNr;
    }

    /// <summary>Deletes, inside the writer's transaction, an entity's indexed and pending rows up to a sequence number.</summary>
    private void Delete(WriterStatements statements, DeleteEvents d)
    {
        var pending = _pending.Find(d.PersistenceId, long.MinValue, d.ToSequenceNr);
        var highest = pending.Count > 0 ? pending[^1].SequenceNr : 0;
        // rows this transaction appended before the delete are in neither the index nor the pending entries yet
        for (var i = _txRows.Count - 1; i >= 0; i--)
        {
            var (id, entry) = _txRows[i];
            if (entry.SequenceNr > d.ToSequenceNr || !string.Equals(id, d.PersistenceId, StringComparison.Ordinal)) continue;
            statements.DeleteRow.Integer(1, entry.Ordering);
            statements.DeleteRow.Run();
            highest = Math.Max(highest, entry.SequenceNr);
            _txKeys.Remove((id, entry.SequenceNr));
            _txRows.RemoveAt(i);
        }
        statements.IndexedHighest.Text(1, d.PersistenceId);
        statements.IndexedHighest.Integer(2, d.ToSequenceNr);
        highest = Math.Max(highest, statements.IndexedHighest.Scalar());
        if (highest > 0)
        {
            statements.MarkDeleted.Text(1, d.PersistenceId);
            statements.MarkDeleted.Integer(2, highest);
            statements.MarkDeleted.Run();
        }
        statements.DeleteIndexed.Text(1, d.PersistenceId);
        statements.DeleteIndexed.Integer(2, d.ToSequenceNr);
        statements.DeleteIndexed.Run();
        statements.DeleteIndexEntries.Text(1, d.PersistenceId);
        statements.DeleteIndexEntries.Integer(2, d.ToSequenceNr);
        statements.DeleteIndexEntries.Run();
        foreach (var entry in pending)
        {
            statements.DeleteRow.Integer(1, entry.Ordering);
            statements.DeleteRow.Run();
        }
        if (pending.Count > 0) _txDeletes.Add((d.PersistenceId, d.ToSequenceNr));
    }

    public Task DeleteSnapshotsAsync(string persistenceId, long minSeq, long maxSeq, long minCreated, long maxCreated) => Enqueue(new Execute(c =>
    {
        using var command = c.CreateCommand();
        command.CommandText = """
            DELETE FROM snapshots WHERE persistence_id = $p AND sequence_nr BETWEEN $min AND $max AND created BETWEEN $minc AND $maxc
            """;
        command.Parameters.AddWithValue("$p", persistenceId);
        command.Parameters.AddWithValue("$min", minSeq);
        command.Parameters.AddWithValue("$max", maxSeq);
        command.Parameters.AddWithValue("$minc", minCreated);
        command.Parameters.AddWithValue("$maxc", maxCreated);
        command.ExecuteNonQuery();
    }));

    private Task Enqueue(Work work)
    {
        var outcome = work.Task;
        Queue(work);
        return outcome;
    }

    private void Queue(Work work)
    {
        lock (_gate)
        {
            if (!_closed && _failed is null)
            {
                _waiting.Add(work);
                if (_waiting.Count == 1) Monitor.Pulse(_gate);
                return;
            }
        }
        work.Fail(new InvalidOperationException("the SQLite event store is closed or its writer failed", _failed));
    }

    /// <summary>
    /// Blocks until there is work, or for at most <paramref name="waitMs"/> (then returns <paramref name="spare"/>, empty);
    /// swaps the waiting list for <paramref name="spare"/>. Null once closed and drained.
    /// </summary>
    private List<Work>? TakeWaiting(List<Work> spare, int waitMs)
    {
        lock (_gate)
        {
            while (_waiting.Count == 0)
            {
                if (_closed) return null;
                if (!Monitor.Wait(_gate, waitMs)) return spare;
            }
            var taken = _waiting;
            _waiting = spare;
            return taken;
        }
    }

    private void WriteLoop()
    {
        try
        {
            WriteAll();
        }
        catch (Exception e)
        {
            // the writer cannot go on (the file cannot be opened, the disk is gone): every write waiting or still
            // to come fails at once instead of hanging, and the entities that asked for them stop and recover later
            List<Work> left;
            lock (_gate)
            {
                _failed = e;
                left = _waiting;
                _waiting = [];
            }
            foreach (var work in left) work.Fail(e);
        }
    }

    /// <summary>
    /// The writer's prepared statements, run on the connection's native handle. Transactions are begun and ended with
    /// prepared statements too: the driver's own transaction object parsed "BEGIN" and "COMMIT" again for every commit
    /// (a tenth of the node's CPU time when every commit holds one message). Rows are bound straight from
    /// <see cref="StoredRow"/>: through the driver's parameters every row allocated a binder per value, a statement
    /// enumerator and the boxed numbers, about a fifth of all the node allocated per message at 1,000 messages/s
    /// (bench/RESULTS.md), and every byte allocated brings the next collection, with its pause, closer.
    /// </summary>
    private sealed class WriterStatements : IDisposable
    {
        public readonly RawStatement InsertEvent, SaveSnapshot, Begin, Commit, Rollback;
        public readonly RawStatement IsIndexed, IndexEntry, SetIndexedBelow, IndexedHighest, MarkDeleted, DeleteIndexed, DeleteIndexEntries, DeleteRow;

        public WriterStatements(SqliteConnection connection)
        {
            var db = connection.Handle!;
            InsertEvent = new RawStatement(db, """
                INSERT INTO events (persistence_id, sequence_nr, manifest, serializer_id, payload, created, writer_id, event_manifest, ordering)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                """);
            SaveSnapshot = new RawStatement(db,
                "INSERT OR REPLACE INTO snapshots (persistence_id, sequence_nr, manifest, serializer_id, payload, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
            Begin = new RawStatement(db, "BEGIN");
            Commit = new RawStatement(db, "COMMIT");
            Rollback = new RawStatement(db, "ROLLBACK");
            IsIndexed = new RawStatement(db, "SELECT 1 FROM entity_index WHERE persistence_id = ?1 AND sequence_nr = ?2");
            IndexEntry = new RawStatement(db, "INSERT OR IGNORE INTO entity_index (persistence_id, sequence_nr, ordering) VALUES (?1, ?2, ?3)");
            SetIndexedBelow = new RawStatement(db, "UPDATE index_state SET indexed_below = ?1");
            IndexedHighest = new RawStatement(db, "SELECT coalesce(max(sequence_nr), 0) FROM entity_index WHERE persistence_id = ?1 AND sequence_nr <= ?2");
            MarkDeleted = new RawStatement(db, """
                INSERT INTO deleted_to (persistence_id, sequence_nr) VALUES (?1, ?2)
                ON CONFLICT (persistence_id) DO UPDATE SET sequence_nr = max(sequence_nr, excluded.sequence_nr)
                """);
            DeleteIndexed = new RawStatement(db, """
                DELETE FROM events WHERE ordering IN (SELECT ordering FROM entity_index WHERE persistence_id = ?1 AND sequence_nr <= ?2)
                """);
            DeleteIndexEntries = new RawStatement(db, "DELETE FROM entity_index WHERE persistence_id = ?1 AND sequence_nr <= ?2");
            DeleteRow = new RawStatement(db, "DELETE FROM events WHERE ordering = ?1");
        }

        public void Dispose()
        {
            foreach (var statement in new[] { InsertEvent, SaveSnapshot, Begin, Commit, Rollback, IsIndexed, IndexEntry, SetIndexedBelow,
                         IndexedHighest, MarkDeleted, DeleteIndexed, DeleteIndexEntries, DeleteRow })
                statement.Dispose();
        }
    }

    /// <summary>A statement prepared once on a native connection handle; values are bound by position (1-based).</summary>
    private sealed class RawStatement : IDisposable
    {
        private readonly SQLitePCL.sqlite3 _db;
        private readonly SQLitePCL.sqlite3_stmt _statement;

        public RawStatement(SQLitePCL.sqlite3 db, string sql)
        {
            _db = db;
            Check(SQLitePCL.raw.sqlite3_prepare_v2(db, sql, out _statement));
        }

        public void Text(int index, string value) => Check(value.Length == 0
            ? SQLitePCL.raw.sqlite3_bind_text(_statement, index, "") // an empty span would bind NULL
            : SQLitePCL.raw.sqlite3_bind_text16(_statement, index, value.AsSpan()));

        public void Integer(int index, long value) => Check(SQLitePCL.raw.sqlite3_bind_int64(_statement, index, value));

        public void Blob(int index, ReadOnlySpan<byte> value) => Check(value.Length == 0
            ? SQLitePCL.raw.sqlite3_bind_zeroblob(_statement, index, 0) // an empty span would bind NULL
            : SQLitePCL.raw.sqlite3_bind_blob(_statement, index, value));

        public void Null(int index) => Check(SQLitePCL.raw.sqlite3_bind_null(_statement, index));

        /// <summary>Runs a query; true when it gave a row. Resets it for the next run.</summary>
        public bool Exists()
        {
            var rc = SQLitePCL.raw.sqlite3_step(_statement);
            SQLitePCL.raw.sqlite3_reset(_statement);
            if (rc != SQLitePCL.raw.SQLITE_DONE && rc != SQLitePCL.raw.SQLITE_ROW) SqliteException.ThrowExceptionForRC(rc, _db);
            return rc == SQLitePCL.raw.SQLITE_ROW;
        }

        /// <summary>Runs a query of one number; 0 when it gave no row. Resets it for the next run.</summary>
        public long Scalar()
        {
            var rc = SQLitePCL.raw.sqlite3_step(_statement);
            var value = rc == SQLitePCL.raw.SQLITE_ROW ? SQLitePCL.raw.sqlite3_column_int64(_statement, 0) : 0;
            SQLitePCL.raw.sqlite3_reset(_statement);
            if (rc != SQLitePCL.raw.SQLITE_DONE && rc != SQLitePCL.raw.SQLITE_ROW) SqliteException.ThrowExceptionForRC(rc, _db);
            return value;
        }

        /// <summary>Runs the statement to its end and resets it for the next run; a failure throws <see cref="SqliteException"/>.</summary>
        public void Run()
        {
            var rc = SQLitePCL.raw.sqlite3_step(_statement);
            SQLitePCL.raw.sqlite3_reset(_statement);
            if (rc != SQLitePCL.raw.SQLITE_DONE && rc != SQLitePCL.raw.SQLITE_ROW) SqliteException.ThrowExceptionForRC(rc, _db);
        }

        private void Check(int rc)
        {
            if (rc != SQLitePCL.raw.SQLITE_OK) SqliteException.ThrowExceptionForRC(rc, _db);
        }

        public void Dispose() => _statement.Dispose();
    }

    private void CheckpointLoop()
    {
        try
        {
            using var connection = OpenConnection(write: true);
            var frameBytes = PageSize(connection) + FrameHeaderBytes;
            var done = Interlocked.Read(ref _commits);
            while (!Volatile.Read(ref _closed))
            {
                // near the limit, checkpoints follow each other without a pause, each copying what was written during
                // the one before: the restart that comes after one of them then has little left to copy
                var nearLimit = Volatile.Read(ref _logFrames) * frameBytes > _walLimit / 4 * 3;
                if (!nearLimit) lock (_checkpointGate) Monitor.Wait(_checkpointGate, CheckpointInterval);
                var now = Interlocked.Read(ref _commits);
                if (now == done || _restartNow)
                {
                    // nothing new to copy, or the writer's restart is due at its next commit
                    if (nearLimit) lock (_checkpointGate) Monitor.Wait(_checkpointGate, CheckpointInterval);
                    continue;
                }
                try
                {
                    lock (_checkpointLock)
                        if (!_restartPending)
                        {
                            Checkpoint(connection, "PASSIVE");
                            if (Volatile.Read(ref _logFrames) * frameBytes > _walLimit) _restartNow = true;
                        }
                    done = now;
                }
                catch (SqliteException)
                {
                    // tried again at the next interval; the log grows meanwhile, nothing is lost
                }
            }
        }
        catch (Exception)
        {
            // the database cannot be opened: the writer reports that to every write
        }
    }

    private static long PageSize(SqliteConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA page_size;";
        return Convert.ToInt64(command.ExecuteScalar());
    }

    /// <summary>Pages the connection wrote (to the log) since the last call: SQLite's SQLITE_DBSTATUS_CACHE_WRITE, read and reset.</summary>
    private static long PagesWritten(SqliteConnection connection)
    {
        const int cacheWrite = 9; // SQLITE_DBSTATUS_CACHE_WRITE
        var rc = SQLitePCL.raw.sqlite3_db_status(connection.Handle, cacheWrite, out var current, out _, 1);
        return rc == SQLitePCL.raw.SQLITE_OK ? current : 0;
    }

    /// <summary>Runs a checkpoint; Complete when it was not kept from finishing (by a reader or another checkpoint).</summary>
    private static (bool Complete, long LogFrames) Checkpoint(SqliteConnection connection, string mode)
    {
        using var command = connection.CreateCommand();
        command.CommandText = $"PRAGMA wal_checkpoint({mode});";
        using var reader = command.ExecuteReader();
        return reader.Read() ? (reader.GetInt64(0) == 0, reader.GetInt64(1)) : (false, 0);
    }

    private void WriteAll()
    {
        using var connection = OpenConnection(write: true);
        Run(connection, "PRAGMA wal_autocheckpoint=0;"); // checkpoints are the checkpointer's (above)
        // the restarting checkpoint (below) waits for a passive one under way, and for reads, rather than give up at once
        Run(connection, "PRAGMA busy_timeout=1000;");
        using var statements = new WriterStatements(connection);
        var spare = new List<Work>();
        var batch = new List<Work>();
        var restartAgainAt = 0L;
        var frameBytes = PageSize(connection) + FrameHeaderBytes;
        PagesWritten(connection); // counted from here
        // idle, the writer still writes a generation of index entries that is due, or being written
        int Idle() => _pending.Empty ? Timeout.Infinite : _pending.Flushing ? 0 : (int)IndexEvery.TotalMilliseconds;
        while (TakeWaiting(spare, Idle()) is { } taken)
        {
            var next = 0;
            while (next < taken.Count)
            {
                batch.Clear();
                var rows = 0;
                while (rows < MaxRowsPerCommit && next < taken.Count)
                {
                    var work = taken[next++];
                    batch.Add(work);
                    rows += work is Appending a ? a.Count : 1;
                }
                var started = System.Diagnostics.Stopwatch.GetTimestamp();
                CommitBatch(connection, statements, batch);
                Admin.ChatMetrics.JournalCommitted(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds, rows);
                Interlocked.Increment(ref _commits);
                Volatile.Write(ref _logFrames, _logFrames + PagesWritten(connection));
                _restartPending = false; // this commit started the log afresh, if a restarting checkpoint came before it
                // asked by the checkpointer, right after a passive checkpoint; or, should the checkpointer fall behind,
                // at twice the limit
                if ((_restartNow || _logFrames * frameBytes > 2 * _walLimit) && Environment.TickCount64 >= restartAgainAt)
                {
                    // Done here, between commits: from the checkpointer's own connection such a checkpoint waited for
                    // a moment without a commit, and the writer, never idle at a high rate, starved it (the log reached
                    // 117 MiB against a 1 MiB limit). Writes wait while the rest of the log is copied; the next commit
                    // then writes from the log's beginning. RESTART, not TRUNCATE: the file is reused in place, since
                    // truncating a log of 256 MiB stalled every write behind it for ~100 ms (bench/RESULTS.md). While
                    // a passive checkpoint runs the writer does not wait for it: it tries again after its next commit.
                    // A long read under way can keep the restart from finishing: then it is tried again 100 ms later.
                    if (Monitor.TryEnter(_checkpointLock))
                    {
                        try
                        {
                            if (Checkpoint(connection, "RESTART").Complete)
                            {
                                Volatile.Write(ref _logFrames, 0);
                                _restartNow = false;
                                _restartPending = true;
                            }
                            else restartAgainAt = Environment.TickCount64 + 100;
                        }
                        catch (SqliteException)
                        {
                            restartAgainAt = Environment.TickCount64 + 100;
                        }
                        finally
                        {
                            Monitor.Exit(_checkpointLock);
                        }
                    }
                }
            }
            taken.Clear();
            spare = taken;
            try
            {
                IndexRun(statements, all: false);
            }
            catch (SqliteException)
            {
                // the entries stay pending (readers find them there) and are written at the next turn
            }
        }
        while (IndexRun(statements, all: true)) { } // closing: the next start finds every row indexed
    }

    private void CommitBatch(SqliteConnection connection, WriterStatements statements, List<Work> batch)
    {
        try
        {
            Commit(connection, statements, batch);
            foreach (var work in batch) work.Succeed();
        }
        catch (Exception)
        {
            // one bad write (e.g. a sequence number already taken) must not fail the others: each on its own
            foreach (var work in batch)
            {
                try
                {
                    Commit(connection, statements, [work]);
                    work.Succeed();
                }
                catch (Exception e)
                {
                    work.Fail(e);
                }
            }
        }
    }

    /// <summary>The transaction's appended rows, their keys, and the entities whose pending rows it deleted (the writer's).</summary>
    private readonly List<(string PersistenceId, PendingIndex.Entry Entry)> _txRows = [];
    private readonly HashSet<(string, long)> _txKeys = [];
    private readonly List<(string PersistenceId, long To)> _txDeletes = [];

    private void Commit(SqliteConnection connection, WriterStatements statements, List<Work> batch)
    {
        _txRows.Clear();
        _txKeys.Clear();
        _txDeletes.Clear();
        // forgotten between transactions only: a lookup in the middle of one cannot see the rows it has appended
        if (_highest.Count >= HighestKept) _highest.Clear();
        statements.Begin.Run();
        try
        {
            foreach (var work in batch)
            {
                switch (work)
                {
                    case Appending a:
                        for (var i = 0; i < a.Count; i++) Append(statements, a[i]);
                        break;
                    case SaveSnapshot s:
                        Bind(statements.SaveSnapshot, s.Row, events: false);
                        break;
                    case DeleteEvents d:
                        Delete(statements, d);
                        break;
                    case Execute x:
                        x.Action(connection);
                        break;
                }
            }
            statements.Commit.Run();
        }
        catch
        {
            try { statements.Rollback.Run(); }
            catch (SqliteException) { /* SQLite already rolled it back; the first error is the one to report */ }
            throw;
        }
        foreach (var (id, to) in _txDeletes) _pending.Remove(id, to);
        _pending.Add(_txRows);
    }

    /// <summary>
    /// Appends an event row, refusing a sequence number the entity already has (as a unique index would: a second
    /// incarnation of an entity writing over the first must fail, not be stored beside it).
    /// </summary>
    private void Append(WriterStatements statements, in StoredRow row)
    {
        if (!_txKeys.Add((row.PersistenceId, row.SequenceNr)) || Taken(statements, row.PersistenceId, row.SequenceNr))
            throw new InvalidOperationException($"event {row.SequenceNr} of {row.PersistenceId} is already stored");
        var ordering = _nextOrdering;
        statements.InsertEvent.Integer(9, ordering);
        Bind(statements.InsertEvent, row, events: true);
        _nextOrdering = ordering + 1;
        _txRows.Add((row.PersistenceId, new PendingIndex.Entry(row.SequenceNr, ordering)));
    }

    /// <summary>
    /// The highest sequence number each entity written to lately has stored (indexed or pending): an event above it
    /// cannot be taken, so only an event at or below it is looked up. Forgotten at the start of a transaction once it
    /// holds <see cref="HighestKept"/> entities (they are then looked up once more).
    /// </summary>
    private readonly Dictionary<string, long> _highest = new(StringComparer.Ordinal);
    internal int HighestKept { get; set; } = 100_000;

    private bool Taken(WriterStatements statements, string persistenceId, long sequenceNr)
    {
        if (!_highest.TryGetValue(persistenceId, out var highest))
        {
            statements.IndexedHighest.Text(1, persistenceId);
            statements.IndexedHighest.Integer(2, long.MaxValue);
            highest = Math.Max(statements.IndexedHighest.Scalar(), _pending.HighestSequenceNr(persistenceId));
        }
        if (sequenceNr > highest)
        {
            _highest[persistenceId] = sequenceNr; // (a transaction that fails leaves it high: then the next looks it up)
            return false;
        }
        if (_pending.Contains(persistenceId, sequenceNr)) return true;
        statements.IsIndexed.Text(1, persistenceId);
        statements.IsIndexed.Integer(2, sequenceNr);
        return statements.IsIndexed.Exists();
    }

    /// <summary>
    /// Writes the next run of pending index entries (starting a generation when one is due; all of them, when
    /// <paramref name="all"/>), in a transaction of its own; false when there was nothing to write.
    /// </summary>
    private bool IndexRun(WriterStatements statements, bool all)
    {
        if (!_pending.Flushing && !_pending.StartFlush(IndexEvery, IndexGenerationRows, now: all)) return false;
        var run = _pending.NextRun(IndexRunRows, out var last);
        statements.Begin.Run();
        try
        {
            foreach (var (id, rows) in run)
                foreach (var entry in rows)
                {
                    statements.IndexEntry.Text(1, id);
                    statements.IndexEntry.Integer(2, entry.SequenceNr);
                    statements.IndexEntry.Integer(3, entry.Ordering);
                    statements.IndexEntry.Run();
                }
            if (last)
            {
                statements.SetIndexedBelow.Integer(1, _pending.IndexedBelow(_nextOrdering));
                statements.SetIndexedBelow.Run();
            }
            statements.Commit.Run();
        }
        catch
        {
            try { statements.Rollback.Run(); }
            catch (SqliteException) { /* already rolled back */ }
            throw;
        }
        _pending.Indexed(run);
        return true;
    }

    private static void Bind(RawStatement statement, in StoredRow row, bool events)
    {
        statement.Text(1, row.PersistenceId);
        statement.Integer(2, row.SequenceNr);
        statement.Text(3, row.Manifest);
        statement.Integer(4, row.SerializerId);
        statement.Blob(5, row.Payload);
        statement.Integer(6, row.Created);
        if (events)
        {
            // the writer id: its 16 bytes when it is a GUID, else its text
            Span<byte> guid = stackalloc byte[16];
            if (row.WriterId.Length == 0) statement.Null(7);
            else if (TryWriterGuid(row.WriterId, guid)) statement.Blob(7, guid);
            else statement.Text(7, row.WriterId);
            if (row.EventManifest.Length == 0) statement.Null(8);
            else statement.Text(8, row.EventManifest);
        }
        statement.Run();
    }

    /// <summary>
    /// Akka's writer ids are GUIDs in their usual text form: stored as their 16 bytes (a third of the text, on every
    /// row), any other text as it is, an undefined one as NULL. <see cref="DecodeWriterId"/> gives the same text back.
    /// </summary>
    private static bool TryWriterGuid(string writerId, Span<byte> bytes)
    {
        Span<char> text = stackalloc char[36];
        return Guid.TryParseExact(writerId, "D", out var guid) && guid.TryFormat(text, out var written, "D") && written == 36
               && text.SequenceEqual(writerId) && guid.TryWriteBytes(bytes);
    }

    /// <summary>Gives back the writer id <see cref="Bind"/> stored (see <see cref="TryWriterGuid"/>).</summary>
    internal static string DecodeWriterId(object value) => value switch
    {
        byte[] { Length: 16 } bytes => new Guid(bytes).ToString("D"),
        string text => text,
        _ => "",
    };

    // ---------- reads ----------

    /// <summary>
    /// A read connection with its three queries prepared once. Recovering an entity runs all three; preparing them
    /// per call was about a third of the cost of a read.
    /// </summary>
    private sealed class Reader : IDisposable
    {
        private readonly SqliteConnection _connection;
        public readonly SqliteCommand Events, Highest, Snapshot, Row, Begin, End;

        public readonly SqliteEventStore Store;

        public Reader(SqliteEventStore store)
        {
            Store = store;
            _connection = store.OpenConnection();
            Events = Prepare("""
                SELECT e.sequence_nr, e.manifest, e.serializer_id, e.payload, e.created, e.writer_id, e.event_manifest
                FROM entity_index i JOIN events e ON e.ordering = i.ordering
                WHERE i.persistence_id = $p AND i.sequence_nr BETWEEN $from AND $to ORDER BY i.sequence_nr LIMIT $max
                """, ("$p", SqliteType.Text), ("$from", SqliteType.Integer), ("$to", SqliteType.Integer), ("$max", SqliteType.Integer));
            Begin = Prepare("BEGIN");
            End = Prepare("COMMIT");
            Row = Prepare("""
                SELECT sequence_nr, manifest, serializer_id, payload, created, writer_id, event_manifest FROM events WHERE ordering = $o
                """, ("$o", SqliteType.Integer));
            Highest = Prepare("""
                SELECT max(coalesce((SELECT max(sequence_nr) FROM entity_index WHERE persistence_id = $p), 0),
                           coalesce((SELECT sequence_nr FROM deleted_to WHERE persistence_id = $p), 0))
                """, ("$p", SqliteType.Text));
            Snapshot = Prepare("""
                SELECT sequence_nr, manifest, serializer_id, payload, created FROM snapshots
                WHERE persistence_id = $p AND sequence_nr BETWEEN $min AND $max AND created BETWEEN $minc AND $maxc
                ORDER BY sequence_nr DESC LIMIT 1
                """, ("$p", SqliteType.Text), ("$min", SqliteType.Integer), ("$max", SqliteType.Integer),
                ("$minc", SqliteType.Integer), ("$maxc", SqliteType.Integer));
        }

        private SqliteCommand Prepare(string sql, params (string Name, SqliteType Type)[] parameters)
        {
            var command = _connection.CreateCommand();
            command.CommandText = sql;
            foreach (var (name, type) in parameters) command.Parameters.Add(name, type);
            command.Prepare();
            return command;
        }

        public static SqliteCommand Bind(SqliteCommand command, params object[] values)
        {
            for (var i = 0; i < values.Length; i++) command.Parameters[i].Value = values[i];
            return command;
        }

        public void Dispose()
        {
            Events.Dispose();
            Highest.Dispose();
            Snapshot.Dispose();
            Row.Dispose();
            Begin.Dispose();
            End.Dispose();
            _connection.Dispose();
        }
    }

    private readonly System.Collections.Concurrent.ConcurrentQueue<Reader> _readers = new();

    /// <summary>Runs a read on a pooled <see cref="Reader"/>; a reader whose query failed is closed, not reused.</summary>
    private T WithReader<T>(Func<Reader, T> read)
    {
        if (!_readers.TryDequeue(out var reader)) reader = new Reader(this);
        T result;
        try
        {
            result = read(reader);
        }
        catch
        {
            reader.Dispose();
            throw;
        }
        // a bag's Count takes every per-thread lock; a queue's does not. A reader coming back after the store closed is dropped.
        if (!Volatile.Read(ref _closed) && _readers.Count < MaxIdleReaders) _readers.Enqueue(reader);
        else reader.Dispose();
        return result;
    }

    /// <summary>Read connections kept open between reads.</summary>
    private const int MaxIdleReaders = 16;

    private static StoredRow ReadRow(string persistenceId, SqliteDataReader reader) =>
        new(persistenceId, reader.GetInt64(0), reader.GetString(1), reader.GetInt32(2), (byte[])reader.GetValue(3), reader.GetInt64(4));

    /// <summary>
    /// Events of one entity in sequence order, within the bounds, at most <paramref name="max"/>: those in the index,
    /// then the pending ones (<see cref="PendingIndex"/>, looked at first: a row indexed meanwhile is then found twice
    /// and kept once, while looking second could miss one indexed between the two looks).
    /// </summary>
    public List<StoredRow> ReadEvents(string persistenceId, long from, long to, long max)
    {
        if (max <= 0 || to < from) return [];
        var pending = _pending.Find(persistenceId, from, to);
        return WithReader(r =>
        {
            var rows = new List<StoredRow>();
            if (pending.Count == 0)
            {
                using var reader = Reader.Bind(r.Events, persistenceId, from, to, max).ExecuteReader();
                while (reader.Read()) rows.Add(ReadEvent(persistenceId, reader));
                return rows;
            }
            // the index and the pending rows read in one transaction: a delete committed between two reads would
            // otherwise leave a gap (indexed rows from before it, pending rows from after it)
            r.Begin.ExecuteNonQuery();
            try
            {
                ReadPending(r, persistenceId, from, to, max, pending, rows);
            }
            finally
            {
                r.End.ExecuteNonQuery();
            }
            return rows;
        });
    }

    /// <summary>Tests: runs between a read's look in the index and its look at the pending rows.</summary>
    internal Action? BetweenReads;

    /// <summary>An entity's indexed rows within the bounds and its pending ones, merged in sequence order, at most <paramref name="max"/>.</summary>
    private static void ReadPending(Reader r, string persistenceId, long from, long to, long max, List<PendingIndex.Entry> pending, List<StoredRow> rows)
    {
        using (var reader = Reader.Bind(r.Events, persistenceId, from, to, max).ExecuteReader())
            while (reader.Read()) rows.Add(ReadEvent(persistenceId, reader));
        r.Store.BetweenReads?.Invoke();
        var last = rows.Count > 0 ? rows[^1].SequenceNr : long.MinValue;
        foreach (var entry in pending)
        {
            if (rows.Count >= max && entry.SequenceNr > last) break;
            if (entry.SequenceNr <= last && rows.Exists(x => x.SequenceNr == entry.SequenceNr)) continue;
            using var reader = Reader.Bind(r.Row, entry.Ordering).ExecuteReader();
            if (reader.Read()) rows.Add(ReadEvent(persistenceId, reader)); // (gone: deleted since the look)
        }
        rows.Sort((a, b) => a.SequenceNr.CompareTo(b.SequenceNr));
        if (rows.Count > max) rows.RemoveRange((int)max, rows.Count - (int)max);
    }

    private static StoredRow ReadEvent(string persistenceId, SqliteDataReader reader) => ReadRow(persistenceId, reader) with
    {
        WriterId = DecodeWriterId(reader.GetValue(5)),
        EventManifest = reader.IsDBNull(6) ? "" : reader.GetString(6),
    };

    /// <summary>The highest sequence number ever written for the entity (deleted events included).</summary>
    public long HighestSequenceNr(string persistenceId)
    {
        var pending = _pending.HighestSequenceNr(persistenceId);
        return Math.Max(pending, WithReader(r => Convert.ToInt64(Reader.Bind(r.Highest, persistenceId).ExecuteScalar())));
    }

    /// <summary>Rows committed whose index entries are not written yet (diagnostics and tests).</summary>
    internal int PendingIndexEntries => _pending.Count;

    /// <summary>The newest snapshot within the bounds, or null.</summary>
    public StoredRow? LoadSnapshot(string persistenceId, long minSeq, long maxSeq, long minCreated, long maxCreated) =>
        WithReader(r =>
        {
            using var reader = Reader.Bind(r.Snapshot, persistenceId, minSeq, maxSeq, minCreated, maxCreated).ExecuteReader();
            return reader.Read() ? ReadRow(persistenceId, reader) : (StoredRow?)null;
        });

    public void Dispose() => Release();
}
