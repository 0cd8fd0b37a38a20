using Chat.Protocol;
using Spectre.Console;

namespace Chat.Cli;

/// <summary>Content types by file name, and progress bars for uploads and downloads.</summary>
internal static class MediaFiles
{
    private static readonly Dictionary<string, string> ByExtension = new(StringComparer.OrdinalIgnoreCase)
    {
        [".jpg"] = "image/jpeg",
        [".jpeg"] = "image/jpeg",
        [".png"] = "image/png",
        [".webp"] = "image/webp",
        [".gif"] = "image/gif",
        [".mp4"] = "video/mp4",
        [".m4v"] = "video/mp4",
        [".webm"] = "video/webm",
    };

    public static string? ContentTypeOf(string path) => ByExtension.GetValueOrDefault(Path.GetExtension(path));

    /// <summary>The usual file extension of a content type (".jpg" for image/jpeg), or "" for one not known.</summary>
    public static string ExtensionOf(string contentType) =>
        ByExtension.FirstOrDefault(e => string.Equals(e.Value, contentType, StringComparison.OrdinalIgnoreCase)).Key ?? "";

    /// <summary>
    /// Runs a transfer with a progress bar when the console is a terminal; otherwise silently (scripts get only the
    /// result line on standard output).
    /// </summary>
    public static async Task<T> WithProgress<T>(IAnsiConsole console, string label, Func<IProgress<TransferProgress>, Task<T>> transfer)
    {
        if (!console.Profile.Capabilities.Interactive)
            return await transfer(new Progress<TransferProgress>(_ => { }));
        T result = default!;
        await console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(),
                new DownloadedColumn(), new TransferSpeedColumn(), new RemainingTimeColumn())
            .StartAsync(async ctx =>
            {
                var task = ctx.AddTask(label.EscapeMarkup(), maxValue: 1);
                result = await transfer(new Progress<TransferProgress>(p =>
                {
                    task.MaxValue = Math.Max(1, p.Total);
                    task.Value = p.Done;
                }));
                task.Value = task.MaxValue;
            });
        return result;
    }
}
