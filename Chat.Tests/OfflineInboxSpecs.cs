using Akka.Actor;
using Akka.TestKit.Xunit2;
using Chat.Node;
using Chat.Node.Users;
using Chat.Protocol;

namespace Chat.Tests;

/// <summary>
/// A user who stays offline while thousands of messages arrive: the entity holds the offline tail, not the inbox, and
/// the user notices nothing of it (order, resends, sync, pushes once back, a restart).
/// </summary>
public sealed class OfflineInboxSpecs : TestKit
{
    private static readonly UserId Ann = new("uaaaaaaaaaaaaaaaa");
    private static readonly UserId Bob = new("ubbbbbbbbbbbbbbbb");
    private readonly ChatSettings _settings = TestNode.DefaultSettings() with { SnapshotEvery = 500, ReceiptRetryInterval = TimeSpan.FromMinutes(5) };

    public OfflineInboxSpecs() : base(EntitySpecConfig.Hocon()) { }

    private IActorRef Start(IActorRef users) => Sys.ActorOf(UserEntity.Props(Ann.Value, _settings, TimeProvider.System, users));

    /// <summary>Texts c{from}..c{to} from Bob, sent together and all answered; their message ids in order.</summary>
    private List<string> Deliver(IActorRef ann, int from, int to)
    {
        for (var i = from; i <= to; i++) ann.Tell(new DeliverText(Ann, Bob, $"c{i}", $"text {i}", (uint)i), TestActor);
        var ids = new Dictionary<uint, string>();
        for (var i = from; i <= to; i++)
        {
            var accepted = ExpectMsg<TextAccepted>();
            ids[accepted.RequestId] = accepted.MessageId;
        }
        return Enumerable.Range(from, to - from + 1).Select(i => ids[(uint)i]).ToList();
    }

    private InboxProbeReply Probe(IActorRef ann)
    {
        ann.Tell(new InboxProbe(Ann), TestActor);
        return ExpectMsg<InboxProbeReply>();
    }

    private List<InboxMessage> FetchAll(IActorRef ann)
    {
        var all = new List<InboxMessage>();
        long after = 0;
        while (true)
        {
            ann.Tell(new FetchEntries(Ann, after, 500), TestActor);
            var page = ExpectMsg<Entries>();
            all.AddRange(page.Items.Cast<InboxMessage>());
            if (page.Items.Count == 0 || page.Items[^1].Seq >= page.LastSeq) return all;
            after = page.Items[^1].Seq;
        }
    }

    private string Resend(IActorRef ann, int i)
    {
        ann.Tell(new DeliverText(Ann, Bob, $"c{i}", $"text {i}", 90_000), TestActor);
        return ExpectMsg<TextAccepted>(TimeSpan.FromSeconds(30)).MessageId;
    }

    /// <summary>The offline tail, in entries and in bytes: no entry kept decoded, the bytes of a few small chunks.</summary>
    private void AssertOfflineTail(InboxProbeReply probe, long kept)
    {
        Assert.Equal(kept, probe.Kept);
        Assert.True(probe.Held <= _settings.OfflineTail, $"{probe.Held} entries held in memory while offline");
        Assert.Equal(0, probe.Decoded);
        // an entry here is some 60 bytes: the offline tail's and at most one chunk more
        Assert.True(probe.HeldBytes <= _settings.OfflineTail * 100 + PackedInbox.SmallChunkSize, $"{probe.HeldBytes} bytes held while offline");
    }

    [Fact]
    public void An_offline_user_of_five_thousand_waiting_texts_costs_the_offline_tail_and_notices_nothing()
    {
        var users = CreateTestProbe();
        var ann = Start(users.Ref);
        ann.Tell(new CreateUser(Ann, "Ann", "+14155550100", null, [1]), TestActor);
        ExpectMsg<UserCreated>();
        ann.Tell(new WroteTo(Ann, Bob)); // Bob is a contact: the stranger quota does not hold his texts back
        var ids = Deliver(ann, 1, 5000);
        AssertOfflineTail(Probe(ann), 5000);

        // resends are recognised, of the newest (in memory) and of the oldest (from the journal), and stored once
        Assert.Equal(ids[4999], Resend(ann, 5000));
        Assert.Equal(ids[0], Resend(ann, 1));
        Assert.Equal(ids[2499], Resend(ann, 2500));
        AssertOfflineTail(Probe(ann), 5000);

        // Ann comes online: what is new is pushed, the tail grows back, and a sync brings everything in order
        var session = CreateTestProbe();
        ann.Tell(new Authenticate(Ann, [1], "phone", session.Ref, 1), TestActor);
        Assert.Equal(5000, ExpectMsg<Authenticated>().LastSeq);
        ids.AddRange(Deliver(ann, 5001, 5300));
        for (var i = 5001; i <= 5300; i++) Assert.Equal(i, session.ExpectMsg<Pushed>().Entry.Seq);
        var online = Probe(ann);
        Assert.Equal(_settings.InboxTail, online.Held);
        Assert.True(online.Decoded > 0, "nothing kept decoded for a device to acknowledge");
        var all = FetchAll(ann);
        Assert.Equal(Enumerable.Range(1, 5300).Select(i => (long)i), all.Select(m => m.Seq));
        Assert.Equal(ids, all.Select(m => m.MessageId));

        // everything acknowledged: Bob is told each message was delivered, once, though most were read back from the journal
        ann.Tell(new Acknowledge(Ann, 5300));
        var delivered = new List<string>();
        while (delivered.Count < 5300)
        {
            var receipts = users.ExpectMsg<StoreReceipts>(TimeSpan.FromSeconds(30));
            Assert.Equal(Bob, receipts.UserId);
            delivered.AddRange(receipts.Batch.MessageIds);
        }
        Assert.Equal(ids, delivered);

        // offline again: the tail shrinks at once
        ann.Tell(new Detach(Ann, session.Ref));
        AssertOfflineTail(Probe(ann), 5300);

        // restarted (from a snapshot and the journal): the same, and resends are still recognised
        Watch(ann);
        Sys.Stop(ann);
        ExpectTerminated(ann);
        var again = Start(users.Ref);
        AssertOfflineTail(Probe(again), 5300);
        Assert.Equal(ids[1], Resend(again, 2));
        Assert.Equal(ids[5199], Resend(again, 5200));
        Assert.Equal(ids[5299], Resend(again, 5300));
        all = FetchAll(again);
        Assert.Equal(ids, all.Select(m => m.MessageId));
        Assert.Equal(Enumerable.Range(1, 5300).Select(i => $"text {i}"), all.Select(m => m.Text));
    }
}
