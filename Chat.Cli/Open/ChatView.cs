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
                var text = m.Media is { } media ? $"[{media.ContentType} {InboxFormat.Size(media.Size)}] {m.Text}" : m.Text;
                var line = new ChatLine(m.From, text, m.SentAt, mine) { MessageId = m.MessageId, Tick = Tick.Sent };
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
                conversation.Lines.Add(new ChatLine(n.Actor, NoticeText(n), n.At, n.Actor == Me) { IsNotice = true });
                conversation.LastActivity = Math.Max(conversation.LastActivity, n.At);
                return (conversation, false);
            }
        }
        return (null, false);
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
