using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using Chat.Node;
using Chat.Node.Presence;
using Chat.Node.Users;
using Chat.Protocol;

namespace Chat.Tests;

/// <summary>The user entity actor on an in-memory journal, with probes for sessions and other users.</summary>
public sealed class UserEntitySpecs : TestKit
{

    private static readonly UserId Ann = new("uaaaaaaaaaaaaaaaa");
    private static readonly UserId Bob = new("ubbbbbbbbbbbbbbbb");
    private readonly ChatSettings _settings = TestNode.DefaultSettings() with { SnapshotEvery = 5 };

    public UserEntitySpecs() : base(EntitySpecConfig.Hocon()) { }

    private IActorRef Start(IActorRef users) =>
        Sys.ActorOf(UserEntity.Props(Ann.Value, _settings, TimeProvider.System, users));

    /// <summary>Creates Ann, stores <paramref name="count"/> texts from Bob in her inbox; their message ids in order.</summary>
    private List<string> CreateAnnWithTextsFromBob(IActorRef ann, int count)
    {
        ann.Tell(new CreateUser(Ann, "Ann", "+14155550100", null, [1]), TestActor);
        ExpectMsg<UserCreated>();
        var ids = new List<string>();
        for (var i = 1; i <= count; i++)
        {
            ann.Tell(new DeliverText(Ann, Bob, $"c{i}", $"t{i}", (uint)i), TestActor);
            ids.Add(ExpectMsg<TextAccepted>().MessageId);
        }
        return ids;
    }

    /// <summary>Stops <paramref name="entity"/> (gracefully, or as a crash leaves it: nothing more written), then starts it again.</summary>
    private IActorRef StopThenStart(IActorRef entity, bool gracefully, Func<IActorRef> start)
    {
        Watch(entity);
        if (gracefully) entity.Tell(Chat.Node.Persistence.DurableOrderActor.StopWhenDurable.Instance);
        else Sys.Stop(entity);
        ExpectTerminated(entity);
        return start();
    }

    [Fact]
    public void Stopped_for_a_hand_off_it_first_answers_every_send_it_already_received()
    {
        // cluster sharding stops an entity whose shard moves to another node: sends it has received but not yet
        // stored must be stored and answered first, or they would be repeated later, behind newer sends
        var ann = Start(CreateTestProbe().Ref);
        ann.Tell(new CreateUser(Ann, "Ann", "+14155550100", null, [1]), TestActor);
        ExpectMsg<UserCreated>();
        Watch(ann);
        for (var i = 1; i <= 50; i++) ann.Tell(new DeliverText(Ann, Bob, $"c{i}", $"t{i}", (uint)i), TestActor);
        ann.Tell(Chat.Node.Persistence.DurableOrderActor.StopWhenDurable.Instance);
        for (var i = 1; i <= 50; i++) Assert.Equal((uint)i, ExpectMsg<TextAccepted>().RequestId);
        ExpectTerminated(ann);

        var again = Start(CreateTestProbe().Ref);
        again.Tell(new FetchEntries(Ann, 0, 100), TestActor);
        var texts = ExpectMsg<Entries>().Items.OfType<InboxMessage>().Select(m => m.Text);
        Assert.Equal(Enumerable.Range(1, 50).Select(i => $"t{i}"), texts);
    }

