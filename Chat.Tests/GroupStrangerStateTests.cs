using Chat.Node;
using Chat.Node.Groups;
using Chat.Node.Users;
using Chat.Protocol;

namespace Chat.Tests;

/// <summary>The stranger quota's rules for groups, on the user's state alone.</summary>
public sealed class GroupStrangerStateTests
{
    private static readonly UserId Ann = new("uaaaaaaaaaaaaaaaa");
    private static readonly UserId Bob = new("ubbbbbbbbbbbbbbbb");
    private static readonly UserId Cat = new("ucccccccccccccccc");
    private static readonly UserId Dan = new("udddddddddddddddd");
    private static readonly GroupId Deals = new("gaaaaaaaaaaaaaaaa");
    private static readonly GroupId Friends = new("gbbbbbbbbbbbbbbbb");
    private static readonly StrangerQuota Three = new(Messages: 3, Bytes: 0);

    private static UserState Registered()
    {
        var state = new UserState();
        state.Apply(state.DecideCreate(new CreateUser(Ann, "Ann", "+14155550100", null, [1, 2, 3]), 1000).Event!);
        state.Apply(state.DecideContact(Dan).Event!); // Ann has written to Dan
        return state;
    }

    private static ErrorCode? Offer(UserState state, GroupId group, GroupEntry entry)
    {
        var d = state.DecideGroupEntry(new DeliverGroupEntry(Ann, group, entry), Three);
        if (d.Event is not null) state.Apply(d.Event);
        return d.Error;
    }

    private static GroupChange Created(UserId by, string name) => new(1, GroupNoticeKind.Created, by, [by, Ann], name, 0);
    private static GroupPost Post(long seq, UserId from) => new(seq, "m" + seq, from, "buy", 0, "c" + seq);

    [Fact]
    public void A_strangers_add_and_posts_fill_the_quota_then_posts_wait_and_adds_are_refused_while_a_contacts_group_is_free()
    {
        var state = Registered();
        Assert.True(state.AdmitsAddBy(Bob, null, Three));
        Assert.Null(Offer(state, Deals, Created(Bob, "deals")));
        Assert.Equal((1, 5L), state.FromStrangers); // the notice: one place, the name's bytes
        Assert.Null(Offer(state, Deals, Post(2, Bob)));
        Assert.Null(Offer(state, Deals, Post(3, Cat)));
        Assert.Equal(ErrorCode.StrangerQuota, Offer(state, Deals, Post(4, Bob))); // waits in the group
        Assert.Equal(3, state.LastSeq);
        Assert.Equal(3, state.GroupCursor(Deals));

        // full: strangers may not add Ann to a new group, nor write to her; a contact may, and the group she is in may add her again
        Assert.False(state.AdmitsAddBy(Cat, null, Three));
        Assert.False(state.AdmitsAddBy(Cat, Friends, Three));
        Assert.True(state.AdmitsAddBy(Dan, null, Three));
        Assert.True(state.AdmitsAddBy(Cat, Deals, Three));
        Assert.Equal(ErrorCode.StrangerQuota, state.DecideDeliver(new DeliverText(Ann, Cat, "x", "hi", 1), "m", 0, out _, Three).Error);

        // Dan's group: neither its notice nor a stranger's post in it counts
        Assert.Null(Offer(state, Friends, Created(Dan, "friends")));
        Assert.Null(Offer(state, Friends, Post(2, Bob)));
        Assert.Equal(3, state.FromStrangers.Messages);

        // Ann's device takes the first two: the held post finds room
        state.Apply(state.DecideAck(2, 3000).Event!);
        Assert.Null(Offer(state, Deals, Post(4, Bob)));
        Assert.Equal(2, state.FromStrangers.Messages);
    }

    [Fact]
    public void Posting_in_the_group_or_writing_to_the_adder_makes_it_ones_own_and_a_snapshot_keeps_what_counts()
    {
        var state = Registered();
        Offer(state, Deals, Created(Bob, "deals"));
        Offer(state, Deals, Post(2, Cat));
        Offer(state, Friends, Created(Cat, "friends"));
        Assert.Equal(3, state.FromStrangers.Messages);
        Assert.Equal(state.FromStrangers, UserState.FromSnapshot(state.ToSnapshot()).FromStrangers);
        Assert.Equal(ErrorCode.StrangerQuota, Offer(UserState.FromSnapshot(state.ToSnapshot()), Deals, Post(3, Bob)));

        // Ann posts in Deals: what waits from it stops counting, and its posts are free from then on
        Assert.Null(Offer(state, Deals, Post(3, Ann)));
        Assert.Equal(1, state.FromStrangers.Messages); // Cat's notice of Friends
        Assert.Null(Offer(state, Deals, Post(4, Bob)));
        Assert.Null(Offer(state, Deals, Post(5, Bob)));
        Assert.Null(Offer(state, Deals, Post(6, Bob)));
        Assert.Equal(1, state.FromStrangers.Messages);
        Assert.Equal(1, UserState.FromSnapshot(state.ToSnapshot()).FromStrangers.Messages);

        // Ann writes to Cat, who added her to Friends: it is no longer a stranger's group
        state.Apply(state.DecideContact(Cat).Event!);
        Assert.Equal((0, 0L), state.FromStrangers);
        Assert.Equal((0, 0L), UserState.FromSnapshot(state.ToSnapshot()).FromStrangers);
    }
}
