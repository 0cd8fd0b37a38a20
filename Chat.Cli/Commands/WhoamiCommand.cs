using Spectre.Console;
using Spectre.Console.Cli;

namespace Chat.Cli.Commands;

/// <summary>Shows the saved profile; works offline.</summary>
internal sealed class WhoamiCommand(IAnsiConsole console, ProfileStore profiles)
    : ChatCommand<ProfileSettings>(console, profiles)
{
    public override Task<int> ExecuteAsync(CommandContext context, ProfileSettings settings,
        CancellationToken cancellationToken)
    {
        var profile = Profiles.Load(settings.Profile);
        Say($"[grey]user id[/] {profile.UserId.EscapeMarkup()}");
        Say($"[grey]name[/]    {profile.Name.EscapeMarkup()}");
        Say($"[grey]phone[/]   {profile.Phone.EscapeMarkup()}");
        Say($"[grey]server[/]  {profile.Server.EscapeMarkup()}");
        return Task.FromResult(0);
    }
}
