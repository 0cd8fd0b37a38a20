using Akka.Actor;
using Chat.Node.Groups;
using Chat.Node.Media;
using Chat.Node.Users;
using Chat.Protocol;
using Error = Chat.Protocol.Error;
using static Chat.Node.Sessions.SessionRules;

namespace Chat.Node.Sessions;

// Group requests: creating a group (after its members and the creator are checked against their limits),
// changing its members, admins and name, and setting its picture.
public sealed partial class Session
{
    /// <summary>
    /// Members must name existing users who admit this user's add: each is checked with its user entity before the group
    /// is asked (<paramref name="group"/>: the group added to, null for one being created). A user who never wrote to this
    /// one admits the add while their stranger quota has room (docs/operations.md, "Groups from strangers").
    /// </summary>
    private void WithExistingUsers(uint requestId, IReadOnlyList<string>? ids, int max, Func<List<UserId>, object> then, IActorRef target,
        GroupId? group = null)
    {
        ids = (ids ?? []).Distinct().Where(id => id != _user.Value).ToList();
        if (ids.Count > max)
        {
            _connection.Write(new Error(requestId, ErrorCode.GroupFull, $"a group has at most {_settings.GroupMaxMembers} members"));
            return;
        }
        var bad = ids.FirstOrDefault(id => !UserId.IsValid(id));
        if (bad is not null)
        {
            _connection.Write(new Error(requestId, ErrorCode.UnknownUser, $"no user '{Truncate(bad)}'"));
            return;
        }
        var users = ids.Distinct().Select(id => new UserId(id)).ToList();
        var timeout = _settings.RequestTimeout;
        var adder = _user;
        var (region, repeat) = (_users, RepeatAfter);
        var checks = users.Select(u => RepeatedAsk.AskAsync<UserExistsReply>(region, new UserExists(u, adder, group), timeout, repeat)).ToList();
        Task.WhenAll(checks).ContinueWith(t =>
        {
            if (t.IsFaulted || t.IsCanceled) return Task.FromResult<object>(new RequestFailed(requestId, t.Exception ?? new Exception("timeout")));
            var missing = t.Result.FirstOrDefault(r => !r.Exists);
            if (missing is not null)
                return Task.FromResult<object>(new Reply(new Error(requestId, ErrorCode.UnknownUser, $"no user '{missing.UserId}'")));
            var refuses = t.Result.FirstOrDefault(r => !r.Admits);
            if (refuses is not null)
                return Task.FromResult<object>(new Reply(new Error(requestId, ErrorCode.StrangerQuota,
                    $"user '{refuses.UserId}' has not written to you, and what people they have not written to sent them already fills " +
                    "the part of their inbox kept for such people; nobody was added. Try again later, or ask them to write to you first")));
            var full = t.Result.FirstOrDefault(r => r.Groups >= _settings.GroupsPerUser);
            if (full is not null)
                return Task.FromResult<object>(new Reply(new Error(requestId, ErrorCode.TooManyGroups,
                    $"user '{full.UserId}' is already in {full.Groups} groups; the limit is {_settings.GroupsPerUser}")));
            // a group change is the same change when asked again (GroupState), so it is repeated like a lookup
            return RepeatedAsk.AskAsync<object>(target, then(users), timeout, repeat);
        }).Unwrap().PipeTo(Self, success: answer => answer, failure: e => new RequestFailed(requestId, e));
    }

    private void OnCreateGroup(CreateGroup c)
    {
        if (GroupNameProblem(c.Name, _settings.NameMaxChars) is var (nameProblem, nameReason))
        {
            _connection.Write(new Error(c.RequestId, nameProblem, nameReason));
            return;
        }
        if (c.ClientGroupId is { Length: 0 or > 64 })
        {
            _connection.Write(new Error(c.RequestId, ErrorCode.InvalidArgument, "a client group id has 1 to 64 characters"));
            return;
        }
        if (c.ClientGroupId is { } key)
        {
            // a creation repeated once done is answered without the checks below, which it might no longer pass (its own
            // group counts towards the creator's limit, its Created notice towards the members' stranger quotas)
            var (group, id) = (GroupId.For(_user, key), c.RequestId);
            RepeatedAsk.AskAsync<object>(_groups, new GetGroup(group, _user, id), _settings.RequestTimeout, RepeatAfter).PipeTo(Self,
                success: answer => answer is GroupDetails { LastSeq: >= 1 } ? new Reply(new GroupCreated(id, group.Value)) : new CreateNotSeen(c),
                failure: e => new RequestFailed(id, e));
            return;
        }
        CheckAndCreate(c);
    }

