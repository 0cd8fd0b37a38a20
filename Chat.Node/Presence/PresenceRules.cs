using Chat.Node.Users;

namespace Chat.Node.Presence;

/// <summary>
/// Who may see whom typing and online, read from the state of the user who would be seen. Two users share a one-to-one
/// conversation when this user wrote to the other (an accepted message), or a one-to-one message from the other is
/// still kept in this inbox. Members of a common group do not count for presence: in a group of a thousand, every
/// login would otherwise be news to a thousand people (docs/protocol.md, "Typing and presence").
/// </summary>
public static class PresenceRules
{
    public static bool ShareConversation(UserState state, UserId other)
    {
        if (!state.IsOpen || other == state.Profile!.Id) return false;
        if (state.HasWrittenTo(other)) return true;
        for (var seq = state.FirstSeq; seq <= state.LastSeq; seq++)
            if (state.EntryAt(seq) is InboxMessage { Group: null } m && m.From == other) return true;
        return false;
    }

    /// <summary>What followers see: online now, or offline since the stored last seen (0 when hidden or never stored).</summary>
    public static PresenceNow Shown(UserState state, bool online) =>
        new(state.Profile!.Id, online, online || state.HideLastSeen ? 0 : state.LastSeen);
}
