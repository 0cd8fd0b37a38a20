using Akka.Actor;
using Akka.Event;
using Chat.Protocol;
using Error = Chat.Protocol.Error;

namespace Chat.Node.Media;

/// <summary>
/// A session's uploads and downloads, one request at a time, off the session: while a chunk is being written
/// to storage the session keeps handling chat traffic, so a large upload delays other frames by at most the
/// chunk in hand. Created by the session on its first media request; stops with it.
/// </summary>
public sealed class MediaTransfer : ReceiveActor
{
    /// <summary>A media frame from the client (StartUpload, ResumeUpload, UploadChunk or Download).</summary>
    public sealed record Request(Frame Frame) : INoSerializationVerificationNeeded;

    /// <summary>The frame to write back to the client.</summary>
    public sealed record Answer(Frame Frame) : INoSerializationVerificationNeeded;

    private readonly IMediaStore _store;
    private readonly MediaSettings _settings;
    private readonly string _user;
    private readonly TimeProvider _clock;
    private readonly Func<string, Task<bool>> _maySee;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    /// <summary>
    /// What was declared for this user's uploads, and stored items being downloaded: both fixed once known, so a
    /// chunk does not read the store's metadata again (the store still checks every append and read itself).
    /// Forgotten after any store error, and a few at a time at most.
    /// </summary>
    private readonly Dictionary<string, UploadInfo> _declared = [];
    private readonly Dictionary<string, MediaInfo> _stored = [];
    private const int Remembered = 8;

    /// <param name="maySee">Whether the user may download media someone else uploaded (a message in their inbox names it).</param>
    public MediaTransfer(IMediaStore store, MediaSettings settings, string user, TimeProvider clock, Func<string, Task<bool>> maySee)
    {
        _maySee = maySee;
        _store = store;
        _settings = settings;
        _user = user;
        _clock = clock;
        ReceiveAsync<Request>(async r =>
        {
            Frame answer;
            var requestId = ((IRequest)r.Frame).RequestId;
            try
            {
                answer = r.Frame switch
                {
                    StartUpload s => await Start(s),
                    ResumeUpload u => await Resume(u),
                    UploadChunk c => await Chunk(c),
                    Download d => await Read(d),
                    _ => new Error(requestId, ErrorCode.InvalidArgument, $"opcode {r.Frame.Opcode} is not a media request"),
                };
            }
            catch (MediaStoreException e)
            {
                _declared.Clear();
                _stored.Clear();
                answer = new Error(requestId, CodeOf(e.Error), e.Message);
            }
            catch (Exception e)
            {
                _log.Error(e, "media request {0} failed", requestId);
                answer = new Error(requestId, ErrorCode.Unavailable, "storage failed; retry");
            }
            Sender.Tell(new Answer(answer));
        });
    }

    public static Props Props(IMediaStore store, MediaSettings settings, string user, TimeProvider clock, Func<string, Task<bool>> maySee) =>
        ActorMaker.Props(() => new MediaTransfer(store, settings, user, clock, maySee));

    private static ErrorCode CodeOf(MediaStoreError error) => error switch
    {
        MediaStoreError.UnknownUpload => ErrorCode.UnknownUpload,
        MediaStoreError.UnknownMedia => ErrorCode.UnknownMedia,
        MediaStoreError.WrongOffset => ErrorCode.WrongOffset,
        MediaStoreError.TooLong => ErrorCode.InvalidArgument,
        MediaStoreError.Incomplete => ErrorCode.InvalidArgument,
        MediaStoreError.HashMismatch => ErrorCode.HashMismatch,
        MediaStoreError.Busy => ErrorCode.UploadBusy,
        _ => ErrorCode.InvalidArgument,
    };

    private async Task<Frame> Start(StartUpload s)
    {
        var type = (s.ContentType ?? "").Trim().ToLowerInvariant();
        if (!_settings.AllowedTypes.Contains(type))
            return new Error(s.RequestId, ErrorCode.MediaTypeNotAllowed,
                $"content type '{Truncate(s.ContentType)}' is not accepted; accepted: {string.Join(", ", _settings.AllowedTypes)}");
        var max = _settings.MaxBytesFor(type);
        if (s.Size <= 0)
            return new Error(s.RequestId, ErrorCode.InvalidArgument, "size must be at least 1 byte");
        if (s.Size > max)
            return new Error(s.RequestId, ErrorCode.MediaTooLarge,
                $"{type} may be at most {max} bytes ({max >> 20} MiB); declared {s.Size}");
        if (s.Sha256 is not { Length: 32 })
            return new Error(s.RequestId, ErrorCode.InvalidArgument, "sha256 must be the 32-byte SHA-256 of the whole file");
        var upload = await _store.StartUploadAsync(new UploadSpec(_user, type, s.Size, s.Sha256), _clock.GetUtcNow());
        return Status(s.RequestId, upload, upload.Received);
    }

    private async Task<Frame> Resume(ResumeUpload r)
    {
        var upload = await Mine(r.UploadId);
        if (upload is null) return UnknownUpload(r.RequestId, r.UploadId);
        // every byte arrived but completing failed (storage trouble): complete now
        if (upload.Received == upload.Size) return await Complete(r.RequestId, upload);
        return Status(r.RequestId, upload, upload.Received);
    }

