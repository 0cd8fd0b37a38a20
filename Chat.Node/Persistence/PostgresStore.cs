using Akka.Configuration;
using Akka.Persistence.Sql.Config;
using LinqToDB;
using Npgsql;

namespace Chat.Node.Persistence;

/// <summary>
/// PostgreSQL through Akka.Persistence.Sql (chat.persistence = postgres): the connection string, the linq2db options
/// for the journal and snapshot store, and the housekeeping retention needs. Nothing here touches the data directory:
/// several nodes share the database.
/// </summary>
public static class PostgresStore
{
    public const string EnvironmentVariable = "CHAT_POSTGRES";

    /// <summary>
    /// CHAT_POSTGRES, else chat.postgres.connection-string. A node that selected PostgreSQL and has neither cannot store
    /// anything, so it refuses to start (an <see cref="ArgumentException"/>, which the program prints as "cannot start").
    /// </summary>
    public static string ConnectionString(Config config)
    {
        var fromEnvironment = Environment.GetEnvironmentVariable(EnvironmentVariable);
        var value = string.IsNullOrWhiteSpace(fromEnvironment) ? new Required(config, "chat.postgres").String("connection-string") : fromEnvironment;
        if (string.IsNullOrWhiteSpace(value))
            throw new ArgumentException(
                $"chat.persistence = postgres needs a PostgreSQL connection string: set chat.postgres.connection-string or the {EnvironmentVariable} environment variable " +
                "(e.g. \"Host=127.0.0.1;Port=5432;Database=chat;Username=chat;Password=...\")");
        try
        {
            _ = new NpgsqlConnectionStringBuilder(value);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"the PostgreSQL connection string (chat.postgres.connection-string or {EnvironmentVariable}) is not valid: {e.Message}", e);
        }
        return value;
    }

    /// <summary>linq2db options for both persistence plugins.</summary>
    public static DataOptionsSetup Setup(string connectionString) =>
        new(new DataOptions().UseConnectionString(ProviderName.PostgreSQL15, connectionString));

    /// <summary>
    /// Journal housekeeping for retention on PostgreSQL: which entities have stored events or snapshots, and VACUUM of
    /// the two tables. A delete leaves the old row versions in the table as dead tuples (invisible to queries, still in
    /// the data files) until a vacuum removes them and makes their space reusable for new rows.
    /// </summary>
    public sealed class Maintenance(string connectionString) : IJournalMaintenance
    {
        // Akka.Persistence.Sql's default table mapping
        private static readonly string[] Tables = ["journal", "snapshot"];

        public async Task<IReadOnlyList<string>> PersistenceIdsAsync(CancellationToken ct = default)
        {
            await using var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync(ct).ConfigureAwait(false);
            var ids = new List<string>();
            foreach (var table in Tables)
            {
                // the tables appear with the first entity that writes; before that there is nothing to sweep
                await using var exists = new NpgsqlCommand("SELECT to_regclass(@t) IS NOT NULL", connection);
                exists.Parameters.AddWithValue("t", table);
                if (await exists.ExecuteScalarAsync(ct).ConfigureAwait(false) is not true) continue;
                // a skip scan over the index that leads with persistence_id (the journal's unique key, the snapshot's
                // primary key): one index probe per entity, where SELECT DISTINCT reads the whole table
                await using var command = new NpgsqlCommand(
                    $"""
                    WITH RECURSIVE ids(id) AS (
                        SELECT min(persistence_id) FROM {table}
                        UNION ALL
                        SELECT (SELECT min(persistence_id) FROM {table} WHERE persistence_id > ids.id) FROM ids WHERE ids.id IS NOT NULL)
                    SELECT id FROM ids WHERE id IS NOT NULL
                    """, connection);
                await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
                while (await reader.ReadAsync(ct).ConfigureAwait(false)) ids.Add(reader.GetString(0));
            }
            return ids.Distinct().ToList();
        }

        /// <summary>The database answers and is not a read-only standby.</summary>
        public async Task<bool> WritableAsync(CancellationToken ct = default)
        {
            await using var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync(ct).ConfigureAwait(false);
            await using var command = new NpgsqlCommand("SELECT NOT pg_is_in_recovery() AND current_setting('transaction_read_only') = 'off'", connection);
            return await command.ExecuteScalarAsync(ct).ConfigureAwait(false) is true;
        }

        public async Task<bool> ReclaimAsync(CancellationToken ct = default)
        {
            await using var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync(ct).ConfigureAwait(false);
            foreach (var table in Tables)
            {
                await using var exists = new NpgsqlCommand("SELECT to_regclass(@t) IS NOT NULL", connection);
                exists.Parameters.AddWithValue("t", table);
                if (await exists.ExecuteScalarAsync(ct).ConfigureAwait(false) is not true) continue;
                if (table == "journal")
                {
                    // the plugin keeps the newest deleted row of an entity (marked deleted) to remember its highest sequence
                    // number; a user entity deletes only up to the first event that holds a kept inbox entry, so that row
                    // can hold removed messages. Rows that are not the entity's newest are not needed for that: they go.
                    await using var purge = new NpgsqlCommand(
                        "DELETE FROM journal j WHERE j.deleted AND j.sequence_number < " +
                        "(SELECT max(k.sequence_number) FROM journal k WHERE k.persistence_id = j.persistence_id)", connection) { CommandTimeout = 0 };
                    await purge.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
                }
                // plain VACUUM takes no lock that blocks reads or writes, so the nodes keep serving; VACUUM cannot run
                // inside a transaction block, and Npgsql runs a lone command outside one; no timeout: a big table takes time
                await using var vacuum = new NpgsqlCommand($"VACUUM {table}", connection) { CommandTimeout = 0 };
                await vacuum.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            }
            return true;
        }
    }
}
