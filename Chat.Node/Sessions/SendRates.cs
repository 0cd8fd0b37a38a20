using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Cluster;

namespace Chat.Node.Sessions;

/// <summary>
/// The send rate of each user (<c>chat.limits.sends-per-user</c>): a token bucket per user, shared by all the user's
/// connections to this node. It holds up to the limit and refills at the limit per minute, so a user may send a
/// burst of that many at once and then that many a minute; a person typing never meets it, a script flooding
/// people does. Each Send and SendGroup takes one token; one refused is not stored and says when to retry.
/// </summary>
/// <remarks>
/// The limit is per user across the cluster, without a hop per send: each node keeps a bucket per user (shared by all
/// the user's connections to it) that holds and refills at the node's share, the limit divided by the number of nodes
/// serving clients (members Up or Leaving, followed from cluster events). A user connected to every node sends at most
/// the limit in all; one connected to one node, its share. Shares change with the membership; while a node joins or
/// leaves, the sum may briefly differ from the limit by one node's share. The check is a dictionary lookup and a short
/// lock per send.
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
    private volatile int _nodes = 1;
    private const int ForgetAbove = 100_000; // buckets kept before full (idle) ones are swept

    public SendRates(int perMinute, TimeProvider clock)
    {
        PerMinute = perMinute;
        _clock = clock;
    }

    /// <summary><c>chat.limits.sends-per-user</c>: sends per user per minute across the cluster, and the largest burst (0: no limit).</summary>
    public int PerMinute { get; }

    /// <summary>Nodes serving clients, among which <see cref="PerMinute"/> is shared (at least 1).</summary>
    public int Nodes => _nodes;

    /// <summary>This node's share of <see cref="PerMinute"/>: its bucket's size and refill per minute (at least one send).</summary>
    public double Share => Math.Max(1.0, PerMinute / (double)_nodes);

    /// <summary>Sets the number of nodes the limit is shared among (values below 1 count as 1).</summary>
    public void SetNodes(int nodes) => _nodes = Math.Max(1, nodes);

    /// <summary>What a refused sender is told.</summary>
    public string Refusal(TimeSpan wait) =>
        (_nodes == 1 ? $"more than {PerMinute} messages a minute"
                     : $"more than {PerMinute} messages a minute across the cluster ({Share:0.#} on each of its {_nodes} nodes)")
        + $"; retry in {Math.Ceiling(wait.TotalSeconds):0} s";

    public static SendRates Get(ActorSystem system) => system.WithExtension<SendRates, Provider>();

    /// <summary>
    /// Creates the node's send rates on <paramref name="clock"/> (the node's clock, which tests move), following the
    /// cluster's membership from then on so that the limit is shared among the nodes serving clients.
    /// </summary>
    public static void Start(ActorSystem system, int perMinute, TimeProvider clock)
    {
        var rates = (SendRates)system.RegisterExtension(new Provider(perMinute, clock));
        if (perMinute > 0) system.ActorOf(Akka.Actor.Props.Create(() => new NodeCount(rates)), "send-rate-nodes");
    }

    /// <summary>Counts the cluster members that serve clients (Up, WeaklyUp or Leaving) into <see cref="SetNodes"/>.</summary>
    private sealed class NodeCount : ReceiveActor
    {
        private readonly Dictionary<UniqueAddress, MemberStatus> _members = [];

        public NodeCount(SendRates rates)
        {
            Receive<ClusterEvent.IMemberEvent>(e =>
            {
                if (e is ClusterEvent.MemberRemoved) _members.Remove(e.Member.UniqueAddress);
                else _members[e.Member.UniqueAddress] = e.Member.Status;
                rates.SetNodes(_members.Values.Count(s => s is MemberStatus.Up or MemberStatus.WeaklyUp or MemberStatus.Leaving));
            });
        }

        protected override void PreStart() =>
            Cluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents, typeof(ClusterEvent.IMemberEvent));

        protected override void PostStop() => Cluster.Get(Context.System).Unsubscribe(Self);
    }

    /// <summary>Takes one send from <paramref name="user"/>'s bucket; false, and how long until the next token, when it is empty.</summary>
    public bool TryTake(string user, out TimeSpan retryAfter)
    {
        retryAfter = TimeSpan.Zero;
        if (PerMinute <= 0) return true;
        var now = _clock.GetUtcNow().ToUnixTimeMilliseconds();
        if (_buckets.Count > ForgetAbove) Sweep(now);
        var share = Share;
        // a new user's bucket is made only when there is none (the factory's argument was one more bucket per send)
        if (!_buckets.TryGetValue(user, out var bucket))
            bucket = _buckets.GetOrAdd(user, static (_, full) => new Bucket { Tokens = full.share, At = full.now }, (share, now));
        lock (bucket)
        {
            Refill(bucket, now, share);
            if (bucket.Tokens >= 1)
            {
                bucket.Tokens -= 1;
                return true;
            }
            retryAfter = TimeSpan.FromMilliseconds(Math.Ceiling((1 - bucket.Tokens) / (share / 60_000.0)));
            return false;
        }
    }

    private static void Refill(Bucket bucket, long now, double share)
    {
        // a bucket fuller than a smaller share (a node joined) is cut to it here
        bucket.Tokens = Math.Min(share, bucket.Tokens + Math.Max(0, now - bucket.At) * (share / 60_000.0));
        bucket.At = Math.Max(bucket.At, now);
    }

    /// <summary>A full bucket is the same as none: forgetting it changes nothing for its user.</summary>
    private void Sweep(long now)
    {
        var share = Share;
        foreach (var (user, bucket) in _buckets)
            lock (bucket)
            {
                Refill(bucket, now, share);
                if (bucket.Tokens >= share) _buckets.TryRemove(user, out _);
            }
    }

    private sealed class Provider(int? perMinute = null, TimeProvider? clock = null) : ExtensionIdProvider<SendRates>
    {
        public Provider() : this(null, null) { }

        public override SendRates CreateExtension(ExtendedActorSystem system) =>
            new(perMinute ?? ChatSettings.From(system.Settings.Config).SendsPerUser, clock ?? TimeProvider.System);
    }
}
