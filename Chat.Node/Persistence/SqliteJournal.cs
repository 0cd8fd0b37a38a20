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
/// <remarks>
/// It speaks Akka.Persistence's journal protocol itself rather than through <c>AsyncWriteJournal</c>: the store's
/// writer thread answers each write as soon as its transaction ends, in commit order. Through the base class every
/// write's answer went from the writer to a task continuation on the thread pool, then through a circuit breaker and
/// a resequencing actor to the entity: two more thread wake-ups and some twenty objects per write, three writes per
/// message. Answers stay in order without the resequencer because one thread sends them all, in the order the
/// writes were queued, and an entity asks for its next write only after the previous one was answered. The circuit
/// breaker is not needed: a store that cannot write fails every write at once (see <see cref="SqliteEventStore"/>).
/// The replay filter is not needed either: the store refuses a second event with the same sequence number.
/// </remarks>
public sealed class SqliteJournal : WriteJournalBase
{
    private readonly SqliteEventStore _store;
    private readonly Akka.Serialization.Serialization _serialization = Context.System.Serialization;

    /// <summary>
    /// Whether the plugin binds any event adapter. Without one, events are stored and replayed as they are: adapting
    /// through the base class costs a closure and a copy of the event's envelope per event even when nothing is bound.
    /// </summary>
    private readonly bool _adapts;

    public SqliteJournal(Config config)
    {
        _store = Payloads.Acquire(config);
        _adapts = config.GetConfig("event-adapter-bindings") is { IsEmpty: false };
    }

    protected override void PostStop()
    {
        _store.Release();
        base.PostStop();
    }

    protected override bool Receive(object message)
    {
        switch (message)
        {
            case WriteMessages write:
                Write(write);
                return true;
            case ReplayMessages replay:
                Replay(replay);
                return true;
            case DeleteMessagesTo delete:
                Delete(delete);
                return true;
            default:
                return false;
        }
    }

    /// <summary>
    /// Serializes the events of a write, with one pass over its envelopes, into the <see cref="Answer"/> that the store's
    /// writer holds until the write is committed and that then answers it. Allocated per write: the answer (which holds
    /// the first row), a copy of the envelopes, an array for further rows when there are any, and one for rejections when
    /// there is one.
    /// </summary>
    private void Write(WriteMessages request)
    {
        var envelopes = TakeEnvelopes(request);
        var answer = new Answer(request, envelopes, Self);
        answer.Rejected = AddRows(_serialization, _adapts ? this : null, envelopes, answer, DateTime.UtcNow.Ticks);
        // queued even with no rows (only rejections or deferred messages): its answers then still come after those of
        // the entity's earlier writes, which the writer may not have sent yet
        _store.Append(answer);
    }

    /// <summary>
    /// The write's envelopes, copied out of the list the entity sent, which is then emptied. That list is the persistent
    /// actor's batch: made when its previous write left and kept until this one, it is most often old (promoted) by the
    /// time the events are added to it. Left as it was, every collection until the next full one found, through it, the
    /// write's events, their entries and strings, and promoted them all, long after the write was answered: one write
    /// per active entity per collection (a heap dump at 1,000 and 6,000 messages/s: 1,000-2,000 such writes in
    /// generation 1, each reached from such a list). Emptied, it holds nothing young.
    /// </summary>
    internal static IPersistentEnvelope[] TakeEnvelopes(WriteMessages request)
    {
        if (request.Messages is not List<IPersistentEnvelope> list) return request.Messages.ToArray();
        var envelopes = list.ToArray();
        Empty(list);
        return envelopes;
    }

    /// <summary>Empties an entity's batch list, letting its array (young) go too.</summary>
    internal static void Empty(List<IPersistentEnvelope> list)
    {
        list.Clear();
        list.Capacity = 0;
    }

    /// <summary>
    /// Adds the rows for the events of <paramref name="envelopes"/>' atomic writes to <paramref name="rows"/>, each event
    /// adapted by <paramref name="journal"/>'s event adapters (none without a journal). A write whose event an adapter
    /// or a serializer fails on is rejected, as the journal base class did: it adds no rows, and its exception is at its
    /// index in the array returned (null when none was rejected). An event's timestamp is its own when it has one
    /// (Akka's persistent actors leave it unset, so today that is <paramref name="now"/>, the time it is stored).
    /// </summary>
    internal static Exception?[]? AddRows(Akka.Serialization.Serialization serialization, SqliteJournal? journal,
        IReadOnlyList<IPersistentEnvelope> envelopes, SqliteEventStore.Appending rows, long now) =>
        Akka.Serialization.Serialization.WithTransport(serialization.System, (serialization, journal, envelopes, rows, now),
            static s => AddRowsWithTransport(s.serialization, s.journal, s.envelopes, s.rows, s.now));