    [Fact]
    public void Accepts_once_durable_pushes_to_sessions_and_sends_receipts_on_ack()
    {
        var users = CreateTestProbe();
        var session = CreateTestProbe();
        var retry = TimeSpan.FromMilliseconds(200);
        var ann = Sys.ActorOf(UserEntity.Props(Ann.Value, _settings with { ReceiptRetryInterval = retry }, TimeProvider.System, users.Ref));
        ann.Tell(new CreateUser(Ann, "Ann", "+14155550100", null, [1]), TestActor);
        ExpectMsg<UserCreated>();

        ann.Tell(new Authenticate(Ann, [2], "phone", session.Ref, 1), TestActor);
        Assert.Equal(ErrorCode.AuthFailed, ExpectMsg<Rejected>().Code);
        ann.Tell(new Authenticate(Ann, [1], "phone", session.Ref, 1), TestActor);
        Assert.Equal(0, ExpectMsg<Authenticated>().LastSeq);

        ann.Tell(new DeliverText(Ann, Bob, "c1", "hello", 5), TestActor);
        var accepted = ExpectMsg<TextAccepted>();
        var pushed = session.ExpectMsg<Pushed>();
        var message = Assert.IsType<InboxMessage>(pushed.Entry);
        Assert.Equal(accepted.MessageId, message.MessageId);

        ann.Tell(new Acknowledge(Ann, 1));
        var receipts = users.ExpectMsg<StoreReceipts>();
        Assert.Equal(Bob, receipts.UserId);
        Assert.Equal(Ann, receipts.By);
        Assert.Equal([accepted.MessageId], receipts.Batch.MessageIds);
        // unconfirmed receipts are resent, the same batch again
        var resent = users.ExpectMsg<StoreReceipts>();
        Assert.Equal(receipts.Batch.BatchNo, resent.Batch.BatchNo);
        Assert.Equal([accepted.MessageId], resent.Batch.MessageIds);
        // once Bob's inbox confirms the batch, the resending stops
        ann.Tell(new ReceiptsStoredAck(Ann, Bob, receipts.Batch.BatchNo));
        // resends issued before the confirmation arrived (a slow machine) are already on their way: once Ann answers
        // something told after it, they are all in the probe's mailbox and are set aside; after that, silence
        ann.Tell(new DescribeUser(Ann), TestActor);
        ExpectMsg<UserDescription>();
        users.ReceiveWhile(TimeSpan.FromMilliseconds(50), m => m is StoreReceipts r && r.Batch.BatchNo == receipts.Batch.BatchNo ? m : null);
        users.ExpectNoMsg(retry * 5);
    }

    [Fact]
    public void An_ack_past_the_end_of_the_inbox_does_not_acknowledge_the_entries_that_later_take_those_numbers()
    {
        // a device whose stored position is past the inbox's end (the node's data restored from an older backup) acks it
        // again: only what is stored now counts, and a later text gets its delivered receipt only once it is acknowledged
        var users = CreateTestProbe();
        var ann = Sys.ActorOf(UserEntity.Props(Ann.Value, _settings with { ReceiptRetryInterval = TimeSpan.FromMinutes(5) },
            TimeProvider.System, users.Ref));
        var ids = CreateAnnWithTextsFromBob(ann, 1);
        ann.Tell(new Acknowledge(Ann, 5));
        Assert.Equal(ids, users.ExpectMsg<StoreReceipts>().Batch.MessageIds);
        ann.Tell(new DeliverText(Ann, Bob, "c2", "t2", 2), TestActor);
        var later = ExpectMsg<TextAccepted>().MessageId;
        ann.Tell(new Acknowledge(Ann, 1)); // any ack after it (here one already counted) decides what is wanted
        ann.Tell(new DescribeUser(Ann), TestActor);
        ExpectMsg<UserDescription>();
        users.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        ann.Tell(new Acknowledge(Ann, 2));
        Assert.Equal([later], users.ExpectMsg<StoreReceipts>().Batch.MessageIds);
    }

