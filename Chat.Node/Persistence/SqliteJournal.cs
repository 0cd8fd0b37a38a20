using System.Collections.Immutable;
using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence;
using Akka.Persistence.Journal;
using Akka.Persistence.Snapshot;
using Akka.Serialization;

namespace Chat.Node.Persistence;

/// <summary>
/// Serialization of persistent payloads to <see cref="StoredRow"/> and back, with Akka's serializers. Akka promises
/// serializers the system's transport information, as remoting does: callers of Serialize run it inside
/// <see cref="Akka.Serialization.Serialization.WithTransport{TState,T}"/> (once per batch of events), so that an actor
/// reference is written with this node's address and another node replaying it reaches this one.
/// </summary>
internal static class Payloads
{
    public static (string Manifest, int SerializerId, byte[] Bytes) Serialize(Akka.Serialization.Serialization serialization, object payload)
    {
        var serializer = serialization.FindSerializerFor(payload);
        var manifest = Akka.Serialization.Serialization.ManifestFor(serializer, payload);
        return (manifest, serializer.Identifier, serializer.ToBinary(payload));
    }

    /// <summary>
    /// Deserializes one row through the system's serialization, which sets the transport information itself (a
    /// serializer's own FromBinary, called directly, would run without it).
    /// </summary>
    public static object Deserialize(Akka.Serialization.Serialization serialization, in StoredRow row) =>
        serialization.Deserialize(row.Payload, row.SerializerId, row.Manifest);

    /// <summary>The store of the plugin's <c>connection-string</c>, with its <c>synchronous</c> and <c>wal-limit</c> settings; released in PostStop.</summary>
    public static SqliteEventStore Acquire(Config config) => SqliteEventStore.Acquire(
        config.GetString("connection-string") ?? throw new ArgumentException("the SQLite journal and snapshot store need connection-string"),
        config.GetString("synchronous", "NORMAL"),
        config.GetByteSize("wal-limit") ?? SqliteEventStore.DefaultWalLimit);
}

/// <summary>
/// The journal on the embedded SQLite file (<see cref="SqliteEventStore"/>): group-committed prepared inserts,
/// physical deletes. Configured as <c>akka.persistence.journal.chat-sqlite</c>. Each event is replayed as it was
/// written: payload, writer id, event adapter manifest, and timestamp (the time it was stored, or its own if it had one).
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
        var rows = ToRows(_serialization, writes, results, DateTime.UtcNow.Ticks);
        if (rows.Count > 0) await _store.AppendAsync(rows).ConfigureAwait(false);
        return results.All(r => r is null) ? null! : results.ToImmutableList();
    }

    /// <summary>
    /// The rows for <paramref name="writes"/>; a write whose payload cannot be serialized gets its exception in
    /// <paramref name="results"/> and no rows. An event's timestamp is its own when it has one (Akka 1.5's journal base
    /// class clears it before a write, so today that is <paramref name="now"/>, the time it is stored).
    /// </summary>
    internal static List<StoredRow> ToRows(Akka.Serialization.Serialization serialization, List<AtomicWrite> writes, Exception?[] results, long now) =>
        Akka.Serialization.Serialization.WithTransport(serialization.System, (serialization, writes, results, now),
            static s => ToRowsWithTransport(s.serialization, s.writes, s.results, s.now));

    private static List<StoredRow> ToRowsWithTransport(Akka.Serialization.Serialization serialization, List<AtomicWrite> writes, Exception?[] results, long now)
    {
        var rows = new List<StoredRow>(writes.Count); // most writes hold one event
        for (var i = 0; i < writes.Count; i++)
        {
            var start = rows.Count;
            try
            {
                foreach (var p in (IImmutableList<IPersistentRepresentation>)writes[i].Payload)
                {
                    var (manifest, serializerId, bytes) = Payloads.Serialize(serialization, p.Payload);
                    rows.Add(new StoredRow(p.PersistenceId, p.SequenceNr, manifest, serializerId, bytes, p.Timestamp != 0 ? p.Timestamp : now,
                        p.WriterGuid ?? "", p.Manifest ?? ""));
                }
            }
            catch (Exception e)
            {
                // a payload that cannot be serialized is rejected; the entity is told, the others are written
                results[i] = e;
                rows.RemoveRange(start, rows.Count - start);
            }
        }
        return rows;
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
            recoveryCallback(new Persistent(Payloads.Deserialize(_serialization, row), row.SequenceNr, persistenceId,
                row.EventManifest, false, ActorRefs.NoSender, row.WriterId, row.Created));
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
        var (manifest, serializerId, bytes) = Akka.Serialization.Serialization.WithTransport(_serialization.System, (_serialization, snapshot),
            static s => Payloads.Serialize(s._serialization, s.snapshot));
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
