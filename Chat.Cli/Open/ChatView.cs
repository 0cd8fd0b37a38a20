using Chat.Protocol;

namespace Chat.Cli.Open;

/// <summary>How far one of this user's messages has come: the ticks a messenger shows next to it.</summary>
internal enum Tick
{
    /// <summary>Written, not yet accepted by the server (kept and resent after a reconnect).</summary>
    Pending,
    /// <summary>Stored by the server: ✓.</summary>
    Sent,
    /// <summary>Reached one of the recipient's devices: ✓✓.</summary>
    Delivered,
    /// <summary>Read: ✓✓ in colour.</summary>
    Read,
}

/// <summary>One line of a conversation: a message (this user's or another's) or a group change.</summary>
internal sealed class ChatLine(string from, string text, long at, bool mine)
{
    public string From { get; } = from;
    public string Text { get; } = text;
    public long At { get; } = at;
    public bool Mine { get; } = mine;
    /// <summary>A group change, shown as a sentence rather than a message.</summary>
    public bool IsNotice { get; init; }
    public string? MessageId { get; set; }
    public Tick Tick { get; set; }
    /// <summary>The image or video of a media message; while this user's upload runs its id is still empty.</summary>
    public MediaRef? Media { get; set; }
    /// <summary>An upload (this user's media message) or a save under way: drawn as a progress bar.</summary>
    public TransferProgress? Transfer { get; set; }
    /// <summary>Where the media was saved last (a full path).</summary>
    public string? SavedTo { get; set; }
    /// <summary>Why this user's message could not be sent (it stays on screen, marked, instead of waiting forever).</summary>
    public string? Failed { get; set; }
}

/// <summary>A conversation with a person (keyed by their user id) or a group (keyed by its group id).</summary>
internal sealed class Conversation(string key, bool isGroup)
{
    public string Key { get; } = key;
    public bool IsGroup { get; } = isGroup;
    /// <summary>The group's name; for a person, null (the title comes from the contact cache).</summary>
    public string? GroupName { get; set; }
    public List<ChatLine> Lines { get; } = [];
    public int Unread { get; set; }
    /// <summary>Inbox sequence of the newest message from others: what a read mark covers.</summary>
    public long LastIncomingSeq { get; set; }
    public long LastActivity { get; set; }
    /// <summary>Still a member (groups): false once this user left or was removed.</summary>
    public bool Member { get; set; } = true;
    /// <summary>The group's members in the order they joined (null until known: from the "created" notice or a group info).</summary>
    public List<string>? Members { get; set; }
    public HashSet<string> Admins { get; } = [];
    /// <summary>The group sequence the member list is up to date with: older notices do not change it again.</summary>
    public long MembersSeq { get; set; }

    /// <summary>The image and video lines, numbered from 1 in the order shown: what /save N counts.</summary>
    public List<ChatLine> MediaLines => Lines.Where(l => l.Media is not null).ToList();
}

/// <summary>
/// What the terminal chat shows, kept apart from the drawing so that it can be tested: conversations ordered by their
/// latest activity, unread counts, the open conversation, and the ticks of this user's messages as receipts arrive.
/// Inbox entries are applied in inbox order; a receipt for a message not shown (older than what was synced) is ignored.
/// </summary>
internal sealed class ChatView(string me)
{
    private readonly Dictionary<string, Conversation> _conversations = [];
    /// <summary>This user's messages by message id, to move their ticks.</summary>
    private readonly Dictionary<string, ChatLine> _mine = [];

    public string Me { get; } = me;
    /// <summary>The conversation on screen, if any.</summary>
    public Conversation? Open { get; private set; }
    /// <summary>What the header says about the open conversation's other side ("typing…", "online", "last seen …"), if anything.</summary>
    public string? OpenPresence { get; set; }

    /// <summary>Conversations, the most recently active first.</summary>
    public IReadOnlyList<Conversation> Conversations =>
        _conversations.Values.OrderByDescending(c => c.LastActivity).ThenBy(c => c.Key, StringComparer.Ordinal).ToList();

    public Conversation? Find(string key) => _conversations.GetValueOrDefault(key);

    /// <summary>The conversation with a person or a group, created empty when new.</summary>
    public Conversation Get(string key, bool isGroup, long now)
    {
        if (!_conversations.TryGetValue(key, out var c))
        {
            _conversations[key] = c = new Conversation(key, isGroup) { LastActivity = now };
        }
        return c;
    }

