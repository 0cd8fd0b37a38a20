using System.Globalization;
using System.Runtime.CompilerServices;
using Amazon.S3.Model;

namespace Chat.Node.Media;

/// <summary>Uploads in progress: a declaration object and one object per acknowledged chunk.</summary>
public sealed partial class S3MediaStore
{
    /// <summary>Uploads whose last chunk went through this store: the declaration and the bytes received after it.</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, (UploadRecord Record, long Received)> _appending = new();
    private const int MaxAppending = 4096;

    private void Remember(string uploadId, UploadRecord record, long received)
    {
        if (_appending.Count >= MaxAppending) _appending.Clear();
        _appending[uploadId] = (record, received);
    }

    /// <summary>An acknowledged chunk: where it starts, how long it is, its key.</summary>
    private sealed record Chunk(long Offset, long Length, string Key);

    public async Task<UploadInfo> StartUploadAsync(UploadSpec spec, DateTimeOffset now, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        spec.Check();

        var id = MediaIds.NewUploadId();
        var record = new UploadRecord(spec.Uploader, spec.ContentType, spec.Size, Convert.ToHexStringLower(spec.Sha256), now);
        await PutJsonAsync(ManifestKey(id), record, MediaJson.Default.UploadRecord, ct).ConfigureAwait(false);
        return ToInfo(id, record, received: 0);
    }

    public async Task<UploadInfo?> GetUploadAsync(string uploadId, CancellationToken ct = default)
    {
        if (!MediaIds.IsUploadId(uploadId)) return null;
        var (record, chunks) = await DeclarationAndChunksAsync(uploadId, ct).ConfigureAwait(false);
        return record is null ? null : ToInfo(uploadId, record, Received(chunks));
    }

    public async Task<long> AppendAsync(string uploadId, long offset, ReadOnlyMemory<byte> data, CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        if (!MediaIds.IsUploadId(uploadId)) throw MediaStoreException.UnknownUpload(uploadId);
        UploadRecord? record;
        long received;
        if (_appending.TryGetValue(uploadId, out var known) && known.Received == offset
            && !await ExistsAsync(ChunkKey(uploadId, offset), ct).ConfigureAwait(false))
        {
            // The next chunk of an upload this node has been taking: no other node wrote at this offset (the chunk
            // there would exist), so the count this node knows still holds. Saves listing every chunk per chunk.
            (record, received) = known;
        }
        else
        {
            List<Chunk> chunks;
            (record, chunks) = await DeclarationAndChunksAsync(uploadId, ct).ConfigureAwait(false);
            if (record is null)
            {
                _appending.TryRemove(uploadId, out _);
                throw MediaStoreException.UnknownUpload(uploadId);
            }
            received = Received(chunks);
        }
        if (offset != received)
            throw new MediaStoreException(MediaStoreError.WrongOffset, $"upload {uploadId} has {received} bytes, not {offset}", received);
        if (data.Length > record.Size - received)
            throw new MediaStoreException(MediaStoreError.TooLong, $"upload {uploadId} is declared as {record.Size} bytes");
        if (data.IsEmpty) return received;
        // Answered once the PUT returned: the chunk is then in the store, where every node finds it. A PUT that failed
        // left nothing (S3 writes an object whole or not at all), so the client resumes from the same offset.
        _appending.TryRemove(uploadId, out _); // until the PUT is answered, the count is not known
        await PutAsync(ChunkKey(uploadId, offset), data, "application/octet-stream", ct).ConfigureAwait(false);
        Remember(uploadId, record, received + data.Length);
        return received + data.Length;
    }

    public async Task AbortUploadAsync(string uploadId, CancellationToken ct = default)
    {
        if (!MediaIds.IsUploadId(uploadId)) return;
        _appending.TryRemove(uploadId, out _);
        // Chunks before the declaration: a declaration left alone by a failure is still listed, and so removed later.
        await DeleteChunksAsync(uploadId, ct).ConfigureAwait(false);
        await DeleteKeysAsync([ManifestKey(uploadId)], ct).ConfigureAwait(false);
    }

    public async IAsyncEnumerable<UploadInfo> ListUploadsAsync([EnumeratorCancellation] CancellationToken ct = default)
    {
        var ids = new List<string>();
        await foreach (var o in ListKeysAsync(UploadsPrefix, ct).ConfigureAwait(false))
            if (IdOf(o.Key, UploadsPrefix) is { } id && MediaIds.IsUploadId(id)) ids.Add(id);
        foreach (var id in ids)
        {
            var (record, chunks) = await DeclarationAndChunksAsync(id, ct).ConfigureAwait(false);
            if (record is not null) yield return ToInfo(id, record, Received(chunks));
        }
    }

    private async Task<(UploadRecord? Record, List<Chunk> Chunks)> DeclarationAndChunksAsync(string uploadId, CancellationToken ct)
    {
        var record = ReadUploadAsync(uploadId, ct);
        var chunks = ChunksAsync(uploadId, ct);
        await Task.WhenAll(record, chunks).ConfigureAwait(false);
        return (await record.ConfigureAwait(false), await chunks.ConfigureAwait(false));
    }

    private async Task<UploadRecord?> ReadUploadAsync(string uploadId, CancellationToken ct)
    {
        var record = await GetJsonAsync(ManifestKey(uploadId), MediaJson.Default.UploadRecord, ct).ConfigureAwait(false);
        return record is not null && IsSane(record.Size, record.Sha256) ? record : null;
    }

    /// <summary>
    /// The unbroken run of chunks from offset 0. A chunk past a gap (possible only when two connections appended at once
    /// and the later PUT replaced a chunk with one of another length) is not counted; the client resends from the gap.
    /// </summary>
    private async Task<List<Chunk>> ChunksAsync(string uploadId, CancellationToken ct)
    {
        var prefix = ChunkPrefix(uploadId);
        var byOffset = new Dictionary<long, Chunk>();
        await foreach (var o in ListKeysAsync(prefix, ct).ConfigureAwait(false))
            if (long.TryParse(o.Key.AsSpan(prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var offset) && o.Size is > 0)
                byOffset[offset] = new Chunk(offset, o.Size.Value, o.Key);
        var run = new List<Chunk>();
        long at = 0;
        while (byOffset.TryGetValue(at, out var chunk))
        {
            run.Add(chunk);
            at += chunk.Length;
        }
        return run;
    }

    private static long Received(List<Chunk> run) => run.Count == 0 ? 0 : run[^1].Offset + run[^1].Length;

    private async Task DeleteChunksAsync(string uploadId, CancellationToken ct)
    {
        var keys = new List<string>();
        await foreach (var o in ListKeysAsync(ChunkPrefix(uploadId), ct).ConfigureAwait(false)) keys.Add(o.Key);
        await DeleteKeysAsync(keys, ct).ConfigureAwait(false);
    }

    private static UploadInfo ToInfo(string id, UploadRecord r, long received) =>
        new(id, r.Uploader, r.ContentType, r.Size, Convert.FromHexString(r.Sha256), received, r.StartedAt);
}
