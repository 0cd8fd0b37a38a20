using System.Collections.Immutable;
using Akka.Actor;
using Akka.Persistence;
using Chat.Node.Persistence;
using Chat.Node.Users;
using Microsoft.Data.Sqlite;

namespace Chat.Tests;

/// <summary>
/// A chat.db written before events stored their writer id and adapter manifest (<c>legacy/*.sql</c>: that version's
/// tables and rows) opens with today's store, replays as it was written, and takes new events.
/// </summary>
public sealed class LegacyDatabaseSpecs : SqlitePluginSpec
{
    private const string Old = "user-uold0000000000001";

    public LegacyDatabaseSpecs()
    {
        // before anything opens the journal, which happens on first use
        var dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "ChatAkka.sln"))) dir = Path.GetDirectoryName(dir);
        var sql = File.ReadAllText(Path.Combine(dir!, "Chat.Tests", "legacy", "chat-db-before-writer-ids.sql"));
        using var connection = new SqliteConnection(SqliteStore.ConnectionString(Data));
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    [Fact]
    public void Events_and_snapshots_written_before_replay_as_they_were_written()
    {
        var (events, highest) = Replay(Old);
        Assert.Equal([1L, 2L, 3L], events.Select(e => e.SequenceNr));
        Assert.IsType<UserRegistered>(events[0].Payload);
        Assert.IsType<MessageStored>(events[1].Payload);
        Assert.Equal([639000000000000001L, 639000000000000002L, 639000000000000004L], events.Select(e => e.Timestamp));
        // nothing was stored for these: undefined, not the serializer's manifest ("u1", "u2") nor null
        Assert.All(events, e => Assert.Equal("", e.WriterGuid));
        Assert.All(events, e => Assert.Equal("", e.Manifest));
        Assert.Equal(3, highest);
        Assert.Equal(7, Replay("user-uold0000000000003").Highest);

        SnapshotStore.Tell(new LoadSnapshot(Old, SnapshotSelectionCriteria.Latest, long.MaxValue), TestActor);
        var snapshot = ExpectMsg<LoadSnapshotResult>().Snapshot;
        Assert.Equal(2, snapshot.Metadata.SequenceNr);
        Assert.Equal(639000000000000005L, snapshot.Metadata.Timestamp.Ticks);
        Assert.IsType<UserSnapshot>(snapshot.Snapshot);
    }

    [Fact]
    public async Task The_file_is_upgraded_in_place_and_new_events_follow_the_old_ones()
    {
        var writer = Guid.NewGuid().ToString();
        var registered = (UserRegistered)Replay(Old).Events[0].Payload;
        Journal.Tell(new WriteMessages([new AtomicWrite(ImmutableList.Create<IPersistentRepresentation>(
            new Persistent(registered, 4, Old, "v2", false, ActorRefs.NoSender, writer)))], TestActor, 1));
        ExpectMsg<WriteMessagesSuccessful>();
        ExpectMsg<WriteMessageSuccess>();
        var (events, highest) = Replay(Old);
        Assert.Equal(["", "", "", writer], events.Select(e => e.WriterGuid));
        Assert.Equal(["", "", "", "v2"], events.Select(e => e.Manifest));
        Assert.Equal(4, highest);

        // closed and opened again (the columns are there now): the same
        await Sys.Terminate();
        var store = SqliteEventStore.Acquire(SqliteStore.ConnectionString(Data), "NORMAL");
        try
        {
            var rows = store.ReadEvents(Old, 0, long.MaxValue, long.MaxValue);
            Assert.Equal(["", "", "", writer], rows.Select(r => r.WriterId));
            Assert.Equal(["u1", "u2", "u2", "u1"], rows.Select(r => r.Manifest));
        }
        finally
        {
            store.Release();
        }
    }
}
