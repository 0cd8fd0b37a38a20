namespace Chat.Node.Persistence;

/// <summary>What retention needs from the database beyond Akka.Persistence: one implementation per backend.</summary>
public interface IJournalMaintenance
{
    /// <summary>Every persistence id with stored events or snapshots (entities that are not running included).</summary>
    Task<IReadOnlyList<string>> PersistenceIdsAsync(CancellationToken ct = default);

    /// <summary>Makes deleted rows unrecoverable from the database's files (SQLite: checkpoint and truncate the WAL). False when it could not finish.</summary>
    Task<bool> ReclaimAsync(CancellationToken ct = default);

    /// <summary>A cheap check that the journal takes writes now (for /health/ready); false or an exception when not.</summary>
    Task<bool> WritableAsync(CancellationToken ct = default);
}
