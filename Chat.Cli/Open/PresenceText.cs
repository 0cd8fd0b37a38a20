using System.Globalization;
using Chat.Protocol;

namespace Chat.Cli.Open;

/// <summary>What the conversation header says about the other side: who is typing, else online or when last seen.</summary>
internal static class PresenceText
{
    /// <param name="typing">Users typing in the conversation now (ChatClient.TypingIn).</param>
    /// <param name="presence">The person's latest presence (one-to-one only; null when not known).</param>
    public static string? Describe(bool isGroup, IReadOnlyList<string> typing, Presence? presence, Func<string, string> name, DateTimeOffset now)
    {
        if (typing.Count > 0)
        {
            if (!isGroup) return "typing…";
            return typing.Count == 1 ? $"{name(typing[0])} is typing…" : string.Join(", ", typing.Select(name)) + " are typing…";
        }
        if (isGroup || presence is null) return null;
        if (presence.Online) return "online";
        if (presence.LastSeen <= 0) return null; // hidden by the user, or never known
        var seen = DateTimeOffset.FromUnixTimeMilliseconds(presence.LastSeen).ToOffset(now.Offset);
        var time = seen.ToString("HH:mm", CultureInfo.InvariantCulture);
        var days = (now.Date - seen.Date).Days;
        return days switch
        {
            <= 0 => $"last seen today at {time}",
            1 => $"last seen yesterday at {time}",
            _ => $"last seen {seen.ToString("d MMM", CultureInfo.InvariantCulture)} at {time}",
        };
    }
}