    [Fact]
    public void Receipts_go_straight_to_the_senders_entity_once_it_confirmed_all_issued_to_it_and_through_the_region_again_when_it_stops()
    {
        var users = CreateTestProbe();
        var bob = CreateTestProbe(Bob.Value); // sharding names a user's entity by the user's id
        // no retries within the test: what is sent again is sent because Bob's entity stopped
        var ann = Sys.ActorOf(UserEntity.Props(Ann.Value, _settings with { ReceiptRetryInterval = TimeSpan.FromMinutes(5) },
            TimeProvider.System, users.Ref));
        CreateAnnWithTextsFromBob(ann, 5);
        long Receipt(Akka.TestKit.TestProbe to, long seq)
        {
            ann.Tell(new Acknowledge(Ann, seq));
            var receipts = to.ExpectMsg<StoreReceipts>();
            Assert.Equal(Bob, receipts.UserId);
            return receipts.Batch.BatchNo;
        }
        var first = Receipt(users, 1);
        var second = Receipt(users, 2);
        // Bob's entity confirms the first batch while the second is on its way through the region: the third follows it
        ann.Tell(new ReceiptsStoredAck(Ann, Bob, first), bob.Ref);
        var third = Receipt(users, 3);
        // everything issued to Bob is confirmed: the fourth goes to his entity directly
        ann.Tell(new ReceiptsStoredAck(Ann, Bob, second), bob.Ref);
        ann.Tell(new ReceiptsStoredAck(Ann, Bob, third), bob.Ref);
        var fourth = Receipt(bob, 4);
        users.ExpectNoMsg(TimeSpan.FromMilliseconds(200));

        // it stops before confirming: the fourth goes again through the region at once, and so does the fifth
        Sys.Stop(bob.Ref);
        Assert.Equal(fourth, users.ExpectMsg<StoreReceipts>().Batch.BatchNo);
        Assert.NotEqual(fourth, Receipt(users, 5));
    }

    [Fact]
    public void An_ack_is_written_when_the_entity_stops_and_one_lost_in_a_crash_is_covered_by_the_next()
    {
        var users = CreateTestProbe();
        var settings = _settings with { ReceiptRetryInterval = TimeSpan.FromMinutes(5) }; // resent only at a start
        IActorRef StartAnn() => Sys.ActorOf(UserEntity.Props(Ann.Value, settings, TimeProvider.System, users.Ref));
        var ann = StartAnn();
        var ids = CreateAnnWithTextsFromBob(ann, 3);
        StoreReceipts Receipt() => users.ExpectMsg<StoreReceipts>(r => r.Batch.Status == ReceiptStatus.Delivered);
        IActorRef Restart(IActorRef entity, bool gracefully) => StopThenStart(entity, gracefully, StartAnn);

        // the receipt goes at once, before anything is written
        ann.Tell(new Acknowledge(Ann, 1));
        var first = Receipt();
        Assert.Equal([ids[0]], first.Batch.MessageIds);
        ann.Tell(new ReceiptsStoredAck(Ann, Bob, first.Batch.BatchNo));

        // a crash loses that ack: the next one covers message 1 again, and its receipt goes again
        ann = Restart(ann, gracefully: false);
        ann.Tell(new Acknowledge(Ann, 2));
        var second = Receipt();
        Assert.Equal([ids[0], ids[1]], second.Batch.MessageIds);
        Assert.NotEqual(first.Batch.BatchNo, second.Batch.BatchNo); // a new key: the sender stores it

        // a stop writes the ack and the receipt not yet confirmed: the next incarnation sends that receipt again, the
        // same batch, and an ack of what was acknowledged owes nothing
        ann = Restart(ann, gracefully: true);
        var resent = Receipt().Batch;
        Assert.Equal(second.Batch.BatchNo, resent.BatchNo);
        Assert.Equal(second.Batch.MessageIds, resent.MessageIds);
        ann.Tell(new Acknowledge(Ann, 2));
        users.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        ann.Tell(new Acknowledge(Ann, 3));
        Assert.Equal([ids[2]], Receipt().Batch.MessageIds);
    }