    /// <summary>Opens a conversation: its unread count is cleared. Returns the inbox sequence to mark read up to (0: nothing).</summary>
    public long Select(Conversation conversation)
    {
        Open = conversation;
        var hadUnread = conversation.Unread > 0;
        conversation.Unread = 0;
        return hadUnread ? conversation.LastIncomingSeq : 0;
    }

    /// <summary>Moves the selection to the next (+1) or previous (-1) conversation in list order.</summary>
    public long Move(int step)
    {
        var list = Conversations;
        if (list.Count == 0) return 0;
        var index = Open is null ? -1 : list.ToList().IndexOf(Open);
        index = index < 0 ? 0 : Math.Clamp(index + step, 0, list.Count - 1);
        return Select(list[index]);
    }

    /// <summary>A message this user is sending; its tick moves as it is accepted and receipted.</summary>
    public ChatLine AddOutgoing(Conversation conversation, string text, long now)
    {
        var line = new ChatLine(Me, text, now, mine: true) { Tick = Tick.Pending };
        conversation.Lines.Add(line);
        conversation.LastActivity = now;
        return line;
    }

    /// <summary>
    /// The server stored an outgoing message: ✓. When the message already came back through the inbox (a group message
    /// reaches its sender too), that line stays and the typed one goes, so it is shown once.
    /// </summary>
    public void Accepted(Conversation conversation, ChatLine line, string messageId)
    {
        if (_mine.TryGetValue(messageId, out var shown) && !ReferenceEquals(shown, line))
        {
            conversation.Lines.Remove(line);
            return;
        }
        line.MessageId = messageId;
        if (line.Tick == Tick.Pending) line.Tick = Tick.Sent;
        _mine[messageId] = line;
    }

    /// <summary>
    /// Applies one inbox entry. Returns the conversation it changed (null for none) and whether the entry is a message in
    /// the open conversation, which the caller then marks read.
    /// </summary>
    public (Conversation? Changed, bool ReadNow) Apply(Frame entry)
    {
        switch (entry)
        {
            case Message m:
            {
                var isGroup = m.Group is not null;
                var mine = m.From == Me;
                // a one-to-one message from myself (sent from another device to myself) stays in my own conversation
                if (mine && _mine.ContainsKey(m.MessageId)) return (null, false); // typed here and already accepted
                var conversation = Get(m.Group ?? m.From, isGroup, m.SentAt);
                var line = new ChatLine(m.From, m.Text, m.SentAt, mine) { MessageId = m.MessageId, Tick = Tick.Sent, Media = m.Media };
                conversation.Lines.Add(line);
                if (mine) _mine[m.MessageId] = line;
                conversation.LastActivity = Math.Max(conversation.LastActivity, m.SentAt);
                if (mine) return (conversation, false);
                conversation.LastIncomingSeq = m.Seq;
                if (ReferenceEquals(conversation, Open)) return (conversation, true);
                conversation.Unread++;
                return (conversation, false);
            }
            case Receipt r:
                Mark(r.Status, r.MessageIds);
                return (null, false);
            case ReceiptSet s:
                foreach (var item in s.Items) Mark(item.Status, item.MessageIds);
                return (null, false);
            case GroupNotice n:
            {
                var conversation = Get(n.Group, isGroup: true, n.At);
                if (n.Kind is GroupNoticeKind.Created or GroupNoticeKind.Renamed) conversation.GroupName = n.Name;
                else conversation.GroupName ??= n.Name;
                var leaves = n.Kind is GroupNoticeKind.Left or GroupNoticeKind.Removed && (n.Members.Contains(Me) || (n.Kind == GroupNoticeKind.Left && n.Actor == Me));
                if (leaves) conversation.Member = false;
                if (n.Kind is GroupNoticeKind.Created or GroupNoticeKind.Added && n.Members.Contains(Me)) conversation.Member = true;
                UpdateMembers(conversation, n);
                conversation.Lines.Add(new ChatLine(n.Actor, NoticeText(n), n.At, n.Actor == Me) { IsNotice = true });
                conversation.LastActivity = Math.Max(conversation.LastActivity, n.At);
                return (conversation, false);
            }
        }
        return (null, false);
    }

