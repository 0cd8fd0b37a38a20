using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Chat.Protocol;

namespace Chat.Cli.Open;

/// <summary>
/// Draws a <see cref="ChatView"/> as full-screen rows of text with ANSI colours: the conversation list on the left,
/// the open conversation on the right, a status line and the line being typed at the bottom. It only reads the view.
/// </summary>
internal static partial class Screen
{
    private const string Reset = "\e[0m";
    private const string Bold = "\e[1m";
    private const string Grey = "\e[90m";
    private const string Green = "\e[32m";
    private const string Blue = "\e[94m";
    private const string Cyan = "\e[36m";
    private const string Yellow = "\e[33m";
    private const string Inverse = "\e[7m";

    public static readonly string[] Help =
    [
        "Keys",
        "  Up / Down      choose a conversation",
        "  Enter          send the line (or run a /command)",
        "  ?              this help (on an empty line); Esc closes it",
        "  Ctrl-C         quit",
        "Commands",
        "  /new +PHONE                  start a chat with a phone number",
        "  /group NAME +PHONE [+PHONE]  create a group",
        "  /add +PHONE                  add someone to the open group",
        "  /leave                       leave the open group",
        "  /quit                        quit",
    ];

    /// <summary>The rows of the screen, each at most <paramref name="width"/> columns.</summary>
    public static List<string> Draw(ChatView view, Func<string, string> name, string input, string status, string? notice,
        bool help, int width, int height)
    {
        width = Math.Max(width, 40);
        height = Math.Max(height, 8);
        var listWidth = Math.Clamp(width / 3, 18, 36);
        var rightWidth = width - listWidth - 1;
        var bodyHeight = height - 3;

        var left = ConversationList(view, name, listWidth, bodyHeight);
        var right = help ? Help.Select(h => Fit(h, rightWidth)).ToList() : ConversationLines(view, name, rightWidth, bodyHeight);

        var rows = new List<string>(height);
        var title = view.Open is { } open ? Title(open, name) : "no conversation open: Up/Down, or /new +PHONE";
        if (view.Open is not null && view.OpenPresence is { } presence) title += " · " + presence;
        rows.Add(Inverse + Fit($" {name(view.Me)} │ {title}", width) + Reset);
        for (var i = 0; i < bodyHeight; i++)
        {
            var l = i < left.Count ? left[i] : Pad("", listWidth);
            var r = i < right.Count ? right[i] : "";
            rows.Add(l + Grey + "│" + Reset + r);
        }
        rows.Add(Grey + Fit($" {status}" + (notice is null ? "" : "  ·  " + notice) + "  ·  ? for help", width) + Reset);
        rows.Add(Fit("> " + input, width));
        return rows;
    }

    /// <summary>A conversation's title: a group's name, or a person's name (their id until it is known).</summary>
    public static string Title(Conversation c, Func<string, string> name) =>
        c.IsGroup ? "# " + (c.GroupName ?? c.Key) + (c.Member ? "" : " (left)") : name(c.Key);

    private static List<string> ConversationList(ChatView view, Func<string, string> name, int width, int height)
    {
        var rows = new List<string>();
        foreach (var c in view.Conversations)
        {
            if (rows.Count + 2 > height) break;
            var selected = ReferenceEquals(c, view.Open);
            var unread = c.Unread > 0 ? $" ({c.Unread})" : "";
            var title = Title(c, name);
            title = title.Length + unread.Length + 2 > width ? title[..Math.Max(1, width - unread.Length - 3)] + "…" : title;
            rows.Add((selected ? Inverse : c.Unread > 0 ? Bold : "") + Fit((selected ? "▶ " : "  ") + title + unread, width) + Reset);
            var last = c.Lines.Count > 0 ? c.Lines[^1] : null;
            var preview = last is null ? "" : (last.Mine ? "you: " : c.IsGroup && !last.IsNotice ? name(last.From) + ": " : "") + Names(last.Text, name);
            rows.Add(Grey + Pad(Fit("    " + preview, width), width) + Reset);
        }
        return rows;
    }

    private static List<string> ConversationLines(ChatView view, Func<string, string> name, int width, int height)
    {
        if (view.Open is not { } open) return [];
        var rows = new List<string>();
        // newest at the bottom: take lines from the end until the height is filled
        for (var i = open.Lines.Count - 1; i >= 0 && rows.Count < height; i--)
            rows.InsertRange(0, Render(open.Lines[i], name, width));
        return rows.Count > height ? rows.GetRange(rows.Count - height, height) : rows;
    }

    private static List<string> Render(ChatLine line, Func<string, string> name, int width)
    {
        var time = DateTimeOffset.FromUnixTimeMilliseconds(line.At).ToLocalTime().ToString("HH:mm", CultureInfo.InvariantCulture);
        if (line.IsNotice)
            return [Cyan + Fit($" {time} {name(line.From)} {Names(line.Text, name)}", width) + Reset];
        var who = line.Mine ? "you" : name(line.From);
        var ticks = !line.Mine ? "" : line.Tick switch
        {
            Tick.Pending => " " + Yellow + "…" + Reset,
            Tick.Sent => " " + Grey + "✓" + Reset,
            Tick.Delivered => " " + Grey + "✓✓" + Reset,
            _ => " " + Blue + "✓✓" + Reset,
        };
        var head = $" {Grey}{time}{Reset} {(line.Mine ? Green : Bold)}{who}{Reset}: ";
        var headWidth = 1 + time.Length + 1 + who.Length + 2;
        var room = Math.Max(10, width - headWidth - 3);
        var text = line.Text.ReplaceLineEndings(" ");
        var rows = new List<string>();
        for (var start = 0; start < text.Length || rows.Count == 0; start += room)
        {
            var part = text.Substring(start, Math.Min(room, text.Length - start));
            rows.Add(rows.Count == 0 ? head + part : new string(' ', headWidth) + part);
        }
        rows[^1] += ticks;
        return rows;
    }

    /// <summary>Replaces "@userid" in a notice by the user's name.</summary>
    private static string Names(string text, Func<string, string> name) => Mention().Replace(text, m => name(m.Groups[1].Value));

    [GeneratedRegex("@(u[a-z2-7]{16})")]
    private static partial Regex Mention();

    /// <summary>Cuts a plain string to <paramref name="width"/> columns (with … when cut).</summary>
    private static string Fit(string s, int width)
    {
        s = s.ReplaceLineEndings(" ");
        if (s.Length <= width) return Pad(s, width);
        return s[..Math.Max(0, width - 1)] + "…";
    }

    private static string Pad(string s, int width) => s.Length >= width ? s : s + new string(' ', width - s.Length);

    /// <summary>The escape sequences that put <paramref name="rows"/> on the screen from the top left, leaving the cursor on the input line.</summary>
    public static string Frame(List<string> rows, int inputColumn)
    {
        var b = new StringBuilder("\e[?25l\e[H");
        for (var i = 0; i < rows.Count; i++)
        {
            b.Append(rows[i]).Append("\e[K");
            if (i < rows.Count - 1) b.Append("\r\n");
        }
        b.Append("\e[J").Append($"\e[{rows.Count};{inputColumn + 1}H").Append("\e[?25h");
        return b.ToString();
    }
}
