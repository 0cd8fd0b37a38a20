using Akka.Actor;
using Akka.Persistence;

namespace Chat.Tests;

/// <summary>
/// What Akka.Persistence relies on from the embedded snapshot store (the points of Akka's snapshot store compliance
/// suite): which snapshot a recovery is offered, what deletes remove, and that a snapshot reads back whole.
/// </summary>
public sealed class SnapshotContractSpecs : SqlitePluginSpec
{
    private readonly string _pid = "snap-" + Guid.NewGuid().ToString("N")[..8];
    private static readonly DateTime Start = new(2026, 5, 6, 7, 8, 9, DateTimeKind.Utc);
    private readonly List<SnapshotMetadata> _saved = [];

    /// <summary>"s-1" to "s-5" at sequence numbers 11 to 15, one minute apart (so timestamps select exactly).</summary>
    private void SaveFive()
    {
        for (var i = 1; i <= 5; i++)
            _saved.Add(Save(new SnapshotMetadata(_pid, 10 + i, Start.AddMinutes(i).AddTicks(i)), $"s-{i}"));
    }

    private SnapshotMetadata Save(SnapshotMetadata metadata, object snapshot)
    {
        SnapshotStore.Tell(new SaveSnapshot(metadata, snapshot), TestActor);
        return ExpectMsg<SaveSnapshotSuccess>().Metadata;
    }

    private SelectedSnapshot? Load(SnapshotSelectionCriteria criteria, long toSequenceNr = long.MaxValue, string? pid = null)
    {
        SnapshotStore.Tell(new LoadSnapshot(pid ?? _pid, criteria, toSequenceNr), TestActor);
        var result = ExpectMsg<LoadSnapshotResult>();
        Assert.Equal(toSequenceNr, result.ToSequenceNr);
        return result.Snapshot;
    }

    /// <summary>The number of the snapshot ("s-N") the criteria select, or null.</summary>
    private int? Selected(SnapshotSelectionCriteria criteria, long toSequenceNr = long.MaxValue)
    {
        var snapshot = Load(criteria, toSequenceNr);
        if (snapshot is null) return null;
        var n = int.Parse(((string)snapshot.Snapshot)[2..]);
        Assert.Equal(_saved[n - 1], snapshot.Metadata); // persistence id, sequence number and timestamp as saved
        return n;
    }

    [Fact]
    public void The_newest_snapshot_within_the_criteria_is_offered()
    {
        SaveFive();
        Assert.Equal(5, Selected(SnapshotSelectionCriteria.Latest));
        Assert.Equal(3, Selected(new SnapshotSelectionCriteria(13)));
        Assert.Equal(3, Selected(SnapshotSelectionCriteria.Latest, toSequenceNr: 13));
        Assert.Equal(3, Selected(new SnapshotSelectionCriteria(long.MaxValue, _saved[2].Timestamp)));
        Assert.Equal(2, Selected(new SnapshotSelectionCriteria(long.MaxValue, _saved[2].Timestamp.AddTicks(-1))));
        Assert.Equal(3, Selected(new SnapshotSelectionCriteria(long.MaxValue, _saved[2].Timestamp), toSequenceNr: 14));
        // lower bounds: a snapshot older than the criteria is not offered
        Assert.Equal(5, Selected(new SnapshotSelectionCriteria(long.MaxValue, DateTime.MaxValue, 14, null)));
        Assert.Equal(2, Selected(new SnapshotSelectionCriteria(12, DateTime.MaxValue, 12, null)));
        Assert.Null(Selected(new SnapshotSelectionCriteria(long.MaxValue, DateTime.MaxValue, 16, null)));
        Assert.Equal(4, Selected(new SnapshotSelectionCriteria(14, DateTime.MaxValue, 0, _saved[3].Timestamp)));
        Assert.Null(Selected(new SnapshotSelectionCriteria(long.MaxValue, DateTime.MaxValue, 0, _saved[4].Timestamp.AddTicks(1))));
    }

    [Fact]
    public void No_snapshot_is_offered_when_none_matches()
    {
        SaveFive();
        Assert.Null(Load(SnapshotSelectionCriteria.Latest, pid: "snap-never"));
        Assert.Null(Selected(new SnapshotSelectionCriteria(7)));
        Assert.Null(Selected(SnapshotSelectionCriteria.Latest, toSequenceNr: 7));
        Assert.Null(Selected(new SnapshotSelectionCriteria(long.MaxValue, Start)));
        Assert.Null(Selected(SnapshotSelectionCriteria.None));
    }

