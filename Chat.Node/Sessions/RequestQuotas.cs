using System.Collections.Concurrent;
using Akka.Actor;

namespace Chat.Node.Sessions;

/// <summary>
/// Node-wide quotas on requests that cost others something, counted per key (a client address, a user) in fixed
/// windows: registrations per address (each sends a verification code, an SMS in production) and lookups per user
/// (phone numbers resolved to people: the harvesting path) and WhoIs requests per user (each names up to 100 ids and
/// wakes the entity of each: a cheap request that costs the cluster many recoveries). One per actor system, shared by every session.
/// </summary>
public sealed class RequestQuotas : IExtension
{
    private sealed class Window
    {
        public long Start;
        public int Count;
    }

    private readonly ConcurrentDictionary<string, Window> _windows = new();
    private readonly TimeProvider _clock;
    private const int ForgetAbove = 100_000; // keys kept before expired windows are swept

    public RequestQuotas(ChatSettings settings, TimeProvider clock)
    {
        RegistrationsPerAddressPerHour = settings.RegistrationsPerAddress;
        LookupsPerUserPerMinute = settings.LookupsPerUser;
        WhoIsPerUserPerMinute = settings.WhoIsPerUser;
        _clock = clock;
    }

    /// <summary><c>chat.limits.registrations-per-address</c>: Register requests per client address per hour (0: no limit).</summary>
    public int RegistrationsPerAddressPerHour { get; }

    /// <summary><c>chat.limits.lookups-per-user</c>: Lookup requests per user per minute (0: no limit).</summary>
    public int LookupsPerUserPerMinute { get; }

    /// <summary><c>chat.limits.whois-per-user</c>: WhoIs requests per user per minute (0: no limit).</summary>
    public int WhoIsPerUserPerMinute { get; }

    public static RequestQuotas Get(ActorSystem system) => system.WithExtension<RequestQuotas, Provider>();

    /// <summary>Takes one request of <paramref name="key"/>'s quota; false (and when to retry) once the window is full.</summary>
    public bool TryTake(string key, int limit, TimeSpan window, out TimeSpan retryAfter)
    {
        retryAfter = TimeSpan.Zero;
        if (limit <= 0) return true;
        var now = _clock.GetUtcNow().ToUnixTimeMilliseconds();
        var length = (long)window.TotalMilliseconds;
        if (_windows.Count > ForgetAbove)
            foreach (var (k, w) in _windows)
                lock (w) if (now - w.Start >= length) _windows.TryRemove(k, out _);
        var current = _windows.GetOrAdd(key, _ => new Window { Start = now });
        lock (current)
        {
            if (now - current.Start >= length) (current.Start, current.Count) = (now, 0);
            if (current.Count >= limit)
            {
                retryAfter = TimeSpan.FromMilliseconds(length - (now - current.Start));
                return false;
            }
            current.Count++;
            return true;
        }
    }

    private sealed class Provider : ExtensionIdProvider<RequestQuotas>
    {
        public override RequestQuotas CreateExtension(ExtendedActorSystem system) =>
            new(ChatSettings.From(system.Settings.Config), TimeProvider.System);
    }
}
