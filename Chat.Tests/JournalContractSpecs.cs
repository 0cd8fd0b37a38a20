using System.Collections.Immutable;
using Akka.Actor;
using Akka.Persistence;
using Chat.Node;
using Chat.Node.Persistence;
using Chat.Node.Users;
using Chat.Protocol;

namespace Chat.Tests;

/// <summary>
/// What Akka.Persistence relies on from the embedded journal, checked through the journal actor as a persistent actor
/// talks to it (the points of Akka's journal compliance suite), and through persistent actors that stop and recover.
/// </summary>
public sealed class JournalContractSpecs : SqlitePluginSpec
{
    private readonly string _pid = "note-" + Guid.NewGuid().ToString("N")[..8];
    private readonly string _writer = Guid.NewGuid().ToString();

    private static Persistent Event(object payload, long seq, string pid, string writer, string manifest = "", long timestamp = 0) =>
        new(payload, seq, pid, manifest, false, ActorRefs.NoSender, writer, timestamp);

    /// <summary>Writes the atomic writes as one request and waits for every answer; the answers in order.</summary>
    private List<object> Write(params AtomicWrite[] writes)
    {
        var probe = CreateTestProbe();
        Journal.Tell(new WriteMessages(writes, probe.Ref, 1));
        probe.ExpectMsg<WriteMessagesSuccessful>();
        var count = writes.Sum(w => ((IImmutableList<IPersistentRepresentation>)w.Payload).Count);
        return Enumerable.Range(0, count).Select(_ => probe.ExpectMsg<object>()).ToList();
    }

    private static AtomicWrite Atomic(params IPersistentRepresentation[] events) => new(events.ToImmutableList());

    /// <summary>"a-1" to "a-5" by one writer; 4 and 5 in one atomic write, as PersistAll stores them.</summary>
    private void WriteFive()
    {
        var answers = Write(Atomic(Event("a-1", 1, _pid, _writer)), Atomic(Event("a-2", 2, _pid, _writer)),
            Atomic(Event("a-3", 3, _pid, _writer)), Atomic(Event("a-4", 4, _pid, _writer), Event("a-5", 5, _pid, _writer)));
        Assert.All(answers, a => Assert.IsType<WriteMessageSuccess>(a));
    }

    [Theory]
    [InlineData(1, long.MaxValue, long.MaxValue, new long[] { 1, 2, 3, 4, 5 })]
    [InlineData(3, long.MaxValue, long.MaxValue, new long[] { 3, 4, 5 })]
    [InlineData(1, 3, long.MaxValue, new long[] { 1, 2, 3 })]
    [InlineData(1, long.MaxValue, 3, new long[] { 1, 2, 3 })]
    [InlineData(2, 3, long.MaxValue, new long[] { 2, 3 })]
    [InlineData(2, 5, 2, new long[] { 2, 3 })]
    [InlineData(2, 2, long.MaxValue, new long[] { 2 })]
    [InlineData(2, 4, 1, new long[] { 2 })]
    [InlineData(2, 4, 0, new long[0])]
    [InlineData(3, 2, long.MaxValue, new long[0])]
    [InlineData(6, long.MaxValue, long.MaxValue, new long[0])]
    public void Replay_returns_the_events_within_the_bounds_and_the_limit_in_order_and_the_highest_number(long from, long to, long max, long[] expected)
    {
        WriteFive();
        var (events, highest) = Replay(_pid, from, to, max);
        Assert.Equal(expected, events.Select(e => e.SequenceNr));
        Assert.Equal(expected.Select(s => $"a-{s}"), events.Select(e => (string)e.Payload));
        Assert.All(events, e => Assert.Equal(_pid, e.PersistenceId));
        Assert.All(events, e => Assert.False(e.IsDeleted));
        Assert.Equal(5, highest);
    }

    [Fact]
    public void An_entity_that_never_wrote_replays_nothing_and_starts_at_zero()
    {
        WriteFive();
        var (events, highest) = Replay("note-never");
        Assert.Empty(events);
        Assert.Equal(0, highest);
    }

