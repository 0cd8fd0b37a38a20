using System.Security.Cryptography;
using Amazon.S3.Model;
using Chat.Node;
using Chat.Node.Media;

namespace Chat.Tests;

/// <summary>The S3 media store against a real S3 API (s3rver on loopback), each test on a bucket of its own.</summary>
public sealed class S3MediaStoreTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Now = new(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);

    private S3Settings _settings = null!;
    private S3MediaStore _store = null!;

    public async Task InitializeAsync()
    {
        _settings = await S3Server.NewBucketAsync();
        _store = S3MediaStore.Connect(_settings);
    }

    public Task DisposeAsync()
    {
        _store.Dispose();
        return Task.CompletedTask;
    }

    private static UploadSpec Spec(byte[] content) => new("u" + new string('a', 16), "video/mp4", content.Length, SHA256.HashData(content));

    private static async Task<UploadInfo> UploadAllAsync(IMediaStore store, byte[] content, int chunk = 256 * 1024)
    {
        var upload = await store.StartUploadAsync(Spec(content), Now);
        for (var at = 0; at < content.Length; at += chunk)
            Assert.Equal(Math.Min(at + chunk, content.Length),
                await store.AppendAsync(upload.UploadId, at, content.AsMemory(at, Math.Min(chunk, content.Length - at))));
        return upload;
    }

    private static async Task<byte[]> ReadAllAsync(IMediaStore store, string mediaId)
    {
        var output = new MemoryStream();
        var buffer = new byte[300_000];
        int read;
        while ((read = await store.ReadAsync(mediaId, output.Length, buffer)) > 0)
            output.Write(buffer, 0, read);
        return output.ToArray();
    }

    private static async Task<List<T>> ToListAsync<T>(IAsyncEnumerable<T> items)
    {
        var list = new List<T>();
        await foreach (var item in items) list.Add(item);
        return list;
    }

    private static async Task<MediaStoreError> ErrorOf(Func<Task> action) =>
        (await Assert.ThrowsAsync<MediaStoreException>(action)).Error;

    [Fact]
    public async Task S3_store_a_12_MiB_video_in_256_KiB_chunks_is_stored_in_parts_and_read_back_by_range()
    {
        var content = RandomNumberGenerator.GetBytes((12 << 20) + 12345); // three parts of 5 MiB, the last one shorter
        var upload = await UploadAllAsync(_store, content);
        Assert.Equal(content.Length, (await _store.GetUploadAsync(upload.UploadId))!.Received);

        var media = await _store.CompleteUploadAsync(upload.UploadId, Now);

        Assert.True(MediaIds.IsMediaId(media.MediaId));
        var stored = await _store.GetAsync(media.MediaId);
        Assert.NotNull(stored);
        Assert.Equal((content.Length, "video/mp4", Now, Now), (stored.Size, stored.ContentType, stored.StoredAt, stored.LastReferencedAt));
        Assert.Equal(SHA256.HashData(content), stored.Sha256);
        Assert.Equal(content, await ReadAllAsync(_store, media.MediaId));
        // a range from the middle, across the first part boundary, and past the end
        var middle = new byte[1000];
        Assert.Equal(1000, await _store.ReadAsync(media.MediaId, (5 << 20) - 500, middle));
        Assert.Equal(content.AsSpan((5 << 20) - 500, 1000).ToArray(), middle);
        Assert.Equal(345, await _store.ReadAsync(media.MediaId, content.Length - 345, new byte[1000]));
        Assert.Equal(0, await _store.ReadAsync(media.MediaId, content.Length, new byte[1000]));

        // nothing of the upload stays: only the item and its metadata are in the bucket
        Assert.Null(await _store.GetUploadAsync(upload.UploadId));
        Assert.Empty(await ToListAsync(_store.ListUploadsAsync()));
        Assert.Equal([$"objects/{media.MediaId}", $"objects/{media.MediaId}.json"], await S3Server.KeysAsync(_settings));
        Assert.Equal([media.MediaId], (await ToListAsync(_store.ListAsync())).Select(m => m.MediaId));
        Assert.Equal(MediaStoreError.UnknownUpload, await ErrorOf(() => _store.CompleteUploadAsync(upload.UploadId, Now)));
    }

    [Fact]
    public async Task S3_store_an_upload_begun_through_one_node_resumes_through_another()
    {
        var content = RandomNumberGenerator.GetBytes(3 << 20);
        var upload = await _store.StartUploadAsync(Spec(content), Now);
        Assert.Equal(1 << 20, await _store.AppendAsync(upload.UploadId, 0, content.AsMemory(0, 1 << 20)));

        // another node: its own client, the same bucket
        using var other = S3MediaStore.Connect(_settings);
        var seen = await other.GetUploadAsync(upload.UploadId);
        Assert.NotNull(seen);
        Assert.Equal((1L << 20, upload.Uploader, "video/mp4", content.Length, Now), (seen.Received, seen.Uploader, seen.ContentType, seen.Size, seen.StartedAt));
        Assert.Equal(upload.Sha256, seen.Sha256);
        Assert.Equal((upload.UploadId, 1L << 20), Assert.Single(await ToListAsync(other.ListUploadsAsync())) is var l ? (l.UploadId, l.Received) : default);

        // a chunk at the wrong offset writes nothing and names the right one; one past the declared size is refused
        var wrong = await Assert.ThrowsAsync<MediaStoreException>(() => other.AppendAsync(upload.UploadId, 0, content.AsMemory(0, 100)));
        Assert.Equal((MediaStoreError.WrongOffset, 1L << 20), (wrong.Error, wrong.ExpectedOffset));
        Assert.Equal(MediaStoreError.TooLong, await ErrorOf(() => other.AppendAsync(upload.UploadId, 1 << 20, new byte[(2 << 20) + 1])));
        Assert.Equal(MediaStoreError.Incomplete, await ErrorOf(() => other.CompleteUploadAsync(upload.UploadId, Now)));

        Assert.Equal(2 << 20, await other.AppendAsync(upload.UploadId, 1 << 20, content.AsMemory(1 << 20, 1 << 20)));
        // the first node, whose last chunk ended at 1 MiB, learns that the upload moved on without it
        var stale = await Assert.ThrowsAsync<MediaStoreException>(() => _store.AppendAsync(upload.UploadId, 1 << 20, content.AsMemory(1 << 20, 100)));
        Assert.Equal((MediaStoreError.WrongOffset, 2L << 20), (stale.Error, stale.ExpectedOffset));
        Assert.Equal(content.Length, await other.AppendAsync(upload.UploadId, 2 << 20, content.AsMemory(2 << 20)));
        var media = await other.CompleteUploadAsync(upload.UploadId, Now);
        Assert.Equal(content, await ReadAllAsync(_store, media.MediaId));
    }

    [Fact]
    public async Task S3_store_a_wrong_hash_is_refused_and_leaves_the_bucket_empty()
    {
        var content = RandomNumberGenerator.GetBytes(6 << 20);
        var upload = await _store.StartUploadAsync(Spec(content) with { Sha256 = SHA256.HashData(new byte[] { 1, 2, 3 }) }, Now);
        for (var at = 0; at < content.Length; at += 1 << 20)
            await _store.AppendAsync(upload.UploadId, at, content.AsMemory(at, 1 << 20));

        Assert.Equal(MediaStoreError.HashMismatch, await ErrorOf(() => _store.CompleteUploadAsync(upload.UploadId, Now)));

        Assert.Null(await _store.GetUploadAsync(upload.UploadId));
        Assert.Empty(await ToListAsync(_store.ListAsync()));
        Assert.Empty(await S3Server.KeysAsync(_settings));
    }

    [Fact]
    public async Task S3_store_touch_moves_last_referenced_forward_and_delete_removes_the_item()
    {
        var content = RandomNumberGenerator.GetBytes(1000);
        var media = await _store.CompleteUploadAsync((await UploadAllAsync(_store, content)).UploadId, Now);
        var other = await _store.CompleteUploadAsync((await UploadAllAsync(_store, content)).UploadId, Now);

        await _store.TouchAsync(media.MediaId, Now.AddDays(3));
        await _store.TouchAsync(media.MediaId, Now.AddDays(1));
        Assert.Equal((Now.AddDays(3), Now), ((await _store.GetAsync(media.MediaId))!.LastReferencedAt, (await _store.GetAsync(media.MediaId))!.StoredAt));
        Assert.Equal(Now.AddDays(3), (await ToListAsync(_store.ListAsync())).Single(m => m.MediaId == media.MediaId).LastReferencedAt);

        Assert.True(await _store.DeleteAsync(media.MediaId));

        Assert.Null(await _store.GetAsync(media.MediaId));
        Assert.Equal(MediaStoreError.UnknownMedia, await ErrorOf(() => _store.ReadAsync(media.MediaId, 0, new byte[10])));
        Assert.Equal(MediaStoreError.UnknownMedia, await ErrorOf(() => _store.TouchAsync(media.MediaId, Now)));
        Assert.False(await _store.DeleteAsync(media.MediaId));
        Assert.Equal([other.MediaId], (await ToListAsync(_store.ListAsync())).Select(m => m.MediaId));
        Assert.Equal([$"objects/{other.MediaId}", $"objects/{other.MediaId}.json"], await S3Server.KeysAsync(_settings));
        Assert.Equal(content, await ReadAllAsync(_store, other.MediaId));
    }

    [Fact]
    public async Task S3_store_abort_removes_an_upload_and_its_chunks()
    {
        var content = RandomNumberGenerator.GetBytes(600_000);
        var upload = await UploadAllAsync(_store, content);
        await _store.AbortUploadAsync(upload.UploadId);
        await _store.AbortUploadAsync(upload.UploadId);
        Assert.Null(await _store.GetUploadAsync(upload.UploadId));
        Assert.Equal(MediaStoreError.UnknownUpload, await ErrorOf(() => _store.AppendAsync(upload.UploadId, 0, content)));
        Assert.Equal(MediaStoreError.UnknownUpload, await ErrorOf(() => _store.CompleteUploadAsync(upload.UploadId, Now)));
        Assert.Empty(await S3Server.KeysAsync(_settings));
    }

    [Fact]
    public async Task S3_store_leftovers_of_a_cut_off_completion_and_of_a_raced_abort_are_removed_once_old()
    {
        var content = RandomNumberGenerator.GetBytes(1000);
        var kept = await _store.CompleteUploadAsync((await UploadAllAsync(_store, content)).UploadId, Now);
        var pending = await UploadAllAsync(_store, content);
        // What a node that died in the middle of completing leaves: a multipart upload to the item's key, recorded;
        // and chunks of an upload whose declaration an abort removed while an append was under way.
        using var client = S3MediaStore.Client(_settings);
        var mediaId = MediaIds.NewMediaId();
        var started = await client.InitiateMultipartUploadAsync(new InitiateMultipartUploadRequest { BucketName = _settings.Bucket, Key = $"objects/{mediaId}" });
        await client.PutObjectAsync(new PutObjectRequest
        {
            BucketName = _settings.Bucket, Key = $"multipart/{mediaId}.json", UseChunkEncoding = false,
            ContentBody = $$"""{"uploadId":"{{MediaIds.NewUploadId()}}","multipartUploadId":"{{started.UploadId}}","startedAt":"{{Now:O}}"}""",
        });
        var orphan = MediaIds.NewUploadId();
        await client.PutObjectAsync(new PutObjectRequest
        {
            BucketName = _settings.Bucket, Key = $"chunks/{orphan}/000000000000000", UseChunkEncoding = false, InputStream = new MemoryStream(new byte[700]),
        });

        // not yet old: nothing goes
        Assert.Equal((0, 0L), await _store.RemoveLeftoversAsync(Now - TimeSpan.FromDays(1)));
        Assert.Equal(6, (await S3Server.KeysAsync(_settings)).Count);

        Assert.Equal((2, 700L), await _store.RemoveLeftoversAsync(DateTimeOffset.UtcNow + TimeSpan.FromDays(1)));

        Assert.Empty(await S3Server.KeysAsync(_settings, "multipart/"));
        Assert.Empty(await S3Server.KeysAsync(_settings, $"chunks/{orphan}/"));
        Assert.Equal(content.Length, (await _store.GetUploadAsync(pending.UploadId))!.Received); // an upload in progress is not touched
        Assert.Equal(content, await ReadAllAsync(_store, kept.MediaId)); // nor a stored item
        Assert.Null(await _store.GetAsync(mediaId));
    }

    [Fact]
    public void S3_store_settings_that_cannot_work_stop_the_node_with_a_reason()
    {
        // a chat.media section layered over node.conf, as a --config file would be
        static MediaSettings Read(string hocon) =>
            MediaSettings.From(Akka.Configuration.ConfigurationFactory.ParseString($"chat.media {{\n{hocon}\n}}").WithFallback(TestNode.DefaultConfig()));
        static string Refused(string hocon) => Assert.Throws<ArgumentException>(() => Read(hocon)).Message;

        Assert.Contains("chat.media.s3.bucket", Refused("store = s3"));
        Assert.Contains("chat.media.store must be file or s3", Refused("store = ftp"));
        Assert.Contains("http://", Refused("store = s3\ns3 { bucket = b, endpoint = \"127.0.0.1:9000\" }"));
        Assert.Contains("go together", Refused("store = s3\ns3 { bucket = b, access-key = k }"));
        Assert.Contains("5 MiB", Refused("store = s3\ns3 { bucket = b, part-size = 1 MiB }"));
        var fine = Read("store = S3\ns3 { bucket = media, endpoint = \"http://127.0.0.1:9000\", force-path-style = on, access-key = k, secret-key = s }");
        Assert.Equal(("s3", "media", "http://127.0.0.1:9000", true, "us-east-1", 8L << 20),
            (fine.Store, fine.S3.Bucket, fine.S3.Endpoint, fine.S3.ForcePathStyle, fine.S3.Region, fine.S3.PartSize));
        Assert.Equal("file", Read("max-chunk-bytes = 256 KiB").Store);
    }
}
