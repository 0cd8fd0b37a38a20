using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using Chat.Node;
using Chat.Node.Groups;
using Chat.Node.Users;

namespace Chat.Tests;

/// <summary>The group entity actor on an in-memory journal, with a probe standing for the members' user entities.</summary>
public sealed class GroupEntitySpecs : TestKit
{

    private static readonly UserId Ann = new("uaaaaaaaaaaaaaaaa");
    private static readonly UserId Bob = new("ubbbbbbbbbbbbbbbb");
    private static readonly GroupId Deals = new("gaaaaaaaaaaaaaaaa");

    public GroupEntitySpecs() : base(EntitySpecConfig.Hocon()) { }

    [Fact]
    public void A_member_held_back_by_their_stranger_quota_is_retried_one_entry_at_a_time_then_gets_the_rest()
    {
        var users = CreateTestProbe();
        var settings = TestNode.DefaultSettings() with { GroupFanoutRetryInterval = TimeSpan.FromMilliseconds(100) };
        var group = Sys.ActorOf(GroupEntity.Props(Deals.Value, settings, TimeProvider.System, users.Ref));
        group.Tell(new CreateGroupCommand(Deals, Ann, "Deals", [Bob], 1), TestActor);
        ExpectMsg<GroupCreatedReply>();
        for (var i = 1; i <= 5; i++)
        {
            group.Tell(new PostToGroup(Deals, Ann, $"c{i}", $"deal {i}", (uint)i + 1), TestActor);
            ExpectMsg<TextAccepted>();
        }
        // Ann's inbox stores everything; Bob's the notice, then refuses the first post for his quota
        group.Tell(new GroupEntriesStored(Deals, Ann, 6));
        group.Tell(new GroupEntriesStored(Deals, Bob, 1, Held: true));

        // the retries Bob's entity gets over a while: only the entry he lacks, never the window after it
        var resent = new List<long>();
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(2);
        while (DateTime.UtcNow < until)
        {
            var entry = users.ReceiveOne(until - DateTime.UtcNow);
            if (entry is DeliverGroupEntry d && d.UserId == Bob && d.Entry.GroupSeq > 1) resent.Add(d.Entry.GroupSeq);
            if (entry is null) break;
        }
        Assert.NotEmpty(resent.Where(seq => seq == 2).Skip(1)); // retried more than once (the first delivery counted too)
        Assert.All(resent.Skip(5), seq => Assert.Equal(2, seq)); // after the five first deliveries: one entry at a time

        // there is room again: the entry is stored, and the next retry sends the rest
        group.Tell(new GroupEntriesStored(Deals, Bob, 2));
        var rest = new HashSet<long>();
        users.FishForMessage<DeliverGroupEntry>(d =>
        {
            if (d.UserId == Bob) rest.Add(d.Entry.GroupSeq);
            return rest.IsSupersetOf([3, 4, 5, 6]);
        }, TimeSpan.FromSeconds(10));
    }

    /// <summary>The next entry for <paramref name="member"/> that <paramref name="probe"/> gets, skipping other members'.</summary>
    private static long NextFor(Akka.TestKit.TestProbe probe, UserId member) =>
        probe.FishForMessage<DeliverGroupEntry>(d => d.UserId == member, TimeSpan.FromSeconds(5)).Entry.GroupSeq;

    /// <summary>Entries for <paramref name="member"/> that <paramref name="probe"/> gets within 300 ms.</summary>
    private static List<long> AnyFor(Akka.TestKit.TestProbe probe, UserId member)
    {
        var seen = new List<long>();
        var until = DateTime.UtcNow + TimeSpan.FromMilliseconds(300);
        while (probe.ReceiveOne(until - DateTime.UtcNow > TimeSpan.Zero ? until - DateTime.UtcNow : TimeSpan.Zero) is { } m)
            if (m is DeliverGroupEntry d && d.UserId == member) seen.Add(d.Entry.GroupSeq);
        return seen;
    }

    [Fact]
    public void Entries_go_straight_to_a_members_entity_once_it_stored_all_sent_to_it_and_through_the_region_again_when_it_stops()
    {
        var users = CreateTestProbe();
        var bob = CreateTestProbe(Bob.Value); // sharding names a user's entity by the user's id
        // no retries within the test: what is sent again is sent because the entity stopped
        var settings = TestNode.DefaultSettings() with { GroupFanoutRetryInterval = TimeSpan.FromMinutes(5) };
        var group = Sys.ActorOf(GroupEntity.Props(Deals.Value, settings, TimeProvider.System, users.Ref));
        group.Tell(new CreateGroupCommand(Deals, Ann, "Deals", [Bob], 1), TestActor);
        ExpectMsg<GroupCreatedReply>();
        Assert.Equal(1, NextFor(users, Bob));
        for (var i = 2; i <= 3; i++)
        {
            group.Tell(new PostToGroup(Deals, Ann, $"c{i}", $"deal {i}", (uint)i), TestActor);
            ExpectMsg<TextAccepted>();
            Assert.Equal(i, NextFor(users, Bob));
        }

        // Bob's entity has stored up to 2 and 3 is on its way through the region: entry 4 follows it there
        group.Tell(new GroupEntriesStored(Deals, Bob, 2), bob.Ref);
        group.Tell(new PostToGroup(Deals, Ann, "c4", "deal 4", 4), TestActor);
        ExpectMsg<TextAccepted>();
        Assert.Equal(4, NextFor(users, Bob));

        // it has everything: entry 5 goes to it directly
        group.Tell(new GroupEntriesStored(Deals, Bob, 4), bob.Ref);
        group.Tell(new PostToGroup(Deals, Ann, "c5", "deal 5", 5), TestActor);
        ExpectMsg<TextAccepted>();
        Assert.Equal(5, bob.ExpectMsg<DeliverGroupEntry>().Entry.GroupSeq);
        Assert.Empty(AnyFor(users, Bob));

        // it stops before storing 5: 5 is sent again through the region, and so is what comes next
        Sys.Stop(bob.Ref);
        Assert.Equal(5, NextFor(users, Bob));
        group.Tell(new PostToGroup(Deals, Ann, "c6", "deal 6", 6), TestActor);
        ExpectMsg<TextAccepted>();
        Assert.Equal(6, NextFor(users, Bob));
    }
}
