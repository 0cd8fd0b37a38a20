using Chat.Node;
using Chat.Node.Groups;
using Chat.Protocol;

namespace Chat.Tests;

/// <summary>Membership rules of a group, without an actor system.</summary>
public sealed class GroupStateTests
{
    private static readonly GroupId G = new("gaaaaaaaaaaaaaaaa");
    private static readonly UserId Ann = new("uaaaaaaaaaaaaaaaa");
    private static readonly UserId Bob = new("ubbbbbbbbbbbbbbbb");
    private static readonly UserId Cat = new("ucccccccccccccccc");
    private static readonly UserId Dan = new("udddddddddddddddd");
    private static readonly GroupLimits Limits = new(MaxMembers: 4, NameMaxChars: 10);

    private static GroupState Created(params UserId[] members)
    {
        var state = new GroupState();
        return state.Apply(state.DecideCreate(new CreateGroupCommand(G, Ann, "friends", members, 1), 0, Limits).Event!);
    }

    private static ChangeGroup Change(UserId actor, GroupNoticeKind kind, params UserId[] members) =>
        new(G, actor, kind, members, kind == GroupNoticeKind.Renamed ? "new name" : null, 1);

    private static void Do(GroupState state, ChangeGroup change) => state.Apply(state.DecideChange(change, 0, Limits).Event!);

    [Fact]
    public void The_creator_is_an_admin_and_members_are_not()
    {
        var g = Created(Bob);
        Assert.True(g.IsAdmin(Ann));
        Assert.False(g.IsAdmin(Bob));
        Assert.Equal([Ann, Bob], g.Members.OrderBy(m => m.Value));
        Assert.Equal(1, g.LastSeq);
    }

    [Fact]
    public void Only_admins_add_remove_promote_and_demote()
    {
        var g = Created(Bob);
        Assert.Equal(ErrorCode.NotAdmin, g.DecideChange(Change(Bob, GroupNoticeKind.Added, Cat), 0, Limits).Error);
        Assert.Equal(ErrorCode.NotAdmin, g.DecideChange(Change(Bob, GroupNoticeKind.Removed, Ann), 0, Limits).Error);
        Assert.Equal(ErrorCode.NotAdmin, g.DecideChange(Change(Bob, GroupNoticeKind.Promoted, Bob), 0, Limits).Error);
        Assert.Equal(ErrorCode.NotMember, g.DecideChange(Change(Cat, GroupNoticeKind.Renamed), 0, Limits).Error);
        Assert.Null(g.DecideChange(Change(Bob, GroupNoticeKind.Renamed), 0, Limits).Error); // any member renames
        Do(g, Change(Ann, GroupNoticeKind.Promoted, Bob));
        Assert.True(g.IsAdmin(Bob));
        Do(g, Change(Bob, GroupNoticeKind.Added, Cat));
        Assert.True(g.IsMember(Cat));
    }

    [Fact]
    public void Members_receive_entries_only_while_they_belong()
    {
        var g = Created(Bob);                                   // 1
        g.Apply(g.DecidePost(new PostToGroup(G, Ann, "c1", "before", 1), "m1", 0, out _).Event!); // 2
        Do(g, Change(Ann, GroupNoticeKind.Added, Cat));         // 3
        g.Apply(g.DecidePost(new PostToGroup(G, Ann, "c2", "after add", 1), "m2", 0, out _).Event!); // 4
        Do(g, Change(Ann, GroupNoticeKind.Removed, Bob));       // 5
        g.Apply(g.DecidePost(new PostToGroup(G, Ann, "c3", "after remove", 1), "m3", 0, out _).Event!); // 6

        Assert.Equal([3L, 4L, 5L, 6L], g.EntriesFor(Cat, 0).Select(e => e.GroupSeq));
        Assert.Equal([1L, 2L, 3L, 4L, 5L], g.EntriesFor(Bob, 0).Select(e => e.GroupSeq)); // the removal notice, then nothing
        Assert.Equal(5, g.LastFor(Bob));
        Assert.Equal(new[] { Ann, Bob }.OrderBy(u => u.Value), g.RecipientsOf(2).OrderBy(u => u.Value));
        Assert.Equal(new[] { Ann, Bob, Cat }.OrderBy(u => u.Value), g.RecipientsOf(5).OrderBy(u => u.Value)); // Bob gets his removal notice
        Assert.Equal(new[] { Ann, Cat }.OrderBy(u => u.Value), g.RecipientsOf(6).OrderBy(u => u.Value));
        Assert.Equal(ErrorCode.NotMember, g.DecidePost(new PostToGroup(G, Bob, "c4", "x", 1), "m4", 0, out _).Error);
    }

