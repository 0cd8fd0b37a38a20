using Akka.Event;
using Akka.Persistence;

namespace Chat.Node.Persistence;

/// <summary>
/// A persistent actor that writes with <c>PersistAsync</c> and can run an action once everything written
/// before it is durable (for answers to repeated requests). It does not use <c>DeferAsync</c>: a journal
/// batch holding only deferred entries reaches Akka.Persistence.Sql as an empty write, which fails and
/// opens the journal's circuit breaker for every entity.
/// </summary>
public abstract class DurableOrderActor : UntypedPersistentActor
{
    /// <summary>
    /// Stops the entity once every write it has started is durable and answered. Cluster sharding sends it when it
    /// hands the entity's shard to another node, and the entity passivates with it. A plain PoisonPill stopped the
    /// entity with sends still gathered for its next write: they were never answered, and when the session repeated
    /// them they were stored after later sends that had already reached the entity's new home, out of order.
    /// </summary>
    public sealed class StopWhenDurable : Akka.Actor.INoSerializationVerificationNeeded
    {
        public static readonly StopWhenDurable Instance = new();
    }

    private long _issued;
    private long _done;
    private bool _stopping;
    private readonly Queue<(long After, Action Run)> _afterDurable = new();

    /// <summary>True once <see cref="StopWhenDurable"/> came: the entity stops when its writes are done.</summary>
    protected bool Stopping => _stopping;

    /// <summary>Handles <see cref="StopWhenDurable"/>: stops now if nothing is being written, else after the last write.</summary>
    protected void StopOnceDurable()
    {
        _stopping = true;
        if (_done == _issued) Context.Stop(Self);
    }

    /// <summary>
    /// Handlers of <see cref="PersistInOrder{TEvent}"/> not yet run, in the order of their events, each with the event
    /// and the call that runs it. Akka runs the handlers of <c>PersistAsync</c> in the order the events were given, so one
    /// delegate made once (<see cref="_written"/>) runs the first of them for every event: a handler that wrapped the
    /// caller's in a closure cost a closure and a delegate per write.
    /// </summary>
    private readonly Queue<(object Event, Delegate Handler, Action<Delegate, object> Run)> _handlers = new();
    private Action<object>? _written;

    /// <summary>Persists asynchronously; handlers run in the order the events were given.</summary>
    protected void PersistInOrder<TEvent>(TEvent @event, Action<TEvent> handler)
    {
        _issued++;
        object written = @event!;
        _handlers.Enqueue((written, handler, HandlerOf<TEvent>.Run));
        PersistAsync(written, _written ??= Written);
    }

    private static class HandlerOf<TEvent>
    {
        public static readonly Action<Delegate, object> Run = static (handler, e) => ((Action<TEvent>)handler)((TEvent)e);
    }

    private void Written(object e)
    {
        var (_, handler, run) = _handlers.Dequeue();
        run(handler, e);
        _done++;
        while (_afterDurable.Count > 0 && _afterDurable.Peek().After <= _done) _afterDurable.Dequeue().Run();
        if (_done != _issued) return; // (a handler may have started the next write, e.g. with sends gathered meanwhile)
        OnAllDurable();
        if (_stopping) Context.Stop(Self);
    }

    /// <summary>
    /// A rejected event's handler is not run (Akka passes it over): it leaves the queue of handlers, so that the next
    /// event's handler is the next one run.
    /// </summary>
    protected override void OnPersistRejected(Exception cause, object @event, long sequenceNr)
    {
        if (_handlers.TryPeek(out var first) && ReferenceEquals(first.Event, @event)) _handlers.Dequeue();
        base.OnPersistRejected(cause, @event, sequenceNr);
    }

    private int _eventsSinceSnapshot;
    private bool _rewriteOwed;

    /// <summary>Events between snapshots.</summary>
    protected abstract int SnapshotEvery { get; }

    /// <summary>The whole state as a snapshot (taken only when no write is in flight).</summary>
    protected abstract object TakeSnapshot();

    /// <summary>Counts a durable (or recovered) event towards the next snapshot.</summary>
    protected void CountEventForSnapshot() => _eventsSinceSnapshot++;

    /// <summary>
    /// Every event written so far is durable and none is in flight: the state holds nothing that is not
    /// in the journal, so snapshots are taken here. (State is applied before its write completes; a snapshot
    /// taken mid-flight would carry an event whose write might still fail.)
    /// </summary>
    private void OnAllDurable()
    {
        if (_eventsSinceSnapshot < SnapshotEvery) return;
        _eventsSinceSnapshot = 0;
        SaveSnapshot(TakeSnapshot());
    }

