using Akka.Actor;

namespace Chat.Node;

/// <summary>
/// Direct routes to entities, learned from their answers: a bounded map from an entity's key to its actor, each one
/// watched by the actor that keeps the map (so that it hears when the entity stops and can route through its shard
/// region again). Beyond <c>max</c>, one route is forgotten (and unwatched) for each one added.
/// </summary>
internal sealed class EntityRoutes<TKey>(int max) where TKey : notnull
{
    private readonly Dictionary<TKey, IActorRef> _routes = [];

    public bool Contains(TKey key) => _routes.ContainsKey(key);

    /// <summary>The entity of <paramref name="key"/>, or <paramref name="otherwise"/> (the region) when none is known.</summary>
    public IActorRef Or(TKey key, IActorRef otherwise) => _routes.TryGetValue(key, out var entity) ? entity : otherwise;

    /// <summary>
    /// Remembers and watches <paramref name="entity"/> as <paramref name="key"/>'s (once: a key already known is kept).
    /// When full, a route is forgotten to make room, but never one <paramref name="inUse"/> says something still waits
    /// on (its stop must still be heard); when every route is in use, the new one is not remembered.
    /// </summary>
    public void Add(TKey key, IActorRef entity, IActorContext context, Func<IActorRef, bool>? inUse = null)
    {
        if (_routes.ContainsKey(key)) return;
        if (_routes.Count >= max)
        {
            var forgotten = false;
            foreach (var (other, route) in _routes)
            {
                if (inUse is not null && inUse(route)) continue;
                _routes.Remove(other);
                context.Unwatch(route);
                forgotten = true;
                break;
            }
            if (!forgotten) return;
        }
        _routes[key] = entity;
        context.Watch(entity);
    }

    /// <summary>Forgets the route to <paramref name="entity"/>, which stopped; false when it was not one of these.</summary>
    public bool TryRemove(IActorRef entity, out TKey key)
    {
        foreach (var (k, known) in _routes)
            if (known.Equals(entity))
            {
                _routes.Remove(k);
                key = k;
                return true;
            }
        key = default!;
        return false;
    }
}
