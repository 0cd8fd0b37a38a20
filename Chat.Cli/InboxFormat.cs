using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Chat.Protocol;
using Spectre.Console;

namespace Chat.Cli;

/// <summary>How listen shows inbox entries: JSON lines for scripts, or a readable line for people.</summary>
internal static class InboxFormat
{
    // Relaxed escaping keeps non-ASCII text readable; the output is a terminal or a pipe, never HTML.
    private static readonly JsonWriterOptions JsonOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>
    /// One JSON object per line. A receipt gives one line per message id it covers; a receipt set one line per
    /// item and message id, each exactly as a receipt's (plus <c>group</c> when the item names one).
    /// </summary>
    public static IEnumerable<string> JsonLines(Frame entry, IReadOnlyDictionary<string, UserProfile>? names = null)
    {
        switch (entry)
        {
            case Message m:
                yield return Json(w =>
                {
                    w.WriteString("type", "message");
                    w.WriteString("id", m.MessageId);
                    w.WriteNumber("seq", m.Seq);
                    w.WriteString("from", m.From);
                    if (names is not null && names.TryGetValue(m.From, out var sender)) w.WriteString("fromName", sender.Name);
                    else w.WriteNull("fromName");
                    w.WriteString("text", m.Text);
                    w.WriteNumber("sentAt", m.SentAt);
                    if (m.Group is not null)
                    {
                        w.WriteString("group", m.Group);
                        w.WriteNumber("groupSeq", m.GroupSeq);
                    }
                    if (m.Media is { } media)
                    {
                        w.WriteStartObject("media");
                        w.WriteString("id", media.MediaId);
                        w.WriteString("type", media.ContentType);
                        w.WriteNumber("size", media.Size);
                        if (media.Thumbnail is { Length: > 0 } thumbnail) w.WriteNumber("thumbnailBytes", thumbnail.Length);
                        w.WriteEndObject();
                    }
                });
                break;
            case Receipt r:
                foreach (var id in r.MessageIds)
                    yield return ReceiptJson(r.Seq, id, r.Status, r.By, group: null);
                break;
            case ReceiptSet s:
                foreach (var item in s.Items)
                    foreach (var id in item.MessageIds)
                        yield return ReceiptJson(s.Seq, id, item.Status, item.By, item.Group);
                break;
            case GroupNotice n:
                yield return Json(w =>
                {
                    w.WriteString("type", "notice");
                    w.WriteString("group", n.Group);
                    w.WriteNumber("groupSeq", n.GroupSeq);
                    w.WriteString("kind", KindName(n.Kind));
                    w.WriteString("actor", n.Actor);
                    WriteStrings(w, "members", n.Members);
                    w.WriteString("name", n.Name);
                    w.WriteNumber("seq", n.Seq);
                    w.WriteNumber("at", n.At);
                    if (n.Kind == GroupNoticeKind.ImageChanged)
                    {
                        if (n.Image is { } image) w.WriteString("image", image.MediaId);
                        else w.WriteNull("image");
                    }
                });
                break;
        }
    }

    private static string ReceiptJson(long seq, string id, ReceiptStatus status, string by, string? group) => Json(w =>
    {
        w.WriteString("type", "receipt");
        w.WriteString("id", id);
        w.WriteString("status", StatusName(status));
        w.WriteString("by", by);
        w.WriteNumber("seq", seq);
        if (group is not null) w.WriteString("group", group);
    });

    /// <summary>
    /// Spectre markup lines: time, sender (<c>Alice (+14155550101):</c> when <paramref name="names"/> knows them, else the
    /// user id), text (group messages with the group and their place in it); receipts as ✓ delivered / ✓✓ read with the
    /// message id; group changes as a sentence.
    /// </summary>
    public static IEnumerable<string> HumanLines(Frame entry, IReadOnlyDictionary<string, UserProfile>? names = null)
    {
        switch (entry)
        {
            case Message { Group: null } m:
                yield return $"[grey]{Time(m.SentAt)}[/] [bold]{Sender(m.From, names)}[/]: {MediaLabel(m)}{m.Text.EscapeMarkup()}";
                break;
            case Message m:
                yield return $"[grey]{Time(m.SentAt)}[/] [cyan][[group {m.Group.EscapeMarkup()} #{m.GroupSeq}]][/] " +
                             $"[bold]{Sender(m.From, names)}[/]: {MediaLabel(m)}{m.Text.EscapeMarkup()}";
                break;
            case Receipt r:
                foreach (var id in r.MessageIds)
                    yield return ReceiptLine(r.At, id, r.Status, r.By, group: null);
                break;
            case ReceiptSet s:
                foreach (var item in s.Items)
                    foreach (var id in item.MessageIds)
                        yield return ReceiptLine(s.At, id, item.Status, item.By, item.Group);
                break;
            case GroupNotice n:
                yield return $"[grey]{Time(n.At)}[/] [cyan]group {n.Group.EscapeMarkup()} #{n.GroupSeq}:[/] {NoticeText(n)}";
                break;
        }
    }

