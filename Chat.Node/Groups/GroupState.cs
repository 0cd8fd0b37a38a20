using Chat.Node.Users;
using Chat.Protocol;

namespace Chat.Node.Groups;

/// <summary>Limits a group enforces.</summary>
public sealed record GroupLimits(int MaxMembers = 1024, int NameMaxChars = 64);

/// <summary>
/// A group: its log of posts and membership changes, and who is a member and admin at each point of it.
/// Decisions are pure; <see cref="Apply"/> folds an appended entry in. Membership is kept as intervals of
/// the group sequence, so the recipients of any entry (and what a member still lacks) can be told later.
/// </summary>
public sealed class GroupState
{
    private readonly List<GroupEntry> _log = [];
    private readonly Dictionary<UserId, long> _memberSince = [];          // current members → joined at seq
    private readonly HashSet<UserId> _admins = [];
    private readonly Dictionary<UserId, List<(long From, long To)>> _past = []; // closed intervals of former membership
    private readonly Dictionary<(UserId, string), long> _posted = [];

    public bool Exists { get; private set; }
    public string Name { get; private set; } = "";
    /// <summary>The group's picture (uploaded media), if set.</summary>
    public MediaRef? Image { get; private set; }
    public UserId Creator { get; private set; }
    /// <summary>Sequence of the newest entry; entries older than the retention period may be gone from <see cref="Log"/>.</summary>
    public long LastSeq { get; private set; }
    /// <summary>Sequence of the oldest entry still in the log (LastSeq + 1 when the log is empty).</summary>
    public long FirstSeq => _log.Count == 0 ? LastSeq + 1 : _log[0].GroupSeq;
    public IReadOnlyCollection<UserId> Members => _memberSince.Keys;
    public IReadOnlyCollection<UserId> Admins => _admins;
    public IReadOnlyList<GroupEntry> Log => _log;

    public bool IsMember(UserId user) => _memberSince.ContainsKey(user);
    public bool IsAdmin(UserId user) => _admins.Contains(user);

    /// <summary>Whether <paramref name="user"/> receives the entry at <paramref name="seq"/>.</summary>
    public bool IsRecipient(UserId user, long seq)
    {
        if (_memberSince.TryGetValue(user, out var since) && seq >= since) return true;
        if (_past.TryGetValue(user, out var spans))
            foreach (var (from, to) in spans)
                if (seq >= from && seq <= to) return true;
        return false;
    }

    /// <summary>Who receives the entry at <paramref name="seq"/>, each once (the fan-out of every entry walks this).</summary>
    public IEnumerable<UserId> RecipientsOf(long seq)
    {
        foreach (var (member, since) in _memberSince)
            if (seq >= since) yield return member;
        foreach (var (member, spans) in _past)
        {
            if (_memberSince.TryGetValue(member, out var since) && seq >= since) continue; // counted above
            foreach (var (from, to) in spans)
                if (seq >= from && seq <= to) { yield return member; break; }
        }
    }

    /// <summary>Everyone who ever received an entry: current and former members.</summary>
    public IEnumerable<UserId> EveryRecipient => _memberSince.Keys.Concat(_past.Keys).Distinct();

    /// <summary>The entries after <paramref name="after"/> that <paramref name="user"/> receives, in order.</summary>
    public IEnumerable<GroupEntry> EntriesFor(UserId user, long after)
    {
        var start = (int)Math.Max(0, after + 1 - FirstSeq); // group sequences are contiguous
        for (var i = start; i < _log.Count; i++)
            if (IsRecipient(user, _log[i].GroupSeq)) yield return _log[i];
    }

    /// <summary>The newest sequence <paramref name="user"/> receives (0 if none).</summary>
    public long LastFor(UserId user)
    {
        if (_memberSince.ContainsKey(user)) return LastSeq;
        return _past.TryGetValue(user, out var spans) ? spans.Max(s => s.To) : 0;
    }

    // ---------- decisions ----------

