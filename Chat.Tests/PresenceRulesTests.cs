using Chat.Node;
using Chat.Node.Presence;
using Chat.Node.Users;

namespace Chat.Tests;

/// <summary>Who may see whom typing and online, and what a user's presence shows, without an actor system.</summary>
public sealed class PresenceRulesTests
{
    private static readonly UserId Ann = new("uaaaaaaaaaaaaaaaa");
    private static readonly UserId Bob = new("ubbbbbbbbbbbbbbbb");
    private static readonly UserId Cat = new("ucccccccccccccccc");
    private static readonly GroupId Hikers = new("gaaaaaaaaaaaaaaaa");

    private static UserState Ann_() =>
        new UserState().Apply(new UserRegistered(Ann, "Ann", "+14155550100", null, [1, 2, 3], 1000));

    [Fact]
    public void A_conversation_is_a_message_either_way_and_a_group_message_is_not_one()
    {
        var state = Ann_();
        Assert.False(PresenceRules.ShareConversation(state, Bob));
        state.Apply(new MessageStored(new InboxMessage(1, "m1", Bob, "hi", 2000, "c1")));
        state.Apply(new MessageStored(new InboxMessage(2, "m2", Cat, "in the group", 2000, "c2", Hikers, 1)));
        state.Apply(new ContactsAdded([new UserId("udddddddddddddddd")]));
        Assert.True(PresenceRules.ShareConversation(state, Bob));
        Assert.False(PresenceRules.ShareConversation(state, Cat));
        Assert.True(PresenceRules.ShareConversation(state, new UserId("udddddddddddddddd")));
        Assert.False(PresenceRules.ShareConversation(state, Ann));
    }

    [Fact]
    public void Last_seen_shows_while_offline_unless_hidden_and_both_survive_a_snapshot()
    {
        var state = Ann_().Apply(new LastSeenSet(5000)).Apply(new LastSeenSet(4000));
        Assert.Equal(new PresenceNow(Ann, false, 5000), PresenceRules.Shown(state, online: false));
        Assert.Equal(new PresenceNow(Ann, true, 0), PresenceRules.Shown(state, online: true));
        state.Apply(new PrivacySet(true));
        Assert.Equal(new PresenceNow(Ann, false, 0), PresenceRules.Shown(state, online: false));

        var restored = UserState.FromSnapshot(state.ToSnapshot());
        Assert.Equal(new PresenceNow(Ann, false, 0), PresenceRules.Shown(restored, online: false));
        Assert.Equal(5000, restored.LastSeen);
        Assert.True(restored.HideLastSeen);
    }
}
