using System.Collections.Concurrent;

namespace Chat.Protocol;

// Names for user ids: WhoIs, and a local contact cache filled by WhoIs, Lookup and the login's own profile, so that a
// client shows "Alice" instead of an id without asking the server for every message.
public sealed partial class ChatClient
{
    private readonly ConcurrentDictionary<string, UserProfile> _contacts = new();
    /// <summary>Ids the server did not resolve, and when they may be asked again (a stranger may write first later).</summary>
    private readonly ConcurrentDictionary<string, long> _unresolved = new();
    private static readonly long UnresolvedRetryTicks = (long)TimeSpan.FromSeconds(30).TotalMilliseconds;

    /// <summary>Users whose name and phone this client knows, by user id.</summary>
    public IReadOnlyDictionary<string, UserProfile> Contacts => _contacts;

    /// <summary>
    /// Asks the server for the names and phones of users (at most <see cref="WhoIs.MaxUsers"/>). The answer holds only the
    /// users this user may know (a shared conversation or group, or a phone looked up); the others are left out.
    /// Results are added to <see cref="Contacts"/>.
    /// </summary>
    public async Task<IReadOnlyList<UserProfile>> WhoIsAsync(IReadOnlyList<string> userIds, CancellationToken cancellationToken = default)
    {
        var answer = (Profiles)await RequestAsync(id => new WhoIs(id, userIds), cancellationToken).ConfigureAwait(false);
        var now = Environment.TickCount64;
        foreach (var id in userIds) _unresolved[id] = now + UnresolvedRetryTicks;
        foreach (var profile in answer.Users)
        {
            _contacts[profile.UserId] = profile;
            _unresolved.TryRemove(profile.UserId, out _);
        }
        return answer.Users;
    }

    /// <summary>
    /// The profiles of <paramref name="userIds"/> this client knows, asking the server once for those not in the cache
    /// (an id the server did not resolve is asked again after half a minute). Unknown users are missing from the result.
    /// </summary>
    public async Task<IReadOnlyDictionary<string, UserProfile>> ResolveAsync(IEnumerable<string> userIds, CancellationToken cancellationToken = default)
    {
        var now = Environment.TickCount64;
        var missing = userIds.Distinct()
            .Where(id => !_contacts.ContainsKey(id) && (!_unresolved.TryGetValue(id, out var retryAt) || retryAt <= now))
            .ToList();
        foreach (var chunk in missing.Chunk(WhoIs.MaxUsers))
            await WhoIsAsync(chunk, cancellationToken).ConfigureAwait(false);
        return userIds.Distinct().Where(_contacts.ContainsKey).ToDictionary(id => id, id => _contacts[id]);
    }

    /// <summary>The display name of a user if known, else null.</summary>
    public string? NameOf(string userId) => _contacts.TryGetValue(userId, out var p) ? p.Name : null;

    private void RememberContact(UserProfile profile)
    {
        _contacts[profile.UserId] = profile;
        _unresolved.TryRemove(profile.UserId, out _);
    }
}
