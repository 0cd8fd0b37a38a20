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

/// <summary>How a piece of text looks; <see cref="RowsView"/> turns it into the terminal's colours.</summary>
internal enum Look
{
    Plain,
    /// <summary>Times, previews, the status line: grey.</summary>
    Dim,
    /// <summary>Others' names, a conversation with unread messages, headings.</summary>
    Bold,
    /// <summary>"you": green.</summary>
    Mine,
    /// <summary>A group change: cyan.</summary>
    Notice,
    /// <summary>Not yet accepted by the server: a yellow "…".</summary>
    Pending,
    /// <summary>Sent ✓ and delivered ✓✓: grey.</summary>
    Tick,
    /// <summary>Read ✓✓: blue.</summary>
    Read,
    /// <summary>Not sent ✗: red.</summary>
    Failed,
    /// <summary>A group admin: yellow.</summary>
    Admin,
    /// <summary>The open conversation in the list, and the header: reversed.</summary>
    Selected,
}

/// <summary>A piece of a row in one look.</summary>
internal readonly record struct Span(string Text, Look Look);

/// <summary>One row of text as pieces in their looks; <see cref="Fill"/> paints the rest of the row in that look.</summary>
internal sealed record Row(IReadOnlyList<Span> Spans, Look? Fill = null)
{
    public Row(string text, Look look = Look.Plain) : this([new Span(text, look)]) { }

    public string Text => string.Concat(Spans.Select(s => s.Text));

    public override string ToString() => Text;
}

/// <summary>
/// The rows the chat's views draw from a <see cref="ChatView"/>: the conversation list, the open conversation, the
/// members and the help. Plain text in looks, cut to a width; the views only place them on the screen.
/// </summary>
internal static partial class Rows
{
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

    /// <summary>The top row: who this is, and the open conversation with what its other side is doing.</summary>
    public static string Header(ChatView view, Func<string, string> name)
    {
        var title = view.Open is { } open ? Title(open, name) : "no conversation open: Up/Down, or /new +PHONE";
        if (view.Open is not null && view.OpenPresence is { } presence) title += " · " + presence;
        return $" {name(view.Me)} │ {title}";
    }

    /// <summary>The status row: the connection, the latest notice, and where help is.</summary>
    public static string Status(string status, string? notice) =>
        $" {status}" + (notice is null ? "" : "  ·  " + notice) + "  ·  ? for help";

    /// <summary>A conversation's title: a group's name, or a person's name (their id until it is known).</summary>
    public static string Title(Conversation c, Func<string, string> name) =>
        c.IsGroup ? "# " + (c.GroupName ?? c.Key) + (c.Member ? "" : " (left)") : name(c.Key);

    /// <summary>Two rows a conversation, the most recent first: its title with the unread count, then its last line.</summary>
    public static List<Row> List(ChatView view, Func<string, string> name, int width, int height)
    {
        var rows = new List<Row>();
        foreach (var c in view.Conversations)
        {
            if (rows.Count + 2 > height) break;
            var selected = ReferenceEquals(c, view.Open);
            var unread = c.Unread > 0 ? $" ({c.Unread})" : "";
            var title = Title(c, name);
            title = title.Length + unread.Length + 2 > width ? title[..Math.Max(1, width - unread.Length - 3)] + "…" : title;
            var look = selected ? Look.Selected : c.Unread > 0 ? Look.Bold : Look.Plain;
            rows.Add(new Row([new Span(Fit((selected ? "▶ " : "  ") + title + unread, width), look)], look));
            var last = c.Lines.Count > 0 ? c.Lines[^1] : null;
            var preview = last is null ? "" : (last.Mine ? "you: " : c.IsGroup && !last.IsNotice ? name(last.From) + ": " : "")
                + (last.Media is { } media ? MediaLabel(media, null) + " " : "") + Names(last.Text, name);
            rows.Add(new Row(Fit("    " + preview, width), Look.Dim));
        }
        return rows;
    }

    /// <summary>The open group's members, admins first, then by name; it follows the group as notices arrive.</summary>
    public static List<Row> Members(ChatView view, Func<string, string> name, Func<string, string?> phone, int width)
    {
        if (view.Open is not { IsGroup: true } group) return [new Row(Fit(" not a group: /members lists a group's members", width))];
        if (group.Members is not { } members) return [new Row(Fit($" members of {Title(group, name)}: asking the server…", width))];
        var rows = new List<Row> { new(Fit($" members of {Title(group, name)}: {members.Count}", width), Look.Bold) };
        var ordered = members.OrderBy(m => group.Admins.Contains(m) ? 0 : 1).ThenBy(m => m == view.Me ? "" : name(m), StringComparer.CurrentCulture);
        var nameWidth = Math.Min(24, members.Max(m => name(m).Length) + (members.Contains(view.Me) ? 6 : 0));
        foreach (var member in ordered)
        {
            var who = member == view.Me ? name(member) + " (you)" : name(member);
            var spans = new List<Span> { new("   " + Pad(Fit(who, nameWidth), nameWidth) + "  ", Look.Plain), new(Pad(phone(member) ?? "", 16), Look.Dim) };
            if (group.Admins.Contains(member)) spans.Add(new Span("  admin", Look.Admin));
            rows.Add(new Row(spans));
        }
        rows.Add(new Row(Fit(" Esc: back to the conversation", width), Look.Dim));
        return rows;
    }

