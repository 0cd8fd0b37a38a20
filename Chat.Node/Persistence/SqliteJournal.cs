using System.Collections.Immutable;
using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence;
using Akka.Persistence.Journal;
using Akka.Persistence.Snapshot;
using Akka.Serialization;

namespace Chat.Node.Persistence;

/// <summary>Serialization of persistent payloads to <see cref="StoredRow"/> and back, with Akka's serializers.</summary>
internal static class Payloads
{
    public static (string Manifest, int SerializerId, byte[] Bytes) Serialize(Akka.Serialization.Serialization serialization, object payload)
    {
        var serializer = serialization.FindSerializerFor(payload);
        var manifest = Akka.Serialization.Serialization.ManifestFor(serializer, payload);
        return (manifest, serializer.Identifier, serializer.ToBinary(payload));
    }

    public static object Deserialize(Akka.Serialization.Serialization serialization, in StoredRow row) =>
        serialization.Deserialize(row.Payload, row.SerializerId, row.Manifest);

    /// <summary>The store of the plugin's <c>connection-string</c>, with its <c>synchronous</c> setting; released in PostStop.</summary>
    public static SqliteEventStore Acquire(Config config) => SqliteEventStore.Acquire(
        config.GetString("connection-string") ?? throw new ArgumentException("the SQLite journal and snapshot store need connection-string"),
        config.GetString("synchronous", "NORMAL"));
}

/// <summary>
/// The journal on the embedded SQLite file (<see cref="SqliteEventStore"/>): group-committed prepared inserts,
/// physical deletes. Configured as <c>akka.persistence.journal.chat-sqlite</c>.
/// </summary>
public sealed class SqliteJournal : AsyncWriteJournal
{
    private readonly SqliteEventStore _store;
    private readonly Akka.Serialization.Serialization _serialization = Context.System.Serialization;

    public SqliteJournal(Config config) => _store = Payloads.Acquire(config);

    protected override void PostStop()
    {
        _store.Release();
        base.PostStop();
    }

    protected override async Task<IImmutableList<Exception?>> WriteMessagesAsync(IEnumerable<AtomicWrite> messages, CancellationToken cancellationToken)
    {
        var writes = messages.ToList();
        var results = new Exception?[writes.Count];
        var rows = new List<StoredRow>();
        var created = DateTime.UtcNow.Ticks;
        for (var i = 0; i < writes.Count; i++)
        {
            var start = rows.Count;
            try
            {
                foreach (var p in (IImmutableList<IPersistentRepresentation>)writes[i].Payload)
                {
                    var (manifest, serializerId, bytes) = Payloads.Serialize(_serialization, p.Payload);
                    rows.Add(new StoredRow(p.PersistenceId, p.SequenceNr, manifest, serializerId, bytes, created));
                }
            }
            catch (Exception e)
            {
                // a payload that cannot be serialized is rejected; the entity is told, the others are written
                results[i] = e;
                rows.RemoveRange(start, rows.Count - start);
            }
        }
        if (rows.Count > 0) await _store.AppendAsync(rows).ConfigureAwait(false);
        return results.All(r => r is null) ? null! : results.ToImmutableList();
    }

    protected override Task DeleteMessagesToAsync(string persistenceId, long toSequenceNr, CancellationToken cancellationToken) =>
        _store.DeleteEventsAsync(persistenceId, toSequenceNr);

    public override Task<long> ReadHighestSequenceNrAsync(string persistenceId, long fromSequenceNr, CancellationToken cancellationToken) =>
        Task.Run(() => _store.HighestSequenceNr(persistenceId), cancellationToken);

    public override async Task ReplayMessagesAsync(IActorContext context, string persistenceId, long fromSequenceNr, long toSequenceNr, long max,
        Action<IPersistentRepresentation> recoveryCallback)
    {
        var rows = await Task.Run(() => _store.ReadEvents(persistenceId, fromSequenceNr, toSequenceNr, max)).ConfigureAwait(false);
        foreach (var row in rows)
            recoveryCallback(new Persistent(Payloads.Deserialize(_serialization, row), row.SequenceNr, persistenceId, row.Manifest,
                false, ActorRefs.NoSender, null, row.Created));
    }
}

/// <summary>Snapshots in the same SQLite file. Configured as <c>akka.persistence.snapshot-store.chat-sqlite</c>.</summary>
public sealed class SqliteSnapshotStore : SnapshotStore
{
    private readonly SqliteEventStore _store;
    private readonly Akka.Serialization.Serialization _serialization = Context.System.Serialization;

    public SqliteSnapshotStore(Config config) => _store = Payloads.Acquire(config);

    protected override void PostStop()
    {
        _store.Release();
        base.PostStop();
    }

    protected override async Task<SelectedSnapshot?> LoadAsync(string persistenceId, SnapshotSelectionCriteria criteria, CancellationToken cancellationToken)
    {
        var row = await Task.Run(() => _store.LoadSnapshot(persistenceId, criteria.MinSequenceNr, criteria.MaxSequenceNr,
            criteria.MinTimestamp?.Ticks ?? 0, criteria.MaxTimeStamp.Ticks), cancellationToken).ConfigureAwait(false);
        if (row is not { } r) return null;
        return new SelectedSnapshot(new SnapshotMetadata(persistenceId, r.SequenceNr, new DateTime(r.Created, DateTimeKind.Utc)),
            Payloads.Deserialize(_serialization, r));
    }

    protected override Task SaveAsync(SnapshotMetadata metadata, object snapshot, CancellationToken cancellationToken)
    {
        var (manifest, serializerId, bytes) = Payloads.Serialize(_serialization, snapshot);
        return _store.SaveSnapshotAsync(new StoredRow(metadata.PersistenceId, metadata.SequenceNr, manifest, serializerId, bytes, metadata.Timestamp.Ticks));
    }

    protected override Task DeleteAsync(SnapshotMetadata metadata, CancellationToken cancellationToken) =>
        _store.DeleteSnapshotsAsync(metadata.PersistenceId, metadata.SequenceNr, metadata.SequenceNr,
            metadata.Timestamp == DateTime.MinValue ? 0 : metadata.Timestamp.Ticks,
            metadata.Timestamp == DateTime.MinValue ? long.MaxValue : metadata.Timestamp.Ticks);

    protected override Task DeleteAsync(string persistenceId, SnapshotSelectionCriteria criteria, CancellationToken cancellationToken) =>
        _store.DeleteSnapshotsAsync(persistenceId, criteria.MinSequenceNr, criteria.MaxSequenceNr,
            criteria.MinTimestamp?.Ticks ?? 0, criteria.MaxTimeStamp.Ticks);
}
