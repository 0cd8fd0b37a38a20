using Akka.Actor;
using Akka.Dispatch;
using Akka.Event;

namespace Chat.Node.Logs;

/// <summary>
/// Akka's logger for <c>chat.log-format = json</c>: writes every log event of the actor system (the node's own actors,
/// cluster, remoting, sharding, persistence) as one <see cref="JsonLogLine"/> on standard output, where Akka's default
/// logger writes its text. Adds the node's address, and the user or group an event concerns when it is known: from
/// the entity that logged it (a sharded user or group entity) or from a <see cref="UserId"/> or <see cref="GroupId"/>
/// among the event's arguments.
/// </summary>
public sealed class JsonLogger : ReceiveActor, IRequiresMessageQueue<ILoggerMessageQueueSemantics>
{
    /// <summary>The value of <c>akka.loggers</c> that installs this logger.</summary>
    public const string TypeName = "Chat.Node.Logs.JsonLogger, Chat.Node";

    private string? _node;

    /// <summary>
    /// The address the last started JSON logger learned, for <see cref="JsonStandardOutLogger"/>, which has no actor
    /// system of its own to ask. A process runs one node (JSON logs are the node program's), so this is its address.
    /// </summary>
    internal static volatile string? LastNodeAddress;

    public JsonLogger()
    {
        Receive<InitializeLogger>(_ => Sender.Tell(new LoggerInitialized()));
        Receive<LogEvent>(Write);
    }

    private void Write(LogEvent e)
    {
        Console.Out.WriteLine(Format(e, NodeAddress()));
    }

    /// <summary>
    /// The address other nodes reach this one at. Remoting picks it while the actor system starts (after the logger),
    /// so the first events of a start may go without it.
    /// </summary>
    private string? NodeAddress()
    {
        if (_node is not null) return _node;
        try
        {
            var address = ((ExtendedActorSystem)Context.System).Provider.DefaultAddress;
            if (address?.Host is not null) LastNodeAddress = _node = address.ToString();
        }
        catch (Exception)
        {
            // remoting has not started yet
        }
        return _node;
    }

    /// <summary>The event's JSON line.</summary>
    internal static string Format(LogEvent e, string? node) =>
        JsonLogLine.Format(e.Timestamp, JsonLogLine.Level(e.LogLevel()), e.LogSource ?? "", e.Message?.ToString() ?? "", e.Cause, node, IdsOf(e));

    /// <summary>The <c>user</c> and <c>group</c> fields of an event, where it is known whom it concerns.</summary>
    internal static List<KeyValuePair<string, object?>> IdsOf(LogEvent e)
    {
        var fields = new List<KeyValuePair<string, object?>>(2);
        string? user = null, group = null;
        // a sharded entity's path ends in /system/sharding/<region>/<shard>/<entity id>
        const string sharding = "/system/sharding/";
        var source = e.LogSource;
        var at = source?.IndexOf(sharding, StringComparison.Ordinal) ?? -1;
        if (at >= 0)
        {
            var parts = source![(at + sharding.Length)..].Split('/');
            if (parts.Length >= 3)
            {
                var entity = Uri.UnescapeDataString(parts[2]);
                if (parts[0] == Users.UserEntity.RegionName && UserId.IsValid(entity)) user = entity;
                else if (parts[0] == Groups.GroupEntity.RegionName && GroupId.IsValid(entity)) group = entity;
            }
        }
        if (e.Message is LogMessage message)
            foreach (var argument in message.Parameters())
            {
                if (argument is UserId u) user ??= u.Value;
                else if (argument is GroupId g) group ??= g.Value;
            }
        if (user is not null) fields.Add(new("user", user));
        if (group is not null) fields.Add(new("group", group));
        return fields;
    }
}
