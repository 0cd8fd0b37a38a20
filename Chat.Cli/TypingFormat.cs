using Chat.Protocol;
using Spectre.Console;

namespace Chat.Cli;

/// <summary>How <c>chat listen --typing</c> prints a typing signal: a line for people, or a JSON object.</summary>
internal static class TypingFormat
{
    /// <summary>"Alice (+14155550101) is typing…" (in a group: "… is typing in group g…"), as markup.</summary>
    public static string Line(UserTyping t, IReadOnlyDictionary<string, UserProfile> names)
    {
        var who = names.TryGetValue(t.From, out var p) ? $"{p.Name.EscapeMarkup()} ({p.Phone.EscapeMarkup()})" : t.From.EscapeMarkup();
        var where = t.Group is null ? "" : $" in group {t.Group.EscapeMarkup()}";
        return $"[grey]{who} is typing{where}…[/]";
    }

    /// <summary>{"type":"typing","from","fromName","group","forMs"}: fromName null when unknown, group null one-to-one.</summary>
    public static string Json(UserTyping t, IReadOnlyDictionary<string, UserProfile> names) => InboxFormat.Json(w =>
    {
        w.WriteString("type", "typing");
        w.WriteString("from", t.From);
        if (names.TryGetValue(t.From, out var p)) w.WriteString("fromName", p.Name);
        else w.WriteNull("fromName");
        if (t.Group is null) w.WriteNull("group");
        else w.WriteString("group", t.Group);
        w.WriteNumber("forMs", t.ForMs);
    });
}