    /// <summary>A retention rewrite failed earlier: the next sweep rewrites even with nothing new to remove.</summary>
    protected bool RewriteOwed => _rewriteOwed;

    /// <summary>
    /// Retention: persists <paramref name="marker"/> (already applied to the state; it holds no message text), then
    /// <see cref="Compact"/>s, so the journal keeps nothing older. <paramref name="done"/> learns whether the rewrite
    /// finished; one that did not is owed to the next sweep.
    /// </summary>
    protected void RewriteAfter<TEvent>(TEvent marker, Action<bool> done)
    {
        PersistInOrder(marker, _ => { });
        _eventsSinceSnapshot = 0;
        _rewriteOwed = true;
        Compact(ok =>
        {
            _rewriteOwed = !ok;
            done(ok);
        });
    }

    /// <summary>
    /// Events up to which a snapshot at <paramref name="snapshotSeqNr"/> lets the journal delete (at most that). An
    /// entity whose events must outlive its snapshots (a user's inbox entries are read back from the journal) says less.
    /// </summary>
    protected virtual long EventsDeletableUpTo(long snapshotSeqNr) => snapshotSeqNr;

    private long _deletedTo;
    private long _compactDeleteTo = -1;
    private long _compactAt = -1;
    private bool _compactEventsGone, _compactSnapshotsGone;
    private Action<bool>? _compacted;

    /// <summary>
    /// Once every write so far is durable: saves a snapshot, then deletes every older event and
    /// snapshot, then calls <paramref name="done"/> (false when a step failed). Retention uses it after its marker
    /// event, so the one journal row the plugin keeps (the newest deleted one) is the marker, which holds no text.
    /// </summary>
    private void Compact(Action<bool> done)
    {
        AfterDurable(() =>
        {
            _compactAt = LastSequenceNr;
            _compactDeleteTo = -1;
            _compactEventsGone = _compactSnapshotsGone = false;
            _compacted = done;
            SaveSnapshot(TakeSnapshot());
        });
    }

    /// <summary>
    /// Handles the snapshot lifecycle: after a snapshot, older events and snapshots are deleted. Returns false for
    /// messages that are not about snapshots or deletes.
    /// </summary>
    protected bool HandleSnapshotLifecycle(object message, ILoggingAdapter log)
    {
        switch (message)
        {
            case SaveSnapshotSuccess s:
                var to = Math.Min(s.Metadata.SequenceNr, EventsDeletableUpTo(s.Metadata.SequenceNr));
                var compacting = _compacted is not null && s.Metadata.SequenceNr == _compactAt;
                if (compacting) _compactDeleteTo = to;
                if (to > _deletedTo || (compacting && to > 0))
                {
                    _deletedTo = Math.Max(_deletedTo, to);
                    DeleteMessages(to);
                }
                else if (compacting) _compactEventsGone = true; // nothing more may go
                DeleteSnapshots(new SnapshotSelectionCriteria(s.Metadata.SequenceNr - 1));
                return true;
            case SaveSnapshotFailure f:
                log.Warning(f.Cause, "snapshot of {0} failed", PersistenceId);
                if (f.Metadata.SequenceNr == _compactAt) FinishCompaction(false);
                return true;
            case DeleteMessagesSuccess d:
                if (_compacted is not null && _compactDeleteTo >= 0 && d.ToSequenceNr >= _compactDeleteTo) { _compactEventsGone = true; FinishCompaction(true); }
                return true;
            case DeleteSnapshotsSuccess d:
                if (_compacted is not null && d.Criteria.MaxSequenceNr >= _compactAt - 1) { _compactSnapshotsGone = true; FinishCompaction(true); }
                return true;
            case DeleteMessagesFailure f:
                log.Warning(f.Cause, "deleting old events of {0} failed", PersistenceId);
                if (_compactDeleteTo >= 0 && f.ToSequenceNr >= _compactDeleteTo) FinishCompaction(false);
                return true;
            case DeleteSnapshotsFailure f:
                log.Warning(f.Cause, "deleting old snapshots of {0} failed", PersistenceId);
                if (f.Criteria.MaxSequenceNr >= _compactAt - 1) FinishCompaction(false);
                return true;
            default:
                return false;
        }
    }

    private void FinishCompaction(bool ok)
    {
        if (_compacted is not { } done) return;
        if (ok && !(_compactEventsGone && _compactSnapshotsGone)) return;
        _compacted = null;
        done(ok);
    }

    /// <summary>Runs <paramref name="run"/> now if nothing is being written, else once all earlier writes are durable.</summary>
    protected void AfterDurable(Action run)
    {
        if (_done == _issued) run();
        else _afterDurable.Enqueue((_issued, run));
    }
}
