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
        Assert.Equal("# hikers (left)", Rows.Title(view.Find(Group)!, id => id));
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

        var text = Shown(view);
        Assert.Contains("Carol (1)", text);
        Assert.Contains("Bob: Hi!", text);
        Assert.Contains("you: hello Bob ✓✓", text);
        Assert.Equal(" Alice │ Bob", Rows.Header(view, Name));
        // the ticks' colour: delivered in grey, read in blue
        Assert.Equal(new Span("✓✓", Look.Tick), Rows.Conversation(view, Name, 83, 18)[^1].Spans[^1]);
        view.Apply(new Receipt(4, ReceiptStatus.Read, Bob, ["m9"], 2600));
        Assert.Equal(new Span("✓✓", Look.Read), Rows.Conversation(view, Name, 83, 18)[^1].Spans[^1]);
    }

    private static string Name(string id) => id switch { Bob => "Bob", Carol => "Carol", _ => "Alice" };

    /// <summary>The text of the right pane's rows, then the conversation list's, at the sizes of a 120 × 20 terminal.</summary>
    private static string Shown(ChatView view, Pane pane = Pane.Conversation, Func<string, string?>? phone = null)
    {
        var right = pane switch
        {
            Pane.Help => Rows.HelpRows(83),
            Pane.Members => Rows.Members(view, Name, phone ?? (_ => null), 83),
            _ => Rows.Conversation(view, Name, 83, 17),
        };
        return string.Join("\n", right.Concat(Rows.List(view, Name, 36, 17)).Select(r => r.Text));
    }

    [Fact]
    public void An_image_being_sent_shows_its_upload_progress_then_its_ticks_and_a_failed_one_says_why()
    {
        var view = new ChatView(Me);
        var bob = view.Get(Bob, isGroup: false, 0);
        view.Select(bob);
        var line = view.AddOutgoingMedia(bob, "image/png", 300 * 1024, "the beach", 1000);
        Assert.Contains("you: [image/png 300.0 KiB #1] the beach  uploading ░░░░░░░░░░ 0% …", Shown(view));
        line.Transfer = new TransferProgress(123 * 1024, 300 * 1024);
        Assert.Contains("uploading ████░░░░░░ 41% …", Shown(view));

        ChatView.Uploaded(line, new MediaRef("m1", "image/png", 300 * 1024));
        view.Accepted(bob, line, "x1");
        var shown = Shown(view);
        Assert.Contains("you: [image/png 300.0 KiB #1] the beach ✓", shown);
        Assert.DoesNotContain("uploading", shown);
        view.Apply(new Receipt(1, ReceiptStatus.Delivered, Bob, ["x1"], 2000));
        Assert.Contains("the beach ✓✓", Shown(view));
        Assert.Contains("    you: [image/png 300.0 KiB] the …", Rows.List(view, Name, 36, 17).Select(r => r.Text)); // the list's preview

        var big = view.AddOutgoingMedia(bob, "video/mp4", 80L << 20, "", 3000);
        ChatView.SendFailed(big, "too large: video/mp4 may be at most 67108864 bytes (64 MiB)");
        shown = Shown(view);
        Assert.Contains("you: [video/mp4 80.0 MiB #2]  not sent: too large: video/mp4 may be", shown);
        Assert.Contains("✗", shown);
        Assert.DoesNotContain("uploading", shown);
    }

    [Fact]
    public void Received_images_and_videos_are_numbered_media_lines_and_save_takes_the_newest_or_the_one_named()
    {
        var view = new ChatView(Me);
        view.Apply(new Message(1, "m1", Bob, "sunset", 1000, Media: new MediaRef("mA", "image/jpeg", 1536)));
        view.Apply(new Message(2, "m2", Bob, "and this", 2000));
        view.Apply(new Message(3, "m3", Bob, "", 3000, Media: new MediaRef("mB", "video/mp4", 3L << 20)));
        var bob = view.Find(Bob)!;
        view.Select(bob);
        var shown = Shown(view);
        Assert.Contains("Bob: [image/jpeg 1.5 KiB #1] sunset", shown);
        Assert.Contains("Bob: and this", shown);
        Assert.Contains("Bob: [video/mp4 3.0 MiB #2]", shown);

        Assert.Equal("mB", ChatView.MediaToSave(bob, null)!.Media!.MediaId);
        Assert.Equal("mA", ChatView.MediaToSave(bob, 1)!.Media!.MediaId);
        Assert.Null(ChatView.MediaToSave(bob, 3));
        Assert.Null(ChatView.MediaToSave(bob, 0));

        var video = ChatView.MediaToSave(bob, 2)!;
        video.Transfer = new TransferProgress(3L << 19, 3L << 20);
        Assert.Contains("Bob: [video/mp4 3.0 MiB #2]  saving █████░░░░░ 50%", Shown(view));
        video.Transfer = null;
        video.SavedTo = "/home/bob/mB.mp4";
        Assert.Contains("Bob: [video/mp4 3.0 MiB #2]  saved → /home/bob/mB.mp4", Shown(view));

        // an image of mine still uploading has no media id yet: /save does not take it
        view.AddOutgoingMedia(bob, "image/png", 10, "", 4000);
        Assert.Equal("mB", ChatView.MediaToSave(bob, null)!.Media!.MediaId);
        Assert.Null(ChatView.MediaToSave(bob, 3));
    }

    [Fact]
    public void A_groups_member_list_shows_names_phones_and_admins_and_follows_its_notices()
    {
        var view = new ChatView(Me);
        view.Apply(new GroupNotice(1, Group, 1, GroupNoticeKind.Created, Bob, [Bob, Me], "hikers", 1000));
        var group = view.Find(Group)!;
        view.Select(group);
        string? Phone(string id) => id switch { Bob => "+14155550102", Carol => "+14155550103", _ => "+14155550101" };

        var shown = Shown(view, Pane.Members, Phone);
        Assert.Contains("members of # hikers: 2", shown);
        Assert.Matches(@"Bob\s+\+14155550102\s+admin", shown);
        Assert.Matches(@"Alice \(you\)\s+\+14155550101\s*$", shown.Split('\n').First(l => l.Contains("Alice (you)")));

        view.Apply(new GroupNotice(2, Group, 2, GroupNoticeKind.Added, Bob, [Carol], "hikers", 2000));
        view.Apply(new GroupNotice(3, Group, 3, GroupNoticeKind.Promoted, Bob, [Me], "hikers", 3000));
        shown = Shown(view, Pane.Members, Phone);
        Assert.Contains("members of # hikers: 3", shown);
        Assert.Matches(@"Alice \(you\)\s+\+14155550101\s+admin", shown);
        Assert.Matches(@"Carol\s+\+14155550103\s*$", shown.Split('\n').First(l => l.Contains("Carol  ")));

        // a group info older than the notices already applied changes nothing; a newer one replaces the list
        ChatView.SetMembers(group, new GroupInfo(0, Group, "hikers", [Bob, Me], [Bob], 1));
        Assert.Equal([Bob, Me, Carol], group.Members);
        view.Apply(new GroupNotice(4, Group, 4, GroupNoticeKind.Removed, Bob, [Carol], "hikers", 4000));
        view.Apply(new GroupNotice(5, Group, 5, GroupNoticeKind.Demoted, Bob, [Me], "hikers", 5000));
        Assert.Equal([Bob, Me], group.Members);
        Assert.Equal([Bob], group.Admins);
        ChatView.SetMembers(group, new GroupInfo(0, Group, "hikers", [Bob, Me, Carol], [Carol], 9));
        Assert.Equal([Bob, Me, Carol], group.Members);
        Assert.Equal([Carol], group.Admins);
    }

    [Fact]
    public void A_member_list_not_yet_known_says_it_is_being_asked_for()
    {
        var view = new ChatView(Me);
        // joined later: this user never saw the "created" notice, so the list comes from the server
        view.Apply(new GroupNotice(1, Group, 7, GroupNoticeKind.Added, Bob, [Me], "hikers", 1000));
        var group = view.Find(Group)!;
        view.Select(group);
        Assert.Null(group.Members);
        Assert.Contains("members of # hikers: asking the server…", Shown(view, Pane.Members));
        ChatView.SetMembers(group, new GroupInfo(0, Group, "hikers", [Bob, Carol, Me], [Bob], 7));
        Assert.Contains("members of # hikers: 3", Shown(view, Pane.Members));
    }
}