    [Fact]
    public void Deleted_events_are_not_replayed_and_the_highest_number_stays()
    {
        WriteFive();
        Journal.Tell(new DeleteMessagesTo(_pid, 3, TestActor));
        Assert.Equal(3, ExpectMsg<DeleteMessagesSuccess>().ToSequenceNr);
        var (events, highest) = Replay(_pid);
        Assert.Equal([4L, 5L], events.Select(e => e.SequenceNr));
        Assert.Equal(5, highest);

        // everything, and more than was ever written: nothing is replayed, numbering does not restart or jump
        Journal.Tell(new DeleteMessagesTo(_pid, long.MaxValue, TestActor));
        ExpectMsg<DeleteMessagesSuccess>();
        (events, highest) = Replay(_pid);
        Assert.Empty(events);
        Assert.Equal(5, highest);

        Assert.IsType<WriteMessageSuccess>(Write(Atomic(Event("a-6", 6, _pid, _writer))).Single());
        (events, highest) = Replay(_pid);
        Assert.Equal("a-6", events.Single().Payload);
        Assert.Equal(6, highest);
    }

    [Fact]
    public void Each_event_is_replayed_with_the_writer_id_that_wrote_it()
    {
        // Akka's replay filter tells an old incarnation's writes from a new one's by this id (two writers for one
        // entity, as when a shard moves between nodes): a journal that forgets it hides the conflict
        WriteFive();
        var second = Guid.NewGuid().ToString();
        Write(Atomic(Event("a-6", 6, _pid, second)));
        Write(Atomic(Event("other", 1, _pid + "-x", "not-a-guid")));
        var (events, _) = Replay(_pid);
        Assert.Equal(Enumerable.Repeat(_writer, 5).Append(second), events.Select(e => e.WriterGuid));
        Assert.Equal("not-a-guid", Replay(_pid + "-x").Events.Single().WriterGuid);
    }

    [Fact]
    public void Each_event_is_replayed_with_its_event_adapter_manifest_not_the_serializers()
    {
        var registered = new UserRegistered(new UserId("uaaaaaaaaaaaaaaaa"), "Ann", "+14155550100", null, [1], 0);
        Write(Atomic(Event("a-1", 1, _pid, _writer, manifest: "note-v3")), Atomic(Event(registered, 2, _pid, _writer)));
        var (events, _) = Replay(_pid);
        Assert.Equal("note-v3", events[0].Manifest);
        Assert.Equal("", events[1].Manifest); // no adapter manifest, although the serializer wrote one ("u1")
        Assert.Equal(registered.Name, ((UserRegistered)events[1].Payload).Name);
    }

    [Fact]
    public void Each_event_is_replayed_with_the_time_it_was_stored()
    {
        var before = DateTime.UtcNow.Ticks;
        Write(Atomic(Event("a-1", 1, _pid, _writer)));
        var after = DateTime.UtcNow.Ticks;
        Write(Atomic(Event("a-2", 2, _pid, _writer)));
        var (events, _) = Replay(_pid);
        Assert.InRange(events[0].Timestamp, before, after);
        Assert.InRange(events[1].Timestamp, after, DateTime.UtcNow.Ticks);
    }

    [Fact]
    public async Task An_event_that_carries_its_own_timestamp_is_replayed_with_it()
    {
        // Akka 1.5's journal base class clears an event's timestamp before it reaches the journal; a journal given
        // one (a later Akka, a tool that copies a journal) keeps it rather than the time of the copy
        var stamped = new DateTime(2026, 3, 4, 5, 6, 7, DateTimeKind.Utc).Ticks + 1234;
        var writes = new List<AtomicWrite> { Atomic(Event("a-1", 1, _pid, _writer, timestamp: stamped), Event("a-2", 2, _pid, _writer)) };
        var now = DateTime.UtcNow.Ticks;
        var rows = new SqliteEventStore.Appending();
        Assert.Null(SqliteJournal.AddRows(Sys.Serialization, null, writes, rows, now));
        var store = SqliteEventStore.Acquire(SqliteStore.ConnectionString(Data), "NORMAL"); // the journal's, shared
        try
        {
            await store.AppendAsync(rows);
        }
        finally
        {
            store.Release();
        }
        var (events, _) = Replay(_pid);
        Assert.Equal([stamped, now], events.Select(e => e.Timestamp));
    }

