using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using Chat.Node.Groups;
using Chat.Node.Hosting;
using Chat.Node.Media;
using Chat.Node.Persistence;
using Chat.Node.Serialization;
using Chat.Node.Users;
using MessagePack;

namespace Chat.Node.Retention;

/// <summary>What one retention sweep removed.</summary>
/// <param name="Cutoff">Everything stored before this time was due.</param>
/// <param name="Entities">User and group entities visited (each woken if it was not running).</param>
/// <param name="Entries">Inbox and group log entries removed.</param>
/// <param name="Compacted">Entities whose journal and snapshots were rewritten.</param>
/// <param name="Media">Media files removed (no live message refers to them).</param>
/// <param name="Failures">
/// Entities that did not answer, or removed entries but failed to rewrite their journal (a running entity rewrites at
/// the next sweep; one that passivated first does so with its next snapshot).
/// </param>
/// <param name="Reclaimed">The database's deleted pages and write-ahead log were cleared.</param>
[MessagePackObject, Manifest("rt3")]
public sealed record RetentionReport(
    [property: Key(0)] DateTimeOffset At,
    [property: Key(1)] DateTimeOffset Cutoff,
    [property: Key(2)] int Entities,
    [property: Key(3)] long Entries,
    [property: Key(4)] int Compacted,
    [property: Key(5)] int Media,
    [property: Key(6)] long MediaBytes,
    [property: Key(7)] int Failures,
    [property: Key(8)] bool Reclaimed,
    [property: Key(9)] TimeSpan Took) : IChatMessage
{
    public override string ToString() =>
        $"retention sweep (cutoff {Cutoff:u}): {Entries} entries removed from {Compacted} of {Entities} users and groups, " +
        $"{Media} media files ({MediaBytes} bytes) removed, {Failures} failures, database reclaimed: {(Reclaimed ? "yes" : "no")}, " +
        $"took {Took.TotalSeconds:0.0} s";

    /// <summary>The report as the node prints it: <see cref="ToString"/> for people, its figures as fields for JSON logs.</summary>
    public OperatorLine ToOperatorLine() => new("retention-sweep", ToString(),
    [
        new("cutoff", Cutoff), new("entries", Entries), new("compacted", Compacted), new("entities", Entities), new("media", Media),
        new("mediaBytes", MediaBytes), new("failures", Failures), new("reclaimed", Reclaimed), new("took", Took),
    ]);
}

/// <summary>
/// Removes what is older than <see cref="ChatSettings.RetentionMaxAge"/>, every <see cref="ChatSettings.RetentionSweepInterval"/>:
/// asks every user and group entity that has anything stored (running or not) to trim itself, deletes media no live
/// message refers to, then clears the database's deleted pages. One per cluster: a cluster singleton on the
/// oldest node, reached through a proxy on every node. Sweeps never overlap; a request during a sweep is answered when it ends.
/// </summary>
public sealed class RetentionSweeper : ReceiveActor, IWithTimers
{
    /// <summary>Sweeps now; the sender gets the <see cref="RetentionReport"/>. (It may cross nodes to reach the singleton.)</summary>
    [MessagePackObject, Manifest("rt1")]
    public sealed class SweepNow : IChatMessage { public static readonly SweepNow Instance = new(); }

    /// <summary>Asks for the last report (null before the first sweep).</summary>
    [MessagePackObject, Manifest("rt2")]
    public sealed class GetLastReport : IChatMessage { public static readonly GetLastReport Instance = new(); }

    [MessagePackObject, Manifest("rt4")]
    public sealed record LastReport([property: Key(0)] RetentionReport? Report) : IChatMessage;

    private sealed class Tick : INoSerializationVerificationNeeded { public static readonly Tick Instance = new(); }
    private sealed record Finished(RetentionReport Report) : INoSerializationVerificationNeeded;

    private readonly ChatSettings _settings;
    private readonly IActorRef _users;
    private readonly IActorRef _groups;
    private readonly IMediaStore _media;
    private readonly IJournalMaintenance _journal;
    private readonly TimeProvider _clock;
    private readonly OperatorReport _report;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly List<IActorRef> _waiting = [];
    private RetentionReport? _last;
    private bool _running;

