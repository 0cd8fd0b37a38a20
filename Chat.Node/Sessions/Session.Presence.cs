using Akka.Actor;
using Chat.Node.Presence;
using Chat.Node.Users;
using Chat.Protocol;
using Error = Chat.Protocol.Error;
using PresenceFrame = Chat.Protocol.Presence;
using static Chat.Node.Sessions.SessionRules;

namespace Chat.Node.Sessions;

// Typing and presence: Subscribe (which signals this connection wants; none until it asks, so an older client never
// receives a frame it does not know), Typing (relayed through the recipient's user entity or the group, at most once
// per conversation per chat.presence.typing-interval), SetPrivacy, and the signals the entities tell this session.
public sealed partial class Session
{
    /// <summary>Followed users' presence is asked again this often, so that an entity that restarted or moved learns its followers again.</summary>
    private sealed class RenewWatchesTick : INoSerializationVerificationNeeded
    {
        public static readonly RenewWatchesTick Instance = new();
    }

    private bool _typingOn;
    /// <summary>Users whose presence this connection follows, with what the client was last told (null: nothing yet).</summary>
    private readonly Dictionary<UserId, PresenceNow?> _watching = [];

    /// <summary>The typing and presence signals entities tell this session; false for any other message.</summary>
    private bool OnPresenceMessage(object message)
    {
        switch (message)
        {
            case TypingSeen t: OnTypingSeen(t); return true;
            // the relaying entity saw this user's typing to the conversation from another connection, maybe on another node
            case TypingTooSoon t:
                _connection.Write(new Error(t.RequestId, ErrorCode.RateLimited,
                    $"typing is relayed at most once per {_settings.Presence.TypingInterval.TotalSeconds:0.###} s per conversation", t.RetryAfterMs));
                return true;
            case PresenceNow p: OnPresenceNow(p); return true;
            case RenewWatchesTick:
                foreach (var watched in _watching.Keys) _users.Tell(new WatchPresence(watched, _user, Self));
                return true;
            default: return false;
        }
    }

    private void OnPresenceFrame(Frame frame)
    {
        switch (frame)
        {
            case Subscribe s: OnSubscribe(s); return;
            case Typing t: OnTyping(t); return;
            case SetPrivacy p: AskAgainAndReply(_users, new SetLastSeenHidden(_user, p.HideLastSeen, p.RequestId), p.RequestId); return;
        }
    }

    private void OnSubscribe(Subscribe s)
    {
        if (s.Presence.Count > Subscribe.MaxWatched)
        {
            _connection.Write(new Error(s.RequestId, ErrorCode.InvalidArgument, $"at most {Subscribe.MaxWatched} users in one Subscribe"));
            return;
        }
        _typingOn = s.Typing;
        // ids that are not user ids name nobody, and oneself is not followed: left out like strangers
        var wanted = s.Presence.Where(UserId.IsValid).Select(id => new UserId(id)).Where(id => id != _user).ToHashSet();
        foreach (var old in _watching.Keys.Where(id => !wanted.Contains(id)).ToList())
        {
            _watching.Remove(old);
            _users.Tell(new UnwatchPresence(old, Self));
        }
        foreach (var id in wanted)
            if (_watching.TryAdd(id, null)) _users.Tell(new WatchPresence(id, _user, Self));
        if (_watching.Count == 0) Timers.Cancel("watch");
        else if (!Timers.IsTimerActive("watch"))
            Timers.StartPeriodicTimer("watch", RenewWatchesTick.Instance, _settings.KeepAttachedInterval);
        _connection.Write(new Ok(s.RequestId));
    }

    private void OnTyping(Typing t)
    {
        var toUser = UserId.IsValid(t.To);
        if (!toUser && !GroupId.IsValid(t.To))
        {
            _connection.Write(new Error(t.RequestId, ErrorCode.InvalidArgument, $"'{Truncate(t.To)}' is neither a user id nor a group id"));
            return;
        }
        if (toUser && t.To == _user.Value)
        {
            _connection.Write(new Error(t.RequestId, ErrorCode.InvalidArgument, "typing to oneself is not relayed"));
            return;
        }
        var interval = _settings.Presence.TypingInterval;
        if (!RequestQuotas.Get(Context.System).TryTake("typing " + _user.Value + " " + t.To, 1, interval, out var wait))
        {
            _connection.Write(new Error(t.RequestId, ErrorCode.RateLimited,
                $"typing is relayed at most once per {interval.TotalSeconds:0.###} s per conversation", RetryAfterMs(wait)));
            return;
        }
        // typing to many conversations (each with its own interval) is bounded by the user's send rate: one Typing
        // relayed costs what a message costs the server to route
        var rates = SendRates.Get(Context.System);
        if (!rates.TryTake(_user.Value, out wait))
        {
            _connection.Write(new Error(t.RequestId, ErrorCode.RateLimited, "typing counts as a send: " + rates.Refusal(wait), RetryAfterMs(wait)));
            return;
        }
        if (toUser) AskAndReply(_users, new RelayTyping(new UserId(t.To), _user, t.RequestId), t.RequestId);
        else AskAndReply(_groups, new RelayGroupTyping(new GroupId(t.To), _user, t.RequestId), t.RequestId);
    }

    private void OnTypingSeen(TypingSeen t)
    {
        // ephemeral: dropped when the client did not subscribe, or when it is behind on what it was sent
        if (_typingOn && _phase == Phase.LoggedIn)
            _connection.TryWriteEntry(new UserTyping(t.From.Value, t.Group?.Value, t.ForMs));
    }

    private void OnPresenceNow(PresenceNow p)
    {
        if (_phase != Phase.LoggedIn || !_watching.TryGetValue(p.UserId, out var told) || told == p) return;
        _watching[p.UserId] = p;
        _connection.Write(new PresenceFrame(p.UserId.Value, p.Online, p.LastSeen));
    }
}
