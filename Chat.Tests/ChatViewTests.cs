using Chat.Cli.Open;
using Chat.Protocol;

namespace Chat.Tests;

/// <summary>The terminal chat's model: conversations, unread counts and ticks, as a person sees them.</summary>
public sealed class ChatViewTests
{
    private const string Me = "uaaaaaaaaaaaaaaaa";
    private const string Bob = "ubbbbbbbbbbbbbbbb";
    private const string Carol = "ucccccccccccccccc";
    private const string Group = "ggggggggggggggggg";

    [Fact]
    public void Messages_from_others_count_as_unread_until_their_conversation_is_opened()
    {
        var view = new ChatView(Me);
        view.Apply(new Message(1, "m1", Bob, "hi", 1000));
        view.Apply(new Message(2, "m2", Bob, "there?", 2000));
        view.Apply(new Message(3, "m3", Carol, "yo", 1500));

        var bob = view.Find(Bob)!;
        Assert.Equal(2, bob.Unread);
        Assert.Equal([Bob, Carol], view.Conversations.Select(c => c.Key)); // Bob spoke last
        Assert.Equal(2, view.Select(bob)); // read up to Bob's newest message
        Assert.Equal(0, bob.Unread);

        // a message in the open conversation is read at once: no unread count, and the caller marks it read
        var (changed, readNow) = view.Apply(new Message(4, "m4", Bob, "ok", 3000));
        Assert.Same(bob, changed);
        Assert.True(readNow);
        Assert.Equal(0, bob.Unread);
        Assert.Equal(1, view.Find(Carol)!.Unread);
    }

    [Fact]
    public void An_outgoing_message_goes_from_pending_to_sent_delivered_and_read()
    {
        var view = new ChatView(Me);
        var bob = view.Get(Bob, isGroup: false, 0);
        var line = view.AddOutgoing(bob, "hello", 1000);
        Assert.Equal(Tick.Pending, line.Tick);
        view.Accepted(bob, line, "m1");
        Assert.Equal(Tick.Sent, line.Tick);
        view.Apply(new Receipt(1, ReceiptStatus.Delivered, Bob, ["m1"], 2000));
        Assert.Equal(Tick.Delivered, line.Tick);
        view.Apply(new ReceiptSet(2, [new ReceiptItem(ReceiptStatus.Read, Bob, ["m1"])], 3000));
        Assert.Equal(Tick.Read, line.Tick);
        // a late delivered receipt does not take the read tick back
        view.Apply(new Receipt(3, ReceiptStatus.Delivered, Bob, ["m1"], 4000));
        Assert.Equal(Tick.Read, line.Tick);
    }

    [Fact]
    public void A_group_message_of_mine_that_comes_back_through_the_inbox_is_shown_once()
    {
        var view = new ChatView(Me);
        view.Apply(new GroupNotice(1, Group, 1, GroupNoticeKind.Created, Me, [Me, Bob], "hikers", 1000));
        var group = view.Find(Group)!;
        Assert.Equal("hikers", group.GroupName);
        view.Select(group);
        var line = view.AddOutgoing(group, "hi all", 2000);
        view.Accepted(group, line, "m1");
        view.Apply(new Message(2, "m1", Me, "hi all", 2000, Group, 2));
        Assert.Single(group.Lines, l => l.Text == "hi all");
        Assert.Equal(0, group.Unread);

        // and when the inbox copy comes first, the typed line gives way to it
        var second = view.AddOutgoing(group, "again", 3000);
        view.Apply(new Message(3, "m2", Me, "again", 3000, Group, 3));
        view.Accepted(group, second, "m2");
        Assert.Single(group.Lines, l => l.Text == "again");
    }

    [Fact]
    public void Leaving_a_group_keeps_its_conversation_but_marks_it_left()
    {
        var view = new ChatView(Me);
        view.Apply(new GroupNotice(1, Group, 1, GroupNoticeKind.Created, Bob, [Bob, Me], "hikers", 1000));
        Assert.True(view.Find(Group)!.Member);
        view.Apply(new GroupNotice(2, Group, 2, GroupNoticeKind.Left, Me, [Me], "hikers", 2000));
        Assert.False(view.Find(Group)!.Member);
        Assert.Equal("# hikers (left)", Screen.Title(view.Find(Group)!, id => id));
    }

    [Fact]
    public void The_screen_shows_names_unread_counts_and_ticks()
    {
        var view = new ChatView(Me);
        view.Apply(new Message(1, "m1", Bob, "Hi!", 1000));
        view.Apply(new Message(2, "m2", Carol, "hey", 500));
        var bob = view.Find(Bob)!;
        view.Select(bob);
        var line = view.AddOutgoing(bob, "hello Bob", 2000);
        view.Accepted(bob, line, "m9");
        view.Apply(new Receipt(3, ReceiptStatus.Delivered, Bob, ["m9"], 2500));
        string Name(string id) => id == Bob ? "Bob" : id == Carol ? "Carol" : "Alice";

        var text = System.Text.RegularExpressions.Regex.Replace(
            string.Join("\n", Screen.Draw(view, Name, "typing", "connected", null, false, 100, 20)), @"\e\[[0-9;]*m", "");
        Assert.Contains("Carol (1)", text);
        Assert.Contains("Bob: Hi!", text);
        Assert.Contains("you: hello Bob ✓✓", text);
        Assert.Contains("> typing", text);
    }
}
