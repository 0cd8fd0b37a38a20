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
    /// Runs once per opened connection: sets the synchronous mode, and on the asynchronous path yields once.
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
            _pragma = $"PRAGMA synchronous={mode};";
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
}
