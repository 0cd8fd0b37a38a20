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

    [CommandOption("--code <CODE>")]
    [Description("The code an earlier `chat register` had sent to the phone: verify with it instead of asking for a new one. " +
                 "Without it, the server sends a code and the command asks for it on standard input")]
    public string? Code { get; set; }

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

/// <summary>Where <c>chat register</c> reads the verification code from: standard input, or a test's reader.</summary>
internal sealed record CodeInput(TextReader Reader);

/// <summary>
/// Creates a user: asks the server to send a code to the phone, reads the code (from standard input, or <c>--code</c>),
/// verifies it, logs in once to check the token, saves the profile and prints the user id. A server in its test mode
/// hands the code back, and one with verification off registers at once: no code is asked for.
/// </summary>
internal sealed class RegisterCommand(IAnsiConsole console, ProfileStore profiles, CodeInput input)
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
        var client = await ConnectAsync(servers, CommandDevice, cancellationToken);
        try
        {
            Registered registered;
            var code = settings.Code?.Trim();
            CodeSent? sent = null;
            if (code is null)
            {
                var answer = await client.RequestCodeAsync(settings.Name, settings.Phone, settings.Email, cancellationToken);
                if (answer is Registered atOnce) registered = atOnce; // the server does not verify numbers
                else
                {
                    sent = (CodeSent)answer;
                    code = sent.Code;
                }
            }
            while (true)
            {
                if (code is null)
                {
                    // a person may take longer to read the code than the server waits for an unauthenticated
                    // connection: this one is closed while they read, and a new one brings the code
                    await client.DisposeAsync();
                    code = await AskCodeAsync(sent!, settings.Phone, cancellationToken);
                    client = await ConnectAsync(servers, CommandDevice, cancellationToken);
                }
                try
                {
                    registered = await client.VerifyAsync(settings.Phone, code, settings.Name, settings.Email, cancellationToken);
                    break;
                }
                catch (ChatException e) when (e.Code == ErrorCode.WrongCode && settings.Code is null && sent is { Code: null })
                {
                    System.Console.Error.WriteLine($"error: {e.Code}: {e.Message}");
                    code = null;
                }
            }
            var loggedIn = await client.LoginAsync(registered.Token, cancellationToken);
            Profiles.Save(settings.Profile, new Profile(servers, loggedIn.UserId, registered.Token,
                loggedIn.Name, loggedIn.Phone, LastSeq: 0));
            Out.WriteLine(loggedIn.UserId);
            return 0;
        }
        finally
        {
            await client.DisposeAsync();
        }
    }

    /// <summary>The prompt goes to standard error, so that standard output holds only the user id.</summary>
    private async Task<string> AskCodeAsync(CodeSent sent, string phone, CancellationToken ct)
    {
        var minutes = Math.Max(1, sent.ExpiresIn / 60);
        System.Console.Error.Write($"a code was sent to {phone} (valid for {minutes} min); enter it: ");
        var line = await input.Reader.ReadLineAsync(ct);
        if (string.IsNullOrWhiteSpace(line))
            throw new CliException($"no code entered; the code sent to {phone} stays valid for {minutes} min: " +
                                   "run chat register again with --code CODE");
        return line.Trim();
    }
}