    [Fact]
    public void A_post_is_stored_once_per_client_message_id()
    {
        var g = Created(Bob);
        var first = g.DecidePost(new PostToGroup(G, Bob, "c1", "hi", 1), "m1", 0, out _).Event!;
        g.Apply(first);
        var again = g.DecidePost(new PostToGroup(G, Bob, "c1", "hi", 2), "m-other", 0, out var existing);
        Assert.Null(again.Event);
        Assert.Equal("m1", existing!.MessageId);
    }

    [Fact]
    public void Every_change_asked_again_once_done_is_answered_and_changes_nothing_more()
    {
        var g = Created(Bob, Cat);
        var creation = new CreateGroupCommand(G, Ann, "friends", [Bob, Cat], 1);
        var again = g.DecideCreate(creation, 0, Limits);
        Assert.True(again is { Event: null, Error: null }, $"the creation asked again: {again.Error}");
        Assert.Equal(ErrorCode.InvalidArgument, g.DecideCreate(creation with { Creator = Bob }, 0, Limits).Error);
        var image = new MediaRef("iaaaaaaaaaaaaaaaa", "image/png", 10);
        foreach (var change in new[]
                 {
                     Change(Ann, GroupNoticeKind.Added, Dan), Change(Ann, GroupNoticeKind.Removed, Dan),
                     Change(Ann, GroupNoticeKind.Promoted, Bob), Change(Ann, GroupNoticeKind.Demoted, Bob),
                     Change(Bob, GroupNoticeKind.Renamed), new ChangeGroup(G, Bob, GroupNoticeKind.ImageChanged, [], null, 1, image),
                     new ChangeGroup(G, Bob, GroupNoticeKind.ImageChanged, [], null, 1, image with { Thumbnail = [1, 2] }),
                     new ChangeGroup(G, Bob, GroupNoticeKind.ImageChanged, [], null, 1), Change(Cat, GroupNoticeKind.Left),
                 })
        {
            Do(g, change);
            var seq = g.LastSeq;
            var repeat = g.DecideChange(change, 0, Limits);
            Assert.True(repeat is { Event: null, Error: null }, $"{change.Kind} asked again: {repeat.Error} {repeat.Event}");
            Assert.Equal(seq, g.LastSeq);
        }
        // leaving is answered for someone who was a member, refused for someone who never was
        Assert.Equal(ErrorCode.NotMember, g.DecideChange(Change(new UserId("ueeeeeeeeeeeeeeee"), GroupNoticeKind.Left), 0, Limits).Error);
    }

    [Fact]
    public void Limits_are_enforced()
    {
        var g = Created(Bob, Cat);
        Assert.Equal(ErrorCode.GroupFull, g.DecideChange(Change(Ann, GroupNoticeKind.Added, Dan, new UserId("ueeeeeeeeeeeeeeee")), 0, Limits).Error);
        Assert.Equal(ErrorCode.InvalidName, new GroupState().DecideCreate(new CreateGroupCommand(G, Ann, "a much too long name", [], 1), 0, Limits).Error);
        Assert.Equal(ErrorCode.InvalidName, new GroupState().DecideCreate(new CreateGroupCommand(G, Ann, "  ", [], 1), 0, Limits).Error);
        Assert.Equal(ErrorCode.UnknownGroup, new GroupState().DecideChange(Change(Ann, GroupNoticeKind.Left), 0, Limits).Error);
    }

