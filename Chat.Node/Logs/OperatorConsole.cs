using Chat.Node.Hosting;

namespace Chat.Node.Logs;

/// <summary>
/// Where the node's program writes its operator lines (<c>listening on ...</c>, <c>stopping</c>, retention reports,
/// verification codes of the log sender, ...): as today's plain sentences, or, with <see cref="LogFormat.Json"/>, as
/// <see cref="JsonLogLine"/>s carrying an <c>event</c> field that scripts match on instead of the sentence.
/// </summary>
public sealed class OperatorConsole(LogFormat format)
{
    /// <summary>The node's cluster address, once the actor system has one.</summary>
    public string? NodeAddress { get; set; }

    public LogFormat Format => format;

    /// <summary>A line of the program itself (no timestamp in text, as it always was), on standard output.</summary>
    public void Say(OperatorLine line) => Write(Console.Out, "info", line, timestamped: false);

    /// <summary>A failure the program reports before exiting, on standard error.</summary>
    public void Fail(OperatorLine line) => Write(Console.Error, "error", line, timestamped: false);

    /// <summary>A report of the running node (<see cref="OperatorReport"/>): in text, prefixed with the UTC time.</summary>
    public void Report(OperatorLine line) => Write(Console.Out, line.Level, line, timestamped: true);

    private void Write(TextWriter writer, string level, OperatorLine line, bool timestamped)
    {
        var now = DateTime.UtcNow;
        if (format == LogFormat.Text)
        {
            writer.WriteLine(timestamped ? $"{now:yyyy-MM-dd HH:mm:ss}Z {line.Text}" : line.Text);
            return;
        }
        var fields = new List<KeyValuePair<string, object?>> { new("event", line.Event) };
        if (line.Fields is not null) fields.AddRange(line.Fields);
        writer.WriteLine(JsonLogLine.Format(now, level, "node", line.Text, null, line.Node ?? NodeAddress, fields));
    }
}