    /// <summary>"Alice (+14155550101)" when the sender's profile is known, else their user id; as markup.</summary>
    private static string Sender(string userId, IReadOnlyDictionary<string, UserProfile>? names) =>
        names is not null && names.TryGetValue(userId, out var p)
            ? $"{p.Name.EscapeMarkup()} ({p.Phone.EscapeMarkup()})"
            : userId.EscapeMarkup();

    /// <summary>"[image/png 1.2 MiB m…] " before the caption, so a person can download it.</summary>
    private static string MediaLabel(Message m) => m.Media is { } media
        ? $"[yellow][[{media.ContentType.EscapeMarkup()} {Size(media.Size)} {media.MediaId.EscapeMarkup()}]][/] "
        : "";

    internal static string Size(long bytes) => bytes switch
    {
        >= 1 << 20 => (bytes / 1048576.0).ToString("0.0", CultureInfo.InvariantCulture) + " MiB",
        >= 1 << 10 => (bytes / 1024.0).ToString("0.0", CultureInfo.InvariantCulture) + " KiB",
        _ => bytes + " B",
    };

    private static string ReceiptLine(long at, string id, ReceiptStatus status, string by, string? group)
    {
        var mark = status switch
        {
            ReceiptStatus.Delivered => "[green]✓ delivered[/]",
            ReceiptStatus.Read => "[blue]✓✓ read[/]",
            _ => $"[yellow]{StatusName(status)}[/]",
        };
        var where = group is null ? "" : $" in group {group.EscapeMarkup()}";
        return $"[grey]{Time(at)}[/] {mark} {id.EscapeMarkup()} [grey]by {by.EscapeMarkup()}{where}[/]";
    }

    /// <summary>"u… added u…, u…" and the like, as markup.</summary>
    private static string NoticeText(GroupNotice n)
    {
        var actor = $"[bold]{n.Actor.EscapeMarkup()}[/]";
        var name = $"\"{n.Name.EscapeMarkup()}\"";
        string List(IEnumerable<string> users) => string.Join(", ", users.Select(u => u.EscapeMarkup()));
        return n.Kind switch
        {
            GroupNoticeKind.Created => n.Members.Any(m => m != n.Actor)
                ? $"{actor} created {name} with {List(n.Members.Where(m => m != n.Actor))}"
                : $"{actor} created {name}",
            GroupNoticeKind.Added => $"{actor} added {List(n.Members)}",
            GroupNoticeKind.Removed => $"{actor} removed {List(n.Members)}",
            GroupNoticeKind.Left => $"{actor} left",
            GroupNoticeKind.Renamed => $"{actor} renamed the group to {name}",
            GroupNoticeKind.ImageChanged => n.Image is { } image
                ? $"{actor} set the group picture ({image.MediaId.EscapeMarkup()})"
                : $"{actor} removed the group picture",
            GroupNoticeKind.Promoted => $"{actor} made {List(n.Members)} admin",
            GroupNoticeKind.Demoted => $"{actor} removed admin rights from {List(n.Members)}",
            _ => $"{actor} {KindName(n.Kind).EscapeMarkup()} {List(n.Members)}",
        };
    }

    private static string KindName(GroupNoticeKind kind) => kind switch
    {
        GroupNoticeKind.Created => "created",
        GroupNoticeKind.Added => "added",
        GroupNoticeKind.Removed => "removed",
        GroupNoticeKind.Left => "left",
        GroupNoticeKind.Renamed => "renamed",
        GroupNoticeKind.Promoted => "promoted",
        GroupNoticeKind.Demoted => "demoted",
        GroupNoticeKind.ImageChanged => "image",
        _ => ((int)kind).ToString(CultureInfo.InvariantCulture),
    };

    private static string StatusName(ReceiptStatus status) => status switch
    {
        ReceiptStatus.Delivered => "delivered",
        ReceiptStatus.Read => "read",
        _ => ((int)status).ToString(CultureInfo.InvariantCulture),
    };

    private static string Time(long unixMilliseconds)
        => DateTimeOffset.FromUnixTimeMilliseconds(unixMilliseconds).ToLocalTime()
            .ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    /// <summary>One JSON object, written by <paramref name="write"/> between its braces, on one line.</summary>
    public static string Json(Action<Utf8JsonWriter> write) => JsonValue(w =>
    {
        w.WriteStartObject();
        write(w);
        w.WriteEndObject();
    });

    /// <summary>One JSON value of any kind, on one line.</summary>
    public static string JsonValue(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, JsonOptions))
            write(writer);
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>A property whose value is an array of strings.</summary>
    public static void WriteStrings(Utf8JsonWriter writer, string name, IEnumerable<string> values)
    {
        writer.WriteStartArray(name);
        foreach (var value in values) writer.WriteStringValue(value);
        writer.WriteEndArray();
    }
}
