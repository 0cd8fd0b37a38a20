using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Chat.Cli.Commands;

internal sealed class ReadSettings : ProfileSettings
{
    [CommandOption("-w|--with <PHONE|USERID|GROUPID>", isRequired: true)]
    [Description("The other user: a phone number starting with '+' (looked up) or a user id; " +
                 "or a group id (g...) to mark every message in that group read")]
    public string With { get; set; } = "";
}

/// <summary>Marks every message from one user, or in one group, read, up to the newest inbox entry.</summary>
internal sealed class ReadCommand(IAnsiConsole console, ProfileStore profiles)
    : ChatCommand<ReadSettings>(console, profiles)
{
    public override async Task<int> ExecuteAsync(CommandContext context, ReadSettings settings,
        CancellationToken cancellationToken)
    {
        var profile = Profiles.Load(settings.Profile);
        var (client, loggedIn) = await LoginAsync(profile, CommandDevice, cancellationToken);
        await using (client)
        {
            // The server takes a group id in Read.With as it takes a user id.
            var with = ChatIds.IsGroupId(settings.With)
                ? settings.With
                : await ResolveUserAsync(client, settings.With, cancellationToken);
            // LoggedIn.LastSeq is the newest inbox entry, possibly past what listen has seen. The server only marks
            // read what this session has delivered, so first declare everything up to it delivered: a sync after
            // LastSeq transfers no stored entries.
            await client.SyncAsync(loggedIn.LastSeq, cancellationToken);
            await client.ReadAsync(with, loggedIn.LastSeq, cancellationToken);
        }
        Out.WriteLine("marked read");
        return 0;
    }
}
