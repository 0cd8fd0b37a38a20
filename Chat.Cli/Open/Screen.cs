using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Chat.Protocol;

namespace Chat.Cli.Open;

/// <summary>What the right side of the screen shows.</summary>
internal enum Pane
{
    /// <summary>The open conversation.</summary>
    Conversation,
    /// <summary>Keys and commands (?).</summary>
    Help,
    /// <summary>The open group's members (/members).</summary>
    Members,
}

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
    private const string Red = "\e[31m";

    public static readonly string[] Help =
    [
        "Keys",
        "  Up / Down      choose a conversation",
        "  Enter          send the line (or run a /command)",
        "  ?              this help (on an empty line); Esc closes it",
        "  Esc            back to the conversation (from help or members)",
        "  Ctrl-C         quit",
        "Commands",
        "  /new +PHONE                  start a chat with a phone number",
        "  /file PATH [CAPTION]         send an image or video (JPEG, PNG, WebP, GIF, MP4, WebM);",
        "                               a PATH with spaces goes in \"quotes\"",
        "  /save [N] [DIR]              save image or video #N (default: the newest) to DIR",
        "                               (default: the current folder)",
        "  /group NAME +PHONE [+PHONE]  create a group",
        "  /members                     the open group's members and admins",
        "  /add +PHONE                  add someone to the open group",
        "  /leave                       leave the open group",
        "  /quit                        quit",
    ];

    /// <summary>The rows of the screen, each at most <paramref name="width"/> columns.</summary>
    /// <param name="phone">A user's phone number when known, for the member list.</param>
    public static List<string> Draw(ChatView view, Func<string, string> name, string input, string status, string? notice,
        Pane pane, int width, int height, Func<string, string?>? phone = null)
    {
        width = Math.Max(width, 40);
        height = Math.Max(height, 8);
        var listWidth = Math.Clamp(width / 3, 18, 36);
        var rightWidth = width - listWidth - 1;
        var bodyHeight = height - 3;

        var left = ConversationList(view, name, listWidth, bodyHeight);
        var right = pane switch
        {
            Pane.Help => Help.Select(h => Fit(h, rightWidth)).ToList(),
            Pane.Members => MemberLines(view, name, phone ?? (_ => null), rightWidth),
            _ => ConversationLines(view, name, rightWidth, bodyHeight),
        };

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
            var preview = last is null ? "" : (last.Mine ? "you: " : c.IsGroup && !last.IsNotice ? name(last.From) + ": " : "")
                + (last.Media is { } media ? MediaLabel(media, null) + " " : "") + Names(last.Text, name);
            rows.Add(Grey + Pad(Fit("    " + preview, width), width) + Reset);
        }
        return rows;
    }

    /// <summary>The open group's members, admins first, then by name; it follows the group as notices arrive.</summary>
    private static List<string> MemberLines(ChatView view, Func<string, string> name, Func<string, string?> phone, int width)
    {
        if (view.Open is not { IsGroup: true } group) return [Fit(" not a group: /members lists a group's members", width)];
        if (group.Members is not { } members) return [Fit($" members of {Title(group, name)}: asking the server…", width)];
        var rows = new List<string> { Bold + Fit($" members of {Title(group, name)}: {members.Count}", width) + Reset };
        var ordered = members.OrderBy(m => group.Admins.Contains(m) ? 0 : 1).ThenBy(m => m == view.Me ? "" : name(m), StringComparer.CurrentCulture);
        var nameWidth = Math.Min(24, members.Max(m => name(m).Length) + (members.Contains(view.Me) ? 6 : 0));
        foreach (var member in ordered)
        {
            var who = member == view.Me ? name(member) + " (you)" : name(member);
            var admin = group.Admins.Contains(member) ? Yellow + "admin" + Reset : "";
            rows.Add("   " + Pad(Fit(who, nameWidth), nameWidth) + "  " + Grey + Pad(phone(member) ?? "", 16) + Reset + "  " + admin);
        }
        rows.Add(Grey + Fit(" Esc: back to the conversation", width) + Reset);
        return rows;
    }

    /// <summary>"[image/png 48.8 KiB #2]": what a media line shows of its image or video, with its number for /save.</summary>
    public static string MediaLabel(MediaRef media, int? number) =>
        $"[{media.ContentType} {InboxFormat.Size(media.Size)}{(number is { } n ? " #" + n : "")}]";

    /// <summary>A progress bar of ten cells and a percentage: "██████░░░░ 60%".</summary>
    public static string Bar(TransferProgress p)
    {
        var fraction = p.Total <= 0 ? 0 : Math.Clamp((double)p.Done / p.Total, 0, 1);
        var cells = (int)Math.Floor(fraction * 10);
        return new string('█', cells) + new string('░', 10 - cells) + $" {(int)Math.Floor(fraction * 100)}%";
    }

    /// <summary>The text of a line as shown: a media line's label, caption, transfer and where it was saved.</summary>
    private static string Body(ChatLine line, int? number)
    {
        if (line.Media is not { } media) return line.Text;
        var b = new StringBuilder(MediaLabel(media, number));
        if (line.Text.Length > 0) b.Append(' ').Append(line.Text);
        if (line.Transfer is { } t) b.Append(line.Mine && line.Tick == Tick.Pending && media.MediaId.Length == 0 ? "  uploading " : "  saving ").Append(Bar(t));
        if (line.SavedTo is { } path) b.Append("  saved → ").Append(path);
        return b.ToString();
    }

    private static List<string> ConversationLines(ChatView view, Func<string, string> name, int width, int height)
    {
        if (view.Open is not { } open) return [];
        var rows = new List<string>();
        // newest at the bottom: take lines from the end until the height is filled
        var media = open.Lines.Count(l => l.Media is not null);
        for (var i = open.Lines.Count - 1; i >= 0 && rows.Count < height; i--)
        {
            var line = open.Lines[i];
            rows.InsertRange(0, Render(line, name, width, line.Media is null ? null : media--));
        }
        return rows.Count > height ? rows.GetRange(rows.Count - height, height) : rows;
    }

    private static List<string> Render(ChatLine line, Func<string, string> name, int width, int? mediaNumber)
    {
        var time = DateTimeOffset.FromUnixTimeMilliseconds(line.At).ToLocalTime().ToString("HH:mm", CultureInfo.InvariantCulture);
        if (line.IsNotice)
            return [Cyan + Fit($" {time} {name(line.From)} {Names(line.Text, name)}", width) + Reset];
        var who = line.Mine ? "you" : name(line.From);
        var ticks = !line.Mine ? "" : line.Failed is not null ? " " + Red + "✗" + Reset : line.Tick switch
        {
            Tick.Pending => " " + Yellow + "…" + Reset,
            Tick.Sent => " " + Grey + "✓" + Reset,
            Tick.Delivered => " " + Grey + "✓✓" + Reset,
            _ => " " + Blue + "✓✓" + Reset,
        };
        var head = $" {Grey}{time}{Reset} {(line.Mine ? Green : Bold)}{who}{Reset}: ";
        var headWidth = 1 + time.Length + 1 + who.Length + 2;
        var room = Math.Max(10, width - headWidth - 3);
        var text = Body(line, mediaNumber).ReplaceLineEndings(" ") + (line.Failed is { } failed ? "  not sent: " + failed : "");
        var rows = new List<string>();
        for (var start = 0; start < text.Length || rows.Count == 0;)
        {
            var take = Math.Min(room, text.Length - start);
            // break after a word when one ends in the row; a word longer than the row is cut
            if (start + take < text.Length && text.LastIndexOf(' ', start + take, take) is var space and > 0 && space > start)
                take = space - start + 1;
            var part = text.Substring(start, take).TrimEnd();
            rows.Add(rows.Count == 0 ? head + part : new string(' ', headWidth) + part);
            start += take;
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