    public Decision<GroupEntryAppended> DecideCreate(CreateGroupCommand cmd, long now, GroupLimits limits)
    {
        if (Exists)
            return Creator == cmd.Creator
                ? Decision<GroupEntryAppended>.Nothing // the same creation, retried
                : Decision<GroupEntryAppended>.Fail(ErrorCode.InvalidArgument, "group already exists");
        if (NameProblem(cmd.Name, limits) is { } problem) return Decision<GroupEntryAppended>.Fail(ErrorCode.InvalidName, problem);
        var members = new List<UserId> { cmd.Creator };
        foreach (var m in cmd.Members) if (!members.Contains(m)) members.Add(m);
        if (members.Count > limits.MaxMembers)
            return Decision<GroupEntryAppended>.Fail(ErrorCode.GroupFull, $"a group has at most {limits.MaxMembers} members");
        return new(new GroupEntryAppended(new GroupChange(1, GroupNoticeKind.Created, cmd.Creator, members, cmd.Name.Trim(), now)));
    }

    public Decision<GroupEntryAppended> DecideChange(ChangeGroup cmd, long now, GroupLimits limits)
    {
        if (!Exists) return Decision<GroupEntryAppended>.Fail(ErrorCode.UnknownGroup, $"no group {cmd.GroupId}");
        // every change asked again once done changes nothing more: a session repeats a request lost at a shard's hand-off
        if (cmd.Kind == GroupNoticeKind.Left && !IsMember(cmd.Actor) && _past.ContainsKey(cmd.Actor)) return Decision<GroupEntryAppended>.Nothing;
        if (!IsMember(cmd.Actor)) return Decision<GroupEntryAppended>.Fail(ErrorCode.NotMember, "you are not a member of this group");
        var seq = LastSeq + 1;
        GroupChange Change(IReadOnlyList<UserId> members, string? name = null) =>
            new(seq, cmd.Kind, cmd.Actor, members, name ?? Name, now);
        switch (cmd.Kind)
        {
            case GroupNoticeKind.Added:
            {
                if (!IsAdmin(cmd.Actor)) return NotAdmin();
                var added = cmd.Members.Distinct().Where(m => !IsMember(m)).ToList();
                if (added.Count == 0) return Decision<GroupEntryAppended>.Nothing;
                if (_memberSince.Count + added.Count > limits.MaxMembers)
                    return Decision<GroupEntryAppended>.Fail(ErrorCode.GroupFull, $"a group has at most {limits.MaxMembers} members");
                return new(new GroupEntryAppended(Change(added)));
            }
            case GroupNoticeKind.Removed:
            {
                if (!IsAdmin(cmd.Actor)) return NotAdmin();
                var removed = cmd.Members.Distinct().Where(IsMember).ToList();
                return removed.Count == 0 ? Decision<GroupEntryAppended>.Nothing : new(new GroupEntryAppended(Change(removed)));
            }
            case GroupNoticeKind.Left:
                return new(new GroupEntryAppended(Change(new[] { cmd.Actor }))); // an array: Akka's message check (serialize-messages) cannot rebuild a one-element collection literal
            case GroupNoticeKind.ImageChanged:
                if (SameImage(Image, cmd.Image)) return Decision<GroupEntryAppended>.Nothing;
                return new(new GroupEntryAppended(new GroupChange(seq, cmd.Kind, cmd.Actor, [], Name, now, cmd.Image)));
            case GroupNoticeKind.Renamed:
                if (NameProblem(cmd.Name, limits) is { } problem) return Decision<GroupEntryAppended>.Fail(ErrorCode.InvalidName, problem);
                if (cmd.Name!.Trim() == Name) return Decision<GroupEntryAppended>.Nothing;
                return new(new GroupEntryAppended(Change([], cmd.Name!.Trim())));
            case GroupNoticeKind.Promoted or GroupNoticeKind.Demoted:
            {
                if (!IsAdmin(cmd.Actor)) return NotAdmin();
                var promote = cmd.Kind == GroupNoticeKind.Promoted;
                var targets = cmd.Members.Distinct().Where(m => IsMember(m) && IsAdmin(m) != promote).ToList();
                if (cmd.Members.Any(m => !IsMember(m)))
                    return Decision<GroupEntryAppended>.Fail(ErrorCode.NotMember, "only members can be promoted or demoted");
                if (!promote && targets.Count >= _admins.Count)
                    return Decision<GroupEntryAppended>.Fail(ErrorCode.InvalidArgument, "a group keeps at least one admin; promote another member first");
                return targets.Count == 0 ? Decision<GroupEntryAppended>.Nothing : new(new GroupEntryAppended(Change(targets)));
            }
            default:
                return Decision<GroupEntryAppended>.Fail(ErrorCode.InvalidArgument, $"unknown change {cmd.Kind}");
        }
    }

