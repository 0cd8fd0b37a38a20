using System.ComponentModel;
using Chat.Protocol;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Chat.Cli.Commands;

internal sealed class RegisterSettings : ProfileSettings
{
    [CommandOption("-s|--server <HOST:PORT>", isRequired: true)]
    [Description("Server to register on, e.g. localhost:7400; for a cluster, a comma-separated list of its nodes " +
                 "(a:7400,b:7400,c:7400). The profile keeps them all: commands connect to the first that answers and move on to the next")]
    public string Server { get; set; } = "";

    [CommandOption("-n|--name <NAME>", isRequired: true)]
    [Description("Display name")]
    public string Name { get; set; } = "";

    [CommandOption("--phone <PHONE>", isRequired: true)]
    [Description("Phone number in E.164 form, e.g. +4915112345678")]
    public string Phone { get; set; } = "";

    [CommandOption("-e|--email <EMAIL>")]
    [Description("E-mail address (optional)")]
    public string? Email { get; set; }

    public override ValidationResult Validate()
    {
        var result = base.Validate();
        if (!result.Successful) return result;
        try
        {
            ServerAddress.ParseList(Server);
            return ValidationResult.Success();
        }
        catch (ArgumentException)
        {
            return ValidationResult.Error($"--server must be HOST:PORT or a comma-separated list of them, got '{Server}'");
        }
    }
}

/// <summary>Creates a user, logs in once to check the token, saves the profile and prints the user id.</summary>
internal sealed class RegisterCommand(IAnsiConsole console, ProfileStore profiles)
    : ChatCommand<RegisterSettings>(console, profiles)
{
    public override async Task<int> ExecuteAsync(CommandContext context, RegisterSettings settings,
        CancellationToken cancellationToken)
    {
        // Refuse before registering: overwriting would lose the old token, which the server shows only once.
        if (Profiles.Exists(settings.Profile))
            throw new CliException($"profile {settings.Profile} already exists ({Profiles.PathOf(settings.Profile)}); " +
                                   "choose another --profile");

        // Every address is kept, not just the one that answered now: later commands need the others when it is down.
        var servers = ServerAddress.Join(ServerAddress.ParseList(settings.Server));
        await using var client = await ConnectAsync(servers, CommandDevice, cancellationToken);
        var registered = await client.RegisterAsync(settings.Name, settings.Phone, settings.Email, cancellationToken);
        var loggedIn = await client.LoginAsync(registered.Token, cancellationToken);
        Profiles.Save(settings.Profile, new Profile(servers, loggedIn.UserId, registered.Token,
            loggedIn.Name, loggedIn.Phone, LastSeq: 0));
        Out.WriteLine(loggedIn.UserId);
        return 0;
    }
}