    [Fact]
    public void Deleting_one_snapshot_by_its_sequence_number_offers_the_one_before()
    {
        SaveFive();
        // a delete that names no timestamp deletes the snapshot at that number whatever its time
        SnapshotStore.Tell(new DeleteSnapshot(new SnapshotMetadata(_pid, 13, DateTime.MinValue)), TestActor);
        ExpectMsg<DeleteSnapshotSuccess>();
        Assert.Equal(2, Selected(new SnapshotSelectionCriteria(13)));
        Assert.Equal(5, Selected(SnapshotSelectionCriteria.Latest));
        // with a timestamp, only a snapshot with that timestamp
        SnapshotStore.Tell(new DeleteSnapshot(new SnapshotMetadata(_pid, 15, _saved[4].Timestamp.AddTicks(1))), TestActor);
        ExpectMsg<DeleteSnapshotSuccess>();
        Assert.Equal(5, Selected(SnapshotSelectionCriteria.Latest));
        SnapshotStore.Tell(new DeleteSnapshot(_saved[4]), TestActor);
        ExpectMsg<DeleteSnapshotSuccess>();
        Assert.Equal(4, Selected(SnapshotSelectionCriteria.Latest));
    }

    [Fact]
    public void Deleting_by_criteria_removes_exactly_the_snapshots_they_select()
    {
        SaveFive();
        SnapshotStore.Tell(new DeleteSnapshots(_pid, new SnapshotSelectionCriteria(13, _saved[2].Timestamp)), TestActor);
        ExpectMsg<DeleteSnapshotsSuccess>();
        Assert.Null(Selected(new SnapshotSelectionCriteria(13)));
        Assert.Equal(4, Selected(new SnapshotSelectionCriteria(14)));

        // a timestamp bound one tick before snapshot 4's leaves it
        SnapshotStore.Tell(new DeleteSnapshots(_pid, new SnapshotSelectionCriteria(14, _saved[3].Timestamp.AddTicks(-1))), TestActor);
        ExpectMsg<DeleteSnapshotsSuccess>();
        Assert.Equal(4, Selected(new SnapshotSelectionCriteria(14)));

        // lower bounds: only from 15 up
        SnapshotStore.Tell(new DeleteSnapshots(_pid, new SnapshotSelectionCriteria(long.MaxValue, DateTime.MaxValue, 15, null)), TestActor);
        ExpectMsg<DeleteSnapshotsSuccess>();
        Assert.Equal(4, Selected(SnapshotSelectionCriteria.Latest));
        Assert.Null(Load(SnapshotSelectionCriteria.Latest, pid: "snap-never"));
    }

    [Fact]
    public void A_snapshot_saved_again_at_the_same_sequence_number_replaces_the_first()
    {
        SaveFive();
        var again = Save(new SnapshotMetadata(_pid, 15, Start.AddHours(1)), "s-5 again");
        Assert.Equal(Start.AddHours(1), again.Timestamp);
        var loaded = Load(SnapshotSelectionCriteria.Latest)!;
        Assert.Equal("s-5 again", loaded.Snapshot);
        Assert.Equal(again, loaded.Metadata);
    }

    [Fact]
    public void A_large_snapshot_reads_back_whole()
    {
        var bytes = new byte[3_000_000];
        new Random(7).NextBytes(bytes);
        Save(new SnapshotMetadata(_pid, 100, Start), bytes);
        Assert.Equal(bytes, (byte[])Load(SnapshotSelectionCriteria.Latest)!.Snapshot);
    }

    [Fact]
    public void An_actor_reference_inside_a_snapshot_is_stored_with_the_nodes_address_and_resolves_to_the_same_actor()
    {
        var probe = CreateTestProbe();
        Save(new SnapshotMetadata(_pid, 3, Start), new RefCarrier("s", probe.Ref));
        // a second snapshot at the same number replaces it (Akka's suite saves the same number twice)
        Save(new SnapshotMetadata(_pid, 3, Start.AddSeconds(1)), new RefCarrier("s again", probe.Ref));
        var carrier = (RefCarrier)Load(SnapshotSelectionCriteria.Latest)!.Snapshot;
        Assert.Equal("s again", carrier.Label);
        Assert.Equal(probe.Ref, carrier.Ref);
        Assert.StartsWith($"{((ExtendedActorSystem)Sys).Provider.DefaultAddress}/", carrier.StoredPath);
        Assert.True(carrier.WrittenWithTransport, "serialized without the system's transport information");
        carrier.Ref.Tell("hello");
        probe.ExpectMsg("hello");
    }
}
