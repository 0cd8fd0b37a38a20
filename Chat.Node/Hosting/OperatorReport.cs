namespace Chat.Node.Hosting;

/// <summary>
/// One operator-facing line: <paramref name="Event"/> names what happened (stable; scripts match it in JSON logs),
/// <paramref name="Text"/> says it to a person (the whole line in text logs), <paramref name="Fields"/> carry its values
/// for JSON logs.
/// </summary>
public sealed record OperatorLine(string Event, string Text, IReadOnlyList<KeyValuePair<string, object?>>? Fields = null)
{
    /// <summary><c>info</c>, or <c>warning</c> for a line that asks the operator to act.</summary>
    public string Level { get; init; } = "info";

    /// <summary>The node's cluster address, when the line's writer knows it.</summary>
    public string? Node { get; init; }
}

/// <summary>Where operator-facing lines go (see <see cref="NodeOptions.Report"/>).</summary>
public sealed class OperatorReport(Action<OperatorLine> write)
{
    /// <summary>The node's cluster address, set once the actor system has one.</summary>
    public string? NodeAddress { get; set; }

    public void Write(OperatorLine line) => write(line.Node is null && NodeAddress is not null ? line with { Node = NodeAddress } : line);

    public void Write(string @event, string text, IReadOnlyList<KeyValuePair<string, object?>>? fields = null) =>
        Write(new OperatorLine(@event, text, fields));
}