    [Fact]
    public void A_login_is_written_at_its_first_renewal_and_going_offline_and_a_stop_while_online_at_once()
    {
        var clock = new ManualClock(DateTimeOffset.FromUnixTimeMilliseconds(1_000_000));
        IActorRef StartAnn() => Sys.ActorOf(UserEntity.Props(Ann.Value, _settings, clock, CreateTestProbe().Ref));
        IActorRef Restart(IActorRef entity, bool gracefully) => StopThenStart(entity, gracefully, StartAnn);
        PresenceNow ShownToBob(IActorRef entity) // Bob wrote to Ann: he may follow her presence
        {
            var watcher = CreateTestProbe();
            entity.Tell(new WatchPresence(Ann, Bob, watcher.Ref));
            return watcher.ExpectMsg<PresenceNow>();
        }
        TestProbe LogIn(IActorRef entity)
        {
            var session = CreateTestProbe();
            entity.Tell(new Authenticate(Ann, [1], "phone", session.Ref, 1), TestActor);
            ExpectMsg<Authenticated>();
            return session;
        }
        var ann = StartAnn();
        CreateAnnWithTextsFromBob(ann, 1);

        // a login is not written at once: after a crash before its session renewed its attachment, last seen is what
        // was stored before it (here: nothing yet)
        LogIn(ann);
        clock.Advance(TimeSpan.FromSeconds(5));
        ann = Restart(ann, gracefully: false);
        Assert.Equal((false, 0L), ShownToBob(ann) is var first ? (first.Online, first.LastSeen) : default);

        // it is written at the session's first renewal: a crash after it shows when she came online
        var cameOnlineAt = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var renewing = LogIn(ann);
        clock.Advance(TimeSpan.FromSeconds(15));
        ann.Tell(new KeepAttached(Ann, "phone", renewing.Ref), TestActor);
        ExpectMsg<AttachState>();
        ann = Restart(ann, gracefully: false);
        Assert.Equal((false, cameOnlineAt), ShownToBob(ann) is var renewed ? (renewed.Online, renewed.LastSeen) : default);

        // stopped while she is online (her shard moves, the node stops): last seen is the stop
        LogIn(ann);
        clock.Advance(TimeSpan.FromSeconds(60));
        var stoppedAt = clock.GetUtcNow().ToUnixTimeMilliseconds();
        ann = Restart(ann, gracefully: true);
        Assert.Equal((false, stoppedAt), ShownToBob(ann) is var second ? (second.Online, second.LastSeen) : default);

        // going offline is written at once: it survives a crash right after
        var session = LogIn(ann);
        clock.Advance(TimeSpan.FromSeconds(10));
        var leftAt = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var follower = CreateTestProbe();
        ann.Tell(new WatchPresence(Ann, Bob, follower.Ref));
        Assert.True(follower.ExpectMsg<PresenceNow>().Online);
        Sys.Stop(session.Ref);
        follower.FishForMessage(m => m is PresenceNow { Online: false }, TimeSpan.FromSeconds(10));
        ann = Restart(ann, gracefully: false);
        Assert.Equal((false, leftAt), ShownToBob(ann) is var third ? (third.Online, third.LastSeen) : default);
    }

