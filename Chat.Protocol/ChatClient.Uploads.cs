using System.Security.Cryptography;

namespace Chat.Protocol;

// Uploads: chunks with a window ahead of their answers, from wherever the server's copy ends. An upload may stay with
// the client over a lost connection: once the client is logged in again (AutoReconnect, or the application's own
// ReconnectAsync) it asks the server how far the upload got (ResumeUpload) and continues from there.
public sealed partial class ChatClient
{
    /// <summary>Resumes in a row without the server's copy growing before an upload gives up.</summary>
    private const int MaxUploadResumes = 8;

    /// <summary>Fresh starts after the server no longer knew an interrupted upload (completed with its answer lost, or expired).</summary>
    private const int MaxUploadRestarts = 2;

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

    /// <summary>Uploads a file in chunks and returns the stored media's id, content type and size.</summary>
    /// <param name="content">the file, seekable: it is read once for its SHA-256, then from wherever the server's copy ends</param>
    /// <param name="contentType">its content type, one the server accepts (e.g. "image/jpeg")</param>
    /// <param name="uploadId">an earlier, interrupted upload of the same content, to continue; null starts a new one</param>
    /// <param name="progress">told the bytes the server holds after each answer</param>
    /// <param name="started">learns the upload id before the first chunk (again if the upload had to start afresh), so a caller can resume after a failure</param>
    /// <param name="cancellationToken">stops waiting; the server keeps what it has until the upload expiry</param>
    /// <param name="resumeWithin">
    /// Zero (the default): a lost connection, or a chunk the server could not take, fails the upload, which the caller may
    /// resume with the id <paramref name="started"/> learned. Otherwise the upload stays with the client: it waits up to
    /// this long for the client to be logged in again (by <see cref="ChatClientOptions.AutoReconnect"/>, or by the
    /// application's <see cref="ReconnectAsync"/>), asks the server how many bytes it holds (<see cref="ResumeUpload"/>)
    /// and continues from there, so the progress does not go back. If the server no longer knows the upload (its last
    /// chunk was stored and completed while the answer was lost, or it expired), the file is uploaded again from the start.
    /// It fails when the client is not logged in again in time, is disposed, the server's copy stops growing over
    /// several tries, or the server stays busy with the upload (still writing a chunk the lost connection sent, or
    /// another device's) for longer than this.
    /// </param>
    public async Task<UploadComplete> UploadAsync(Stream content, string contentType, string? uploadId = null,
        IProgress<TransferProgress>? progress = null, Action<string>? started = null, TimeSpan resumeWithin = default,
        CancellationToken cancellationToken = default)
    {
        if (!content.CanSeek) throw new ArgumentException("the content must be seekable", nameof(content));
        byte[]? hash = null;
        string? told = null;
        var interrupted = false; // set once this call resumed after a failure: an UnknownUpload after that is not the caller's id going wrong
        var resumes = 0;
        var restarts = 0;
        var held = -1L;
        long? busySince = null; // when the server first said, of the chunks since its copy last grew, that it was busy
        while (true)
        {
            try
            {
                UploadStatus status;
                if (uploadId is null)
                {
                    if (hash is null)
                    {
                        content.Position = 0;
                        hash = await SHA256.HashDataAsync(content, cancellationToken).ConfigureAwait(false);
                    }
                    status = await StartUploadAsync(contentType, content.Length, hash, cancellationToken).ConfigureAwait(false);
                    uploadId = status.UploadId;
                }
                else
                {
                    var id = uploadId;
                    var resumed = await RequestAsync(r => new ResumeUpload(r, id), cancellationToken).ConfigureAwait(false);
                    if (resumed is UploadComplete already) // every byte had arrived: the server completed it now
                    {
                        progress?.Report(new(already.Size, already.Size));
                        return already;
                    }
                    status = (UploadStatus)resumed;
                }
                if (told != status.UploadId) started?.Invoke(told = status.UploadId);
                progress?.Report(new(status.Received, status.Size));
                if (status.Received > held) (held, resumes, busySince) = (status.Received, 0, null); // the server's copy grew: the tries start again
                return await SendChunksAsync(content, status, progress, cancellationToken).ConfigureAwait(false);
            }
            catch (ChatException e) when (e.Code == ErrorCode.UnknownUpload && interrupted && resumeWithin > TimeSpan.Zero
                                          && restarts < MaxUploadRestarts && !cancellationToken.IsCancellationRequested)
            {
                // Completed while its answer was lost (the media id cannot be asked for again), or expired: start afresh.
                // An item nobody learned of is removed by retention, as nothing refers to it.
                restarts++;
                (uploadId, held, resumes) = (null, -1, 0);
            }
            catch (ChatException e) when (e.Code == ErrorCode.UploadBusy && resumeWithin > TimeSpan.Zero
                                          && StillWaiting(ref busySince, resumeWithin) && !cancellationToken.IsCancellationRequested)
            {
                // The server still writes a chunk the lost connection sent (on a busy server that can take seconds, longer
                // than a few tries): it lets go of the upload once that chunk is written, so wait for it, up to resumeWithin.
                interrupted = true;
                if (!await LoggedInAgainAsync(resumeWithin, cancellationToken).ConfigureAwait(false)) throw;
                var waited = Environment.TickCount64 - busySince!.Value;
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Clamp(waited / 4, 50, 1000)), cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (resumeWithin > TimeSpan.Zero && IsResumable(e) && resumes < MaxUploadResumes
                                      && !cancellationToken.IsCancellationRequested)
            {
                resumes++;
                interrupted = true;
                if (!await LoggedInAgainAsync(resumeWithin, cancellationToken).ConfigureAwait(false)) throw;
                // a moment before asking again, longer with each try
                await Task.Delay(TimeSpan.FromMilliseconds(50 * resumes), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Starts the clock at the first busy answer in a row; true while that was less than <paramref name="within"/> ago.</summary>
    private static bool StillWaiting(ref long? since, TimeSpan within)
    {
        since ??= Environment.TickCount64;
        return Environment.TickCount64 - since.Value < (long)within.TotalMilliseconds;
    }

    /// <summary>Failures after which asking the server how far the upload got, and going on from there, can succeed.</summary>
    private static bool IsResumable(Exception e) => e switch
    {
        ChatException c => c.Code is ErrorCode.Unavailable or ErrorCode.WrongOffset, // (UploadBusy is waited for above)
        IOException or TimeoutException => true,
        _ => false,
    };

    /// <summary>Sends the chunks from <see cref="UploadStatus.Received"/> on, <see cref="TransferWindow"/> ahead of their answers.</summary>
    private async Task<UploadComplete> SendChunksAsync(Stream content, UploadStatus status, IProgress<TransferProgress>? progress,
        CancellationToken cancellationToken)
    {
        var offset = status.Received;
        var window = new Queue<Task<Frame>>();
        try
        {
            while (true)
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
                    case UploadComplete c:
                        progress?.Report(new(c.Size, c.Size));
                        return c;
                }
            }
        }
        catch (Exception) when (window.Count > 0)
        {
            // The chunks still under way are answered (or fail with the connection) before anyone resumes, so that the
            // server is not still writing one of them then; one of them may even have completed the upload.
            foreach (var rest in window)
            {
                try
                {
                    if (await rest.ConfigureAwait(false) is UploadComplete c)
                    {
                        progress?.Report(new(c.Size, c.Size));
                        return c;
                    }
                }
                catch (Exception)
                {
                    // the first failure is the one reported
                }
            }
            throw;
        }
    }
}
