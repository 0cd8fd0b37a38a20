using System.Globalization;
using System.Net;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Amazon;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;

namespace Chat.Node.Media;

/// <summary>
/// Media in an S3-compatible object store, shared by every node that names the same bucket. Keys:
/// <list type="bullet">
/// <item><c>uploads/{uploadId}.json</c>: an upload's declaration (uploader, content type, size, SHA-256, start).</item>
/// <item><c>chunks/{uploadId}/{offset}</c>: one object per acknowledged chunk, its key the offset where it starts
/// (15 digits, so keys sort by offset). The received count is the end of the unbroken run of chunks from offset 0.</item>
/// <item><c>objects/{mediaId}</c>: a stored item's bytes, and <c>objects/{mediaId}.json</c> its metadata, with the
/// last-referenced time (a small object rewritten on every reference, rather than a copy of the item onto itself).</item>
/// <item><c>multipart/{mediaId}.json</c>: a multipart upload being completed, so that one cut off by a crash is aborted.</item>
/// </list>
/// </summary>
/// <remarks>
/// A chunk is answered once its PUT returned: then it is in the store, which any node reads. S3 takes parts of at least
/// 5 MiB, so chunks (256 KiB) are kept as objects of their own until the upload completes; completing reads them in
/// order through one part-sized buffer, hashes them, uploads each full buffer as a part of a multipart upload to
/// <c>objects/{mediaId}</c>, and completes that multipart upload only when the SHA-256 matches the declaration: the
/// item appears whole or not at all, and never holds more than a part in memory.
/// <para>
/// S3 has no locks: two appends at the same offset at once (a client's old and new connection) both succeed, the later
/// PUT replacing the earlier one under the same key; the SHA-256 check at completion refuses the upload if that left
/// anything wrong. <see cref="MediaStoreError.Busy"/> is never raised here.
/// </para>
/// </remarks>
public sealed partial class S3MediaStore : IMediaStore, IDisposable
{
    private const string UploadsPrefix = "uploads/";
    private const string ChunksPrefix = "chunks/";
    private const string ObjectsPrefix = "objects/";
    private const string MultipartPrefix = "multipart/";
    private const string Json = ".json";

    private readonly IAmazonS3 _s3;
    private readonly string _bucket;
    private readonly int _partSize;

