using Akka.Actor;
using Chat.Node.Users;
using Chat.Protocol;
using Error = Chat.Protocol.Error;

namespace Chat.Node.Sessions;

// WhoIs: names and phones of the users this user may know (see Users/Contacts.cs). Users whose phone was looked up on
// this connection count as known: the asker already has their number.
public sealed partial class Session
{
    /// <summary>Users found by Lookup on this connection, bounded: beyond it, they must share a conversation or a group.</summary>
    private readonly HashSet<UserId> _lookedUp = [];
    private const int MaxLookedUp = 1_000;

    private void RememberLookup(LookupResult found)
    {
        if (_lookedUp.Count < MaxLookedUp && UserId.IsValid(found.UserId)) _lookedUp.Add(new UserId(found.UserId));
    }

    private void OnWhoIs(WhoIs w)
    {
        if (w.UserIds.Count > WhoIs.MaxUsers)
        {
            _connection.Write(new Error(w.RequestId, ErrorCode.InvalidArgument, $"at most {WhoIs.MaxUsers} user ids in one WhoIs"));
            return;
        }
        var quotas = RequestQuotas.Get(Context.System);
        if (!quotas.TryTake("whois " + _user.Value, quotas.WhoIsPerUserPerMinute, TimeSpan.FromMinutes(1), out var wait))
        {
            _connection.Write(new Error(w.RequestId, ErrorCode.RateLimited,
                $"more than {quotas.WhoIsPerUserPerMinute} WhoIs requests in a minute; retry in {Math.Ceiling(wait.TotalSeconds):0} s",
                SessionRules.RetryAfterMs(wait)));
            return;
        }
        // ids that are not user ids name nobody: they are left out like strangers
        var ids = w.UserIds.Where(UserId.IsValid).Distinct().Select(id => new UserId(id)).ToList();
        var (users, me, timeout, repeat, requestId) = (_users, _user, _settings.RequestTimeout, RepeatAfter, w.RequestId);
        var lookedUp = _lookedUp.Where(ids.Contains).ToHashSet();
        ResolveAsync().PipeTo(Self, success: frame => new Reply(frame), failure: e => new RequestFailed(requestId, e));

        async Task<Frame> ResolveAsync()
        {
            if (ids.Count == 0) return new Profiles(requestId, []);
            var mine = await RepeatedAsk.AskAsync<ContactsFound>(users, new FindContacts(me, ids), timeout, repeat).ConfigureAwait(false);
            var known = mine.Known.ToHashSet();
            known.UnionWith(lookedUp);
            var answers = await Task.WhenAll(ids.Select(id =>
                RepeatedAsk.AskAsync<ProfileShown>(users, new ShowProfile(id, me, known.Contains(id), mine.Groups), timeout, repeat))).ConfigureAwait(false);
            return new Profiles(requestId, answers
                .Where(a => a.Name is not null)
                .Select(a => new UserProfile(a.UserId.Value, a.Name!, a.Phone ?? ""))
                .ToList());
        }
    }
}