    [Fact]
    public void Acks_in_quick_succession_send_one_delivered_receipt_per_message_and_fewer_batches()
    {
        var users = CreateTestProbe();
        var ann = Start(users.Ref);
        var ids = CreateAnnWithTextsFromBob(ann, 20);
        // a client acks each entry as it arrives: twenty acks in a row, the first one's write still in flight
        for (var seq = 1; seq <= 20; seq++) ann.Tell(new Acknowledge(Ann, seq));

        var covered = new List<string>();
        var batches = 0;
        while (covered.Count < ids.Count)
        {
            var receipts = users.ExpectMsg<StoreReceipts>();
            Assert.Equal(Bob, receipts.UserId);
            Assert.Equal(ReceiptStatus.Delivered, receipts.Batch.Status);
            batches++;
            covered.AddRange(receipts.Batch.MessageIds);
            ann.Tell(new ReceiptsStoredAck(Ann, Bob, receipts.Batch.BatchNo));
        }
        Assert.Equal(ids, covered); // every message once, in order
        Assert.True(batches < ids.Count, $"{batches} receipt batches for {ids.Count} acks: acks were not merged");
        users.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public void Recovers_inbox_and_dedup_after_a_restart_across_snapshots()
    {
        var users = CreateTestProbe();
        var ann = Start(users.Ref);
        var ids = CreateAnnWithTextsFromBob(ann, 12);
        Watch(ann);
        Sys.Stop(ann);
        ExpectTerminated(ann);

        var again = Start(users.Ref);
        again.Tell(new FetchEntries(Ann, 0, 100), TestActor);
        var entries = ExpectMsg<Entries>();
        Assert.Equal(12, entries.LastSeq);
        Assert.Equal(ids, entries.Items.Cast<InboxMessage>().Select(m => m.MessageId));
        again.Tell(new DeliverText(Ann, Bob, "c3", "t3", 99), TestActor);
        Assert.Equal(ids[2], ExpectMsg<TextAccepted>().MessageId);
    }

    /// <summary>Every entry after <paramref name="after"/>, fetched a page at a time as a session does.</summary>
    private List<InboxEntry> FetchAll(IActorRef user, long after = 0)
    {
        var all = new List<InboxEntry>();
        while (true)
        {
            user.Tell(new FetchEntries(Ann, after, 100), TestActor);
            var page = ExpectMsg<Entries>();
            all.AddRange(page.Items);
            if (page.Items.Count == 0 || page.Items[^1].Seq >= page.LastSeq) return all;
            after = page.Items[^1].Seq;
        }
    }

    [Fact]
    public void A_snapshot_that_held_the_whole_inbox_still_loads_and_its_entries_outlive_the_tail_and_a_restart()
    {
        // snapshots written before inboxes were paged hold every entry, and the events that held them were deleted
        var settings = _settings with { InboxTail = 4, SyncBatch = 5 };
        var texts = Enumerable.Range(1, 20).Select(i => new InboxMessage(i, $"m{i}", Bob, $"t{i}", 1000 + i, $"c{i}")).ToList();
        var legacy = new UserSnapshot(new UserRegistered(Ann, "Ann", "+14155550100", null, [1], 1), texts, 20, 0,
            new Dictionary<string, long>(), [], new Dictionary<string, long>(), new Dictionary<string, long>());
        Akka.Persistence.Persistence.Instance.Apply(Sys).SnapshotStoreFor(null)
            .Tell(new Akka.Persistence.SaveSnapshot(new Akka.Persistence.SnapshotMetadata("user-" + Ann.Value, 30, DateTime.UtcNow), legacy), TestActor);
        ExpectMsg<Akka.Persistence.SaveSnapshotSuccess>();
        var users = CreateTestProbe();
        IActorRef StartSmall() => Sys.ActorOf(UserEntity.Props(Ann.Value, settings, TimeProvider.System, users.Ref));

        var ann = StartSmall();
        Assert.Equal(texts, FetchAll(ann));
        ann.Tell(new DeliverText(Ann, Bob, "c3", "t3", 7), TestActor); // a resend is still recognised
        Assert.Equal("m3", ExpectMsg<TextAccepted>().MessageId);
        for (var i = 21; i <= 26; i++) // the inbox goes on after them, and a snapshot of the new kind is taken
        {
            ann.Tell(new DeliverText(Ann, Bob, $"c{i}", $"t{i}", (uint)i), TestActor);
            Assert.Equal((uint)i, ExpectMsg<TextAccepted>().RequestId);
        }
        Watch(ann);
        Sys.Stop(ann);
        ExpectTerminated(ann);

        // restarted: the old entries come from the journal now (the tail holds only the newest four)
        var again = StartSmall();
        var all = FetchAll(again);
        Assert.Equal(Enumerable.Range(1, 26).Select(i => $"t{i}"), all.Cast<InboxMessage>().Select(m => m.Text));
        again.Tell(new Acknowledge(Ann, 26), TestActor);
        var covered = new List<string>();
        while (covered.Count < 26) covered.AddRange(users.ExpectMsg<StoreReceipts>().Batch.MessageIds);
        Assert.Equal(all.Cast<InboxMessage>().Select(m => m.MessageId), covered);
        again.Tell(new InboxProbe(Ann), TestActor);
        Assert.True(ExpectMsg<InboxProbeReply>().Held <= 4 + 5);
    }

    [Fact]
    public void A_login_on_the_same_device_replaces_the_older_session()
    {
        var ann = Start(CreateTestProbe().Ref);
        ann.Tell(new CreateUser(Ann, "Ann", "+14155550100", null, [1]), TestActor);
        ExpectMsg<UserCreated>();
        var first = CreateTestProbe();
        var second = CreateTestProbe();
        var laptop = CreateTestProbe();
        ann.Tell(new Authenticate(Ann, [1], "phone", first.Ref, 1), TestActor);
        ann.Tell(new Authenticate(Ann, [1], "laptop", laptop.Ref, 2), TestActor);
        ann.Tell(new Authenticate(Ann, [1], "phone", second.Ref, 3), TestActor);
        ExpectMsg<Authenticated>(); ExpectMsg<Authenticated>(); ExpectMsg<Authenticated>();
        first.ExpectMsg<SessionReplaced>();
        laptop.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        ann.Tell(new DeliverText(Ann, Bob, "c1", "hello", 5), TestActor);
        ExpectMsg<TextAccepted>();
        second.ExpectMsg<Pushed>();
        laptop.ExpectMsg<Pushed>();
        first.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }
}

public sealed class UserEntitySnapshotSpecs : TestKit
{
    private static readonly UserId Ann = new("uaaaaaaaaaaaaaaaa");

