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
    private long _issued;
    private long _done;
    private readonly Queue<(long After, Action Run)> _afterDurable = new();

    /// <summary>Persists asynchronously; handlers run in the order the events were given.</summary>
    protected void PersistInOrder<TEvent>(TEvent @event, Action<TEvent> handler)
    {
        _issued++;
        PersistAsync(@event, e =>
        {
            handler(e);
            _done++;
            while (_afterDurable.Count > 0 && _afterDurable.Peek().After <= _done) _afterDurable.Dequeue().Run();
            if (_done == _issued) OnAllDurable();
        });
    }

    /// <summary>
    /// Every event written so far is durable and none is in flight: the state holds nothing that is not
    /// in the journal, so snapshots are taken here. (State is applied before its write completes; a snapshot
    /// taken mid-flight would carry an event whose write might still fail.)
    /// </summary>
    protected virtual void OnAllDurable() { }

    /// <summary>Runs <paramref name="run"/> now if nothing is being written, else once all earlier writes are durable.</summary>
    protected void AfterDurable(Action run)
    {
        if (_done == _issued) run();
        else _afterDurable.Enqueue((_issued, run));
    }
}
