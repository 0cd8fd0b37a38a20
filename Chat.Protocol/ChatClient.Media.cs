namespace Chat.Protocol;

/// <summary>How far an upload or download is: <see cref="Done"/> of <see cref="Total"/> bytes.</summary>
public readonly record struct TransferProgress(long Done, long Total);

// Media: downloads in ranged chunks, with a window of chunks ahead of their answers, checked against the SHA-256.
// Uploads are in ChatClient.Uploads.
public sealed partial class ChatClient
{
    /// <summary>Chunks sent ahead of their answers during an upload or download.</summary>
    public const int TransferWindow = 4;

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
