using System.Buffers;
using Amazon.Runtime;
using System.Net;
using System.Security.Cryptography;
using Amazon.S3;
using Amazon.S3.Model;

namespace Chat.Node.Media;

/// <summary>Completing an upload: its chunks become the parts of one multipart upload, completed only when the hash matches.</summary>
public sealed partial class S3MediaStore
{
    public async Task<MediaInfo> CompleteUploadAsync(string uploadId, DateTimeOffset now, CancellationToken ct = default)
    {
        if (!MediaIds.IsUploadId(uploadId)) throw MediaStoreException.UnknownUpload(uploadId);
        _appending.TryRemove(uploadId, out _);
        var (record, chunks) = await DeclarationAndChunksAsync(uploadId, ct).ConfigureAwait(false);
        if (record is null) throw MediaStoreException.UnknownUpload(uploadId);
        var received = Received(chunks);
        if (received != record.Size)
            throw new MediaStoreException(MediaStoreError.Incomplete, $"upload {uploadId} has {received} of {record.Size} bytes");

        var mediaId = MediaIds.NewMediaId();
        var key = ObjectKey(mediaId);
        var multipart = await _s3.InitiateMultipartUploadAsync(
            new InitiateMultipartUploadRequest { BucketName = _bucket, Key = key, ContentType = record.ContentType }, ct).ConfigureAwait(false);
        var completed = false;
        try
        {
            // recorded before any part: a node that dies from here on leaves a multipart upload the janitor aborts
            await PutJsonAsync(MultipartKey(mediaId), new MultipartRecord(uploadId, multipart.UploadId, now), MediaJson.Default.MultipartRecord, ct)
                .ConfigureAwait(false);
            var (hash, parts, length) = await CopyIntoPartsAsync(chunks, key, multipart.UploadId, record.Size, ct).ConfigureAwait(false);
            if (length != record.Size)
                // a chunk was replaced by one of another length while this ran (two connections at once): resend from where the store is
                throw new MediaStoreException(MediaStoreError.Incomplete, $"upload {uploadId} changed while it was completed; resume it");
            if (!CryptographicOperations.FixedTimeEquals(hash, Convert.FromHexString(record.Sha256)))
            {
                await AbortUploadAsync(uploadId, ct).ConfigureAwait(false);
                throw new MediaStoreException(MediaStoreError.HashMismatch, $"upload {uploadId} does not match its SHA-256; deleted");
            }

            // metadata before data: metadata without data is never served, and is listed so that retention removes it
            var stored = new S3ObjectRecord(record.Uploader, record.ContentType, record.Size, record.Sha256, now, now);
            await PutJsonAsync(ObjectJsonKey(mediaId), stored, MediaJson.Default.S3ObjectRecord, ct).ConfigureAwait(false);
            // the item appears under its media id whole, at this call, or not at all
            await _s3.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
            {
                BucketName = _bucket, Key = key, UploadId = multipart.UploadId, PartETags = parts,
            }, ct).ConfigureAwait(false);
            completed = true;
            await ForgetCompletedUploadAsync(uploadId, mediaId).ConfigureAwait(false);
            return ToInfo(mediaId, stored);
        }
        finally
        {
            if (!completed) await AbortMultipartQuietlyAsync(mediaId, key, multipart.UploadId).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Reads the chunks in order into a part-sized buffer, hashing every byte, and uploads each full buffer (and the rest
    /// at the end) as the next part: never more than one part in memory. The SHA-256 and length of what was read.
    /// </summary>
    private async Task<(byte[] Hash, List<PartETag> Parts, long Length)> CopyIntoPartsAsync(
        List<Chunk> chunks, string key, string multipartUploadId, long size, CancellationToken ct)
    {
        var partSize = (int)Math.Clamp(size, 1, _partSize);
        var buffer = ArrayPool<byte>.Shared.Rent(partSize);
        try
        {
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var parts = new List<PartETag>();
            var filled = 0;
            long length = 0;
            foreach (var chunk in chunks)
            {
                using var response = await _s3.GetObjectAsync(new GetObjectRequest { BucketName = _bucket, Key = chunk.Key }, ct).ConfigureAwait(false);
                var body = response.ResponseStream;
                int read;
                while ((read = await body.ReadAsync(buffer.AsMemory(filled, partSize - filled), ct).ConfigureAwait(false)) > 0)
                {
                    sha.AppendData(buffer, filled, read);
                    filled += read;
                    length += read;
                    if (filled < partSize) continue;
                    parts.Add(await UploadPartAsync(key, multipartUploadId, parts.Count + 1, buffer, filled, ct).ConfigureAwait(false));
                    filled = 0;
                }
            }
            if (filled > 0 || parts.Count == 0)
                parts.Add(await UploadPartAsync(key, multipartUploadId, parts.Count + 1, buffer, filled, ct).ConfigureAwait(false));
            return (sha.GetHashAndReset(), parts, length);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async Task<PartETag> UploadPartAsync(string key, string multipartUploadId, int number, byte[] buffer, int length, CancellationToken ct)
    {
        var response = await _s3.UploadPartAsync(new UploadPartRequest
        {
            BucketName = _bucket,
            Key = key,
            UploadId = multipartUploadId,
            PartNumber = number,
            PartSize = length,
            InputStream = new MemoryStream(buffer, 0, length, writable: false),
            UseChunkEncoding = false,
        }, ct).ConfigureAwait(false);
        return new PartETag(number, response.ETag);
    }

    /// <summary>
    /// After the item is stored: its upload's declaration, chunks and multipart record go. A failure here changes
    /// nothing the client sees (the item is stored and answered); the janitor removes what stayed once it expires.
    /// </summary>
    private async Task ForgetCompletedUploadAsync(string uploadId, string mediaId)
    {
        try
        {
            await DeleteKeysAsync([ManifestKey(uploadId), MultipartKey(mediaId)], CancellationToken.None).ConfigureAwait(false);
            await DeleteChunksAsync(uploadId, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is AmazonServiceException or HttpRequestException or IOException or TaskCanceledException)
        {
        }
    }

    /// <summary>Aborts a multipart upload that will not be completed and forgets it; when the store cannot be reached, the janitor does it later.</summary>
    private async Task AbortMultipartQuietlyAsync(string mediaId, string key, string multipartUploadId)
    {
        try
        {
            if (await AbortMultipartAsync(key, multipartUploadId, CancellationToken.None).ConfigureAwait(false))
                await DeleteKeysAsync([MultipartKey(mediaId)], CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is AmazonServiceException or HttpRequestException or IOException or TaskCanceledException)
        {
        }
    }

    /// <summary>
    /// Aborts a multipart upload (its parts are deleted); true when it is gone, also when it already was. Stores that do
    /// not implement the call (some test servers) answer 405 or 501: nothing more can be done there, so true as well.
    /// </summary>
    private async Task<bool> AbortMultipartAsync(string key, string multipartUploadId, CancellationToken ct)
    {
        try
        {
            await _s3.AbortMultipartUploadAsync(new AbortMultipartUploadRequest { BucketName = _bucket, Key = key, UploadId = multipartUploadId }, ct)
                .ConfigureAwait(false);
            return true;
        }
        catch (AmazonS3Exception e) when (e.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.MethodNotAllowed or HttpStatusCode.NotImplemented)
        {
            return true;
        }
    }
}