    public S3MediaStore(IAmazonS3 s3, string bucket, long partSize = 8L << 20)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(partSize, S3Settings.MinPartSize);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(partSize, 1L << 30);
        _s3 = s3;
        _bucket = bucket;
        _partSize = (int)partSize;
    }

    /// <summary>A store on the bucket the settings name, with credentials from the settings or the environment.</summary>
    public static S3MediaStore Connect(S3Settings settings)
    {
        settings.Check();
        return new S3MediaStore(Client(settings), settings.Bucket, settings.PartSize);
    }

    /// <summary>An S3 client for the settings' endpoint, region, addressing style and credentials.</summary>
    public static IAmazonS3 Client(S3Settings settings)
    {
        var config = new AmazonS3Config
        {
            ForcePathStyle = settings.ForcePathStyle,
            // checksums only where the API demands them: self-hosted stores do not all know the newer checksum headers
            // and the aws-chunked bodies that carry them
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
            // a store that is down fails a chunk within seconds (the client is told Unavailable and resumes later)
            MaxErrorRetry = 2,
            Timeout = TimeSpan.FromSeconds(20),
        };
        if (settings.Endpoint.Length > 0)
        {
            config.ServiceURL = settings.Endpoint;
            config.AuthenticationRegion = settings.Region;
        }
        else
        {
            config.RegionEndpoint = RegionEndpoint.GetBySystemName(settings.Region);
        }
        // without keys in the settings the SDK's own chain applies: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY first
        return settings.AccessKey.Length > 0
            ? new AmazonS3Client(new BasicAWSCredentials(settings.AccessKey, settings.SecretKey), config)
            : new AmazonS3Client(config);
    }

    public void Dispose() => _s3.Dispose();

    private static string ManifestKey(string uploadId) => UploadsPrefix + uploadId + Json;

    private static string ChunkPrefix(string uploadId) => ChunksPrefix + uploadId + "/";

    private static string ChunkKey(string uploadId, long offset) =>
        ChunkPrefix(uploadId) + offset.ToString("D15", CultureInfo.InvariantCulture);

    private static string ObjectKey(string mediaId) => ObjectsPrefix + mediaId;

    private static string ObjectJsonKey(string mediaId) => ObjectsPrefix + mediaId + Json;

    private static string MultipartKey(string mediaId) => MultipartPrefix + mediaId + Json;

    /// <summary>The id between <paramref name="prefix"/> and ".json" in a key, when the key has that shape.</summary>
    private static string? IdOf(string key, string prefix) =>
        key.StartsWith(prefix, StringComparison.Ordinal) && key.EndsWith(Json, StringComparison.Ordinal)
            ? key[prefix.Length..^Json.Length]
            : null;

    private static bool IsNotFound(AmazonS3Exception e) => e.StatusCode == HttpStatusCode.NotFound;

    /// <summary>A small JSON object, or null when there is none (or it is not valid).</summary>
    private async Task<T?> GetJsonAsync<T>(string key, JsonTypeInfo<T> type, CancellationToken ct) where T : class
    {
        try
        {
            using var response = await _s3.GetObjectAsync(new GetObjectRequest { BucketName = _bucket, Key = key }, ct).ConfigureAwait(false);
            return await JsonSerializer.DeserializeAsync(response.ResponseStream, type, ct).ConfigureAwait(false);
        }
        catch (AmazonS3Exception e) when (IsNotFound(e))
        {
            return null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private Task PutJsonAsync<T>(string key, T value, JsonTypeInfo<T> type, CancellationToken ct) =>
        PutAsync(key, JsonSerializer.SerializeToUtf8Bytes(value, type), "application/json", ct);

    private async Task PutAsync(string key, ReadOnlyMemory<byte> body, string contentType, CancellationToken ct)
    {
        var stream = MemoryMarshal.TryGetArray(body, out var array)
            ? new MemoryStream(array.Array!, array.Offset, array.Count, writable: false)
            : new MemoryStream(body.ToArray(), writable: false);
        await _s3.PutObjectAsync(new PutObjectRequest
        {
            BucketName = _bucket,
            Key = key,
            InputStream = stream,
            ContentType = contentType,
            // a plain signed body: many self-hosted stores do not decode aws-chunked bodies
            UseChunkEncoding = false,
            AutoCloseStream = true,
        }, ct).ConfigureAwait(false);
    }

    /// <summary>True when the object exists.</summary>
    private async Task<bool> ExistsAsync(string key, CancellationToken ct)
    {
        try
        {
            await _s3.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = _bucket, Key = key }, ct).ConfigureAwait(false);
            return true;
        }
        catch (AmazonS3Exception e) when (IsNotFound(e))
        {
            return false;
        }
    }

    /// <summary>Every object under the prefix, in key order, page by page.</summary>
    private async IAsyncEnumerable<S3Object> ListKeysAsync(string prefix, [EnumeratorCancellation] CancellationToken ct)
    {
        string? token = null;
        do
        {
            var page = await _s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = _bucket, Prefix = prefix, ContinuationToken = token }, ct)
                .ConfigureAwait(false);
            foreach (var o in page.S3Objects ?? []) yield return o;
            token = page.IsTruncated == true ? page.NextContinuationToken : null;
        } while (token is not null);
    }

    /// <summary>The "folders" directly under the prefix (keys up to the next '/').</summary>
    private async IAsyncEnumerable<string> ListFoldersAsync(string prefix, [EnumeratorCancellation] CancellationToken ct)
    {
        string? token = null;
        do
        {
            var page = await _s3.ListObjectsV2Async(
                new ListObjectsV2Request { BucketName = _bucket, Prefix = prefix, Delimiter = "/", ContinuationToken = token }, ct).ConfigureAwait(false);
            foreach (var p in page.CommonPrefixes ?? []) yield return p;
            token = page.IsTruncated == true ? page.NextContinuationToken : null;
        } while (token is not null);
    }

    /// <summary>Deletes the keys, up to 1,000 per request; a key that is already gone is no error.</summary>
    private async Task DeleteKeysAsync(IReadOnlyList<string> keys, CancellationToken ct)
    {
        for (var at = 0; at < keys.Count; at += 1000)
        {
            var batch = keys.Skip(at).Take(1000).Select(k => new KeyVersion { Key = k }).ToList();
            var response = await _s3.DeleteObjectsAsync(new DeleteObjectsRequest { BucketName = _bucket, Objects = batch, Quiet = true }, ct)
                .ConfigureAwait(false);
            if (response.DeleteErrors is { Count: > 0 } errors)
                throw new IOException($"the store did not delete {errors.Count} objects, e.g. {errors[0].Key}: {errors[0].Code} {errors[0].Message}");
        }
    }

    private static bool IsSane(long size, string sha256) =>
        size >= 0 && sha256.Length == 64 && sha256.All(Uri.IsHexDigit);

}

/// <summary>A stored item's metadata object in the S3 store; <see cref="LastReferencedAt"/> moves forward with each reference.</summary>
internal sealed record S3ObjectRecord(string Uploader, string ContentType, long Size, string Sha256, DateTimeOffset StoredAt,
    DateTimeOffset LastReferencedAt);

/// <summary>A multipart upload being completed: the upload it assembles, the store's multipart upload id, when it started.</summary>
internal sealed record MultipartRecord(string UploadId, string MultipartUploadId, DateTimeOffset StartedAt);