    public UserEntitySnapshotSpecs() : base(EntitySpecConfig.Hocon(serializeMessages: false)) { }

    [Fact]
    public void Snapshots_taken_while_writes_overlap_still_recover_the_same_inbox()
    {
        var settings = TestNode.DefaultSettings() with { SnapshotEvery = 3 };
        var users = CreateTestProbe();
        var ann = Sys.ActorOf(UserEntity.Props(Ann.Value, settings, TimeProvider.System, users.Ref));
        ann.Tell(new CreateUser(Ann, "Ann", "+14155550100", null, [1]), TestActor);
        ExpectMsg<UserCreated>();
        // texts and receipts from many senders at once: several kinds of write in flight together
        for (var i = 0; i < 40; i++)
        {
            var other = UserId.New();
            ann.Tell(new DeliverText(Ann, other, $"c{i}", $"t{i}", (uint)i), TestActor);
            ann.Tell(new StoreReceipts(Ann, other, new ReceiptBatch(Ann, 1, ReceiptStatus.Delivered, [$"m{i}"], 1)), TestActor);
        }
        var acceptedRequests = new List<uint>();
        var confirmedSenders = new List<UserId>();
        for (var i = 0; i < 80; i++)
        {
            switch (ExpectMsg<object>())
            {
                case TextAccepted a: acceptedRequests.Add(a.RequestId); break;
                case ReceiptsStoredAck r:
                    Assert.Equal(Ann, r.Sender);
                    Assert.Equal(1, r.BatchNo);
                    confirmedSenders.Add(r.UserId);
                    break;
                case var other: Assert.Fail($"unexpected {other}"); break;
            }
        }
        Assert.Equal(Enumerable.Range(0, 40).Select(i => (uint)i), acceptedRequests.Order());
        Assert.Equal(40, confirmedSenders.Distinct().Count());
        ann.Tell(new FetchEntries(Ann, 0, 1000), TestActor);
        var before = ExpectMsg<Entries>();
        Watch(ann);
        Sys.Stop(ann);
        ExpectTerminated(ann);

        var again = Sys.ActorOf(UserEntity.Props(Ann.Value, settings, TimeProvider.System, users.Ref));
        again.Tell(new FetchEntries(Ann, 0, 1000), TestActor);
        var after = ExpectMsg<Entries>();
        Assert.Equal(40, before.Items.OfType<InboxMessage>().Count());
        Assert.Equal(before.LastSeq, after.LastSeq);
        Assert.Equal(before.Items.Select(e => e.GetType().Name + e.Seq), after.Items.Select(e => e.GetType().Name + e.Seq));
    }
}
