using System.Reflection;
using Akka.Actor;
using Chat.Node.Serialization;
using MessagePack;

namespace Chat.Node.Admin;

/// <summary>Asks one node for its <see cref="NodeActivity"/> (crosses nodes: <c>chat admin sessions</c> asks every member).</summary>
[MessagePackObject, Manifest("ad1")]
public sealed class GetNodeActivity : IChatMessage { public static readonly GetNodeActivity Instance = new(); }

/// <summary>One node's clients now.</summary>
/// <param name="Address">The node's cluster address.</param>
/// <param name="Clients">Its client endpoint, HOST:PORT.</param>
/// <param name="Connections">Client TCP connections open.</param>
/// <param name="Sessions">Logged-in sessions.</param>
/// <param name="UptimeMs">Since its actor system started.</param>
/// <param name="Version">The node's version.</param>
[MessagePackObject, Manifest("ad2")]
public sealed record NodeActivity(
    [property: Key(0)] string Address,
    [property: Key(1)] string Clients,
    [property: Key(2)] int Connections,
    [property: Key(3)] int Sessions,
    [property: Key(4)] long UptimeMs,
    [property: Key(5)] string Version) : IChatMessage;

/// <summary>
/// Answers <see cref="GetNodeActivity"/> for its node; one per node at <see cref="Path"/>, so that the admin endpoint of
/// any node can ask every member.
/// </summary>
public sealed class NodeProbe : ReceiveActor
{
    public const string Name = "admin-probe";
    public const string Path = "/user/" + Name;

    /// <summary>The node's version: the informational version of its assembly.</summary>
    public static readonly string Version =
        typeof(NodeProbe).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(NodeProbe).Assembly.GetName().Version?.ToString() ?? "unknown";

    public NodeProbe(string clients, Func<int> connections)
    {
        var system = Context.System;
        var address = Akka.Cluster.Cluster.Get(system).SelfAddress.ToString();
        var sessions = SessionCount.Get(system);
        Receive<GetNodeActivity>(_ => Sender.Tell(new NodeActivity(address, clients, connections(), sessions.LoggedIn,
            (long)system.Uptime.TotalMilliseconds, Version)));
    }

    public static Props Props(string clients, Func<int> connections) =>
        Akka.Actor.Props.Create(() => new NodeProbe(clients, connections));
}