    public RetentionSweeper(ChatSettings settings, IActorRef users, IActorRef groups, IMediaStore media, IJournalMaintenance journal, TimeProvider clock,
        OperatorReport report)
    {
        _report = report;
        _settings = settings;
        _users = users;
        _groups = groups;
        _media = media;
        _journal = journal;
        _clock = clock;
        Receive<Tick>(_ => Start(null));
        Receive<SweepNow>(_ => Start(Sender));
        Receive<GetLastReport>(_ => Sender.Tell(new LastReport(_last)));
        Receive<Finished>(f =>
        {
            _running = false;
            _last = f.Report;
            _log.Info("{0}", f.Report);
            _report.Write(f.Report.ToOperatorLine());
            foreach (var asker in _waiting) asker.Tell(f.Report);
            _waiting.Clear();
        });
        Receive<Status.Failure>(f =>
        {
            _running = false;
            _log.Error(f.Cause, "retention sweep failed; it runs again in {0}", _settings.RetentionSweepInterval);
            foreach (var asker in _waiting) asker.Tell(f);
            _waiting.Clear();
        });
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(ChatSettings settings, IActorRef users, IActorRef groups, IMediaStore media, IJournalMaintenance journal, TimeProvider clock,
        OperatorReport report) =>
        Akka.Actor.Props.Create(() => new RetentionSweeper(settings, users, groups, media, journal, clock, report));

    protected override void PreStart() =>
        Timers.StartPeriodicTimer("sweep", Tick.Instance, _settings.RetentionSweepInterval);

    private void Start(IActorRef? asker)
    {
        if (asker is not null) _waiting.Add(asker);
        if (_running) return;
        _running = true;
        SweepAsync().PipeTo(Self, success: r => new Finished(r));
    }

    private async Task<RetentionReport> SweepAsync()
    {
        var clock = Stopwatch.StartNew();
        var now = _clock.GetUtcNow();
        var cutoff = now - _settings.RetentionMaxAge;
        var cutoffMs = cutoff.ToUnixTimeMilliseconds();
        var ids = await _journal.PersistenceIdsAsync().ConfigureAwait(false);
        long entries = 0;
        int entities = 0, compacted = 0, failures = 0;
        var keep = new System.Collections.Concurrent.ConcurrentBag<string>();
        using var gate = new SemaphoreSlim(_settings.RetentionParallelism);
        var timeout = TimeSpan.FromSeconds(60);
        var tasks = new List<Task>();
        async Task Expire(IActorRef region, object command)
        {
            try
            {
                var answer = await region.Ask<EntriesExpired>(command, timeout).ConfigureAwait(false);
                Interlocked.Add(ref entries, answer.Entries);
                foreach (var id in answer.KeepMedia ?? []) keep.Add(id);
                if (answer.Compacted) Interlocked.Increment(ref compacted);
                else if (answer.Entries > 0) Interlocked.Increment(ref failures);
            }
            catch (Exception)
            {
                Interlocked.Increment(ref failures);
            }
            finally
            {
                gate.Release();
            }
        }
        foreach (var id in ids)
        {
            object? command = id switch
            {
                _ when id.StartsWith("user-", StringComparison.Ordinal) && UserId.IsValid(id[5..]) => new ExpireUserEntries(new UserId(id[5..]), cutoffMs),
                _ when id.StartsWith("group-", StringComparison.Ordinal) && GroupId.IsValid(id[6..]) => new ExpireGroupEntries(new GroupId(id[6..]), cutoffMs),
                _ => null, // phone claims and sharding's own state hold no messages
            };
            if (command is null) continue;
            var region = command is ExpireUserEntries ? _users : _groups;
            await gate.WaitAsync().ConfigureAwait(false);
            entities++;
            tasks.Add(Expire(region, command));
        }
        await Task.WhenAll(tasks).ConfigureAwait(false);

        // media: a message refers to media only while it is younger than the cutoff, and every reference renews
        // the media's last-referenced time, so media last referenced before the cutoff has no live message left
        int media = 0;
        long mediaBytes = 0;
        foreach (var id in keep.Distinct()) // referred to by an entity's state (a group picture), not by a message
        {
            try
            {
                if (Media.MediaIds.IsMediaId(id)) await _media.TouchAsync(id, now).ConfigureAwait(false);
            }
            catch (MediaStoreException)
            {
                // already gone
            }
        }
        var due = new List<MediaInfo>();
        await foreach (var item in _media.ListAsync().ConfigureAwait(false))
            if (item.LastReferencedAt < cutoff) due.Add(item);
        foreach (var item in due)
        {
            if (!await _media.DeleteAsync(item.MediaId).ConfigureAwait(false)) continue;
            media++;
            mediaBytes += item.Size;
        }

        Admin.ChatMetrics.RetentionRemovedEntries(entries);
        Admin.ChatMetrics.RetentionRemovedMedia(media);
        var reclaimed = await _journal.ReclaimAsync().ConfigureAwait(false);
        return new RetentionReport(now, cutoff, entities, entries, compacted, media, mediaBytes, failures, reclaimed, clock.Elapsed);
    }
}