    private static Exception?[]? AddRowsWithTransport(Akka.Serialization.Serialization serialization, SqliteJournal? journal,
        IReadOnlyList<IPersistentEnvelope> envelopes, SqliteEventStore.Appending rows, long now)
    {
        Exception?[]? rejected = null;
        for (var i = 0; i < envelopes.Count; i++)
        {
            if (envelopes[i] is not AtomicWrite write) continue;
            var start = rows.Count;
            try
            {
                // indexed: enumerating the payload (a boxed ImmutableArray) through its interface boxes an enumerator
                var payload = (IReadOnlyList<IPersistentRepresentation>)write.Payload;
                for (var e = 0; e < payload.Count; e++)
                {
                    var p = journal is null ? payload[e] : journal.AdaptToJournal(payload[e]);
                    var (manifest, serializerId, bytes) = Payloads.Serialize(serialization, p.Payload);
                    rows.Add(new StoredRow(p.PersistenceId, p.SequenceNr, manifest, serializerId, bytes, p.Timestamp != 0 ? p.Timestamp : now,
                        p.WriterGuid ?? "", p.Manifest ?? ""));
                }
            }
            catch (Exception e)
            {
                // an event that cannot be adapted or serialized rejects its write; the entity is told, the others are written
                (rejected ??= new Exception?[envelopes.Count])[i] = e;
                rows.RemoveFrom(start);
            }
        }
        return rejected;
    }

    /// <summary>
    /// A write's rows and, from the writer's thread once its transaction ended, its answers: the batch's outcome, then
    /// one answer per event (and per deferred message), in the order the entity gave them.
    /// </summary>
    private sealed class Answer(WriteMessages request, IReadOnlyList<IPersistentEnvelope> envelopes, IActorRef journal)
        : SqliteEventStore.Appending
    {
        /// <summary>Each rejected write's cause at its index; null when none was rejected.</summary>
        public Exception?[]? Rejected;

        protected override void Committed(Exception? failure)
        {
            var to = request.PersistentActor;
            var instance = request.ActorInstanceId;
            if (failure is null) to.Tell(WriteMessagesSuccessful.Instance, journal);
            else to.Tell(new WriteMessagesFailed(failure, AtomicWrites()), journal);
            for (var i = 0; i < envelopes.Count; i++)
            {
                var envelope = envelopes[i];
                if (envelope is AtomicWrite write)
                {
                    var rejected = Rejected?[i];
                    var payload = (IReadOnlyList<IPersistentRepresentation>)write.Payload;
                    for (var e = 0; e < payload.Count; e++)
                    {
                        var p = payload[e];
                        object answer = failure is not null ? new WriteMessageFailure(p, failure, instance)
                            : rejected is not null ? new WriteMessageRejected(p, rejected, instance)
                            : new WriteMessageSuccess(p, instance);
                        to.Tell(answer, p.Sender);
                    }
                }
                else
                {
                    to.Tell(new LoopMessageSuccess(envelope.Payload, instance), envelope.Sender);
                }
            }
        }

        private int AtomicWrites()
        {
            var count = 0;
            for (var i = 0; i < envelopes.Count; i++)
                if (envelopes[i] is AtomicWrite) count++;
            return count;
        }
    }

    /// <summary>
    /// Replays on the thread pool, straight to the recovering actor: its events from the store, each through the event
    /// adapters, then <see cref="RecoverySuccess"/> with the highest sequence number (or <see cref="ReplayMessagesFailure"/>).
    /// </summary>
    private void Replay(ReplayMessages request)
    {
        var to = request.PersistentActor;
        _ = Task.Run(() =>
        {
            try
            {
                var highest = _store.HighestSequenceNr(request.PersistenceId);
                var last = Math.Min(request.ToSequenceNr, highest);
                if (highest != 0 && request.FromSequenceNr <= last && request.Max > 0)
                {
                    foreach (var row in _store.ReadEvents(request.PersistenceId, request.FromSequenceNr, last, request.Max))
                    {
                        var p = new Persistent(Payloads.Deserialize(_serialization, row), row.SequenceNr, request.PersistenceId,
                            row.EventManifest, false, ActorRefs.NoSender, row.WriterId, row.Created);
                        if (!_adapts) to.Tell(new ReplayedMessage(p), ActorRefs.NoSender);
                        else foreach (var adapted in AdaptFromJournal(p)) to.Tell(new ReplayedMessage(adapted), ActorRefs.NoSender);
                    }
                }
                to.Tell(new RecoverySuccess(highest), ActorRefs.NoSender);
            }
            catch (Exception e)
            {
                to.Tell(new ReplayMessagesFailure(e), ActorRefs.NoSender);
            }
        });
    }

    private void Delete(DeleteMessagesTo request)
    {
        var to = request.PersistentActor;
        _store.DeleteEventsAsync(request.PersistenceId, request.ToSequenceNr).ContinueWith(t => to.Tell(t.IsCompletedSuccessfully
            ? new DeleteMessagesSuccess(request.ToSequenceNr)
            : new DeleteMessagesFailure(t.Exception?.GetBaseException() ?? new OperationCanceledException("deleting events was cancelled"),
                request.ToSequenceNr)), TaskScheduler.Default);
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