    /// <summary>
    /// An image or video this user is sending: shown at once with a progress bar, sent (with its ticks) once uploaded.
    /// </summary>
    public ChatLine AddOutgoingMedia(Conversation conversation, string contentType, long size, string caption, long now)
    {
        var line = AddOutgoing(conversation, caption, now);
        line.Media = new MediaRef("", contentType, size);
        line.Transfer = new TransferProgress(0, size);
        return line;
    }

    /// <summary>The upload finished: the line now refers to the stored media, and waits for the server to accept the message.</summary>
    public static void Uploaded(ChatLine line, MediaRef media)
    {
        line.Media = media;
        line.Transfer = null;
    }

    /// <summary>This user's message could not be sent: it stays, marked with the reason.</summary>
    public static void SendFailed(ChatLine line, string reason)
    {
        line.Transfer = null;
        line.Failed = reason;
    }

    /// <summary>
    /// The media line that /save means: number <paramref name="number"/> (from 1, as the screen shows it), or the newest
    /// one that is stored on the server when no number is given. Null when there is none.
    /// </summary>
    public static ChatLine? MediaToSave(Conversation conversation, int? number)
    {
        var lines = conversation.MediaLines;
        if (number is { } n) return n >= 1 && n <= lines.Count && lines[n - 1].Media!.MediaId.Length > 0 ? lines[n - 1] : null;
        return lines.LastOrDefault(l => l.Media!.MediaId.Length > 0);
    }

    /// <summary>Takes a group's member list from the server, unless notices already brought a newer one.</summary>
    public static void SetMembers(Conversation conversation, GroupInfo info)
    {
        if (conversation.Members is not null && info.LastGroupSeq < conversation.MembersSeq) return;
        conversation.Members = [.. info.Members];
        conversation.Admins.Clear();
        conversation.Admins.UnionWith(info.Admins);
        conversation.MembersSeq = info.LastGroupSeq;
        conversation.GroupName ??= info.Name;
    }

    /// <summary>Keeps a known member list current as notices arrive; a "created" notice gives the whole list.</summary>
    private static void UpdateMembers(Conversation c, GroupNotice n)
    {
        if (n.Kind == GroupNoticeKind.Created && c.Members is null)
        {
            c.Members = [.. n.Members];
            c.Admins.Add(n.Actor); // the creator is the first admin
            c.MembersSeq = n.GroupSeq;
            return;
        }
        if (c.Members is not { } members || n.GroupSeq <= c.MembersSeq) return;
        c.MembersSeq = n.GroupSeq;
        switch (n.Kind)
        {
            case GroupNoticeKind.Added:
                members.AddRange(n.Members.Where(m => !members.Contains(m)));
                break;
            case GroupNoticeKind.Removed or GroupNoticeKind.Left:
                members.RemoveAll(n.Members.Contains);
                c.Admins.ExceptWith(n.Members);
                break;
            case GroupNoticeKind.Promoted:
                c.Admins.UnionWith(n.Members);
                break;
            case GroupNoticeKind.Demoted:
                c.Admins.ExceptWith(n.Members);
                break;
        }
    }

    private void Mark(ReceiptStatus status, IReadOnlyList<string> messageIds)
    {
        var tick = status == ReceiptStatus.Read ? Tick.Read : Tick.Delivered;
        foreach (var id in messageIds)
            if (_mine.TryGetValue(id, out var line) && line.Tick < tick) line.Tick = tick;
    }

    /// <summary>A group change as words; user ids are replaced by names when the screen draws them.</summary>
    private static string NoticeText(GroupNotice n) => n.Kind switch
    {
        GroupNoticeKind.Created => $"created \"{n.Name}\"",
        GroupNoticeKind.Added => "added " + string.Join(", ", n.Members.Select(Who)),
        GroupNoticeKind.Removed => "removed " + string.Join(", ", n.Members.Select(Who)),
        GroupNoticeKind.Left => "left",
        GroupNoticeKind.Renamed => $"renamed the group to \"{n.Name}\"",
        GroupNoticeKind.Promoted => "made " + string.Join(", ", n.Members.Select(Who)) + " admin",
        GroupNoticeKind.Demoted => "removed admin rights from " + string.Join(", ", n.Members.Select(Who)),
        GroupNoticeKind.ImageChanged => "changed the group picture",
        _ => n.Kind.ToString(),
    };

    /// <summary>A user id inside a sentence, marked so the screen can put a name in its place.</summary>
    private static string Who(string userId) => "@" + userId;
}
