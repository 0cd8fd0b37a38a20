using Akka.Actor;
using Chat.Node.Users;
using Chat.Protocol;
using Error = Chat.Protocol.Error;

namespace Chat.Node.Sessions;

// Deadlines: the periodic tick (fast while something waits, slow when idle), the Hello, login and idle timeouts,
// and sends that time out or are told again after a node was lost.
public sealed partial class Session
{
    /// <summary>While a send waits for its answer, or before login: deadlines are checked every second.</summary>
    private static readonly TimeSpan FastTick = TimeSpan.FromSeconds(1);
    private bool _fastTick = true;

    /// <summary>An idle logged-in connection only needs its idle timeout checked: a tick a tenth as often (at most 30 s).</summary>
    private TimeSpan SlowTick => TimeSpan.FromTicks(Math.Clamp(_settings.IdleTimeout.Ticks / 10, FastTick.Ticks, TimeSpan.FromSeconds(30).Ticks));

    /// <summary>Fast ticks with nothing to check, before the tick slows down (a user who sends now and then keeps one timer).</summary>
    private const int IdleTicksBeforeSlow = 30;
    private int _idleTicks;

    private void TickFast(bool fast)
    {
        if (fast) _idleTicks = 0;
        else if (_fastTick && ++_idleTicks < IdleTicksBeforeSlow) return;
        if (fast == _fastTick) return;
        _fastTick = fast;
        // each restart leaves the old timer in the scheduler until its time: restarting per message was costly
        Timers.StartPeriodicTimer("tick", Tick.Instance, fast ? FastTick : SlowTick);
    }

    private long ResendAfterMs => (long)_settings.ResendAfter.TotalMilliseconds;

    /// <summary>
    /// When a request whose repeat changes nothing is asked again (<see cref="RepeatedAsk"/>): in a cluster of several
    /// nodes, where a shard handed over drops what it buffered; a node alone loses nothing that way, and a node that is
    /// merely slow is not asked everything twice (zero: asked once).
    /// </summary>
    private TimeSpan RepeatAfter => RepeatAfterIn(_cluster, _settings.ResendAfter);

    private static TimeSpan RepeatAfterIn(Akka.Cluster.Cluster cluster, TimeSpan resendAfter) =>
        cluster.State.Members.Count >= 2 ? resendAfter : TimeSpan.Zero;

    private void OnTick()
    {
        var now = Environment.TickCount64;
        if (_phase == Phase.AwaitingHello && now - _connectedAt > _settings.HelloTimeout.TotalMilliseconds)
        {
            Fail(ErrorCode.IdleTimeout, "no Hello received in time");
            return;
        }
        if (_phase is Phase.Greeted or Phase.LoggingIn && now - _preLoginSince > _settings.LoginTimeout.TotalMilliseconds)
        {
            Fail(ErrorCode.IdleTimeout, $"not logged in within {_settings.LoginTimeout.TotalSeconds:0} s");
            return;
        }
        if (now - _lastInbound > _settings.IdleTimeout.TotalMilliseconds)
        {
            Fail(ErrorCode.IdleTimeout, $"no frame for {_settings.IdleTimeout.TotalSeconds:0} s; send Ping to stay connected");
            return;
        }
        if (_reattaching && _phase == Phase.LoggedIn) _users.Tell(new KeepAttached(_user, _device, Self));
        if (_sendDeadlines.Count == 0)
        {
            // thousands of idle connections would otherwise cost thousands of ticks a second
            if (_phase == Phase.LoggedIn && !_reattaching) TickFast(false);
            return;
        }
        List<uint>? expired = null;
        List<uint>? resend = null;
        foreach (var (id, send) in _sendDeadlines)
        {
            if (send.Deadline < now) (expired ??= []).Add(id);
            else if (send.ResendAt < now && send.Command is not null) (resend ??= []).Add(id);
        }
        if (resend is not null && _cluster.State.Members.Count < 2) resend.RemoveAll(id => !_sendDeadlines[id].AfterStop);
        resend?.Sort((a, b) => _sendDeadlines[a].Started.CompareTo(_sendDeadlines[b].Started)); // in the order sent
        foreach (var id in resend ?? [])
        {
            var send = _sendDeadlines[id];
            // a text goes through the region: an entity it was told to directly may be on the node that was lost
            (send.Command is DeliverText ? _users : send.Target!).Tell(send.Command);
            _sendDeadlines[id] = send with { ResendAt = now + ResendAfterMs };
        }
        if (expired is null) return;
        foreach (var id in expired)
        {
            _sendDeadlines.Remove(id);
            _connection.Write(new Error(id, ErrorCode.Unavailable, "the message was not stored in time; resend it with the same client message id"));
        }
    }
}
