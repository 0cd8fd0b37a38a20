using System.Data.Common;
using Akka.Persistence.Sql.Config;
using LinqToDB;
using LinqToDB.Interceptors;
using Microsoft.Data.Sqlite;

namespace Chat.Node.Persistence;

/// <summary>
/// The embedded SQLite database: file location, one-time pragmas, and the linq2db options that the
/// journal and snapshot store use.
/// </summary>
public static class SqliteStore
{
    public static string DatabasePath(string dataDirectory) => Path.Combine(Path.GetFullPath(dataDirectory), "chat.db");

    public static string ConnectionString(string dataDirectory) =>
        new SqliteConnectionStringBuilder
        {
            DataSource = DatabasePath(dataDirectory),
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();

    /// <summary>Creates the directory and switches the file to write-ahead logging (a property of the file).</summary>
    public static void Prepare(string dataDirectory)
    {
        System.IO.Directory.CreateDirectory(Path.GetFullPath(dataDirectory));
        using var connection = new SqliteConnection(ConnectionString(dataDirectory));
        connection.Open();
        // SQLite opens a file it may not write read-only, silently: every write would then fail
        if (SQLitePCL.raw.sqlite3_db_readonly(connection.Handle, "main") == 1)
            throw new Hosting.StartupException($"the database in {Path.GetFullPath(dataDirectory)} can only be read; give the node a data directory it can write");
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode=WAL;";
        command.ExecuteNonQuery();
    }

    /// <summary>linq2db options for both persistence plugins, with <see cref="ConnectionTuning"/>.</summary>
    public static DataOptionsSetup Setup(string dataDirectory, string synchronous) =>
        new(new DataOptions()
            .UseConnectionString(ProviderName.SQLiteMS, ConnectionString(dataDirectory))
            .UseInterceptor(new ConnectionTuning(synchronous)));

    /// <summary>
    /// Runs once per opened connection: sets the synchronous mode and secure delete, and on the asynchronous path yields once.
    /// Microsoft.Data.Sqlite completes "async" calls synchronously, so without the yield the journal's
    /// write queue never holds more than one request and every event becomes its own transaction;
    /// with it, concurrent writes gather into batches.
    /// </summary>
    private sealed class ConnectionTuning : ConnectionInterceptor
    {
        private readonly string _pragma;

        public ConnectionTuning(string synchronous)
        {
            var mode = synchronous.Trim().ToUpperInvariant();
            if (mode is not ("OFF" or "NORMAL" or "FULL" or "EXTRA"))
                throw new ArgumentException($"chat.sqlite.synchronous must be OFF, NORMAL, FULL or EXTRA, not '{synchronous}'");
            // secure_delete: deleted rows (retention) are overwritten with zeros, not left readable in free pages
            _pragma = $"PRAGMA synchronous={mode}; PRAGMA secure_delete=ON;";
        }

        public override void ConnectionOpened(ConnectionEventData eventData, DbConnection connection) => Apply(connection);

        public override async Task ConnectionOpenedAsync(ConnectionEventData eventData, DbConnection connection, CancellationToken cancellationToken)
        {
            Apply(connection);
            await Task.Yield();
        }

        private void Apply(DbConnection connection)
        {
            using var command = connection.CreateCommand();
            command.CommandText = _pragma;
            command.ExecuteNonQuery();
        }
    }

    /// <summary>
    /// Journal housekeeping for retention on the SQLite file: which entities have stored events or snapshots,
    /// and the checkpoint that moves the write-ahead log into the file and truncates it, so deleted rows survive
    /// neither in the log nor (with secure_delete) in free pages.
    /// </summary>
    public sealed class Maintenance(string dataDirectory) : IJournalMaintenance
    {
        public async Task<IReadOnlyList<string>> PersistenceIdsAsync(CancellationToken ct = default)
        {
            await using var connection = new SqliteConnection(ConnectionString(dataDirectory));
            await connection.OpenAsync(ct).ConfigureAwait(false);
            var ids = new List<string>();
            // events/snapshots: the default store; journal/snapshot: Akka.Persistence.Sql (chat.persistence = sqlite-sql)
            async Task<bool> Exists(string table)
            {
                await using var exists = connection.CreateCommand();
                exists.CommandText = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = $t";
                exists.Parameters.AddWithValue("$t", table);
                return Convert.ToInt64(await exists.ExecuteScalarAsync(ct).ConfigureAwait(false)) > 0;
            }
            foreach (var table in new[] { "events", "snapshots", "journal", "snapshot" })
            {
                if (!await Exists(table).ConfigureAwait(false)) continue;
                await using var command = connection.CreateCommand();
                // the default store's events: through its index by entity, and the rows not in it yet (the newest); a
                // file the default store has not opened since an older version wrote it has no such index yet
                command.CommandText = table == "events" && await Exists("entity_index").ConfigureAwait(false)
                    ? """
                      SELECT persistence_id FROM entity_index
                      UNION SELECT persistence_id FROM events WHERE ordering >= (SELECT indexed_below FROM index_state)
                      """
                    : $"SELECT DISTINCT persistence_id FROM {table}";
                await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
                while (await reader.ReadAsync(ct).ConfigureAwait(false)) ids.Add(reader.GetString(0));
            }
            return ids.Distinct().ToList();
        }

        /// <summary>
        /// The embedded store's writer commits an empty transaction (it is alive, and the file takes a write lock); with
        /// Akka.Persistence.Sql on the file (sqlite-sql), or before the store is opened, a write lock is taken and released.
        /// </summary>
        public async Task<bool> WritableAsync(CancellationToken ct = default)
        {
            if (SqliteEventStore.Find(ConnectionString(dataDirectory)) is { } store)
            {
                await store.ExecuteAsync(_ => { }).WaitAsync(ct).ConfigureAwait(false);
                return true;
            }
            await using var connection = new SqliteConnection(ConnectionString(dataDirectory));
            await connection.OpenAsync(ct).ConfigureAwait(false);
            await using var command = connection.CreateCommand();
            command.CommandText = "BEGIN IMMEDIATE; ROLLBACK;";
            await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            return true;
        }

        public async Task<bool> ReclaimAsync(CancellationToken ct = default)
        {
            await using var connection = new SqliteConnection(ConnectionString(dataDirectory));
            await connection.OpenAsync(ct).ConfigureAwait(false);
            // a checkpoint cannot truncate while another connection reads; retry briefly
            for (var attempt = 0; attempt < 50; attempt++)
            {
                await using var command = connection.CreateCommand();
                command.CommandText = "PRAGMA wal_checkpoint(TRUNCATE);";
                await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
                if (await reader.ReadAsync(ct).ConfigureAwait(false) && reader.GetInt64(0) == 0) return true;
                await Task.Delay(100, ct).ConfigureAwait(false);
            }
            return false;
        }
    }
}