    /// <summary>The keys and commands, headings in bold.</summary>
    public static List<Row> HelpRows(int width) =>
        Help.Select(h => new Row(Fit(h, width), h.StartsWith(' ') ? Look.Plain : Look.Bold)).ToList();

    /// <summary>"[image/png 48.8 KiB #2]": what a media line shows of its image or video, with its number for /save.</summary>
    public static string MediaLabel(MediaRef media, int? number) =>
        $"[{media.ContentType} {InboxFormat.Size(media.Size)}{(number is { } n ? " #" + n : "")}]";

    /// <summary>A progress bar of ten cells and a percentage: "██████░░░░ 60%".</summary>
    public static string Bar(TransferProgress p)
    {
        var fraction = Fraction(p);
        var cells = (int)Math.Floor(fraction * 10);
        return new string('█', cells) + new string('░', 10 - cells) + $" {(int)Math.Floor(fraction * 100)}%";
    }

    /// <summary>How much of a transfer is done, from 0 to 1.</summary>
    public static double Fraction(TransferProgress p) => p.Total <= 0 ? 0 : Math.Clamp((double)p.Done / p.Total, 0, 1);

    /// <summary>Whether a line's transfer is this user's upload (else it is a save).</summary>
    public static bool Uploading(ChatLine line) => line.Mine && line.Tick == Tick.Pending && line.Media is { MediaId.Length: 0 };

    /// <summary>The text of a line as shown: a media line's label, caption, transfer and where it was saved.</summary>
    private static string Body(ChatLine line, int? number)
    {
        if (line.Media is not { } media) return line.Text;
        var b = new StringBuilder(MediaLabel(media, number));
        if (line.Text.Length > 0) b.Append(' ').Append(line.Text);
        if (line.Transfer is { } t) b.Append(Uploading(line) ? "  uploading " : "  saving ").Append(Bar(t));
        if (line.SavedTo is { } path) b.Append("  saved → ").Append(path);
        return b.ToString();
    }

    /// <summary>The open conversation's newest lines that fit in <paramref name="height"/> rows, newest at the bottom.</summary>
    public static List<Row> Conversation(ChatView view, Func<string, string> name, int width, int height)
    {
        if (view.Open is not { } open) return [];
        var rows = new List<Row>();
        var media = open.Lines.Count(l => l.Media is not null);
        for (var i = open.Lines.Count - 1; i >= 0 && rows.Count < height; i--)
        {
            var line = open.Lines[i];
            rows.InsertRange(0, Render(line, name, width, line.Media is null ? null : media--));
        }
        return rows.Count > height ? rows.GetRange(rows.Count - height, height) : rows;
    }

    private static List<Row> Render(ChatLine line, Func<string, string> name, int width, int? mediaNumber)
    {
        var time = DateTimeOffset.FromUnixTimeMilliseconds(line.At).ToLocalTime().ToString("HH:mm", CultureInfo.InvariantCulture);
        if (line.IsNotice)
            return [new Row(Fit($" {time} {name(line.From)} {Names(line.Text, name)}", width), Look.Notice)];
        var who = line.Mine ? "you" : name(line.From);
        Span? ticks = !line.Mine ? null : line.Failed is not null ? new Span("✗", Look.Failed) : line.Tick switch
        {
            Tick.Pending => new Span("…", Look.Pending),
            Tick.Sent => new Span("✓", Look.Tick),
            Tick.Delivered => new Span("✓✓", Look.Tick),
            _ => new Span("✓✓", Look.Read),
        };
        Span[] head = [new(" ", Look.Plain), new(time, Look.Dim), new(" ", Look.Plain), new(who, line.Mine ? Look.Mine : Look.Bold), new(": ", Look.Plain)];
        var headWidth = 1 + time.Length + 1 + who.Length + 2;
        var room = Math.Max(10, width - headWidth - 3);
        var text = Body(line, mediaNumber).ReplaceLineEndings(" ") + (line.Failed is { } failed ? "  not sent: " + failed : "");
        var rows = new List<List<Span>>();
        for (var start = 0; start < text.Length || rows.Count == 0;)
        {
            var take = Math.Min(room, text.Length - start);
            // break after a word when one ends in the row; a word longer than the row is cut
            if (start + take < text.Length && text.LastIndexOf(' ', start + take, take) is var space and > 0 && space > start)
                take = space - start + 1;
            var part = new Span(text.Substring(start, take).TrimEnd(), Look.Plain);
            rows.Add(rows.Count == 0 ? [.. head, part] : [new Span(new string(' ', headWidth), Look.Plain), part]);
            start += take;
        }
        if (ticks is { } t) rows[^1].AddRange([new Span(" ", Look.Plain), t]);
        return rows.Select(r => new Row(r)).ToList();
    }

    /// <summary>Replaces "@userid" in a notice by the user's name.</summary>
    private static string Names(string text, Func<string, string> name) => Mention().Replace(text, m => name(m.Groups[1].Value));

    [GeneratedRegex("@(u[a-z2-7]{16})")]
    private static partial Regex Mention();

    /// <summary>Cuts a plain string to <paramref name="width"/> columns (with … when cut).</summary>
    private static string Fit(string s, int width)
    {
        s = s.ReplaceLineEndings(" ");
        if (s.Length <= width) return s;
        return s[..Math.Max(0, width - 1)] + "…";
    }

    private static string Pad(string s, int width) => s.Length >= width ? s : s + new string(' ', width - s.Length);
}
