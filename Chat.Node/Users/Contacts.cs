using Chat.Node.Groups;
using Chat.Node.Serialization;
using Chat.Protocol;
using MessagePack;

namespace Chat.Node.Users;

// Who may learn a user's name and phone (the WhoIs request). Two users know each other when either has a message from
// the other in their inbox, or they are in a group together. The asker's entity answers for its own inbox and lists its
// groups (FindContacts); each asked-about user's entity answers for its inbox and its groups (ShowProfile). Nothing is
// stored for this: the inbox already holds the conversations, and reading it costs one pass per request.

/// <summary>Which of <see cref="Ids"/> sent this user a message that is still kept, and this user's groups.</summary>
[MessagePackObject, Manifest("uw1")]
public sealed record FindContacts([property: Key(0)] UserId UserId, [property: Key(1)] IReadOnlyList<UserId> Ids) : IUserCommand;

[MessagePackObject, Manifest("uw2")]
public sealed record ContactsFound([property: Key(0)] IReadOnlyList<UserId> Known, [property: Key(1)] IReadOnlyList<GroupId> Groups) : IChatMessage;

/// <summary>
/// Asks <see cref="UserId"/> for its name and phone on behalf of <see cref="Asker"/>: given when <see cref="Known"/> (the
/// asker's side already knows them), when this user has a message from the asker, or when they share one of
/// <see cref="AskerGroups"/>. Answered with <see cref="ProfileShown"/>, empty otherwise.
/// </summary>
[MessagePackObject, Manifest("uw3")]
public sealed record ShowProfile(
    [property: Key(0)] UserId UserId,
    [property: Key(1)] UserId Asker,
    [property: Key(2)] bool Known,
    [property: Key(3)] IReadOnlyList<GroupId> AskerGroups) : IUserCommand;

/// <summary>The profile, or null names when the asker may not know this user (or there is no such open account).</summary>
[MessagePackObject, Manifest("uw4")]
public sealed record ProfileShown([property: Key(0)] UserId UserId, [property: Key(1)] string? Name, [property: Key(2)] string? Phone) : IChatMessage;

/// <summary>The pure rules of who knows whom, read from a user's state.</summary>
public static class Contacts
{
    /// <summary>The ids among <paramref name="ids"/> that sent a message kept in this inbox (one-to-one or in a group).</summary>
    public static List<UserId> SendersAmong(UserState state, IReadOnlyList<UserId> ids)
    {
        var wanted = new HashSet<UserId>(ids);
        var found = new List<UserId>();
        for (var seq = state.FirstSeq; seq <= state.LastSeq && wanted.Count > 0; seq++)
            if (state.EntryAt(seq) is InboxMessage m && wanted.Remove(m.From)) found.Add(m.From);
        return found;
    }

    /// <summary>What this user shows <paramref name="cmd"/>'s asker: name and phone, or nothing.</summary>
    public static ProfileShown Show(UserState state, ShowProfile cmd)
    {
        var hidden = new ProfileShown(cmd.UserId, null, null);
        if (!state.IsOpen) return hidden;
        var knows = cmd.Known
                    || cmd.Asker == state.Profile!.Id
                    || cmd.AskerGroups.Any(g => state.Groups.ContainsKey(g))
                    || SendersAmong(state, [cmd.Asker]).Count > 0;
        return knows ? new ProfileShown(cmd.UserId, state.Profile!.Name, state.Profile.Phone) : hidden;
    }
}
