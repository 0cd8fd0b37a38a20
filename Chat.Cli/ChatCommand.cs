using System.ComponentModel;
using System.Net.Sockets;
using Chat.Protocol;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Chat.Cli;

/// <summary>An expected failure: printed as <c>error: message</c> on stderr, exit code 1, no stack trace.</summary>
internal sealed class CliException(string message) : Exception(message);

/// <summary>Shapes of the ids the server hands out, so commands can tell what the user typed.</summary>
internal static class ChatIds
{
    /// <summary>A group id: "g" then 16 characters (user ids start with "u", phone numbers with "+").</summary>
    public static bool IsGroupId(string? s) => s is { Length: 17 } && s[0] == 'g';

    /// <summary>Splits a comma-separated list, trimming each item and dropping empty ones.</summary>
    public static IReadOnlyList<string> SplitList(string? list)
        => (list ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
}

/// <summary>Settings shared by every command that works on a saved profile.</summary>
internal class ProfileSettings : CommandSettings
{
    [CommandOption("-p|--profile <NAME>")]
    [Description("Profile: letters, digits, '-', '_'. Saved as NAME.json in $CHAT_HOME (default ~/.chat)")]
    [DefaultValue("default")]
    public string Profile { get; set; } = "default";

    public override ValidationResult Validate()
        => ProfileStore.IsValidName(Profile)
            ? ValidationResult.Success()
            : ValidationResult.Error($"invalid profile name '{Profile}': use letters, digits, '-' and '_'");
}

/// <summary>
/// Base of the chat commands: gives them the console (whose writer is the run's stdout), the profile store
/// and helpers to connect and to resolve users.
/// </summary>
internal abstract class ChatCommand<TSettings>(IAnsiConsole console, ProfileStore profiles) : AsyncCommand<TSettings>
    where TSettings : ProfileSettings
{
    /// <summary>Device name of short-lived commands. A second login with the same device replaces the first session.</summary>
    protected const string CommandDevice = "cli";

    protected IAnsiConsole Console { get; } = console;
    protected ProfileStore Profiles { get; } = profiles;

    /// <summary>Plain output for scripts (ids, JSON): written verbatim, never wrapped or styled.</summary>
    protected TextWriter Out => Console.Profile.Out.Writer;

    /// <summary>A line for humans: styled on a terminal, plain text when redirected.</summary>
    protected void Say(string markup)
    {
        if (Console.Profile.Capabilities.Ansi) Console.MarkupLine(markup);
        else Out.WriteLine(Markup.Remove(markup));
    }

    /// <summary>Connects to <paramref name="server"/>: one <c>host:port</c>, or a cluster's nodes comma-separated (the first that answers).</summary>
    protected static async Task<ChatClient> ConnectAsync(string server, string device, CancellationToken ct)
    {
        var options = new ChatClientOptions { ClientName = "chat-cli", Device = device };
        try
        {
            return await ChatClient.ConnectAsync(server, options, ct);
        }
        catch (Exception e) when (e is SocketException or IOException or TimeoutException)
        {
            var reason = e is TimeoutException ? "no answer from server" : e.Message;
            throw new CliException($"cannot connect to {server} ({reason})");
        }
    }

    /// <summary>Connects to the profile's server (or the first of its servers that answers) and logs in.</summary>
    protected static async Task<(ChatClient Client, LoggedIn LoggedIn)> LoginAsync(
        Profile profile, string device, CancellationToken ct)
    {
        var client = await ConnectAsync(profile.Server, device, ct);
        try
        {
            return (client, await client.LoginAsync(profile.Token, ct));
        }
        catch
        {
            await client.DisposeAsync();
            throw;
        }
    }

    /// <summary>A user id, or a phone number (starting with '+') looked up on the server.</summary>
    protected static async Task<string> ResolveUserAsync(ChatClient client, string phoneOrUserId, CancellationToken ct)
        => phoneOrUserId.StartsWith('+')
            ? (await client.LookupAsync(phoneOrUserId, ct)).UserId
            : phoneOrUserId;

    /// <summary>Resolves each entry as <see cref="ResolveUserAsync"/>, in order, without duplicates.</summary>
    protected static async Task<IReadOnlyList<string>> ResolveUsersAsync(ChatClient client,
        IEnumerable<string> phonesOrUserIds, CancellationToken ct)
    {
        var users = new List<string>();
        foreach (var entry in phonesOrUserIds)
        {
            var user = await ResolveUserAsync(client, entry, ct);
            if (!users.Contains(user)) users.Add(user);
        }
        return users;
    }
}
