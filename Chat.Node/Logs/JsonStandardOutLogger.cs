using Akka.Event;

namespace Chat.Node.Logs;

/// <summary>
/// Akka's minimal logger for <c>chat.log-format = json</c> (<c>akka.stdout-logger-class</c>): Akka writes through it
/// what happens before its loggers start and after they stop at shutdown (at <c>akka.stdout-loglevel</c> before,
/// everything after), so those lines are JSON too. It runs outside any actor system: the node address is the one the
/// node's <see cref="JsonLogger"/> learned last.
/// </summary>
public sealed class JsonStandardOutLogger : MinimalLogger
{
    /// <summary>The value of <c>akka.stdout-logger-class</c> that installs this logger.</summary>
    public const string TypeName = "Chat.Node.Logs.JsonStandardOutLogger, Chat.Node";

    protected override void Log(object message)
    {
        switch (message)
        {
            case LogEvent e:
                Console.Out.WriteLine(JsonLogger.Format(e, JsonLogger.LastNodeAddress));
                break;
            case null:
                break;
            default:
                // anything else published to the minimal logger (Akka prints such objects as they are)
                Console.Out.WriteLine(JsonLogLine.Format(DateTime.UtcNow, "info", "akka", message.ToString() ?? "", null, JsonLogger.LastNodeAddress));
                break;
        }
    }
}