    /// <summary>A keyed creation whose group does not exist yet (or no longer counts the creator as a member).</summary>
    private sealed record CreateNotSeen(CreateGroup Request) : INoSerializationVerificationNeeded;

    private void CheckAndCreate(CreateGroup c)
    {
        var requestId = c.RequestId;
        // the creator's group count is checked first (a limit per user), then the members
        RepeatedAsk.AskAsync<MyGroups>(_users, new ListMyGroups(_user, requestId), _settings.RequestTimeout, RepeatAfter).PipeTo(Self,
            success: mine => mine.Groups.Count >= _settings.GroupsPerUser
                ? new Reply(new Error(requestId, ErrorCode.TooManyGroups, $"you are in {mine.Groups.Count} groups; the limit is {_settings.GroupsPerUser}"))
                : new CreateChecked(c),
            failure: e => new RequestFailed(requestId, e));
    }

    private sealed record CreateChecked(CreateGroup Request) : INoSerializationVerificationNeeded;

    private void OnChangeGroup(uint requestId, string? groupId, GroupNoticeKind kind, IReadOnlyList<string>? members, string? name)
    {
        if (!GroupId.IsValid(groupId))
        {
            _connection.Write(new Error(requestId, ErrorCode.UnknownGroup, $"no group '{Truncate(groupId)}'"));
            return;
        }
        var group = new GroupId(groupId!);
        if (kind == GroupNoticeKind.Added)
        {
            WithExistingUsers(requestId, members, _settings.GroupMaxMembers,
                users => new ChangeGroup(group, _user, kind, users, null, requestId), _groups, group);
            return;
        }
        if ((members ?? []).Any(m => !UserId.IsValid(m)))
        {
            _connection.Write(new Error(requestId, ErrorCode.UnknownUser, "a member id is not a user id"));
            return;
        }
        AskAgainAndReply(_groups, new ChangeGroup(group, _user, kind, (members ?? []).Select(m => new UserId(m)).ToList(), name, requestId), requestId);
    }

    /// <summary>A group picture names stored media, checked and renewed as a media message's is; null removes it.</summary>
    private void OnSetGroupImage(SetGroupImage request)
    {
        var requestId = request.RequestId;
        if (!GroupId.IsValid(request.GroupId))
        {
            _connection.Write(new Error(requestId, ErrorCode.UnknownGroup, $"no group '{Truncate(request.GroupId)}'"));
            return;
        }
        var group = new GroupId(request.GroupId);
        if (request.Image is null)
        {
            AskAgainAndReply(_groups, new ChangeGroup(group, _user, GroupNoticeKind.ImageChanged, [], null, requestId), requestId);
            return;
        }
        if (MediaRefProblem(request.Image, _settings.Media.MaxThumbnailBytes) is var (code, reason))
        {
            _connection.Write(new Error(requestId, code, reason));
            return;
        }
        var (store, groups, user, now, timeout, repeat, maySee) = (_media, _groups, _user, _clock.GetUtcNow(), _settings.RequestTimeout, RepeatAfter, MaySeeMedia());
        var image = request.Image;
        async Task<object> Set()
        {
            var (stored, problem) = await ReferStoredMedia(store, image, requestId, now, user.Value, maySee, MediaKind.Image).ConfigureAwait(false);
            if (problem is not null) return new Reply(problem);
            return await RepeatedAsk.AskAsync<object>(groups, new ChangeGroup(group, user, GroupNoticeKind.ImageChanged, [], null, requestId, stored),
                timeout, repeat).ConfigureAwait(false);
        }
        Set().PipeTo(Self, success: answer => answer, failure: e => new RequestFailed(requestId, e));
    }
}
