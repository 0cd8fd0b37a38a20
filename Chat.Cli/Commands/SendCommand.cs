using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Chat.Cli.Commands;

internal sealed class SendSettings : ProfileSettings
{
    [CommandOption("-t|--to <PHONE|USERID>", isRequired: true)]
    [Description("Recipient: a phone number starting with '+' (looked up) or a user id")]
    public string To { get; set; } = "";

    [CommandArgument(0, "<TEXT>")]
    [Description("The message; several words are joined with spaces")]
    public string[] Text { get; set; } = [];
}

/// <summary>Sends one text and prints the message id (alone on its line, for scripts).</summary>
internal sealed class SendCommand(IAnsiConsole console, ProfileStore profiles)
    : ChatCommand<SendSettings>(console, profiles)
{
    public override async Task<int> ExecuteAsync(CommandContext context, SendSettings settings,
        CancellationToken cancellationToken)
    {
        var profile = Profiles.Load(settings.Profile);
        var (client, _) = await LoginAsync(profile, CommandDevice, cancellationToken);
        await using (client)
        {
            var to = await ResolveUserAsync(client, settings.To, cancellationToken);
            var accepted = await client.SendAsync(to, string.Join(' ', settings.Text), cancellationToken: cancellationToken);
            Out.WriteLine(accepted.MessageId);
        }
        return 0;
    }
}
