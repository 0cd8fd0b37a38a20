using System.Collections.Concurrent;
using System.Threading.Channels;

namespace Chat.Protocol;

// Typing and presence: Subscribe (renewed after every reconnect), Typing (throttled here, so that a caller may report
// every keystroke), SetPrivacy, and the signals the server sends: on Signals, and the latest per user and conversation.
public sealed partial class ChatClient
{
    private readonly Channel<Frame> _signals = Channel.CreateBounded<Frame>(new BoundedChannelOptions(256)
    {
        SingleWriter = true,
        FullMode = BoundedChannelFullMode.DropOldest, // ephemeral: a reader that falls behind loses the oldest, not the socket
    });
    private readonly ConcurrentDictionary<string, Presence> _presence = new();
    /// <summary>Who types where: (conversation, user) to when it stops showing (TickCount64).</summary>
    private readonly ConcurrentDictionary<(string Conversation, string From), long> _typing = new();
    /// <summary>Per conversation, when this client may next tell the server it types (TickCount64).</summary>
    private readonly ConcurrentDictionary<string, long> _typingAllowedAt = new();
    private Subscribe? _subscription;

    /// <summary>
    /// <see cref="Presence"/> and <see cref="UserTyping"/> frames, as they arrive, once <see cref="SubscribeAsync"/> asked
    /// for them. Bounded: when the reader falls behind, the oldest are dropped.
    /// </summary>
    public ChannelReader<Frame> Signals => _signals.Reader;

    /// <summary>The latest <see cref="Presence"/> of each followed user, by user id.</summary>
    public IReadOnlyDictionary<string, Presence> PresenceOf => _presence;

    /// <summary>
    /// Asks for typing signals (<paramref name="typing"/>) and the presence of <paramref name="presence"/> (at most
    /// <see cref="Subscribe.MaxWatched"/> users; replaces the previous list). The subscription is renewed after a
    /// reconnect. Only users who share a one-to-one conversation with this user are followed.
    /// </summary>
    public async Task SubscribeAsync(bool typing, IReadOnlyList<string> presence, CancellationToken cancellationToken = default)
    {
        var ids = presence.Distinct().ToList();
        foreach (var id in _presence.Keys) if (!ids.Contains(id)) _presence.TryRemove(id, out _);
        await RequestAsync(id => _subscription = new Subscribe(id, typing, ids), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Tells the other side of <paramref name="to"/> (a user id or a group id) that this user is typing. Call it as often
    /// as the user types: it goes to the server at most once per <see cref="ChatClientOptions.TypingInterval"/> per
    /// conversation (or once the server's retry time passed). True when this call was relayed; false when it was not sent
    /// (too soon) or the server limited it.
    /// </summary>
    /// <exception cref="ChatException">The server refused it for another reason (not a member of the group, no such user).</exception>
    public async Task<bool> TypingAsync(string to, CancellationToken cancellationToken = default)
    {
        var now = Environment.TickCount64;
        if (_typingAllowedAt.TryGetValue(to, out var allowedAt) && now < allowedAt) return false;
        _typingAllowedAt[to] = now + (long)_options.TypingInterval.TotalMilliseconds;
        try
        {
            await RequestAsync(id => new Typing(id, to), cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (ChatException e) when (e.Code == ErrorCode.RateLimited)
        {
            _typingAllowedAt[to] = Environment.TickCount64 + (long)(e.RetryAfter ?? _options.TypingInterval).TotalMilliseconds;
            return false;
        }
    }

    /// <summary>Hides (or shows again) this user's last seen from the people who follow their presence. Stored by the server.</summary>
    public async Task SetLastSeenHiddenAsync(bool hidden, CancellationToken cancellationToken = default) =>
        await RequestAsync(id => new SetPrivacy(id, hidden), cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// The users shown typing in a conversation now: for a user id, that user (one-to-one); for a group id, its members
    /// who type. A signal shows for its <see cref="UserTyping.ForMs"/>, or until a message from that user arrives.
    /// </summary>
    public IReadOnlyList<string> TypingIn(string conversation)
    {
        var now = Environment.TickCount64;
        var typing = new List<string>();
        foreach (var ((where, from), until) in _typing)
        {
            if (until <= now) _typing.TryRemove((where, from), out _);
            else if (where == conversation) typing.Add(from);
        }
        return typing;
    }

    private void OnSignal(Frame frame)
    {
        switch (frame)
        {
            case Presence p:
                _presence[p.UserId] = p;
                break;
            case UserTyping t:
                _typing[(t.Group ?? t.From, t.From)] = Environment.TickCount64 + t.ForMs;
                break;
        }
        _signals.Writer.TryWrite(frame);
    }

    /// <summary>A message ends its sender's "typing…" in that conversation.</summary>
    private void StopTypingOf(Message m) => _typing.TryRemove((m.Group ?? m.From, m.From), out _);

    /// <summary>A new connection knows no subscription: the last one is asked again (its Ok is not awaited).</summary>
    private void ResubscribeOn(Connection connection)
    {
        if (_subscription is not { } s) return;
        _presence.Clear();
        connection.Enqueue(s with { RequestId = NextRequestId() });
    }
}
