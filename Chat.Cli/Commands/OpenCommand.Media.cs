using Chat.Cli.Open;
using Chat.Protocol;

namespace Chat.Cli.Commands;

// Images and videos in the terminal chat: /file uploads and sends one with a progress bar on its line, /save downloads
// one with a progress bar into a folder. Both run in the background; the UI thread applies their progress and outcome.
internal sealed partial class OpenCommand
{
    /// <summary>How long an upload cut off by a lost connection waits for the reconnect before its line says "not sent".</summary>
    private static readonly TimeSpan UploadResumeWithin = TimeSpan.FromMinutes(5);

    /// <summary>/file PATH [CAPTION]: checks the file here first, so that a wrong path or type is one clear line.</summary>
    private void SendFile(string arguments)
    {
        var (path, caption) = TakePath(arguments);
        if (path is null)
        {
            _notice = "/file needs the PATH of an image or video";
            return;
        }
        if (WritableConversation() is not { } open) return;
        var full = Path.GetFullPath(path);
        if (Directory.Exists(full))
        {
            _notice = $"'{path}' is a folder; /file sends a file";
            return;
        }
        if (!File.Exists(full))
        {
            _notice = $"no file '{path}'";
            return;
        }
        if (MediaFiles.ContentTypeOf(full) is not { } type)
        {
            _notice = $"'{Path.GetFileName(full)}' is not an image or video by its name (.jpg .png .webp .gif .mp4 .webm)";
            return;
        }
        var size = new FileInfo(full).Length;
        if (size == 0)
        {
            _notice = $"'{path}' is empty";
            return;
        }
        var line = _view.AddOutgoingMedia(open, type, size, caption, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        Background(SendFileAsync(open, line, full, type, caption),
            accepted => _view.Accepted(open, line, accepted.MessageId),
            error => ChatView.SendFailed(line, error));
    }

    private async Task<Accepted> SendFileAsync(Conversation to, ChatLine line, string path, string type, string caption)
    {
        UploadComplete uploaded;
        try
        {
            await using var file = File.OpenRead(path);
            // the screen reconnects on its own (StayConnectedAsync): a lost connection pauses the upload, which then goes
            // on from where the server's copy ends; the message after it is resent with its client message id
            uploaded = await _client.UploadAsync(file, type, progress: new OnLoop(this, p => line.Transfer = p),
                resumeWithin: UploadResumeWithin, cancellationToken: _ct).ConfigureAwait(false);
        }
        catch (ChatException e) when (e.Code == ErrorCode.MediaTooLarge)
        {
            throw new IOException($"too large: {e.Message}", e);
        }
        var media = new MediaRef(uploaded.MediaId, uploaded.ContentType, uploaded.Size);
        OnUi(() => ChatView.Uploaded(line, media));
        var text = caption.Length == 0 ? null : caption;
        return to.IsGroup
            ? await _client.SendGroupMediaAsync(to.Key, media, text, cancellationToken: _ct).ConfigureAwait(false)
            : await _client.SendMediaAsync(to.Key, media, text, cancellationToken: _ct).ConfigureAwait(false);
    }

    /// <summary>/save [N] [DIR]: image or video number N of the open conversation (default: the newest) into DIR (default: here).</summary>
    private void Save(string arguments)
    {
        if (_view.Open is not { } open)
        {
            _notice = "open a conversation first";
            return;
        }
        var rest = arguments.Trim();
        int? number = null;
        var first = rest.Split(' ', 2)[0];
        if (first.Length > 0 && first.All(char.IsAsciiDigit))
        {
            number = int.Parse(first, System.Globalization.CultureInfo.InvariantCulture);
            rest = rest[first.Length..];
        }
        var (dir, extra) = TakePath(rest);
        if (extra.Length > 0)
        {
            _notice = "/save [N] [DIR]: put a DIR with spaces in \"quotes\"";
            return;
        }
        var folder = Path.GetFullPath(dir ?? Environment.CurrentDirectory);
        if (!Directory.Exists(folder))
        {
            _notice = $"no folder '{dir}'";
            return;
        }
        if (ChatView.MediaToSave(open, number) is not { Media: { } media } line)
        {
            _notice = number is { } n ? $"no image or video #{n} in this conversation" : "no image or video in this conversation";
            return;
        }
        if (line.Transfer is not null)
        {
            _notice = "already saving it";
            return;
        }
        var target = Path.Combine(folder, media.MediaId + MediaFiles.ExtensionOf(media.ContentType));
        line.Transfer = new TransferProgress(0, media.Size);
        Background(DownloadAsync(line, media.MediaId, target),
            _ =>
            {
                line.Transfer = null;
                line.SavedTo = target;
                _notice = $"saved {Rows.MediaLabel(media, null)} to {target}";
            },
            error =>
            {
                line.Transfer = null;
                _notice = "could not save: " + error;
            });
    }

    /// <summary>Downloads next to the target and moves it there only once its SHA-256 checked out.</summary>
    private async Task<bool> DownloadAsync(ChatLine line, string mediaId, string target)
    {
        var partial = target + ".part";
        try
        {
            await using (var file = File.Create(partial))
                await _client.DownloadAsync(mediaId, file, new OnLoop(this, p => line.Transfer = p), _ct).ConfigureAwait(false);
            File.Move(partial, target, overwrite: true);
            return true;
        }
        finally
        {
            if (File.Exists(partial)) File.Delete(partial);
        }
    }

    /// <summary>
    /// A path and what follows it: the first word, or a "quoted path with spaces"; ~ is the home folder.
    /// Null when <paramref name="arguments"/> is empty.
    /// </summary>
    internal static (string? Path, string After) TakePath(string arguments)
    {
        var s = arguments.Trim();
        if (s.Length == 0) return (null, "");
        string path, rest;
        if (s[0] == '"' && s.IndexOf('"', 1) is var end and > 0)
            (path, rest) = (s[1..end], s[(end + 1)..]);
        else if (s.IndexOf(' ') is var space and > 0)
            (path, rest) = (s[..space], s[space..]);
        else
            (path, rest) = (s, "");
        if (path == "~" || path.StartsWith("~/", StringComparison.Ordinal))
            path = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile) + path[1..];
        return (path, rest.Trim());
    }

    /// <summary>Transfer progress handed to the UI thread, which owns the view (reports come from the transfer's thread).</summary>
    private sealed class OnLoop(OpenCommand owner, Action<TransferProgress> apply) : IProgress<TransferProgress>
    {
        public void Report(TransferProgress value) => owner.OnUi(() => apply(value));
    }
}
