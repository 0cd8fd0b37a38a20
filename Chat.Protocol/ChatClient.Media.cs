namespace Chat.Protocol;

/// <summary>How far an upload or download is: <see cref="Done"/> of <see cref="Total"/> bytes.</summary>
public readonly record struct TransferProgress(long Done, long Total);

// Media: uploads and downloads in chunks, with a window of chunks ahead of their answers; an upload resumes
// where the server's copy ends, and a download is checked against its SHA-256.
public sealed partial class ChatClient
{
    /// <summary>Chunks sent ahead of their answers during an upload or download.</summary>
    public const int TransferWindow = 4;

    /// <summary>Declares an upload; the server answers with its id.</summary>
    public async Task<UploadStatus> StartUploadAsync(string contentType, long size, byte[] sha256, CancellationToken cancellationToken = default)
        => (UploadStatus)await RequestAsync(id => new StartUpload(id, contentType, size, sha256), cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// How many bytes of an unfinished upload the server has. (When it has them all but could not complete the upload
    /// earlier, the server completes it and answers <see cref="UploadComplete"/>: <see cref="UploadAsync"/> handles that.)
    /// </summary>
    public async Task<UploadStatus> ResumeUploadAsync(string uploadId, CancellationToken cancellationToken = default)
        => (UploadStatus)await RequestAsync(id => new ResumeUpload(id, uploadId), cancellationToken).ConfigureAwait(false);

    /// <summary>Sends one chunk and waits for its answer: <see cref="UploadStatus"/>, or <see cref="UploadComplete"/> for the last one.</summary>
    public Task<Frame> UploadChunkAsync(string uploadId, long offset, byte[] data, CancellationToken cancellationToken = default)
        => RequestAsync(id => new UploadChunk(id, uploadId, offset, data), cancellationToken);

    /// <summary>
    /// Uploads <paramref name="content"/> (seekable: it is read once for its SHA-256, then from wherever the server's
    /// copy ends). With <paramref name="uploadId"/> an earlier, interrupted upload of the same content continues.
    /// <paramref name="started"/> learns the upload id before the first chunk, so a caller can resume after a failure.
    /// </summary>
    public async Task<UploadComplete> UploadAsync(Stream content, string contentType, string? uploadId = null,
        IProgress<TransferProgress>? progress = null, Action<string>? started = null, CancellationToken cancellationToken = default)
    {
        if (!content.CanSeek) throw new ArgumentException("the content must be seekable", nameof(content));
        UploadStatus status;
        if (uploadId is null)
        {
            content.Position = 0;
            var hash = await System.Security.Cryptography.SHA256.HashDataAsync(content, cancellationToken).ConfigureAwait(false);
            status = await StartUploadAsync(contentType, content.Length, hash, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            var resumed = await RequestAsync(id => new ResumeUpload(id, uploadId), cancellationToken).ConfigureAwait(false);
            if (resumed is UploadComplete already) // every byte had arrived: the server completed it now
            {
                progress?.Report(new(already.Size, already.Size));
                return already;
            }
            status = (UploadStatus)resumed;
        }
        started?.Invoke(status.UploadId);
        progress?.Report(new(status.Received, status.Size));
        var offset = status.Received;
        var window = new Queue<Task<Frame>>();
        UploadComplete? done = null;
        while (done is null)
        {
            while (offset < status.Size && window.Count < TransferWindow)
            {
                var data = new byte[(int)Math.Min(status.MaxChunkBytes, status.Size - offset)];
                content.Position = offset;
                await content.ReadExactlyAsync(data, cancellationToken).ConfigureAwait(false);
                var at = offset;
                window.Enqueue(RequestAsync(id => new UploadChunk(id, status.UploadId, at, data), cancellationToken));
                offset += data.Length;
            }
            if (window.Count == 0) throw new InvalidOperationException("the server did not complete the upload");
            switch (await window.Dequeue().ConfigureAwait(false))
            {
                case UploadStatus s: progress?.Report(new(s.Received, s.Size)); break;
                case UploadComplete c: progress?.Report(new(c.Size, c.Size)); done = c; break;
            }
        }
        return done;
    }

    /// <summary>
    /// Downloads a media item into <paramref name="destination"/> in ranged chunks and checks its SHA-256.
    /// Returns the item's last chunk (its size, content type and hash).
    /// </summary>
    public async Task<MediaChunk> DownloadAsync(string mediaId, Stream destination, IProgress<TransferProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        const int chunk = 256 * 1024;
        var first = (MediaChunk)await RequestAsync(id => new Download(id, mediaId, 0, chunk), cancellationToken).ConfigureAwait(false);
        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        var last = first;
        var written = 0L;
        async Task Take(MediaChunk c)
        {
            if (c.Offset != written) throw new IOException($"chunk at {c.Offset}, expected {written}");
            await destination.WriteAsync(c.Data, cancellationToken).ConfigureAwait(false);
            hash.AppendData(c.Data);
            written += c.Data.Length;
            progress?.Report(new(written, c.Size));
            last = c;
        }
        await Take(first).ConfigureAwait(false);
        var next = written;
        var step = Math.Max(1, first.Data.Length);
        var window = new Queue<Task<Frame>>();
        while (written < first.Size)
        {
            while (next < first.Size && window.Count < TransferWindow)
            {
                var at = next;
                window.Enqueue(RequestAsync(id => new Download(id, mediaId, at, step), cancellationToken));
                next += step;
            }
            await Take((MediaChunk)await window.Dequeue().ConfigureAwait(false)).ConfigureAwait(false);
        }
        if (!hash.GetHashAndReset().AsSpan().SequenceEqual(first.Sha256))
            throw new IOException($"media {mediaId}: the downloaded bytes do not match its SHA-256");
        return last;
    }
}
