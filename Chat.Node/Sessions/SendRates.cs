using System.Collections.Concurrent;
using Akka.Actor;

namespace Chat.Node.Sessions;

/// <summary>
/// The send rate of each user (<c>chat.limits.sends-per-user</c>): a token bucket per user, shared by all the user's
/// connections to this node. It holds up to the limit and refills at the limit per minute, so a user may send a
/// burst of that many at once and then that many a minute; a person typing never meets it, a script flooding
/// people does. Each Send and SendGroup takes one token; one refused is not stored and says when to retry.
/// </summary>
/// <remarks>
/// Node-wide (one per actor system), as the lookup quota: a user connected to two nodes of a cluster has a bucket on
/// each. The check is a dictionary lookup and a short lock per send.
/// </remarks>
public sealed class SendRates : IExtension
{
    private sealed class Bucket
    {
        public double Tokens;
        public long At; // Unix ms of the last refill
    }

    private readonly ConcurrentDictionary<string, Bucket> _buckets = new(StringComparer.Ordinal);
    private readonly TimeProvider _clock;
    private readonly double _perMs;
    private const int ForgetAbove = 100_000; // buckets kept before full (idle) ones are swept

    public SendRates(int perMinute, TimeProvider clock)
    {
        PerMinute = perMinute;
        _perMs = perMinute / 60_000.0;
        _clock = clock;
    }

    /// <summary><c>chat.limits.sends-per-user</c>: sends per user per minute, and the largest burst (0: no limit).</summary>
    public int PerMinute { get; }

    public static SendRates Get(ActorSystem system) => system.WithExtension<SendRates, Provider>();

    /// <summary>Creates the node's send rates on <paramref name="clock"/> (the node's clock, which tests move).</summary>
    public static void Start(ActorSystem system, int perMinute, TimeProvider clock) =>
        system.RegisterExtension(new Provider(perMinute, clock));

    /// <summary>Takes one send from <paramref name="user"/>'s bucket; false, and how long until the next token, when it is empty.</summary>
    public bool TryTake(string user, out TimeSpan retryAfter)
    {
        retryAfter = TimeSpan.Zero;
        if (PerMinute <= 0) return true;
        var now = _clock.GetUtcNow().ToUnixTimeMilliseconds();
        if (_buckets.Count > ForgetAbove) Sweep(now);
        var bucket = _buckets.GetOrAdd(user, static (_, full) => new Bucket { Tokens = full.Tokens, At = full.At }, new Bucket { Tokens = PerMinute, At = now });
        lock (bucket)
        {
            Refill(bucket, now);
            if (bucket.Tokens >= 1)
            {
                bucket.Tokens -= 1;
                return true;
            }
            retryAfter = TimeSpan.FromMilliseconds(Math.Ceiling((1 - bucket.Tokens) / _perMs));
            return false;
        }
    }

    private void Refill(Bucket bucket, long now)
    {
        if (now <= bucket.At) return;
        bucket.Tokens = Math.Min(PerMinute, bucket.Tokens + (now - bucket.At) * _perMs);
        bucket.At = now;
    }

    /// <summary>A full bucket is the same as none: forgetting it changes nothing for its user.</summary>
    private void Sweep(long now)
    {
        foreach (var (user, bucket) in _buckets)
            lock (bucket)
            {
                Refill(bucket, now);
                if (bucket.Tokens >= PerMinute) _buckets.TryRemove(user, out _);
            }
    }

    private sealed class Provider(int? perMinute = null, TimeProvider? clock = null) : ExtensionIdProvider<SendRates>
    {
        public Provider() : this(null, null) { }

        public override SendRates CreateExtension(ExtendedActorSystem system) =>
            new(perMinute ?? ChatSettings.From(system.Settings.Config).SendsPerUser, clock ?? TimeProvider.System);
    }
}