    private static bool SameImage(MediaRef? a, MediaRef? b) =>
        a?.MediaId == b?.MediaId && (a?.Thumbnail ?? []).AsSpan().SequenceEqual(b?.Thumbnail ?? []);

    private static Decision<GroupEntryAppended> NotAdmin() =>
        Decision<GroupEntryAppended>.Fail(ErrorCode.NotAdmin, "only group admins can do this");

    private static string? NameProblem(string? name, GroupLimits limits) =>
        string.IsNullOrWhiteSpace(name) || name.Trim().Length > limits.NameMaxChars
            ? $"a group name has 1 to {limits.NameMaxChars} characters"
            : null;

    /// <summary>A post by a member, stored once per (sender, client message id).</summary>
    public Decision<GroupEntryAppended> DecidePost(PostToGroup cmd, string newMessageId, long now, out GroupPost? existing)
    {
        existing = null;
        if (!Exists) return Decision<GroupEntryAppended>.Fail(ErrorCode.UnknownGroup, $"no group {cmd.GroupId}");
        if (!IsMember(cmd.From)) return Decision<GroupEntryAppended>.Fail(ErrorCode.NotMember, "only members can post to this group");
        if (_posted.TryGetValue((cmd.From, cmd.ClientMessageId), out var seq) && seq >= FirstSeq && _log[(int)(seq - FirstSeq)] is GroupPost post)
        {
            existing = post;
            return Decision<GroupEntryAppended>.Nothing;
        }
        return new(new GroupEntryAppended(new GroupPost(LastSeq + 1, newMessageId, cmd.From, cmd.Text, now, cmd.ClientMessageId, cmd.Media)));
    }

    // ---------- applying ----------

    public GroupState Apply(GroupEntryAppended e)
    {
        var entry = e.Entry;
        if (entry.GroupSeq != LastSeq + 1)
            throw new InvalidOperationException($"group entry {entry.GroupSeq} does not follow {LastSeq}");
        _log.Add(entry);
        LastSeq = entry.GroupSeq;
        switch (entry)
        {
            case GroupPost p:
                _posted[(p.From, p.ClientMessageId)] = p.GroupSeq;
                break;
            case GroupChange c:
                switch (c.Kind)
                {
                    case GroupNoticeKind.Created:
                        Exists = true;
                        Creator = c.Actor;
                        Name = c.Name;
                        foreach (var m in c.Members) _memberSince[m] = c.GroupSeq;
                        _admins.Add(c.Actor);
                        break;
                    case GroupNoticeKind.Added:
                        foreach (var m in c.Members) _memberSince.TryAdd(m, c.GroupSeq);
                        break;
                    case GroupNoticeKind.Removed or GroupNoticeKind.Left:
                        foreach (var m in c.Members) Close(m, c.GroupSeq);
                        // a group is never without an admin: the longest-standing member takes over
                        if (_admins.Count == 0 && _memberSince.Count > 0)
                            _admins.Add(_memberSince.OrderBy(p => p.Value).ThenBy(p => p.Key.Value, StringComparer.Ordinal).First().Key);
                        break;
                    case GroupNoticeKind.Renamed:
                        Name = c.Name;
                        break;
                    case GroupNoticeKind.ImageChanged:
                        Image = c.Image;
                        break;
                    case GroupNoticeKind.Promoted:
                        foreach (var m in c.Members) _admins.Add(m);
                        break;
                    case GroupNoticeKind.Demoted:
                        foreach (var m in c.Members) _admins.Remove(m);
                        break;
                }
                break;
        }
        return this;
    }

