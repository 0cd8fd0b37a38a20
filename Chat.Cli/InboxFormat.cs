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

    /// <summary>One JSON object per line; a receipt gives one line per message id it covers.</summary>
    public static IEnumerable<string> JsonLines(Frame entry)
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
                    w.WriteString("text", m.Text);
                    w.WriteNumber("sentAt", m.SentAt);
                });
                break;
            case Receipt r:
                foreach (var id in r.MessageIds)
                    yield return Json(w =>
                    {
                        w.WriteString("type", "receipt");
                        w.WriteString("id", id);
                        w.WriteString("status", StatusName(r.Status));
                        w.WriteString("by", r.By);
                        w.WriteNumber("seq", r.Seq);
                    });
                break;
        }
    }

    /// <summary>Spectre markup lines: time, sender, text; receipts as ✓ delivered / ✓✓ read with the message id.</summary>
    public static IEnumerable<string> HumanLines(Frame entry)
    {
        switch (entry)
        {
            case Message m:
                yield return $"[grey]{Time(m.SentAt)}[/] [bold]{m.From.EscapeMarkup()}[/]  {m.Text.EscapeMarkup()}";
                break;
            case Receipt r:
                var mark = r.Status switch
                {
                    ReceiptStatus.Delivered => "[green]✓ delivered[/]",
                    ReceiptStatus.Read => "[blue]✓✓ read[/]",
                    _ => $"[yellow]{StatusName(r.Status)}[/]",
                };
                foreach (var id in r.MessageIds)
                    yield return $"[grey]{Time(r.At)}[/] {mark} {id.EscapeMarkup()} [grey]by {r.By.EscapeMarkup()}[/]";
                break;
        }
    }

    public static long SeqOf(Frame entry) => entry switch
    {
        Message m => m.Seq,
        Receipt r => r.Seq,
        _ => throw new ArgumentException($"not an inbox entry: {entry.GetType().Name}", nameof(entry)),
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

    private static string Json(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, JsonOptions))
        {
            writer.WriteStartObject();
            write(writer);
            writer.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
