using System.Net;
using System.Runtime.CompilerServices;
using Amazon.S3;
using Amazon.S3.Model;

namespace Chat.Node.Media;

/// <summary>Stored items: read by range, referenced, listed and deleted; and what failures left behind.</summary>
public sealed partial class S3MediaStore
{
    public async Task<MediaInfo?> GetAsync(string mediaId, CancellationToken ct = default)
    {
        if (!MediaIds.IsMediaId(mediaId)) return null;
        var record = ReadObjectAsync(mediaId, ct);
        var data = ExistsAsync(ObjectKey(mediaId), ct);
        await Task.WhenAll(record, data).ConfigureAwait(false);
        return await record.ConfigureAwait(false) is { } r && await data.ConfigureAwait(false) ? ToInfo(mediaId, r) : null;
    }

    public async Task<int> ReadAsync(string mediaId, long offset, Memory<byte> buffer, CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        if (!MediaIds.IsMediaId(mediaId)) throw MediaStoreException.UnknownMedia(mediaId);
        if (buffer.IsEmpty) return 0;
        try
        {
            using var response = await _s3.GetObjectAsync(new GetObjectRequest
            {
                BucketName = _bucket,
                Key = ObjectKey(mediaId),
                ByteRange = new ByteRange(offset, offset + buffer.Length - 1),
            }, ct).ConfigureAwait(false);
            // a store that ignored the range would send the item from its start
            if (response.HttpStatusCode != HttpStatusCode.PartialContent && offset > 0)
                throw new IOException($"the media store answered a ranged read of {mediaId} with {(int)response.HttpStatusCode}, not 206");
            var filled = 0;
            int read;
            while (filled < buffer.Length && (read = await response.ResponseStream.ReadAsync(buffer[filled..], ct).ConfigureAwait(false)) > 0)
                filled += read;
            return filled;
        }
        catch (AmazonS3Exception e) when (IsNotFound(e))
        {
            throw MediaStoreException.UnknownMedia(mediaId);
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
        {
            return 0; // at or past the end
        }
    }

    public async Task TouchAsync(string mediaId, DateTimeOffset at, CancellationToken ct = default)
    {
        if (!MediaIds.IsMediaId(mediaId)) throw MediaStoreException.UnknownMedia(mediaId);
        var record = await ReadObjectAsync(mediaId, ct).ConfigureAwait(false) ?? throw MediaStoreException.UnknownMedia(mediaId);
        // Only forward: the newest referring message counts. Two nodes touching at once may both write; the later
        // write wins, and either time is within a moment of the other.
        if (record.LastReferencedAt >= at) return;
        await PutJsonAsync(ObjectJsonKey(mediaId), record with { LastReferencedAt = at }, MediaJson.Default.S3ObjectRecord, ct).ConfigureAwait(false);
    }

    public async Task<bool> DeleteAsync(string mediaId, CancellationToken ct = default)
    {
        if (!MediaIds.IsMediaId(mediaId)) return false;
        var metadata = ExistsAsync(ObjectJsonKey(mediaId), ct);
        var data = ExistsAsync(ObjectKey(mediaId), ct);
        await Task.WhenAll(metadata, data).ConfigureAwait(false);
        // Data before metadata: metadata left alone by a failure is still listed, and so removed later.
        await DeleteKeysAsync([ObjectKey(mediaId)], ct).ConfigureAwait(false);
        await DeleteKeysAsync([ObjectJsonKey(mediaId)], ct).ConfigureAwait(false);
        return await metadata.ConfigureAwait(false) || await data.ConfigureAwait(false);
    }

    public async IAsyncEnumerable<MediaInfo> ListAsync([EnumeratorCancellation] CancellationToken ct = default)
    {
        var ids = new List<string>();
        await foreach (var o in ListKeysAsync(ObjectsPrefix, ct).ConfigureAwait(false))
            if (IdOf(o.Key, ObjectsPrefix) is { } id && MediaIds.IsMediaId(id)) ids.Add(id);
        foreach (var id in ids)
            if (await ReadObjectAsync(id, ct).ConfigureAwait(false) is { } record)
                yield return ToInfo(id, record);
    }

    /// <summary>
    /// Aborts multipart uploads that a completion cut off by a crash or an outage left (recorded before
    /// <paramref name="olderThan"/>), and deletes chunks whose upload is gone (an append that raced an abort) last written
    /// before it. Files: multipart uploads aborted plus chunk objects deleted; bytes: the chunks' bytes.
    /// </summary>
    public async Task<(int Files, long Bytes)> RemoveLeftoversAsync(DateTimeOffset olderThan, CancellationToken ct = default)
    {
        var files = 0;
        long bytes = 0;
        var markers = new List<string>();
        await foreach (var o in ListKeysAsync(MultipartPrefix, ct).ConfigureAwait(false))
            if (IdOf(o.Key, MultipartPrefix) is { } id && MediaIds.IsMediaId(id)) markers.Add(id);
        foreach (var mediaId in markers)
        {
            var multipart = await GetJsonAsync(MultipartKey(mediaId), MediaJson.Default.MultipartRecord, ct).ConfigureAwait(false);
            if (multipart is not null && multipart.StartedAt >= olderThan) continue;
            // aborting a multipart upload that was completed after all does nothing to the stored item
            if (multipart is not null && !await AbortMultipartAsync(ObjectKey(mediaId), multipart.MultipartUploadId, ct).ConfigureAwait(false)) continue;
            await DeleteKeysAsync([MultipartKey(mediaId)], ct).ConfigureAwait(false);
            files++;
        }

        var folders = new List<string>();
        await foreach (var folder in ListFoldersAsync(ChunksPrefix, ct).ConfigureAwait(false)) folders.Add(folder);
        foreach (var folder in folders)
        {
            var uploadId = folder[ChunksPrefix.Length..].TrimEnd('/');
            if (!MediaIds.IsUploadId(uploadId) || await ExistsAsync(ManifestKey(uploadId), ct).ConfigureAwait(false)) continue;
            var stale = new List<string>();
            await foreach (var o in ListKeysAsync(folder, ct).ConfigureAwait(false))
            {
                if (o.LastModified is { } modified && new DateTimeOffset(modified.ToUniversalTime(), TimeSpan.Zero) >= olderThan) continue;
                stale.Add(o.Key);
                bytes += o.Size ?? 0;
            }
            await DeleteKeysAsync(stale, ct).ConfigureAwait(false);
            files += stale.Count;
        }
        return (files, bytes);
    }

    private async Task<S3ObjectRecord?> ReadObjectAsync(string mediaId, CancellationToken ct)
    {
        var record = await GetJsonAsync(ObjectJsonKey(mediaId), MediaJson.Default.S3ObjectRecord, ct).ConfigureAwait(false);
        return record is not null && IsSane(record.Size, record.Sha256) ? record : null;
    }

    private static MediaInfo ToInfo(string id, S3ObjectRecord r) =>
        new(id, r.Uploader, r.ContentType, r.Size, Convert.FromHexString(r.Sha256), r.StoredAt, r.LastReferencedAt);
}
