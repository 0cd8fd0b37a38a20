using Akka.Actor;
using Chat.Node.Presence;
using Chat.Protocol;

namespace Chat.Node.Groups;

// Typing in a group: a member says they type; the group relays to every member's user entity at most once per
// chat.presence.group-typing-interval, naming at most chat.presence.max-group-typists members. However many members
// type, each member hears from one group at most once per interval: a large group cannot flood anyone. Nothing is stored.
public sealed partial class GroupEntity
{
    private sealed class TypingTick : INoSerializationVerificationNeeded
    {
        public static readonly TypingTick Instance = new();
    }

    /// <summary>Members who typed since the last relay, in the order they started.</summary>
    private readonly List<UserId> _typists = [];
    private long _typingRelayedAt = long.MinValue / 2;
    /// <summary>Each member's last Typing taken: the cluster-wide bound of one per member per typing-interval (made on first use).</summary>
    private TypingBound? _typingBound;

    private void OnTyping(RelayGroupTyping cmd)
    {
        if (!_state.Exists) { Sender.Tell(new Users.Rejected(cmd.RequestId, ErrorCode.UnknownGroup, $"no group {cmd.GroupId}")); return; }
        if (!_state.IsMember(cmd.From)) { Sender.Tell(new Users.Rejected(cmd.RequestId, ErrorCode.NotMember, "only members can type in this group")); return; }
        // the session bounds a user's typing on its own node; the group, one in the cluster, bounds it across nodes
        _typingBound ??= new TypingBound(_settings.Presence.TypingInterval);
        if (!_typingBound.TryTake(cmd.From, Environment.TickCount64, out var waitMs))
        {
            Sender.Tell(new TypingTooSoon(cmd.RequestId, waitMs));
            return;
        }
        Sender.Tell(new Users.Done(cmd.RequestId));
        if (!_typists.Contains(cmd.From) && _typists.Count < _settings.Presence.MaxGroupTypists) _typists.Add(cmd.From);
        var wait = _typingRelayedAt + (long)_settings.Presence.GroupTypingInterval.TotalMilliseconds - Environment.TickCount64;
        if (wait <= 0) RelayTypists();
        else if (!Timers.IsTimerActive("typing")) Timers.StartSingleTimer("typing", TypingTick.Instance, TimeSpan.FromMilliseconds(wait));
    }

    private void RelayTypists()
    {
        if (_typists.Count == 0) return;
        var typists = _typists.ToArray();
        _typists.Clear();
        _typingRelayedAt = Environment.TickCount64;
        var forMs = _settings.Presence.ShowTypingForMs;
        foreach (var member in _state.Members)
            if (typists.Length > 1 || typists[0] != member)
                _users.Tell(new GroupTyping(member, _groupId, typists, forMs));
    }
}
