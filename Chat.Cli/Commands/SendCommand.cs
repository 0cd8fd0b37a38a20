using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;
using Chat.Protocol;

namespace Chat.Cli.Commands;

internal sealed class SendSettings : ProfileSettings
{
    [CommandOption("-t|--to <PHONE|USERID>")]
    [Description("Recipient: a phone number starting with '+' (looked up) or a user id. Give this or --group")]
    public string? To { get; set; }

    [CommandOption("-g|--group <GROUPID>")]
    [Description("A group you are a member of (g...). Give this or --to")]
    public string? Group { get; set; }

    [CommandArgument(0, "[TEXT]")]
    [Description("The message; several words are joined with spaces")]
    public string[] Text { get; set; } = [];

    [CommandOption("-f|--file <PATH>")]
    [Description("Send an image or video (JPEG, PNG, WebP, GIF, MP4, WebM) instead of a text")]
    public string? File { get; set; }

    [CommandOption("-c|--caption <TEXT>")]
    [Description("Caption of the image or video sent with --file")]
    public string? Caption { get; set; }

    [CommandOption("--type <CONTENT-TYPE>")]
    [Description("Content type of --file when its extension does not tell (e.g. image/png)")]
    public string? ContentType { get; set; }

    public override ValidationResult Validate()
    {
        var result = base.Validate();
        if (!result.Successful) return result;
        if (File is null && Text.Length == 0) return ValidationResult.Error("give the text to send, or --file PATH");
        if (File is not null && Text.Length > 0) return ValidationResult.Error("with --file, give the caption with --caption, not as text");
        if (File is null && Caption is not null) return ValidationResult.Error("--caption goes with --file");
        if (File is not null && !System.IO.File.Exists(File)) return ValidationResult.Error($"no file '{File}'");
        if (File is not null && (ContentType ?? MediaFiles.ContentTypeOf(File)) is null)
            return ValidationResult.Error($"cannot tell the content type of '{File}' from its name; give --type");
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

/// <summary>
/// Sends one text, image or video to a user or a group and prints the message id (alone on its line, for scripts).
/// A file is uploaded in chunks with a progress bar on a terminal; a dropped connection resumes where the server's copy ends.
/// </summary>
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
            var to = settings.Group is null ? await ResolveUserAsync(client, settings.To!, cancellationToken) : null;
            Accepted accepted;
            if (settings.File is { } path)
            {
                var type = settings.ContentType ?? MediaFiles.ContentTypeOf(path)!;
                var uploaded = await MediaFiles.WithProgress(Console, $"uploading {Path.GetFileName(path)}",
                    progress => UploadAsync(client, path, type, progress, cancellationToken));
                var media = new MediaRef(uploaded.MediaId, uploaded.ContentType, uploaded.Size);
                accepted = settings.Group is { } g
                    ? await client.SendGroupMediaAsync(g, media, settings.Caption, cancellationToken: cancellationToken)
                    : await client.SendMediaAsync(to!, media, settings.Caption, cancellationToken: cancellationToken);
            }
            else
            {
                var text = string.Join(' ', settings.Text);
                accepted = settings.Group is { } group
                    ? await client.SendGroupAsync(group, text, cancellationToken: cancellationToken)
                    : await client.SendAsync(to!, text, cancellationToken: cancellationToken);
            }
            Out.WriteLine(accepted.MessageId);
        }
        return 0;
    }

    /// <summary>Uploads, and after a dropped connection reconnects and resumes the same upload (a few times).</summary>
    private static async Task<UploadComplete> UploadAsync(ChatClient client, string path, string type, IProgress<TransferProgress> progress,
        CancellationToken ct)
    {
        await using var file = System.IO.File.OpenRead(path);
        string? uploadId = null;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await client.UploadAsync(file, type, uploadId, progress, id => uploadId = id, cancellationToken: ct);
            }
            catch (Exception e) when (attempt < 5 && uploadId is not null && e is IOException or TimeoutException
                                          or ChatException { Code: ErrorCode.Unavailable or ErrorCode.WrongOffset })
            {
                await Task.Delay(TimeSpan.FromMilliseconds(200 * attempt), ct);
                await client.ReconnectAsync(ct);
            }
        }
    }
}