    [Fact]
    public void An_actor_reference_inside_an_event_is_stored_with_the_nodes_address_and_resolves_to_the_same_actor()
    {
        var probe = CreateTestProbe();
        Write(Atomic(Event(new RefCarrier("r", probe.Ref), 1, _pid, _writer)));
        var carrier = (RefCarrier)Replay(_pid).Events.Single().Payload;
        Assert.Equal(probe.Ref, carrier.Ref);
        var address = ((ExtendedActorSystem)Sys).Provider.DefaultAddress;
        Assert.StartsWith($"{address}/", carrier.StoredPath);
        Assert.Contains("@127.0.0.1:", carrier.StoredPath);
        Assert.True(carrier.WrittenWithTransport, "serialized without the system's transport information");
        carrier.Ref.Tell("hello");
        probe.ExpectMsg("hello");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task An_asker_kept_in_an_event_or_a_snapshot_on_one_node_is_answered_from_another_node(bool inSnapshot)
    {
        // the entity keeps whom to answer (here a temporary actor of an Ask), stops, and recovers on another node of
        // the cluster: the kept reference must name the first node, or the answer goes to the wrong node
        var keeper = Sys.ActorOf(Props.Create(() => new NoteKeeper(_pid)));
        var answer = keeper.Ask<string>(new NoteKeeper.KeepSender("k", TestActor, inSnapshot), TimeSpan.FromSeconds(20));
        ExpectMsg<object>();
        Watch(keeper);
        Sys.Stop(keeper);
        ExpectTerminated(keeper);

        using var other = ActorSystem.Create("contract", SystemConfig(Data));
        try
        {
            other.ActorOf(Props.Create(() => new NoteKeeper(_pid)));
            var otherAddress = ((ExtendedActorSystem)other).Provider.DefaultAddress;
            Assert.Equal($"k answered by {otherAddress}", await answer);
        }
        finally
        {
            await other.Terminate();
        }
    }

    [Fact]
    public void A_payload_that_cannot_be_serialized_is_rejected_alone()
    {
        var answers = Write(Atomic(Event("b-1", 1, _pid, _writer)), Atomic(Event(new Unserializable(), 2, _pid, _writer)),
            Atomic(Event("b-3", 3, _pid, _writer)));
        Assert.IsType<WriteMessageSuccess>(answers[0]);
        Assert.Equal(2, Assert.IsType<WriteMessageRejected>(answers[1]).Persistent.SequenceNr);
        Assert.IsType<WriteMessageSuccess>(answers[2]);
        var (events, highest) = Replay(_pid);
        Assert.Equal(["b-1", "b-3"], events.Select(e => (string)e.Payload));
        Assert.Equal(3, highest);
    }

    [Fact]
    public void A_write_the_store_refuses_is_answered_with_failures_in_order_and_the_next_write_goes_through()
    {
        WriteFive();
        var probe = CreateTestProbe();
        // sequence number 3 is taken: the store's index refuses the whole atomic write
        Journal.Tell(new WriteMessages(new IPersistentEnvelope[] { Atomic(Event("again-3", 3, _pid, _writer), Event("again-6", 6, _pid, _writer)) },
            probe.Ref, 1));
        Assert.Equal(1, probe.ExpectMsg<WriteMessagesFailed>().WriteCount);
        Assert.Equal([3L, 6L], new[] { probe.ExpectMsg<WriteMessageFailure>(), probe.ExpectMsg<WriteMessageFailure>() }.Select(f => f.Persistent.SequenceNr));
        probe.ExpectNoMsg(TimeSpan.FromMilliseconds(200));

        Assert.IsType<WriteMessageSuccess>(Assert.Single(Write(Atomic(Event("a-6", 6, _pid, _writer)))));
        var (events, highest) = Replay(_pid);
        Assert.Equal(["a-1", "a-2", "a-3", "a-4", "a-5", "a-6"], events.Select(e => (string)e.Payload));
        Assert.Equal(6, highest);
    }

    [Fact]
    public void A_write_answered_leaves_nothing_in_the_batch_list_the_entity_sent_for_a_collection_to_keep()
    {
        // the list is the persistent actor's own batch, most often already old when its events are added: anything it
        // still held after the write would be kept, with every event and entry it reaches, by each young collection
        var probe = CreateTestProbe();
        var batch = new List<IPersistentEnvelope> { Atomic(Event("d-1", 1, _pid, _writer)), Atomic(Event("d-2", 2, _pid, _writer)) };
        Journal.Tell(new WriteMessages(batch, probe.Ref, 1));
        probe.ExpectMsg<WriteMessagesSuccessful>();
        Assert.Equal(["d-1", "d-2"], new[] { probe.ExpectMsg<WriteMessageSuccess>(), probe.ExpectMsg<WriteMessageSuccess>() }
            .Select(s => (string)s.Persistent.Payload));
        Assert.Empty(batch);
        Assert.Equal(0, batch.Capacity);
        var (events, highest) = Replay(_pid);
        Assert.Equal(["d-1", "d-2"], events.Select(e => (string)e.Payload));
        Assert.Equal(2, highest);
    }

    [Fact]
    public void Deferred_handlers_between_events_run_in_the_order_they_were_given()
    {
        var actor = Sys.ActorOf(Props.Create(() => new Deferring(_pid)));
        actor.Tell("go", TestActor);
        ExpectMsg("event c-1");
        ExpectMsg("deferred after c-1");
        ExpectMsg("event c-2");
        var (events, _) = Replay(_pid);
        Assert.Equal(["c-1", "c-2"], events.Select(e => (string)e.Payload));
    }

    /// <summary>Persists and defers asynchronously in one command; each handler tells the sender what ran.</summary>
    private sealed class Deferring(string pid) : UntypedPersistentActor
    {
        public override string PersistenceId => pid;
        protected override void OnRecover(object message) { }

        protected override void OnCommand(object message)
        {
            var sender = Sender;
            PersistAsync("c-1", e => sender.Tell($"event {e}"));
            DeferAsync("deferred after c-1", d => sender.Tell(d));
            PersistAsync("c-2", e => sender.Tell($"event {e}"));
        }
    }

    /// <summary>Bound to the chat serializer but without a manifest: the serializer refuses it.</summary>
    private sealed record Unserializable : Chat.Node.Serialization.IChatMessage;

    [Fact]
    public async Task Entities_writing_at_the_same_time_each_read_back_their_own_events_in_order()
    {
        const int entities = 40, events = 25;
        var keepers = Enumerable.Range(0, entities).Select(e => Sys.ActorOf(Props.Create(() => new NoteKeeper($"{_pid}-{e}")))).ToList();
        var writes = keepers.Select(async (keeper, e) =>
        {
            for (var i = 1; i <= events; i++)
                Assert.Equal(i, await keeper.Ask<long>(new NoteKeeper.Add($"{e}:{i}"), TimeSpan.FromSeconds(30)));
        });
        await Task.WhenAll(writes);

        var writers = new HashSet<string>();
        for (var e = 0; e < entities; e++)
        {
            var (stored, highest) = Replay($"{_pid}-{e}");
            Assert.Equal(Enumerable.Range(1, events).Select(i => $"{e}:{i}"), stored.Select(s => (string)s.Payload));
            Assert.Equal(events, highest);
            // one incarnation wrote them all, and no other entity's incarnation
            Assert.True(writers.Add(Assert.Single(stored.Select(s => s.WriterGuid).Distinct())));
        }
    }

    [Fact]
    public void A_persistent_actor_that_stops_recovers_its_snapshot_and_later_events_and_continues_numbering()
    {
        var keeper = Sys.ActorOf(Props.Create(() => new NoteKeeper(_pid)));
        for (var i = 1; i <= 3; i++)
        {
            keeper.Tell(new NoteKeeper.Add($"n{i}"));
            ExpectMsg((long)i);
        }
        keeper.Tell(new NoteKeeper.TakeSnapshot());
        Assert.Equal(3, ExpectMsg<SnapshotMetadata>().SequenceNr);
        keeper.Tell(new NoteKeeper.AddAll(["n4", "n5"]));
        ExpectMsg(5L);
        keeper.Tell(new NoteKeeper.AddVersioned("n6"));
        ExpectMsg(6L);
        Watch(keeper);
        Sys.Stop(keeper);
        ExpectTerminated(keeper);

        var again = Sys.ActorOf(Props.Create(() => new NoteKeeper(_pid)));
        again.Tell(new NoteKeeper.Get());
        var state = ExpectMsg<NoteKeeper.State>();
        Assert.Equal(3, state.RecoveredFromSnapshot);
        // n6 was replayed through its event adapter, which saw the manifest it wrote
        Assert.Equal(["n1", "n2", "n3", "n4", "n5", "n6 as note-v2"], state.Notes);
        Assert.Equal(6, state.LastSequenceNr);
        again.Tell(new NoteKeeper.Add("n7"));
        ExpectMsg(7L);
    }
}
