using System.Collections.Immutable;
using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence;
using Chat.Node.Persistence;

namespace Chat.Tests;

/// <summary>
/// The journal the node configures for Akka.Persistence.Sql (PostgreSQL, and sqlite-sql), run here on a SQLite file
/// with the node's sqlite-sql settings: writes answered and stored as by the plugin, the entity's batch list left empty.
/// </summary>
public sealed class DetachingSqlJournalSpecs() : SqlitePluginSpec(SqlConfig, "sql-journal")
{
    private static Config SqlConfig(string data)
    {
        var connection = DatabaseOf(data);
        return ConfigurationFactory.ParseString($$"""
            {{QuietTestSystem}}
            akka.persistence.journal.sql.connection-string = "{{connection}}"
            akka.persistence.snapshot-store.sql.connection-string = "{{connection}}"
            """).WithFallback(ConfigurationFactory.ParseString(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "hocon", "sqlite-sql.conf"))))
            .WithFallback(Akka.Persistence.Sql.SqlPersistence.DefaultConfiguration);
    }

    [Fact]
    public void A_write_is_stored_and_answered_in_order_and_leaves_the_batch_list_the_entity_sent_empty()
    {
        var writer = Guid.NewGuid().ToString();
        Persistent Event(string payload, long seq) => new(payload, seq, "sql-note", "", false, ActorRefs.NoSender, writer);
        var probe = CreateTestProbe();
        var batch = new List<IPersistentEnvelope>
        {
            new AtomicWrite(Event("e-1", 1)),
            new AtomicWrite(ImmutableList.Create<IPersistentRepresentation>(Event("e-2", 2), Event("e-3", 3))),
        };
        Journal.Tell(new WriteMessages(batch, probe.Ref, 1));
        probe.ExpectMsg<WriteMessagesSuccessful>();
        Assert.Equal(["e-1", "e-2", "e-3"], Enumerable.Range(0, 3).Select(_ => (string)probe.ExpectMsg<WriteMessageSuccess>().Persistent.Payload));
        Assert.Empty(batch);
        Assert.Equal(0, batch.Capacity);

        // the first write may have come while the plugin was still setting up its database (and was stashed): a second
        // one, certainly after it
        var next = new List<IPersistentEnvelope> { new AtomicWrite(Event("e-4", 4)) };
        Journal.Tell(new WriteMessages(next, probe.Ref, 1));
        probe.ExpectMsg<WriteMessagesSuccessful>();
        Assert.Equal("e-4", probe.ExpectMsg<WriteMessageSuccess>().Persistent.Payload);
        Assert.Empty(next);

        var (events, highest) = Replay("sql-note");
        Assert.Equal(["e-1", "e-2", "e-3", "e-4"], events.Select(e => (string)e.Payload));
        Assert.Equal(4, highest);
    }
}
