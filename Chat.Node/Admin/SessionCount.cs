using Akka.Actor;

namespace Chat.Node.Admin;

/// <summary>
/// Logged-in sessions of one node (one actor system), for <c>chat admin sessions</c>. The chat.sessions gauge counts
/// the process; this counts the node, which differs only when tests run several nodes in one process.
/// </summary>
public sealed class SessionCount : IExtension
{
    private int _loggedIn;

    public int LoggedIn => Volatile.Read(ref _loggedIn);

    public void Started() => Interlocked.Increment(ref _loggedIn);
    public void Ended() => Interlocked.Decrement(ref _loggedIn);

    public static SessionCount Get(ActorSystem system) => system.WithExtension<SessionCount, SessionCountProvider>();

    private sealed class SessionCountProvider : ExtensionIdProvider<SessionCount>
    {
        public override SessionCount CreateExtension(ExtendedActorSystem system) => new();
    }
}
