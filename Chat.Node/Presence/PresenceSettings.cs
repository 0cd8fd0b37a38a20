using Akka.Configuration;

namespace Chat.Node.Presence;

/// <summary>The <c>chat.presence { }</c> section: how often typing and presence signals may travel.</summary>
public sealed record PresenceSettings
{
    /// <summary>A user's Typing to one conversation is relayed at most once per this; the other side shows it for twice as long.</summary>
    public required TimeSpan TypingInterval { get; init; }
    /// <summary>A group relays typing to its members at most once per this, however many members type.</summary>
    public required TimeSpan GroupTypingInterval { get; init; }
    /// <summary>Members named as typing in one group relay; the others typing in that interval are left out of it.</summary>
    public required int MaxGroupTypists { get; init; }
    /// <summary>A user's presence changes reach their followers at most once per this (the last state wins).</summary>
    public required TimeSpan Coalesce { get; init; }
    /// <summary>Connections that may follow one user's presence at once; further ones are not added.</summary>
    public required int MaxWatchers { get; init; }

    /// <summary>How long a receiver shows "typing…" after a relayed Typing: two intervals, so that a user who keeps typing shows no gap.</summary>
    public int ShowTypingForMs => (int)(TypingInterval.TotalMilliseconds * 2);

    /// <summary>Reads <c>chat.presence</c>; like <see cref="ChatSettings.From"/>, every setting must be present.</summary>
    public static PresenceSettings From(Config config)
    {
        var c = new Required(config, "chat.presence");
        var settings = new PresenceSettings
        {
            TypingInterval = c.Time("typing-interval"),
            GroupTypingInterval = c.Time("group-typing-interval"),
            MaxGroupTypists = c.Int("max-group-typists"),
            Coalesce = c.Time("coalesce"),
            MaxWatchers = c.Int("max-watchers"),
        };
        if (settings.TypingInterval <= TimeSpan.Zero || settings.GroupTypingInterval <= TimeSpan.Zero)
            throw new ArgumentException("chat.presence.typing-interval and group-typing-interval must be positive");
        if (settings.MaxGroupTypists < 1 || settings.MaxWatchers < 1)
            throw new ArgumentException("chat.presence.max-group-typists and max-watchers must be at least 1");
        return settings;
    }
}
