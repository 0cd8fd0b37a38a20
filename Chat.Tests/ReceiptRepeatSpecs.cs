using Akka.Actor;
using Akka.TestKit.Xunit2;
using Chat.Node;
using Chat.Node.Persistence;
using Chat.Node.Users;
using Chat.Protocol;

namespace Chat.Tests;

/// <summary>A delivered receipt reaches its sender's inbox once, however often the two entities stop and start again.</summary>
public sealed class ReceiptRepeatSpecs : TestKit
{
    private static readonly UserId Ann = new("uaaaaaaaaaaaaaaaa");
    private static readonly UserId Bob = new("ubbbbbbbbbbbbbbbb");

    public ReceiptRepeatSpecs() : base(EntitySpecConfig.Hocon()) { }

    /// <summary>Stops an entity the way passivation does (once its writes are durable) and waits for it to be gone.</summary>
    private void Passivate(IActorRef entity)
    {
        Watch(entity);
        entity.Tell(DurableOrderActor.StopWhenDurable.Instance);
        ExpectTerminated(entity);
    }

    [Fact]
    public void A_delivered_receipt_confirmed_after_a_snapshot_is_not_sent_again_when_its_issuer_passivates()
    {
        // a snapshot after every write, so one is taken while the receipt is on its way
        var settings = TestNode.DefaultSettings() with { SnapshotEvery = 1, ReceiptRetryInterval = TimeSpan.FromMinutes(5) };
        var annRegion = CreateTestProbe(); // Ann's entity's way to other users' entities
        var bobRegion = CreateTestProbe();
        IActorRef StartAnn() => Sys.ActorOf(UserEntity.Props(Ann.Value, settings, TimeProvider.System, annRegion.Ref));
        IActorRef StartBob() => Sys.ActorOf(UserEntity.Props(Bob.Value, settings, TimeProvider.System, bobRegion.Ref));
        var ann = StartAnn();
        var bob = StartBob();
        ann.Tell(new CreateUser(Ann, "Ann", "+14155550100", null, [1]), TestActor);
        ExpectMsg<UserCreated>();
        bob.Tell(new CreateUser(Bob, "Bob", "+14155550101", null, [2]), TestActor);
        ExpectMsg<UserCreated>();

        ann.Tell(new DeliverText(Ann, Bob, "c1", "hello", 1), TestActor);
        var sent = ExpectMsg<TextAccepted>();
        ann.Tell(new Acknowledge(Ann, 1)); // Ann's device has it: a delivered receipt leaves for Bob
        var receipt = annRegion.ExpectMsg<StoreReceipts>();
        ann.Tell(new DeliverText(Ann, Bob, "c2", "again", 2), TestActor); // Ann's inbox writes (and snapshots) meanwhile
        ExpectMsg<TextAccepted>();
        bob.Tell(receipt, TestActor); // Bob's inbox stores the receipt and confirms it to Ann
        ann.Tell(ExpectMsg<ReceiptsStoredAck>());
        ann.Tell(new DescribeUser(Ann), TestActor);
        ExpectMsg<UserDescription>();

        var resent = 0;
        for (var round = 0; round < 3; round++)
        {
            Passivate(ann);
            Passivate(bob);
            ann = StartAnn();
            bob = StartBob();
            ann.Tell(new DescribeUser(Ann), TestActor);
            ExpectMsg<UserDescription>();
            foreach (var again in annRegion.ReceiveWhile(TimeSpan.FromMilliseconds(500), m => (StoreReceipts)m)!)
            {
                resent++;
                bob.Tell(again, TestActor); // delivered, as the region would
                ann.Tell(ExpectMsg<ReceiptsStoredAck>());
            }
        }
        bob.Tell(new FetchEntries(Bob, 0, 100), TestActor);
        var delivered = ExpectMsg<Entries>().Items.Sum(e => e switch
        {
            InboxReceipt r when r.Status == ReceiptStatus.Delivered && r.MessageIds.Contains(sent.MessageId) => 1,
            InboxReceiptSet s => s.Items.Count(i => i.Status == ReceiptStatus.Delivered && i.MessageIds.Contains(sent.MessageId)),
            _ => 0,
        });
        Assert.Equal(0, resent);
        Assert.Equal(1, delivered);
    }

    [Fact]
    public void A_delivered_receipt_its_issuer_sent_again_after_a_restart_is_not_sent_a_third_time_once_confirmed()
    {
        var settings = TestNode.DefaultSettings() with { SnapshotEvery = 1, ReceiptRetryInterval = TimeSpan.FromMinutes(5) };
        var annRegion = CreateTestProbe();
        IActorRef StartAnn() => Sys.ActorOf(UserEntity.Props(Ann.Value, settings, TimeProvider.System, annRegion.Ref));
        var ann = StartAnn();
        var bob = Sys.ActorOf(UserEntity.Props(Bob.Value, settings, TimeProvider.System, CreateTestProbe().Ref));
        ann.Tell(new CreateUser(Ann, "Ann", "+14155550100", null, [1]), TestActor);
        ExpectMsg<UserCreated>();
        bob.Tell(new CreateUser(Bob, "Bob", "+14155550101", null, [2]), TestActor);
        ExpectMsg<UserCreated>();
        ann.Tell(new DeliverText(Ann, Bob, "c1", "hello", 1), TestActor);
        ExpectMsg<TextAccepted>();
        ann.Tell(new Acknowledge(Ann, 1));
        annRegion.ExpectMsg<StoreReceipts>(); // lost on its way
        Passivate(ann); // stops owing it
        ann = StartAnn();
        var owed = annRegion.ExpectMsg<StoreReceipts>(); // the new incarnation sends it again, as it must
        bob.Tell(owed, TestActor);
        ann.Tell(ExpectMsg<ReceiptsStoredAck>()); // confirmed now
        ann.Tell(new DescribeUser(Ann), TestActor);
        ExpectMsg<UserDescription>();
        for (var round = 0; round < 2; round++)
        {
            Passivate(ann);
            ann = StartAnn();
            ann.Tell(new DescribeUser(Ann), TestActor);
            ExpectMsg<UserDescription>();
            annRegion.ExpectNoMsg(TimeSpan.FromMilliseconds(300)); // confirmed: not owed any more
        }
    }

    [Fact]
    public void A_repeated_delivered_receipt_is_recognised_after_its_inbox_restarts_from_a_snapshot()
    {
        var bob = new UserState();
        bob.Apply(new UserRegistered(Bob, "Bob", "+14155550101", null, [2], 0));
        var receipt = new StoreReceipts(Bob, Ann, new ReceiptBatch(Bob, -42, ReceiptStatus.Delivered, ["m1"], 7));
        bob.Apply(bob.DecideStoreReceipts([receipt], 0).Event!);
        Assert.Null(bob.DecideStoreReceipts([receipt], 0).Event); // its issuer sends it again: nothing to store
        var restarted = UserState.FromSnapshot(bob.ToSnapshot());
        Assert.Null(restarted.DecideStoreReceipts([receipt], 0).Event);
        // and through the serializer, as the snapshot store keeps it
        var snapshot = bob.ToSnapshot();
        var serializer = (Akka.Serialization.SerializerWithStringManifest)Sys.Serialization.FindSerializerFor(snapshot);
        var read = (UserSnapshot)serializer.FromBinary(serializer.ToBinary(snapshot), serializer.Manifest(snapshot));
        Assert.Null(UserState.FromSnapshot(read).DecideStoreReceipts([receipt], 0).Event);
    }
}
