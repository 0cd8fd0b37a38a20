using Akka.Actor.Setup;
using Akka.Configuration;

namespace Chat.Node.Persistence;

/// <summary>
/// The persistence wiring chosen by chat.persistence: the configuration the plugins read (with the connection string
/// filled in), the linq2db options, and the retention housekeeping for that database.
/// </summary>
public sealed record PersistenceBackend(Config Config, Setup Setup, IJournalMaintenance Maintenance)
{
    public static PersistenceBackend From(Config config, ChatSettings settings)
    {
        var persistence = new Required(config, "chat").String("persistence");
        return persistence == "postgres" ? Postgres(config) : Sqlite(config, settings);
    }

    // shared by every node: nothing in the data directory is created or read for it
    private static PersistenceBackend Postgres(Config config)
    {
        var connectionString = PostgresStore.ConnectionString(config);
        var quoted = Quote(connectionString);
        config = ConfigurationFactory.ParseString($"""
            akka.persistence.journal.sql.connection-string = {quoted}
            akka.persistence.snapshot-store.sql.connection-string = {quoted}
            """).WithFallback(config);
        return new PersistenceBackend(config, PostgresStore.Setup(connectionString), new PostgresStore.Maintenance(connectionString));
    }

    private static PersistenceBackend Sqlite(Config config, ChatSettings s)
    {
        var sqlite = new Required(config, "chat.sqlite");
        var synchronous = sqlite.String("synchronous");
        var walLimit = sqlite.Bytes("wal-limit");
        SqliteStore.Prepare(s.DataDirectory);
        var connectionString = Quote(SqliteStore.ConnectionString(s.DataDirectory));
        var synchronousValue = Quote(synchronous.Replace("\"", ""));
        config = ConfigurationFactory.ParseString($"""
            akka.persistence.journal.sql.connection-string = {connectionString}
            akka.persistence.snapshot-store.sql.connection-string = {connectionString}
            akka.persistence.journal.chat-sqlite.connection-string = {connectionString}
            akka.persistence.journal.chat-sqlite.synchronous = {synchronousValue}
            akka.persistence.journal.chat-sqlite.wal-limit = {walLimit}
            akka.persistence.snapshot-store.chat-sqlite.connection-string = {connectionString}
            akka.persistence.snapshot-store.chat-sqlite.synchronous = {synchronousValue}
            akka.persistence.snapshot-store.chat-sqlite.wal-limit = {walLimit}
            """).WithFallback(config);
        return new PersistenceBackend(config, SqliteStore.Setup(s.DataDirectory, synchronous), new SqliteStore.Maintenance(s.DataDirectory));
    }

    /// <summary>A HOCON quoted string (connection strings may hold quotes and backslashes).</summary>
    private static string Quote(string value) => "\"" + value.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
}
