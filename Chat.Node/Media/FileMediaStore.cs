using System.Buffers;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Chat.Node.Media;

/// <summary>
/// Media on the local filesystem under <c>root</c> (e.g. <c>{data}/media</c>):
/// <list type="bullet">
/// <item><c>uploads/{uploadId}.part</c>: the bytes received so far (its length is the received count), and
/// <c>uploads/{uploadId}.json</c>: the declared spec.</item>
/// <item><c>objects/{xx}/{mediaId}</c>: a stored item's bytes, <c>xx</c> being the two characters after the "m",
/// and <c>objects/{xx}/{mediaId}.json</c> beside it. The data file's last write time is
/// <see cref="MediaInfo.LastReferencedAt"/>.</item>
/// </list>
/// </summary>
/// <remarks>
/// File names are only ever built from ids that passed <see cref="MediaIds.IsMediaId"/> or
/// <see cref="MediaIds.IsUploadId"/>: a letter and 26 base32 characters, with no separators or dots, so no id
/// can name a path outside <c>root</c>.
/// <para>
/// Metadata is written to a temporary file in the same directory, flushed to disk and renamed over its name,
/// so it is either the old or the new content; the directory is flushed after each rename (<see cref="DirectoryFlush"/>),
/// so a completed upload's name survives a power cut as its bytes do. Completing an upload writes the object's metadata first and
/// then renames the part file to the object's name, so a media id's data appears all at once; a crash between
/// the two leaves metadata without data, which <see cref="GetAsync"/> does not return and <see cref="ListAsync"/>
/// reports (last referenced at its store time) so that retention removes it.
/// </para>
/// </remarks>
public sealed class FileMediaStore : IMediaStore
{
    private const int HashBufferSize = 1 << 20;

    private readonly string _uploads;
    private readonly string _objects;

    public FileMediaStore(string root)
    {
        var full = Path.GetFullPath(root);
        _uploads = Path.Combine(full, "uploads");
        _objects = Path.Combine(full, "objects");
        System.IO.Directory.CreateDirectory(_uploads);
        System.IO.Directory.CreateDirectory(_objects);
    }

    public async Task<UploadInfo> StartUploadAsync(UploadSpec spec, DateTimeOffset now, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        spec.Check();

        var id = MediaIds.NewUploadId();
        var record = new UploadRecord(spec.Uploader, spec.ContentType, spec.Size, Convert.ToHexStringLower(spec.Sha256), now);
        // Metadata first: a crash before the part file exists leaves an upload that ListUploadsAsync still reports.
        await WriteAtomicallyAsync(UploadJsonPath(id), JsonSerializer.SerializeToUtf8Bytes(record, MediaJson.Default.UploadRecord), ct);
        using (new FileStream(PartPath(id), FileMode.CreateNew, FileAccess.Write, FileShare.None))
        {
        }
        DirectoryFlush.Flush(_uploads); // chunks acknowledged later are flushed into a file whose name is on disk
        return ToInfo(id, record, received: 0);
    }

    public async Task<UploadInfo?> GetUploadAsync(string uploadId, CancellationToken ct = default)
    {
        if (!MediaIds.IsUploadId(uploadId)) return null;
        var record = await ReadUploadAsync(uploadId, ct);
        if (record is null) return null;
        var received = PartLength(uploadId);
        return received < 0 ? null : ToInfo(uploadId, record, received);
    }

    public async Task<long> AppendAsync(string uploadId, long offset, ReadOnlyMemory<byte> data, CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        var record = MediaIds.IsUploadId(uploadId) ? await ReadUploadAsync(uploadId, ct) : null;
        if (record is null) throw MediaStoreException.UnknownUpload(uploadId);

        await using var part = OpenPartExclusively(uploadId, FileAccess.Write);
        var length = part.Length;
        if (offset != length)
            throw new MediaStoreException(MediaStoreError.WrongOffset, $"upload {uploadId} has {length} bytes, not {offset}", length);
        if (data.Length > record.Size - length)
            throw new MediaStoreException(MediaStoreError.TooLong, $"upload {uploadId} is declared as {record.Size} bytes");
        if (data.IsEmpty) return length;

        part.Position = length;
        try
        {
            await part.WriteAsync(data, ct);
            part.Flush(flushToDisk: true);
        }
        catch
        {
            // Whatever part of this append landed is taken back, so the client resumes from where it was.
            try { part.SetLength(length); } catch (IOException) { }
            throw;
        }
        return length + data.Length;
    }

