using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Chat.Cli.Commands;

internal sealed class SendSettings : ProfileSettings
{
    [CommandOption("-t|--to <PHONE|USERID>")]
    [Description("Recipient: a phone number starting with '+' (looked up) or a user id. Give this or --group")]
    public string? To { get; set; }

    [CommandOption("-g|--group <GROUPID>")]
    [Description("A group you are a member of (g...). Give this or --to")]
    public string? Group { get; set; }

    [CommandArgument(0, "<TEXT>")]
    [Description("The message; several words are joined with spaces")]
    public string[] Text { get; set; } = [];

    public override ValidationResult Validate()
    {
        var result = base.Validate();
        if (!result.Successful) return result;
        return (To, Group) switch
        {
            (null, null) => ValidationResult.Error("give the recipient: --to PHONE|USERID or --group GROUPID"),
            (not null, not null) => ValidationResult.Error("give either --to or --group, not both"),
            (not null, null) when ChatIds.IsGroupId(To) => ValidationResult.Error($"'{To}' is a group id; use --group"),
            (null, not null) when !ChatIds.IsGroupId(Group) =>
                ValidationResult.Error($"--group must be a group id ('g' and 16 characters), got '{Group}'"),
            _ => ValidationResult.Success(),
        };
    }
}

/// <summary>Sends one text to a user or a group and prints the message id (alone on its line, for scripts).</summary>
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
            var text = string.Join(' ', settings.Text);
            var accepted = settings.Group is { } group
                ? await client.SendGroupAsync(group, text, cancellationToken: cancellationToken)
                : await client.SendAsync(await ResolveUserAsync(client, settings.To!, cancellationToken), text,
                    cancellationToken: cancellationToken);
            Out.WriteLine(accepted.MessageId);
        }
        return 0;
    }
}
