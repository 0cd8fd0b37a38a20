using Akka.Cluster;
using Microsoft.AspNetCore.Http;

namespace Chat.Node.Admin;

/// <summary>
/// /health/live and /health/ready, for orchestrator probes and load balancers; no token needed. Live: the process
/// answers. Ready: this node is an Up member of the cluster, its journal takes writes, and its client port is open;
/// until then (joining, seeds not reachable yet, or stopping) 503 with the failing check named.
/// </summary>
internal static class Health
{
    /// <param name="Member">This node's member status (Joining, WeaklyUp, Up, Leaving, ...; Removed once out).</param>
    public sealed record Readiness(bool Ready, string Member, bool MemberUp, bool JournalWritable, bool ClientPortOpen, string? JournalError);

    public static IResult Live() => Results.Json(new { live = true });

    public static async Task<IResult> ReadyAsync(AdminContext node, CancellationToken ct)
    {
        var member = Cluster.Get(node.System).SelfMember.Status;
        var (journal, journalError) = await JournalAsync(node, ct).ConfigureAwait(false);
        var clients = node.Edge.Edge?.Accepting == true;
        var memberUp = member == MemberStatus.Up;
        var readiness = new Readiness(memberUp && journal && clients, member.ToString(), memberUp, journal, clients, journalError);
        return Results.Json(readiness, statusCode: readiness.Ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
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
