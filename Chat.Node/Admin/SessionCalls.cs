using Akka.Actor;
using Akka.Cluster;
using Microsoft.AspNetCore.Http;

namespace Chat.Node.Admin;

/// <summary><c>chat admin sessions</c>: connected clients and logged-in sessions on every member, asked of each member's <see cref="NodeProbe"/>.</summary>
internal static class SessionCalls
{
    /// <param name="Error">Why the node gave no figures (unreachable, no answer); null when it did.</param>
    public sealed record NodeSessions(string Address, string Clients, int Connections, int Sessions, double UptimeSeconds, string Version, string? Error);

    public sealed record SessionsView(int Connections, int Sessions, IReadOnlyList<NodeSessions> Nodes);

    public static async Task<IResult> SessionsAsync(AdminContext node, CancellationToken ct)
    {
        var state = Cluster.Get(node.System).State;
        var unreachable = state.Unreachable.Select(m => m.Address).ToHashSet();
        var asks = state.Members
            .Where(m => m.Status is not (MemberStatus.Removed or MemberStatus.Down))
            .Select(m => AskAsync(node.System, m.Address, unreachable.Contains(m.Address), ct))
            .ToList();
        var nodes = (await Task.WhenAll(asks).ConfigureAwait(false)).OrderBy(n => n.Address, StringComparer.Ordinal).ToList();
        return Results.Json(new SessionsView(nodes.Sum(n => n.Connections), nodes.Sum(n => n.Sessions), nodes));
    }

    private static async Task<NodeSessions> AskAsync(ActorSystem system, Address address, bool unreachable, CancellationToken ct)
    {
        if (unreachable) return new NodeSessions(address.ToString(), "", 0, 0, 0, "", "unreachable");
        try
        {
            var probe = system.ActorSelection(new RootActorPath(address) / "user" / NodeProbe.Name);
            var a = await probe.Ask<NodeActivity>(GetNodeActivity.Instance, TimeSpan.FromSeconds(5), ct).ConfigureAwait(false);
            return new NodeSessions(a.Address, a.Clients, a.Connections, a.Sessions, Math.Round(a.UptimeMs / 1000.0, 1), a.Version, null);
        }
        catch (AskTimeoutException)
        {
            // a member still starting has no probe yet, and one that is stopping no longer has it
            return new NodeSessions(address.ToString(), "", 0, 0, 0, "", "no answer within 5 s");
        }
    }
}
