using Akka.Actor;
using Chat.Node.Retention;
using Microsoft.AspNetCore.Http;

namespace Chat.Node.Admin;

/// <summary><c>chat admin retention report|run</c>: the last sweep's report, or a sweep now (the cluster's one sweeper, wherever it runs).</summary>
internal static class RetentionCalls
{
    public sealed record ReportView(DateTimeOffset At, DateTimeOffset Cutoff, int Entities, long Entries, int Compacted, int Media,
        long MediaBytes, int Failures, bool Reclaimed, double Seconds);

    /// <summary>A sweep visits every stored entity: on a big database it takes minutes.</summary>
    private static readonly TimeSpan SweepTimeout = TimeSpan.FromMinutes(30);

    public static async Task<IResult> ReportAsync(AdminContext node, CancellationToken ct)
    {
        if (node.Edge.Retention.IsNobody()) return NotStarted();
        try
        {
            var last = await node.Edge.Retention.Ask<RetentionSweeper.LastReport>(RetentionSweeper.GetLastReport.Instance, AdminContext.AskTimeout, ct)
                .ConfigureAwait(false);
            // null before the first sweep: the sweeper runs one sweep-interval after it started
            return Results.Json(new { report = last.Report is { } r ? View(r) : null });
        }
        catch (AskTimeoutException)
        {
            return AdminContext.Problem(StatusCodes.Status504GatewayTimeout, "the retention sweeper did not answer in time (it may be moving to another node); retry");
        }
    }

    public static async Task<IResult> RunAsync(AdminContext node, CancellationToken ct)
    {
        if (node.Edge.Retention.IsNobody()) return NotStarted();
        try
        {
            var report = await node.Edge.Retention.Ask<RetentionReport>(RetentionSweeper.SweepNow.Instance, SweepTimeout, ct).ConfigureAwait(false);
            return Results.Json(new { report = View(report) });
        }
        catch (AskTimeoutException)
        {
            return AdminContext.Problem(StatusCodes.Status504GatewayTimeout, $"the sweep did not finish within {SweepTimeout.TotalMinutes:0} minutes; it goes on");
        }
    }

    private static IResult NotStarted() =>
        AdminContext.Problem(StatusCodes.Status503ServiceUnavailable, "the node has not joined the cluster yet");

    private static ReportView View(RetentionReport r) =>
        new(r.At, r.Cutoff, r.Entities, r.Entries, r.Compacted, r.Media, r.MediaBytes, r.Failures, r.Reclaimed, Math.Round(r.Took.TotalSeconds, 2));
}
