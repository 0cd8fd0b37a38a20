using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Sharding;
using Chat.Node.Hosting;
using Microsoft.AspNetCore.Http;

namespace Chat.Node.Admin;

/// <summary>
/// /health/live and /health/ready, for orchestrator probes and load balancers; no token needed. Live: the process
/// answers. Ready: this node is an Up member of the cluster, its shard regions are registered with their coordinators,
/// its journal takes writes, and its client port is open; until then (joining, seeds not reachable yet, or stopping)
/// 503 with the failing check named.
/// </summary>
internal static class Health
{
    /// <param name="Member">This node's member status (Joining, WeaklyUp, Up, Leaving, ...; Removed once out).</param>
    /// <param name="ShardsRegistered">
    /// Every shard region of this node (user, group, phone) has been seen in its coordinator's list of regions, so shards
    /// can be allocated here and requests for them are not held waiting for a coordinator. Checked until it first holds;
    /// after that a coordinator moving to another node (for seconds) does not make every node unready at once.
    /// </param>
    public sealed record Readiness(bool Ready, string Member, bool MemberUp, bool ShardsRegistered, bool JournalWritable, bool ClientPortOpen,
        string? JournalError);

    public static IResult Live() => Results.Json(new { live = true });

    public static async Task<IResult> ReadyAsync(AdminContext node, CancellationToken ct)
    {
        var member = Cluster.Get(node.System).SelfMember.Status;
        var memberUp = member == MemberStatus.Up;
        var shards = memberUp && await ShardsRegisteredAsync(node, ct).ConfigureAwait(false);
        var (journal, journalError) = await JournalAsync(node, ct).ConfigureAwait(false);
        var clients = node.Edge.Edge?.Accepting == true;
        var readiness = new Readiness(memberUp && shards && journal && clients, member.ToString(), memberUp, shards, journal, clients, journalError);
        return Results.Json(readiness, statusCode: readiness.Ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
    }

    private static async Task<bool> ShardsRegisteredAsync(AdminContext node, CancellationToken ct)
    {
        if (node.RegionsRegistered.Value) return true;
        var regions = await Task.WhenAll(node.Registry.GetAsync<UserRegion>(ct), node.Registry.GetAsync<GroupRegion>(ct),
            node.Registry.GetAsync<PhoneRegion>(ct)).ConfigureAwait(false);
        return node.RegionsRegistered.Value = await RegisteredAsync(regions, Cluster.Get(node.System).SelfAddress, TimeSpan.FromSeconds(3), ct)
            .ConfigureAwait(false);
    }

    /// <summary>Whether each of <paramref name="regions"/> is in its coordinator's list of regions as <paramref name="self"/>.</summary>
    internal static async Task<bool> RegisteredAsync(IEnumerable<IActorRef> regions, Address self, TimeSpan timeout, CancellationToken ct)
    {
        try
        {
            // a region that knows no coordinator yet answers with no regions at all
            var lists = await Task.WhenAll(regions.Select(r => r.Ask<CurrentRegions>(GetCurrentRegions.Instance, timeout, ct))).ConfigureAwait(false);
            return lists.All(l => l.Regions.Contains(self));
        }
        catch (Exception e) when (e is AskTimeoutException or TaskCanceledException && !ct.IsCancellationRequested)
        {
            return false;
        }
    }

    private static async Task<(bool, string?)> JournalAsync(AdminContext node, CancellationToken ct)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(3));
            return await node.Journal.WritableAsync(timeout.Token).ConfigureAwait(false) ? (true, null) : (false, "read-only");
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return (false, "no answer within 3 s");
        }
        catch (Exception e)
        {
            return (false, e.Message);
        }
    }
}
