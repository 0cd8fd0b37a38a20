using Chat.Cli.Open;
using Chat.Protocol;

namespace Chat.Tests;

/// <summary>What `chat open` writes in the conversation header about the other side.</summary>
public sealed class PresenceTextTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 30, 15, 0, 0, TimeSpan.Zero);
    private static string Name(string id) => id == "ua" ? "Alice" : id == "uc" ? "Carol" : id;
    private static long At(DateTimeOffset t) => t.ToUnixTimeMilliseconds();

    [Fact]
    public void Typing_comes_first_then_online_then_last_seen()
    {
        Assert.Equal("typing…", PresenceText.Describe(false, ["ua"], new Presence("ua", true, 0), Name, Now));
        Assert.Equal("online", PresenceText.Describe(false, [], new Presence("ua", true, 0), Name, Now));
        Assert.Equal("last seen today at 14:05", PresenceText.Describe(false, [], new Presence("ua", false, At(Now.AddMinutes(-55))), Name, Now));
        Assert.Equal("last seen yesterday at 23:30", PresenceText.Describe(false, [], new Presence("ua", false, At(Now.AddHours(-15.5))), Name, Now));
        Assert.Equal("last seen 20 Nov at 15:00", PresenceText.Describe(false, [], new Presence("ua", false, At(Now.AddDays(-10))), Name, Now));
    }

    [Fact]
    public void Hidden_or_unknown_presence_says_nothing_and_groups_name_who_types()
    {
        Assert.Null(PresenceText.Describe(false, [], new Presence("ua", false, 0), Name, Now));
        Assert.Null(PresenceText.Describe(false, [], null, Name, Now));
        Assert.Null(PresenceText.Describe(true, [], null, Name, Now));
        Assert.Equal("Alice is typing…", PresenceText.Describe(true, ["ua"], null, Name, Now));
        Assert.Equal("Alice, Carol are typing…", PresenceText.Describe(true, ["ua", "uc"], null, Name, Now));
    }
}
