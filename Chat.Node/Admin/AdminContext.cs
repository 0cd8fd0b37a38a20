using System.Runtime.CompilerServices;
using Akka.Actor;
using Akka.Hosting;
using Chat.Node.Hosting;
using Chat.Node.Persistence;

namespace Chat.Node.Admin;

/// <summary>What the admin calls reach into: the node's actor system, settings, shard regions, journal and client edge.</summary>
internal sealed record AdminContext(ActorSystem System, ChatSettings Settings, IActorRegistry Registry, IJournalMaintenance Journal,
    ChatNode.EdgeService Edge)
{
    /// <summary>Set once every shard region of this node has been seen registered with its coordinator (<see cref="Health"/>).</summary>
    public StrongBox<bool> RegionsRegistered { get; } = new();

    /// <summary>How long a call waits for an actor (an entity, a singleton, another node) before answering 504.</summary>
    public static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(10);

    /// <summary>An error answer: <c>{"error": "..."}</c> with the status code.</summary>
    public static Microsoft.AspNetCore.Http.IResult Problem(int status, string message) =>
        Microsoft.AspNetCore.Http.Results.Json(new { error = message }, statusCode: status);
}
