namespace Chat.Node.Media;

/// <summary>
/// Where uploaded media lives. The node talks to storage only through this interface, so a shared store
/// (S3-compatible object storage, for a cluster) can replace the filesystem store without touching callers.
/// </summary>
/// <remarks>
/// An upload is a resumable staging area: declared up front (size, content type, SHA-256), filled by
/// appends at the offset the store reports, then completed: the store checks length and hash and only
/// then makes the bytes visible under a new media id. Nothing half-written is ever readable by media id.
/// Implementations are safe for concurrent use. Two appends to one upload at once: the filesystem store fails one of
/// them with <see cref="MediaStoreError.Busy"/>; an object store, having no locks, may take both (the later replaces
/// the earlier), and the SHA-256 check at completion refuses what that damaged.
/// </remarks>
public interface IMediaStore
{
    /// <summary>Declares an upload and returns it with <see cref="UploadInfo.Received"/> 0.</summary>
    Task<UploadInfo> StartUploadAsync(UploadSpec spec, DateTimeOffset now, CancellationToken ct = default);

    /// <summary>The upload and how many bytes the store has, or null when unknown (never started, completed, aborted, expired).</summary>
    Task<UploadInfo?> GetUploadAsync(string uploadId, CancellationToken ct = default);

    /// <summary>
    /// Appends <paramref name="data"/> at <paramref name="offset"/>, which must equal the bytes received so far
    /// (<see cref="MediaStoreError.WrongOffset"/> otherwise, nothing written); the upload may not grow past its
    /// declared size (<see cref="MediaStoreError.TooLong"/>). Returns the bytes received after the append, durable.
    /// </summary>
    Task<long> AppendAsync(string uploadId, long offset, ReadOnlyMemory<byte> data, CancellationToken ct = default);

    /// <summary>
    /// Checks that every declared byte arrived and that the SHA-256 matches, then stores the bytes under a new,
    /// unguessable media id (atomically: readers see all of it or nothing). On a hash mismatch the upload is
    /// deleted and <see cref="MediaStoreError.HashMismatch"/> thrown; nothing is stored.
    /// </summary>
    Task<MediaInfo> CompleteUploadAsync(string uploadId, DateTimeOffset now, CancellationToken ct = default);

    /// <summary>Deletes an unfinished upload. No error when it is already gone.</summary>
    Task AbortUploadAsync(string uploadId, CancellationToken ct = default);

    /// <summary>Every unfinished upload (for removing stale ones).</summary>
    IAsyncEnumerable<UploadInfo> ListUploadsAsync(CancellationToken ct = default);

    /// <summary>
    /// Removes what interrupted writes left behind (temporary files of a write cut off by a crash before its rename)
    /// last written before <paramref name="olderThan"/>; how many files and bytes were removed.
    /// </summary>
    Task<(int Files, long Bytes)> RemoveLeftoversAsync(DateTimeOffset olderThan, CancellationToken ct = default);

    /// <summary>A stored media item, or null when there is none with that id.</summary>
    Task<MediaInfo?> GetAsync(string mediaId, CancellationToken ct = default);

    /// <summary>Reads up to <paramref name="buffer"/>.Length bytes from <paramref name="offset"/>; 0 at the end. Throws <see cref="MediaStoreError.UnknownMedia"/>.</summary>
    Task<int> ReadAsync(string mediaId, long offset, Memory<byte> buffer, CancellationToken ct = default);

    /// <summary>Records that a message referring to the media was stored at <paramref name="at"/> (see <see cref="MediaInfo.LastReferencedAt"/>).</summary>
    Task TouchAsync(string mediaId, DateTimeOffset at, CancellationToken ct = default);

    /// <summary>Deletes a stored media item; false when there was none.</summary>
    Task<bool> DeleteAsync(string mediaId, CancellationToken ct = default);

    /// <summary>Every stored media item (for retention).</summary>
    IAsyncEnumerable<MediaInfo> ListAsync(CancellationToken ct = default);
}

/// <summary>What a client declares before its first byte.</summary>
public sealed record UploadSpec(string Uploader, string ContentType, long Size, byte[] Sha256)
{
    /// <summary>The longest uploader or content type a store keeps.</summary>
    public const int MaxTextLength = 256;

    /// <summary>Refuses a declaration no store can keep (a caller's mistake, not the client's: the session checks first).</summary>
    public void Check()
    {
        foreach (var (value, name) in new[] { (Uploader, nameof(Uploader)), (ContentType, nameof(ContentType)) })
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(value, name);
            if (value.Length > MaxTextLength) throw new ArgumentException($"longer than {MaxTextLength} characters", name);
        }
        ArgumentOutOfRangeException.ThrowIfNegative(Size, nameof(Size));
        if (Sha256 is not { Length: 32 }) throw new ArgumentException("SHA-256 must be 32 bytes", nameof(Sha256));
    }
}

/// <summary>An unfinished upload.</summary>
public sealed record UploadInfo(
    string UploadId,
    string Uploader,
    string ContentType,
    long Size,
    byte[] Sha256,
    long Received,
    DateTimeOffset StartedAt);

/// <summary>A stored media item.</summary>
/// <param name="LastReferencedAt">
/// When the newest message referring to it was stored (its upload time until then). Messages are removed
/// after the retention period, so media not referenced for longer than that has no live message left.
/// </param>
public sealed record MediaInfo(
    string MediaId,
    string Uploader,
    string ContentType,
    long Size,
    byte[] Sha256,
    DateTimeOffset StoredAt,
    DateTimeOffset LastReferencedAt);

public enum MediaStoreError
{
    UnknownUpload,
    UnknownMedia,
    WrongOffset,
    TooLong,
    Incomplete,
    HashMismatch,
    Busy,
}

/// <summary>A store operation refused for a reason the client can be told.</summary>
public sealed class MediaStoreException(MediaStoreError error, string message, long expectedOffset = -1) : Exception(message)
{
    public MediaStoreError Error { get; } = error;

    /// <summary>For <see cref="MediaStoreError.WrongOffset"/>: the offset the store expects.</summary>
    public long ExpectedOffset { get; } = expectedOffset;

    public static MediaStoreException UnknownUpload(string? uploadId) =>
        new(MediaStoreError.UnknownUpload, $"no upload {Printable(uploadId)}");

    public static MediaStoreException UnknownMedia(string? mediaId) =>
        new(MediaStoreError.UnknownMedia, $"no media {Printable(mediaId)}");

    /// <summary>A client-supplied id fit for a message: ids of the wrong shape are not echoed.</summary>
    private static string Printable(string? id) =>
        MediaIds.IsMediaId(id) || MediaIds.IsUploadId(id) ? id! : "(malformed id)";
}
