using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Chat.Cli.Commands;

internal sealed class DownloadSettings : ProfileSettings
{
    [CommandArgument(0, "<MEDIA_ID>")]
    [Description("The media id of an image or video message (listen shows it)")]
    public string MediaId { get; set; } = "";

    [CommandOption("-o|--out <PATH>", isRequired: true)]
    [Description("Where to write the file (replaced if it exists)")]
    public string Out { get; set; } = "";

    public override ValidationResult Validate()
    {
        var result = base.Validate();
        if (!result.Successful) return result;
        var dir = Path.GetDirectoryName(Path.GetFullPath(Out));
        return dir is not null && !Directory.Exists(dir)
            ? ValidationResult.Error($"the folder of --out does not exist: {dir}")
            : ValidationResult.Success();
    }
}

/// <summary>
/// Downloads an image or video by media id in ranged chunks, with a progress bar on a terminal, checks its SHA-256
/// and only then moves it to <c>--out</c>; prints the content type and size.
/// </summary>
internal sealed class DownloadCommand(IAnsiConsole console, ProfileStore profiles)
    : ChatCommand<DownloadSettings>(console, profiles)
{
    public override async Task<int> ExecuteAsync(CommandContext context, DownloadSettings settings,
        CancellationToken cancellationToken)
    {
        var profile = Profiles.Load(settings.Profile);
        var (client, _) = await LoginAsync(profile, CommandDevice, cancellationToken);
        var target = Path.GetFullPath(settings.Out);
        var partial = target + ".part";
        await using (client)
        {
            try
            {
                Protocol.MediaChunk last;
                await using (var file = File.Create(partial))
                {
                    last = await MediaFiles.WithProgress(Console, $"downloading {settings.MediaId}",
                        progress => client.DownloadAsync(settings.MediaId, file, progress, cancellationToken));
                }
                File.Move(partial, target, overwrite: true);
                Out.WriteLine($"{last.ContentType} {last.Size} bytes → {settings.Out}");
            }
            finally
            {
                if (File.Exists(partial)) File.Delete(partial);
            }
        }
        return 0;
    }

}