    private async Task<Frame> Chunk(UploadChunk c)
    {
        if (c.Data is null || c.Data.Length == 0)
            return new Error(c.RequestId, ErrorCode.InvalidArgument, "a chunk carries at least 1 byte");
        if (c.Data.Length > _settings.MaxChunkBytes)
            return new Error(c.RequestId, ErrorCode.ChunkTooLarge, $"a chunk carries at most {_settings.MaxChunkBytes} bytes; this one has {c.Data.Length}");
        var upload = c.UploadId is not null && _declared.TryGetValue(c.UploadId, out var known) ? known : await Mine(c.UploadId);
        if (upload is null) return UnknownUpload(c.RequestId, c.UploadId);
        if (c.Offset == 0)
        {
            var need = (int)Math.Min(MediaTypes.HeadBytesNeeded(upload.ContentType), upload.Size);
            if (c.Data.Length < need)
                return new Error(c.RequestId, ErrorCode.InvalidArgument, $"the first chunk must carry at least {need} bytes");
            if (!MediaTypes.Matches(upload.ContentType, c.Data))
            {
                _declared.Remove(upload.UploadId);
                await _store.AbortUploadAsync(upload.UploadId);
                return new Error(c.RequestId, ErrorCode.MediaTypeMismatch,
                    $"the file does not start like {upload.ContentType}; the upload is discarded");
            }
        }
        var received = await _store.AppendAsync(upload.UploadId, c.Offset, c.Data);
        Admin.ChatMetrics.MediaBytesReceived(c.Data.Length);
        if (received < upload.Size) return Status(c.RequestId, upload, received);
        return await Complete(c.RequestId, upload);
    }

    private async Task<Frame> Complete(uint requestId, UploadInfo upload)
    {
        _declared.Remove(upload.UploadId);
        var media = await _store.CompleteUploadAsync(upload.UploadId, _clock.GetUtcNow());
        _log.Debug("upload {0} complete: media {1}, {2} bytes", upload.UploadId, media.MediaId, media.Size);
        return new UploadComplete(requestId, upload.UploadId, media.MediaId, media.ContentType, media.Size);
    }

    private async Task<Frame> Read(Download d)
    {
        var media = d.MediaId is not null && _stored.TryGetValue(d.MediaId, out var known) ? known
            : MediaIds.IsMediaId(d.MediaId) ? Remember(_stored, d.MediaId!, await Visible(d.MediaId!)) : null;
        if (media is null) return new Error(d.RequestId, ErrorCode.UnknownMedia, $"no media '{Truncate(d.MediaId)}'");
        if (d.Offset < 0 || d.Offset > media.Size)
            return new Error(d.RequestId, ErrorCode.InvalidArgument, $"offset must be 0 to {media.Size}");
        if (d.Length <= 0)
            return new Error(d.RequestId, ErrorCode.InvalidArgument, "length must be at least 1");
        var length = (int)Math.Min(Math.Min(d.Length, _settings.MaxChunkBytes), media.Size - d.Offset);
        var data = new byte[length];
        var filled = 0;
        while (filled < length)
        {
            var n = await _store.ReadAsync(media.MediaId, d.Offset + filled, data.AsMemory(filled));
            if (n == 0) break;
            filled += n;
        }
        if (filled < length) Array.Resize(ref data, filled);
        Admin.ChatMetrics.MediaBytesSent(filled);
        return new MediaChunk(d.RequestId, media.MediaId, d.Offset, data, media.Size, media.ContentType, media.Sha256);
    }

    /// <summary>
    /// Stored media this user may download: their own upload, or one a message or notice in their inbox names.
    /// Anyone else is told it does not exist: knowing an id is not enough.
    /// </summary>
    private async Task<MediaInfo?> Visible(string mediaId)
    {
        var media = await _store.GetAsync(mediaId);
        return media is not null && (media.Uploader == _user || await _maySee(mediaId)) ? media : null;
    }

    /// <summary>Only the uploader may see or extend an upload; anyone else is told it does not exist.</summary>
    private async Task<UploadInfo?> Mine(string? uploadId)
    {
        if (!MediaIds.IsUploadId(uploadId)) return null;
        var upload = await _store.GetUploadAsync(uploadId!);
        return upload is not null && upload.Uploader == _user ? Remember(_declared, uploadId!, upload) : null;
    }

    private static T? Remember<T>(Dictionary<string, T> known, string id, T? value) where T : class
    {
        if (value is null) return null;
        if (known.Count >= Remembered) known.Clear();
        known[id] = value;
        return value;
    }

    private UploadStatus Status(uint requestId, UploadInfo upload, long received) =>
        new(requestId, upload.UploadId, received, upload.Size, _settings.MaxChunkBytes);

    private static Error UnknownUpload(uint requestId, string? id) =>
        new(requestId, ErrorCode.UnknownUpload, $"no unfinished upload '{Truncate(id)}' of yours (it completed, failed or expired)");

    private static string Truncate(string? s) => s is null ? "" : s.Length <= 40 ? s : s[..40] + "…";
}