    [Fact]
    public void When_the_last_admin_leaves_the_longest_standing_member_takes_over()
    {
        var g = Created(Bob);
        Do(g, Change(Ann, GroupNoticeKind.Added, Cat));
        Do(g, Change(Ann, GroupNoticeKind.Left));
        Assert.False(g.IsMember(Ann));
        Assert.True(g.IsAdmin(Bob));
        Assert.False(g.IsAdmin(Cat));
    }

    [Fact]
    public void A_snapshot_restores_membership_history()
    {
        var g = Created(Bob);
        Do(g, Change(Ann, GroupNoticeKind.Removed, Bob));
        Do(g, Change(Ann, GroupNoticeKind.Added, Bob));
        var restored = GroupState.FromSnapshot(g.ToSnapshot(0));
        Assert.Equal(g.EntriesFor(Bob, 0).Select(e => e.GroupSeq), restored.EntriesFor(Bob, 0).Select(e => e.GroupSeq));
        Assert.Equal([1L, 2L, 3L], restored.EntriesFor(Bob, 0).Select(e => e.GroupSeq));
    }

    [Fact]
    public void The_last_admin_cannot_be_demoted()
    {
        var g = Created(Bob);
        Assert.Equal(ErrorCode.InvalidArgument, g.DecideChange(Change(Ann, GroupNoticeKind.Demoted, Ann), 0, Limits).Error);
        Do(g, Change(Ann, GroupNoticeKind.Promoted, Bob));
        Do(g, Change(Ann, GroupNoticeKind.Demoted, Ann));
        Assert.Equal([Bob], g.Admins);
    }

    [Fact]
    public void Expiring_the_head_of_the_log_keeps_members_admins_name_and_order_through_a_snapshot()
    {
        var g = Created(Bob);                                           // seq 1 at t=0
        g.Apply(g.DecideChange(Change(Ann, GroupNoticeKind.Added, Cat), 10, Limits).Event!);                  // seq 2 at t=10
        g.Apply(g.DecidePost(new PostToGroup(G, Bob, "c1", "old", 1), "m1", 20, out _).Event!);               // seq 3 at t=20
        g.Apply(g.DecideChange(Change(Ann, GroupNoticeKind.Removed, Bob), 30, Limits).Event!);                // seq 4 at t=30
        g.Apply(g.DecidePost(new PostToGroup(G, Cat, "c2", "new", 1), "m2", 100, out _).Event!);              // seq 5 at t=100

        Assert.Equal(4, g.ExpiredUpTo(cutoff: 50));
        g.Apply(new GroupLogExpired(4, 50));
        var restored = GroupState.FromSnapshot(g.ToSnapshot(fanoutUpTo: 5));

        foreach (var state in new[] { g, restored })
        {
            Assert.True(state.Exists);
            Assert.Equal("friends", state.Name);
            Assert.Equal([Ann, Cat], state.Members.OrderBy(m => m.Value));
            Assert.True(state.IsAdmin(Ann));
            Assert.Equal(5, state.LastSeq);
            Assert.Equal(5, state.FirstSeq);
            Assert.Equal(["m2"], state.EntriesFor(Cat, 0).OfType<GroupPost>().Select(p => p.MessageId));
            Assert.Empty(state.EntriesFor(Bob, 0)); // Bob left at 4: nothing kept is his
            // the next entry continues the sequence; a kept post is still recognised when resent
            Assert.Equal(6, ((GroupPost)state.DecidePost(new PostToGroup(G, Ann, "c3", "x", 1), "m3", 200, out _).Event!.Entry).GroupSeq);
            state.DecidePost(new PostToGroup(G, Cat, "c2", "new", 1), "m9", 200, out var existing);
            Assert.Equal("m2", existing?.MessageId);
        }
    }
}
