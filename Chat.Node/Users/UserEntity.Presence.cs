using Akka.Actor;
using Chat.Node.Presence;
using Chat.Protocol;

namespace Chat.Node.Users;

// Typing and presence at the user entity: it relays typing to the sessions it knows (they drop it unless their client
// subscribed), keeps the sessions that follow this user's presence (a lease renewed by each follower), tells them when
// this user comes online or goes offline, at most once per coalescing interval, and stores last seen and the privacy
// setting. Being online is having a session attached: sessions are death-watched (UserEntity.Attach), so the sessions of
// a crashed node count as gone once the cluster downs it, and last seen is set then.
public sealed partial class UserEntity
{
    /// <summary>The coalescing interval has passed: tell followers the latest state if it changed.</summary>
    private sealed class PresenceTick : INoSerializationVerificationNeeded
    {
        public static readonly PresenceTick Instance = new();
    }

    /// <summary>Sessions following this user's presence, with the user they act for and when their lease ends (TickCount64).</summary>
    private readonly Dictionary<IActorRef, (UserId Watcher, long Until)> _watchers = [];
    private bool _online;
    /// <summary>What followers were last told (null: nothing yet); a new follower starts from it, so a change pending in the coalescing interval reaches it too.</summary>
    private PresenceNow? _announced;
    private long _announcedAt = long.MinValue / 2;
    /// <summary>Who typed to this user lately: the cluster-wide bound of one Typing per typist per interval (made on first use).</summary>
    private TypingBound? _typingBound;

    private void OnPresenceCommand(object message)
    {
        switch (message)
        {
            case RelayTyping cmd: OnRelayTyping(cmd); break;
            case GroupTyping cmd: OnGroupTyping(cmd); break;
            case WatchPresence cmd: OnWatch(cmd); break;
            case UnwatchPresence cmd: _watchers.Remove(cmd.Session); break;
            case SetLastSeenHidden cmd: OnSetLastSeenHidden(cmd); break;
            case PresenceTick: Announce(); break;
        }
    }

    private void OnRelayTyping(RelayTyping cmd)
    {
        if (!_state.IsOpen)
        {
            Sender.Tell(new Rejected(cmd.RequestId, ErrorCode.UnknownUser, $"no user {cmd.UserId}"));
            return;
        }
        // counted for every typist, strangers too, so that a refusal does not tell who shares a conversation
        _typingBound ??= new TypingBound(_settings.Presence.TypingInterval);
        if (!_typingBound.TryTake(cmd.From, Environment.TickCount64, out var waitMs))
        {
            Sender.Tell(new TypingTooSoon(cmd.RequestId, waitMs));
            return;
        }
        // a stranger's typing is dropped: the answer does not say so, as WhoIs does not say who exists
        if (_sessions.Count > 0 && PresenceRules.ShareConversation(_state, cmd.From))
        {
            var seen = new TypingSeen(cmd.From, null, _settings.Presence.ShowTypingForMs);
            foreach (var session in _sessions.Keys) session.Tell(seen);
        }
        Sender.Tell(new Done(cmd.RequestId));
    }

    private void OnGroupTyping(GroupTyping cmd)
    {
        if (_sessions.Count == 0 || !_state.IsOpen || !_state.Groups.ContainsKey(cmd.Group)) return;
        var me = _state.Profile!.Id;
        foreach (var typist in cmd.Typists)
        {
            if (typist == me) continue;
            var seen = new TypingSeen(typist, cmd.Group, cmd.ForMs);
            foreach (var session in _sessions.Keys) session.Tell(seen);
        }
    }

    private void OnWatch(WatchPresence cmd)
    {
        var until = Environment.TickCount64 + 3 * (long)_settings.KeepAttachedInterval.TotalMilliseconds;
        if (_watchers.TryGetValue(cmd.Session, out var known))
        {
            _watchers[cmd.Session] = (known.Watcher, until);
            return;
        }
        ForgetExpiredWatchers();
        if (_watchers.Count >= _settings.Presence.MaxWatchers || !PresenceRules.ShareConversation(_state, cmd.Watcher)) return;
        _watchers[cmd.Session] = (cmd.Watcher, until);
        cmd.Session.Tell(_announced ?? PresenceRules.Shown(_state, _online));
    }