    /// <summary>A member leaves at <paramref name="seq"/>: they still receive that entry (the notice), nothing after.</summary>
    private void Close(UserId member, long seq)
    {
        if (!_memberSince.Remove(member, out var since)) return;
        _admins.Remove(member);
        if (!_past.TryGetValue(member, out var spans)) _past[member] = spans = [];
        spans.Add((since, seq));
    }

    /// <summary>Time of an entry (Unix ms): when it was appended.</summary>
    public static long TimeOf(GroupEntry entry) => entry switch
    {
        GroupPost p => p.SentAt,
        GroupChange c => c.At,
        _ => 0,
    };

    /// <summary>
    /// The newest sequence such that it and every entry before it were appended before <paramref name="cutoff"/>
    /// (0 when the oldest entry is newer). Entries go oldest first, so the log stays contiguous.
    /// </summary>
    public long ExpiredUpTo(long cutoff)
    {
        long upTo = 0;
        foreach (var entry in _log)
        {
            if (TimeOf(entry) >= cutoff) break;
            upTo = entry.GroupSeq;
        }
        return upTo;
    }

    /// <summary>Drops entries up to <paramref name="upTo"/>, with their dedup records and membership history no entry needs.</summary>
    public GroupState Apply(GroupLogExpired e)
    {
        var count = 0;
        while (count < _log.Count && _log[count].GroupSeq <= e.UpTo) count++;
        _log.RemoveRange(0, count);
        foreach (var key in _posted.Where(p => p.Value <= e.UpTo).Select(p => p.Key).ToList()) _posted.Remove(key);
        foreach (var (member, spans) in _past.ToList())
        {
            spans.RemoveAll(span => span.To <= e.UpTo);
            if (spans.Count == 0) _past.Remove(member);
        }
        return this;
    }

    /// <summary>The whole state: who is in the group now, former members' spans, and the entries still kept.</summary>
    public GroupSnapshot ToSnapshot(long fanoutUpTo) => new(_log.ToArray(), fanoutUpTo, new GroupBase(
        Name, Creator, LastSeq,
        _memberSince.ToDictionary(p => p.Key.Value, p => p.Value),
        _admins.Select(a => a.Value).ToList(),
        _past.ToDictionary(p => p.Key.Value, p => (IReadOnlyList<long[]>)p.Value.Select(s => new[] { s.From, s.To }).ToList()),
        Image));

    public static GroupState FromSnapshot(GroupSnapshot s)
    {
        var state = new GroupState();
        if (s.Base is not { } b)
        {
            // written before retention existed: the log is complete and rebuilds everything
            foreach (var entry in s.Log) state.Apply(new GroupEntryAppended(entry));
            return state;
        }
        state.Exists = true;
        state.Name = b.Name;
        state.Creator = b.Creator;
        state.LastSeq = b.LastSeq;
        state.Image = b.Image;
        foreach (var (member, since) in b.MemberSince) state._memberSince[new UserId(member)] = since;
        foreach (var admin in b.Admins) state._admins.Add(new UserId(admin));
        foreach (var (member, spans) in b.Past) state._past[new UserId(member)] = spans.Select(x => (x[0], x[1])).ToList();
        state._log.AddRange(s.Log);
        foreach (var entry in s.Log)
            if (entry is GroupPost p) state._posted[(p.From, p.ClientMessageId)] = p.GroupSeq;
        return state;
    }
}