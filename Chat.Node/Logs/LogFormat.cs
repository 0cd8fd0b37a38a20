namespace Chat.Node.Logs;

/// <summary>How the node writes its log and operator lines (<c>chat.log-format</c>, <c>--log-format</c>, <c>CHAT_LOG_FORMAT</c>).</summary>
public enum LogFormat
{
    /// <summary>Lines for people: Akka's own layout for log events, plain sentences for the node's own lines.</summary>
    Text,
    /// <summary>One JSON object per line, for log collectors (docs/operations.md, "Logs").</summary>
    Json,
}

public static class LogFormats
{
    /// <summary><c>text</c> or <c>json</c>; anything else is refused with the name of where it came from.</summary>
    public static LogFormat Parse(string value, string source) => value.Trim().ToLowerInvariant() switch
    {
        "text" => LogFormat.Text,
        "json" => LogFormat.Json,
        _ => throw new ArgumentException($"{source} must be text or json, not '{value}'"),
    };
}