    private void ForgetExpiredWatchers()
    {
        var now = Environment.TickCount64;
        List<IActorRef>? expired = null;
        foreach (var (session, lease) in _watchers)
            if (lease.Until < now) (expired ??= []).Add(session);
        foreach (var session in expired ?? []) _watchers.Remove(session);
    }

    private void OnSetLastSeenHidden(SetLastSeenHidden cmd)
    {
        var replyTo = Sender;
        if (!_state.IsOpen)
        {
            replyTo.Tell(new Rejected(cmd.RequestId, ErrorCode.UnknownUser, $"no user {cmd.UserId}"));
            return;
        }
        if (_state.HideLastSeen == cmd.Hidden)
        {
            AfterDurable(() => replyTo.Tell(new Done(cmd.RequestId)));
            return;
        }
        var set = new PrivacySet(cmd.Hidden);
        _state.Apply(set);
        PersistInOrder(set, _ =>
        {
            replyTo.Tell(new Done(cmd.RequestId));
            CountEventForSnapshot();
            Announce();
        });
    }

    /// <summary>Called after every change to the attached sessions: the first one attached, or the last one gone, is news.</summary>
    private void OnlineMayHaveChanged()
    {
        var online = _sessions.Count > 0;
        if (online == _online) return;
        _online = online;
        if (!_state.IsOpen) return;
        var seen = new LastSeenSet(Now);
        _state.Apply(seen);
        if (online)
        {
            // Written later, not at the login: a write per login made every returning user wait for the journal, and
            // after a restart the logins' writes made the event store's readers read their pages again. The login's
            // last seen is written at the session's first renewal (WriteSeenWhileOnline), unless the user went offline
            // first (that is written, below) or the entity stopped (WriteSeenBeforeStop). A crash before the renewal
            // loses it: last seen is then the one stored before this login.
            _seenUnwritten = true;
        }
        else
        {
            WriteSeen(seen);
        }
        Announce();
    }

    /// <summary>Whether the user came online since last seen was last written.</summary>
    private bool _seenUnwritten;

    /// <summary>A session renewed its attachment (every <c>chat.session.keep-attached-interval</c>): the login's last seen is written now.</summary>
    private void WriteSeenWhileOnline()
    {
        if (_seenUnwritten && _online && _state.IsOpen) WriteSeen(new LastSeenSet(_state.LastSeen));
    }

    /// <summary>Before the entity stops (passivation, or its shard moving) while its user is online: last seen is now.</summary>
    private void WriteSeenBeforeStop()
    {
        if (!_seenUnwritten || !_state.IsOpen) return;
        var seen = new LastSeenSet(Now);
        _state.Apply(seen);
        WriteSeen(seen);
    }

    /// <summary>Writes last seen (already applied to the state).</summary>
    private void WriteSeen(LastSeenSet seen)
    {
        _seenUnwritten = false;
        PersistInOrder(seen, _ => CountEventForSnapshot());
    }

    /// <summary>Tells followers this user's presence when it changed, at most once per <c>chat.presence.coalesce</c>.</summary>
    private void Announce()
    {
        if (!_state.IsOpen) return;
        var current = PresenceRules.Shown(_state, _online);
        if (current == _announced) return;
        ForgetExpiredWatchers();
        if (_watchers.Count == 0)
        {
            _announced = current; // nobody to tell: a follower who comes later starts from here
            return;
        }
        var wait = _announcedAt + (long)_settings.Presence.Coalesce.TotalMilliseconds - Environment.TickCount64;
        if (wait > 0)
        {
            if (!Timers.IsTimerActive("presence"))
                Timers.StartSingleTimer("presence", PresenceTick.Instance, TimeSpan.FromMilliseconds(wait));
            return;
        }
        _announced = current;
        _announcedAt = Environment.TickCount64;
        foreach (var session in _watchers.Keys) session.Tell(current);
    }
}
