using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Chat.Node.Logs;

/// <summary>
/// One log line as one JSON object: the layout shared by Akka's log events (<see cref="JsonLogger"/>) and the node's
/// own operator lines (<see cref="OperatorConsole"/>), so a log collector reads a single shape. Field names are part of
/// the node's interface to operators' scripts (docs/operations.md, "Logs"): add fields, never rename them.
/// </summary>
public static class JsonLogLine
{
    // '+' of phone numbers and non-ASCII names stay readable; quotes, backslashes and control characters are still escaped
    private static readonly JsonWriterOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <param name="timestamp">When it happened, written in UTC as ISO-8601 with milliseconds.</param>
    /// <param name="level"><c>debug</c>, <c>info</c>, <c>warning</c> or <c>error</c>.</param>
    /// <param name="logger">Who wrote it: an actor path or Akka component for Akka's events, <c>node</c> for the node's own lines.</param>
    /// <param name="node">The node's cluster address (<c>akka.tcp://chat@HOST:PORT</c>), when known.</param>
    /// <param name="fields">Further fields (<c>event</c>, <c>user</c>, <c>group</c>, ...); a null value is left out.</param>
    public static string Format(DateTime timestamp, string level, string logger, string message, Exception? exception, string? node,
        IEnumerable<KeyValuePair<string, object?>>? fields = null)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer, Options))
        {
            json.WriteStartObject();
            json.WriteString("timestamp", DateTime.SpecifyKind(timestamp.ToUniversalTime(), DateTimeKind.Utc).ToString("yyyy-MM-ddTHH:mm:ss.fffZ"));
            json.WriteString("level", level);
            json.WriteString("logger", logger);
            json.WriteString("message", message);
            if (node is not null) json.WriteString("node", node);
            if (fields is not null)
                foreach (var (name, value) in fields)
                    WriteField(json, name, value);
            if (exception is not null)
            {
                json.WriteStartObject("exception");
                json.WriteString("type", exception.GetType().FullName);
                json.WriteString("message", exception.Message);
                json.WriteString("detail", exception.ToString());
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static void WriteField(Utf8JsonWriter json, string name, object? value)
    {
        switch (value)
        {
            case null: return;
            case string s: json.WriteString(name, s); break;
            case bool b: json.WriteBoolean(name, b); break;
            case int i: json.WriteNumber(name, i); break;
            case long l: json.WriteNumber(name, l); break;
            case double d: json.WriteNumber(name, d); break;
            case DateTimeOffset t: json.WriteString(name, t.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ")); break;
            case TimeSpan t: json.WriteNumber(name, Math.Round(t.TotalSeconds, 3)); break;
            default: json.WriteString(name, value.ToString()); break;
        }
    }

    /// <summary>Akka's log levels as the JSON <c>level</c> field.</summary>
    public static string Level(Akka.Event.LogLevel level) => level switch
    {
        Akka.Event.LogLevel.DebugLevel => "debug",
        Akka.Event.LogLevel.InfoLevel => "info",
        Akka.Event.LogLevel.WarningLevel => "warning",
        _ => "error",
    };
}