    public async Task<MediaInfo> CompleteUploadAsync(string uploadId, DateTimeOffset now, CancellationToken ct = default)
    {
        var record = MediaIds.IsUploadId(uploadId) ? await ReadUploadAsync(uploadId, ct) : null;
        if (record is null) throw MediaStoreException.UnknownUpload(uploadId);

        await using (var part = OpenPartExclusively(uploadId, FileAccess.ReadWrite))
        {
            var length = part.Length;
            if (length != record.Size)
                throw new MediaStoreException(MediaStoreError.Incomplete, $"upload {uploadId} has {length} of {record.Size} bytes");
            var hash = await HashAsync(part, ct);
            if (!CryptographicOperations.FixedTimeEquals(hash, Convert.FromHexString(record.Sha256)))
            {
                await part.DisposeAsync();
                DeleteUploadFiles(uploadId);
                throw new MediaStoreException(MediaStoreError.HashMismatch, $"upload {uploadId} does not match its SHA-256; deleted");
            }
            part.Flush(flushToDisk: true);
        }

        var mediaId = MediaIds.NewMediaId();
        if (!System.IO.Directory.Exists(ObjectDirectory(mediaId)))
        {
            System.IO.Directory.CreateDirectory(ObjectDirectory(mediaId));
            DirectoryFlush.Flush(_objects);
        }
        var stored = new ObjectRecord(record.Uploader, record.ContentType, record.Size, record.Sha256, now);
        var objectJson = ObjectJsonPath(mediaId);
        await WriteAtomicallyAsync(objectJson, JsonSerializer.SerializeToUtf8Bytes(stored, MediaJson.Default.ObjectRecord), ct);
        try
        {
            // Set on the part so the item appears with it; a rename keeps the last write time.
            File.SetLastWriteTimeUtc(PartPath(uploadId), now.UtcDateTime);
            File.Move(PartPath(uploadId), ObjectPath(mediaId), overwrite: true);
        }
        catch (Exception e)
        {
            TryDelete(objectJson);
            // Another completion of the same upload got there first.
            if (e is FileNotFoundException or DirectoryNotFoundException) throw MediaStoreException.UnknownUpload(uploadId);
            // Windows refuses to rename a file another call has open.
            if (e is IOException io && IsSharingViolation(io))
                throw new MediaStoreException(MediaStoreError.Busy, $"upload {uploadId} is in use");
            throw;
        }
        DirectoryFlush.Flush(ObjectDirectory(mediaId)); // the object's name is on disk before its id is answered
        TryDelete(UploadJsonPath(uploadId));
        return ToInfo(mediaId, stored, now);
    }

    public Task AbortUploadAsync(string uploadId, CancellationToken ct = default)
    {
        if (MediaIds.IsUploadId(uploadId)) DeleteUploadFiles(uploadId);
        return Task.CompletedTask;
    }

    public async IAsyncEnumerable<UploadInfo> ListUploadsAsync([EnumeratorCancellation] CancellationToken ct = default)
    {
        foreach (var file in SafeEnumerate(_uploads, "*.json"))
        {
            ct.ThrowIfCancellationRequested();
            var id = Path.GetFileNameWithoutExtension(file);
            if (!MediaIds.IsUploadId(id)) continue;
            var record = await ReadUploadAsync(id, ct);
            if (record is null) continue;
            // A missing part (a crash during StartUploadAsync) still lists, with nothing received, so it can be aborted.
            yield return ToInfo(id, record, Math.Max(PartLength(id), 0));
        }
    }

    public async Task<MediaInfo?> GetAsync(string mediaId, CancellationToken ct = default)
    {
        if (!MediaIds.IsMediaId(mediaId)) return null;
        var record = await ReadObjectAsync(mediaId, ct);
        if (record is null) return null;
        var touched = LastWriteTime(ObjectPath(mediaId));
        return touched is { } at ? ToInfo(mediaId, record, at) : null;
    }

