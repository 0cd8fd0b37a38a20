using Akka.Actor;
using Akka.Cluster;
using Chat.Node.Hosting;
using Microsoft.AspNetCore.Http;

namespace Chat.Node.Admin;

/// <summary><c>chat admin status</c>, <c>node leave</c> and <c>node down</c>: the cluster's members as this node sees them, and steering them.</summary>
internal static class ClusterCalls
{
    public sealed record MemberView(string Address, string Status, IReadOnlyList<string> Roles, bool Reachable, bool Leader);

    public sealed record StatusView(string Self, string? Leader, string Version, double UptimeSeconds, string Clients,
        IReadOnlyList<MemberView> Members);

    public sealed record NodeAction(string Address, string Action, string Status);

    public static IResult Status(AdminContext node)
    {
        var cluster = Cluster.Get(node.System);
        var state = cluster.State;
        var unreachable = state.Unreachable.Select(m => m.Address).ToHashSet();
        var members = state.Members
            .Select(m => new MemberView(m.Address.ToString(), m.Status.ToString(), m.Roles.Order(StringComparer.Ordinal).ToList(),
                !unreachable.Contains(m.Address), m.Address.Equals(state.Leader)))
            .Concat(state.Unreachable.Where(m => !state.Members.Contains(m)) // unreachable and already out of the member list
                .Select(m => new MemberView(m.Address.ToString(), m.Status.ToString(), m.Roles.ToList(), false, false)))
            .ToList();
        var clients = node.Edge.Endpoint is { } e ? $"{e.Address}:{e.Port}" : "";
        return Results.Json(new StatusView(cluster.SelfAddress.ToString(), state.Leader?.ToString(), NodeProbe.Version,
            Math.Round(node.System.Uptime.TotalSeconds, 1), clients, members));
    }

    /// <summary>The member leaves gracefully: its shards and singletons move to the others first, then it stops.</summary>
    public static IResult Leave(AdminContext node, string? address) => Steer(node, address, "leave", (c, a) => c.Leave(a));

    /// <summary>The member is marked down: the others stop waiting for it (for a node that crashed and cannot leave).</summary>
    public static IResult Down(AdminContext node, string? address) => Steer(node, address, "down", (c, a) => c.Down(a));

    private static IResult Steer(AdminContext node, string? given, string action, Action<Cluster, Address> act)
    {
        if (ParseAddress(given) is not { } address)
            return AdminContext.Problem(StatusCodes.Status400BadRequest,
                $"'{given}' is not a member address: give akka.tcp://{ChatNode.SystemName}@HOST:PORT or HOST:PORT (the cluster port)");
        var cluster = Cluster.Get(node.System);
        var member = cluster.State.Members.FirstOrDefault(m => m.Address.Equals(address));
        if (member is null)
            return AdminContext.Problem(StatusCodes.Status404NotFound, $"no member at {address}; `chat admin status` lists them");
        act(cluster, address);
        return Results.Json(new NodeAction(address.ToString(), action, member.Status.ToString()));
    }

    /// <summary>A full actor system address, or HOST:PORT of a cluster port (the system name is the node's).</summary>
    public static Address? ParseAddress(string? given)
    {
        if (string.IsNullOrWhiteSpace(given)) return null;
        given = given.Trim();
        if (!given.Contains("://", StringComparison.Ordinal))
        {
            var colon = given.LastIndexOf(':');
            if (colon <= 0 || !int.TryParse(given[(colon + 1)..], out var port) || port is < 1 or > 65535) return null;
            given = $"akka.tcp://{ChatNode.SystemName}@{given}";
        }
        try
        {
            var address = Address.Parse(given);
            return address.Host is null || address.Port is null ? null : address;
        }
        catch (Exception e) when (e is UriFormatException or ArgumentException or FormatException)
        {
            return null;
        }
    }
}
