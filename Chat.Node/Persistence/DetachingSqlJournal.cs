using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence;
using Akka.Persistence.Sql.Journal;

namespace Chat.Node.Persistence;

/// <summary>
/// Akka.Persistence.Sql's journal (<c>chat.persistence = postgres</c>, and <c>sqlite-sql</c>), given each write as a copy
/// whose envelopes no longer sit in the persistent actor's batch list: that list, most often already promoted, would
/// otherwise keep the write's events reachable for young collections long after the write (see
/// <see cref="SqliteJournal.TakeEnvelopes"/>). Configured as the <c>class</c> of <c>akka.persistence.journal.sql</c>.
/// </summary>
/// <remarks>
/// Until the plugin has set up its database it stashes what it receives, and the stash keeps the message as it came:
/// a write the plugin stashed keeps its list, and is detached when it comes back out of the stash.
/// </remarks>
public sealed class DetachingSqlJournal(Config journalConfig) : SqlWriteJournal(journalConfig)
{
    protected override bool AroundReceive(Receive receive, object message)
    {
        if (message is not WriteMessages { Messages: List<IPersistentEnvelope> { Count: > 0 } list } write)
            return base.AroundReceive(receive, message);
        var stashed = Stash.Count;
        var handled = base.AroundReceive(receive, new WriteMessages(list.ToArray(), write.PersistentActor, write.ActorInstanceId));
        if (Stash.Count == stashed) SqliteJournal.Empty(list);
        return handled;
    }
}