    public async Task<int> ReadAsync(string mediaId, long offset, Memory<byte> buffer, CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        if (!MediaIds.IsMediaId(mediaId)) throw MediaStoreException.UnknownMedia(mediaId);
        Microsoft.Win32.SafeHandles.SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(ObjectPath(mediaId), FileMode.Open, FileAccess.Read,
                FileShare.ReadWrite | FileShare.Delete, FileOptions.Asynchronous | FileOptions.RandomAccess);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw MediaStoreException.UnknownMedia(mediaId);
        }
        using (handle)
            return await RandomAccess.ReadAsync(handle, buffer, offset, ct);
    }

    public Task TouchAsync(string mediaId, DateTimeOffset at, CancellationToken ct = default)
    {
        if (!MediaIds.IsMediaId(mediaId)) return Task.FromException(MediaStoreException.UnknownMedia(mediaId));
        var path = ObjectPath(mediaId);
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists) return Task.FromException(MediaStoreException.UnknownMedia(mediaId));
            // Only forward: the newest referring message counts, whatever order touches arrive in.
            if (info.LastWriteTimeUtc < at.UtcDateTime) File.SetLastWriteTimeUtc(path, at.UtcDateTime);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return Task.FromException(MediaStoreException.UnknownMedia(mediaId));
        }
        return Task.CompletedTask;
    }

    public Task<bool> DeleteAsync(string mediaId, CancellationToken ct = default)
    {
        if (!MediaIds.IsMediaId(mediaId)) return Task.FromResult(false);
        // Data before metadata: metadata left alone by a crash is still listed, and so removed later.
        var data = TryDelete(ObjectPath(mediaId));
        var json = TryDelete(ObjectJsonPath(mediaId));
        return Task.FromResult(data || json);
    }

    public async IAsyncEnumerable<MediaInfo> ListAsync([EnumeratorCancellation] CancellationToken ct = default)
    {
        foreach (var directory in SafeEnumerateDirectories(_objects))
        {
            var shard = Path.GetFileName(directory);
            foreach (var file in SafeEnumerate(directory, "*.json"))
            {
                ct.ThrowIfCancellationRequested();
                var id = Path.GetFileNameWithoutExtension(file);
                if (!MediaIds.IsMediaId(id) || !string.Equals(id[1..3], shard, StringComparison.Ordinal)) continue;
                var record = await ReadObjectAsync(id, ct);
                if (record is null) continue;
                yield return ToInfo(id, record, LastWriteTime(ObjectPath(id)) ?? record.StoredAt);
            }
        }
    }

    private string PartPath(string uploadId) => Path.Combine(_uploads, uploadId + ".part");

    private string UploadJsonPath(string uploadId) => Path.Combine(_uploads, uploadId + ".json");

    private string ObjectDirectory(string mediaId) => Path.Combine(_objects, mediaId[1..3]);

    private string ObjectPath(string mediaId) => Path.Combine(ObjectDirectory(mediaId), mediaId);

    private string ObjectJsonPath(string mediaId) => Path.Combine(ObjectDirectory(mediaId), mediaId + ".json");

    /// <summary>Opens the part file for this call alone: another append or completion in progress makes it Busy.</summary>
    private FileStream OpenPartExclusively(string uploadId, FileAccess access)
    {
        try
        {
            return new FileStream(PartPath(uploadId), new FileStreamOptions
            {
                Mode = FileMode.Open,
                Access = access,
                Share = FileShare.None,
                Options = FileOptions.Asynchronous,
                BufferSize = 0,
            });
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw MediaStoreException.UnknownUpload(uploadId);
        }
        catch (IOException e) when (IsSharingViolation(e))
        {
            throw new MediaStoreException(MediaStoreError.Busy, $"upload {uploadId} is in use");
        }
    }

    /// <summary>
    /// A <see cref="FileShare.None"/> open refused because another handle holds the file: ERROR_SHARING_VIOLATION
    /// or ERROR_LOCK_VIOLATION on Windows; elsewhere .NET emulates the share mode with flock, which fails with
    /// EWOULDBLOCK (11 on Linux, 35 on macOS and the BSDs) and reports the errno as the HResult.
    /// </summary>
    private static bool IsSharingViolation(IOException e) =>
        OperatingSystem.IsWindows() ? (e.HResult & 0xFFFF) is 32 or 33
        : OperatingSystem.IsLinux() ? e.HResult == 11
        : e.HResult == 35;

    private static async Task<byte[]> HashAsync(FileStream file, CancellationToken ct)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = ArrayPool<byte>.Shared.Rent(HashBufferSize);
        try
        {
            file.Position = 0;
            int read;
            while ((read = await file.ReadAsync(buffer.AsMemory(0, HashBufferSize), ct)) > 0)
                sha.AppendData(buffer, 0, read);
            return sha.GetHashAndReset();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void DeleteUploadFiles(string uploadId)
    {
        // Part before metadata: metadata left alone by a crash is still listed, and so removed later.
        TryDelete(PartPath(uploadId));
        TryDelete(UploadJsonPath(uploadId));
    }

    /// <summary>The part file's length, or -1 when there is none.</summary>
    private long PartLength(string uploadId)
    {
        var info = new FileInfo(PartPath(uploadId));
        return info.Exists ? info.Length : -1;
    }

    private static DateTimeOffset? LastWriteTime(string path)
    {
        var info = new FileInfo(path);
        return info.Exists ? new DateTimeOffset(info.LastWriteTimeUtc, TimeSpan.Zero) : null;
    }

    private async Task<UploadRecord?> ReadUploadAsync(string uploadId, CancellationToken ct)
    {
        var record = await ReadJsonAsync(UploadJsonPath(uploadId), MediaJson.Default.UploadRecord, ct);
        return record is not null && IsSane(record.Size, record.Sha256) ? record : null;
    }

    private async Task<ObjectRecord?> ReadObjectAsync(string mediaId, CancellationToken ct)
    {
        var record = await ReadJsonAsync(ObjectJsonPath(mediaId), MediaJson.Default.ObjectRecord, ct);
        return record is not null && IsSane(record.Size, record.Sha256) ? record : null;
    }

    private static bool IsSane(long size, string sha256) =>
        size >= 0 && sha256.Length == 64 && sha256.All(Uri.IsHexDigit);

    /// <summary>The file's content, or null when it is missing or not valid metadata.</summary>
    private static async Task<T?> ReadJsonAsync<T>(string path, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, CancellationToken ct)
        where T : class
    {
        try
        {
            var bytes = await File.ReadAllBytesAsync(path, ct);
            return JsonSerializer.Deserialize(bytes, type);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or JsonException)
        {
            return null;
        }
    }

    public Task<(int Files, long Bytes)> RemoveLeftoversAsync(DateTimeOffset olderThan, CancellationToken ct = default)
    {
        var files = 0;
        long bytes = 0;
        // temporary files are only written by WriteAtomicallyAsync: beside upload and object metadata
        foreach (var directory in SafeEnumerateDirectories(_objects).Prepend(_uploads))
            foreach (var path in SafeEnumerate(directory, "*.tmp"))
            {
                ct.ThrowIfCancellationRequested();
                var file = new FileInfo(path);
                if (!file.Exists || file.LastWriteTimeUtc >= olderThan.UtcDateTime) continue;
                var length = file.Length;
                if (!TryDelete(path)) continue;
                files++;
                bytes += length;
            }
        return Task.FromResult((files, bytes));
    }

    /// <summary>Writes a temporary file beside <paramref name="path"/>, flushes it to disk and renames it over <paramref name="path"/>.</summary>
    private static async Task WriteAtomicallyAsync(string path, byte[] content, CancellationToken ct)
    {
        // Never a valid id followed by ".json", so listings skip it.
        var temp = $"{path}.{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6))}.tmp";
        try
        {
            await using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0, useAsync: true))
            {
                await file.WriteAsync(content, ct);
                file.Flush(flushToDisk: true);
            }
            File.Move(temp, path, overwrite: true);
            DirectoryFlush.Flush(Path.GetDirectoryName(path)!);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    /// <summary>Deletes the file; true when it was there.</summary>
    private static bool TryDelete(string path)
    {
        try
        {
            if (!File.Exists(path)) return false;
            File.Delete(path);
            return true;
        }
        catch (DirectoryNotFoundException)
        {
            return false;
        }
    }

    private static IEnumerable<string> SafeEnumerate(string directory, string pattern)
    {
        try
        {
            return System.IO.Directory.EnumerateFiles(directory, pattern).ToList();
        }
        catch (DirectoryNotFoundException)
        {
            return [];
        }
    }

    private static IEnumerable<string> SafeEnumerateDirectories(string directory)
    {
        try
        {
            return System.IO.Directory.EnumerateDirectories(directory).ToList();
        }
        catch (DirectoryNotFoundException)
        {
            return [];
        }
    }

    private static UploadInfo ToInfo(string id, UploadRecord r, long received) =>
        new(id, r.Uploader, r.ContentType, r.Size, Convert.FromHexString(r.Sha256), received, r.StartedAt);

    private static MediaInfo ToInfo(string id, ObjectRecord r, DateTimeOffset lastReferencedAt) =>
        new(id, r.Uploader, r.ContentType, r.Size, Convert.FromHexString(r.Sha256), r.StoredAt, lastReferencedAt);

}

/// <summary>An upload's metadata file.</summary>
internal sealed record UploadRecord(string Uploader, string ContentType, long Size, string Sha256, DateTimeOffset StartedAt);

/// <summary>A stored item's metadata file.</summary>
internal sealed record ObjectRecord(string Uploader, string ContentType, long Size, string Sha256, DateTimeOffset StoredAt);

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    RespectNullableAnnotations = true,
    RespectRequiredConstructorParameters = true)]
[JsonSerializable(typeof(UploadRecord))]
[JsonSerializable(typeof(ObjectRecord))]
[JsonSerializable(typeof(S3ObjectRecord))]
[JsonSerializable(typeof(MultipartRecord))]
internal sealed partial class MediaJson : JsonSerializerContext;
