using Akka.Actor;
using Chat.Node.Serialization;
using MessagePack;

namespace Chat.Node.Media;

/// <summary>
/// Removes unfinished uploads older than <see cref="MediaSettings.UploadExpiry"/>, and temporary files that
/// writes cut off by a crash left behind once they are as old, every <see cref="MediaSettings.JanitorInterval"/>. One per
/// cluster (a singleton): in a cluster the nodes share one media store.
/// </summary>
public sealed class MediaJanitor : ReceiveActor, IWithTimers
{
    /// <summary>Runs a sweep now; the sender gets <see cref="Swept"/>.</summary>
    [MessagePackObject, Manifest("mj1")]
    public sealed class Sweep : IChatMessage { public static readonly Sweep Instance = new(); }

    /// <summary>What a sweep removed.</summary>
    [MessagePackObject, Manifest("mj2")]
    public sealed record Swept([property: Key(0)] int Uploads, [property: Key(1)] long Bytes, [property: Key(2)] int Leftovers,
        [property: Key(3)] long LeftoverBytes) : IChatMessage;

    private readonly IMediaStore _store;
    private readonly MediaSettings _settings;
    private readonly TimeProvider _clock;
    private readonly Hosting.OperatorReport _report;

    public MediaJanitor(IMediaStore store, MediaSettings settings, TimeProvider clock, Hosting.OperatorReport report)
    {
        _report = report;
        _store = store;
        _settings = settings;
        _clock = clock;
        ReceiveAsync<Sweep>(async _ =>
        {
            var swept = await SweepOnce();
            if (swept.Uploads > 0)
                _report.Write("media-uploads-expired", $"media: removed {swept.Uploads} unfinished uploads ({swept.Bytes} bytes) started more than {_settings.UploadExpiry} ago",
                    [new("uploads", swept.Uploads), new("bytes", swept.Bytes)]);
            if (swept.Leftovers > 0)
                _report.Write("media-leftovers-removed", $"media: removed {swept.Leftovers} temporary files ({swept.LeftoverBytes} bytes) left by interrupted writes",
                    [new("files", swept.Leftovers), new("bytes", swept.LeftoverBytes)]);
            if (!Sender.IsNobody()) Sender.Tell(swept);
        });
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(IMediaStore store, MediaSettings settings, TimeProvider clock, Hosting.OperatorReport report) =>
        Akka.Actor.Props.Create(() => new MediaJanitor(store, settings, clock, report));

    protected override void PreStart() =>
        Timers.StartPeriodicTimer("sweep", Sweep.Instance, _settings.JanitorInterval);

    private async Task<Swept> SweepOnce()
    {
        var cutoff = _clock.GetUtcNow() - _settings.UploadExpiry;
        var stale = new List<UploadInfo>();
        await foreach (var upload in _store.ListUploadsAsync())
            if (upload.StartedAt < cutoff) stale.Add(upload);
        long bytes = 0;
        foreach (var upload in stale)
        {
            await _store.AbortUploadAsync(upload.UploadId);
            bytes += upload.Received;
        }
        var (leftovers, leftoverBytes) = await _store.RemoveLeftoversAsync(cutoff);
        return new Swept(stale.Count, bytes, leftovers, leftoverBytes);
    }
}
