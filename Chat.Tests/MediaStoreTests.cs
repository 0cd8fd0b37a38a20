using System.Security.Cryptography;
using Chat.Node.Media;

namespace Chat.Tests;

public sealed class MediaStoreTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);

    private readonly string _temp = Path.Combine(Path.GetTempPath(), "chat-media-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly string _root;
    private readonly FileMediaStore _store;

    public MediaStoreTests()
    {
        _root = Path.Combine(_temp, "media");
        _store = new FileMediaStore(_root);
    }

    public void Dispose() => TestNode.TryDelete(_temp);

    [Fact]
    public void A_directory_is_flushed_to_disk_and_a_missing_one_is_an_error_naming_it()
    {
        Directory.CreateDirectory(_root);
        DirectoryFlush.Flush(_root); // no exception: the directory's entries reached the disk
        var missing = Path.Combine(_temp, "nowhere");
        if (OperatingSystem.IsWindows()) return; // nothing to flush there
        var e = Assert.Throws<IOException>(() => DirectoryFlush.Flush(missing));
        Assert.Contains(missing, e.Message);
    }

    [Fact]
    public async Task Temporary_files_left_by_interrupted_writes_are_removed_once_old_and_nothing_else()
    {
        var content = RandomNumberGenerator.GetBytes(5000);
        var upload = await UploadAllAsync(content);
        var stored = await _store.CompleteUploadAsync((await UploadAllAsync(content)).UploadId, Now);
        var objectFolder = Path.GetDirectoryName(Directory.GetFiles(_root, stored.MediaId + ".json", SearchOption.AllDirectories).Single())!;
        string Leftover(string folder, string name, int bytes, TimeSpan age)
        {
            var path = Path.Combine(folder, name);
            File.WriteAllBytes(path, new byte[bytes]);
            File.SetLastWriteTimeUtc(path, DateTime.UtcNow - age);
            return path;
        }
        var oldUploadTemp = Leftover(Path.Combine(_root, "uploads"), upload.UploadId + ".json.0a1b2c3d4e5f.tmp", 120, TimeSpan.FromDays(2));
        var oldObjectTemp = Leftover(objectFolder, stored.MediaId + ".json.0a1b2c3d4e5f.tmp", 80, TimeSpan.FromDays(2));
        var freshTemp = Leftover(objectFolder, stored.MediaId + ".json.ffffffffffff.tmp", 50, TimeSpan.Zero);

        var (files, bytes) = await _store.RemoveLeftoversAsync(DateTimeOffset.UtcNow - TimeSpan.FromDays(1));

        Assert.Equal((2, 200L), (files, bytes));
        Assert.False(File.Exists(oldUploadTemp));
        Assert.False(File.Exists(oldObjectTemp));
        Assert.True(File.Exists(freshTemp)); // a write in progress is not touched
        Assert.Equal(content.Length, (await _store.GetUploadAsync(upload.UploadId))!.Received); // the upload is intact
        Assert.Equal(content, await ReadAllAsync(stored.MediaId)); // and the stored item
        Assert.Equal((0, 0L), await _store.RemoveLeftoversAsync(DateTimeOffset.UtcNow - TimeSpan.FromDays(1)));
    }

    private static UploadSpec Spec(byte[] content, string type = "image/png") =>
        new("u" + new string('a', 16), type, content.Length, SHA256.HashData(content));

    private async Task<UploadInfo> UploadAllAsync(byte[] content, int chunk = 64 * 1024)
    {
        var upload = await _store.StartUploadAsync(Spec(content), Now);
        for (var at = 0; at < content.Length; at += chunk)
        {
            var received = await _store.AppendAsync(upload.UploadId, at, content.AsMemory(at, Math.Min(chunk, content.Length - at)));
            Assert.Equal(Math.Min(at + chunk, content.Length), received);
        }
        return upload;
    }

    private async Task<byte[]> ReadAllAsync(string mediaId)
    {
        var output = new MemoryStream();
        var buffer = new byte[100_000];
        int read;
        while ((read = await _store.ReadAsync(mediaId, output.Length, buffer)) > 0)
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
    public async Task MediaStore_three_MiB_in_256_KiB_chunks_completes_and_reads_back()
    {
        var content = RandomNumberGenerator.GetBytes(3 << 20);
        var upload = await UploadAllAsync(content, chunk: 256 * 1024);
        Assert.Equal(content.Length, (await _store.GetUploadAsync(upload.UploadId))!.Received);

        var media = await _store.CompleteUploadAsync(upload.UploadId, Now);

        Assert.True(MediaIds.IsMediaId(media.MediaId));
        Assert.Equal(content.Length, media.Size);
        Assert.Equal(Now, media.StoredAt);
        Assert.Equal(Now, media.LastReferencedAt);
        var stored = await _store.GetAsync(media.MediaId);
        Assert.NotNull(stored);
        Assert.Equal(Now, stored.LastReferencedAt);
        Assert.Equal(Now, stored.StoredAt);
        Assert.Equal("image/png", stored.ContentType);
        Assert.Equal(SHA256.HashData(content), stored.Sha256);

        var back = await ReadAllAsync(media.MediaId);
        Assert.Equal(SHA256.HashData(content), SHA256.HashData(back));
        Assert.True(content.AsSpan().SequenceEqual(back));

        Assert.Null(await _store.GetUploadAsync(upload.UploadId));
        Assert.Empty(await ToListAsync(_store.ListUploadsAsync()));
        Assert.Equal([media.MediaId], (await ToListAsync(_store.ListAsync())).Select(m => m.MediaId));
        Assert.Equal(MediaStoreError.UnknownUpload, await ErrorOf(() => _store.CompleteUploadAsync(upload.UploadId, Now)));
    }

    [Fact]
    public async Task MediaStore_append_at_a_wrong_offset_writes_nothing_and_tells_the_expected_offset()
    {
        var content = RandomNumberGenerator.GetBytes(1000);
        var upload = await _store.StartUploadAsync(Spec(content), Now);
        Assert.Equal(400, await _store.AppendAsync(upload.UploadId, 0, content.AsMemory(0, 400)));

        foreach (var offset in new long[] { 0, 399, 401, 900 })
        {
            var e = await Assert.ThrowsAsync<MediaStoreException>(() => _store.AppendAsync(upload.UploadId, offset, content.AsMemory(400, 100)));
            Assert.Equal(MediaStoreError.WrongOffset, e.Error);
            Assert.Equal(400, e.ExpectedOffset);
        }
        Assert.Equal(400, (await _store.GetUploadAsync(upload.UploadId))!.Received);
    }

    [Fact]
    public async Task MediaStore_append_past_the_declared_size_is_too_long()
    {
        var content = RandomNumberGenerator.GetBytes(1000);
        var upload = await _store.StartUploadAsync(Spec(content), Now);
        await _store.AppendAsync(upload.UploadId, 0, content.AsMemory(0, 600));

        Assert.Equal(MediaStoreError.TooLong, await ErrorOf(() => _store.AppendAsync(upload.UploadId, 600, new byte[401])));
        Assert.Equal(600, (await _store.GetUploadAsync(upload.UploadId))!.Received);
        Assert.Equal(1000, await _store.AppendAsync(upload.UploadId, 600, content.AsMemory(600)));
        Assert.Equal(MediaStoreError.TooLong, await ErrorOf(() => _store.AppendAsync(upload.UploadId, 1000, new byte[1])));
    }

    [Fact]
    public async Task MediaStore_wrong_hash_deletes_the_upload_and_stores_nothing()
    {
        var content = RandomNumberGenerator.GetBytes(5000);
        var spec = Spec(content) with { Sha256 = SHA256.HashData(new byte[] { 1, 2, 3 }) };
        var upload = await _store.StartUploadAsync(spec, Now);
        await _store.AppendAsync(upload.UploadId, 0, content);

        Assert.Equal(MediaStoreError.HashMismatch, await ErrorOf(() => _store.CompleteUploadAsync(upload.UploadId, Now)));

        Assert.Null(await _store.GetUploadAsync(upload.UploadId));
        Assert.Empty(await ToListAsync(_store.ListUploadsAsync()));
        Assert.Empty(await ToListAsync(_store.ListAsync()));
        Assert.Empty(System.IO.Directory.EnumerateFiles(_root, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task MediaStore_complete_before_all_bytes_is_incomplete_and_the_upload_resumes()
    {
        var content = RandomNumberGenerator.GetBytes(10_000);
        var upload = await _store.StartUploadAsync(Spec(content), Now);
        await _store.AppendAsync(upload.UploadId, 0, content.AsMemory(0, 7000));

        Assert.Equal(MediaStoreError.Incomplete, await ErrorOf(() => _store.CompleteUploadAsync(upload.UploadId, Now)));
        Assert.Empty(await ToListAsync(_store.ListAsync()));

        var resumed = await _store.GetUploadAsync(upload.UploadId);
        Assert.Equal(7000, resumed!.Received);
        await _store.AppendAsync(upload.UploadId, resumed.Received, content.AsMemory(7000));
        var media = await _store.CompleteUploadAsync(upload.UploadId, Now);
        Assert.Equal(content, await ReadAllAsync(media.MediaId));
    }

    [Fact]
    public async Task MediaStore_a_new_store_on_the_same_root_resumes_an_upload()
    {
        var content = RandomNumberGenerator.GetBytes(3000);
        var upload = await _store.StartUploadAsync(Spec(content, "Video/MP4"), Now);
        await _store.AppendAsync(upload.UploadId, 0, content.AsMemory(0, 1234));

        var again = new FileMediaStore(_root);
        var seen = await again.GetUploadAsync(upload.UploadId);
        Assert.NotNull(seen);
        Assert.Equal(1234, seen.Received);
        Assert.Equal(upload.Uploader, seen.Uploader);
        Assert.Equal("Video/MP4", seen.ContentType);
        Assert.Equal(3000, seen.Size);
        Assert.Equal(upload.Sha256, seen.Sha256);
        Assert.Equal(Now, seen.StartedAt);
        var listed = Assert.Single(await ToListAsync(again.ListUploadsAsync()));
        Assert.Equal((upload.UploadId, 1234L), (listed.UploadId, listed.Received));

        await again.AppendAsync(upload.UploadId, 1234, content.AsMemory(1234));
        var media = await again.CompleteUploadAsync(upload.UploadId, Now);
        Assert.Equal(content, await ReadAllAsync(media.MediaId));
    }

    [Fact]
    public async Task MediaStore_abort_removes_an_upload()
    {
        var content = RandomNumberGenerator.GetBytes(100);
        var upload = await UploadAllAsync(content);
        await _store.AbortUploadAsync(upload.UploadId);
        await _store.AbortUploadAsync(upload.UploadId);
        Assert.Null(await _store.GetUploadAsync(upload.UploadId));
        Assert.Equal(MediaStoreError.UnknownUpload, await ErrorOf(() => _store.AppendAsync(upload.UploadId, 100, Array.Empty<byte>())));
        Assert.Equal(MediaStoreError.UnknownUpload, await ErrorOf(() => _store.CompleteUploadAsync(upload.UploadId, Now)));
        Assert.Empty(System.IO.Directory.EnumerateFiles(_root, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task MediaStore_an_append_while_another_holds_the_upload_is_busy()
    {
        var content = RandomNumberGenerator.GetBytes(100);
        var upload = await _store.StartUploadAsync(Spec(content), Now);
        var part = Path.Combine(_root, "uploads", upload.UploadId + ".part");
        using (new FileStream(part, FileMode.Open, FileAccess.ReadWrite, FileShare.None))
        {
            Assert.Equal(MediaStoreError.Busy, await ErrorOf(() => _store.AppendAsync(upload.UploadId, 0, content)));
            Assert.Equal(MediaStoreError.Busy, await ErrorOf(() => _store.CompleteUploadAsync(upload.UploadId, Now)));
        }
        Assert.Equal(100, await _store.AppendAsync(upload.UploadId, 0, content));
    }

    [Fact]
    public async Task MediaStore_touch_moves_last_referenced_forward()
    {
        var content = RandomNumberGenerator.GetBytes(100);
        var media = await _store.CompleteUploadAsync((await UploadAllAsync(content)).UploadId, Now);

        var later = Now.AddDays(3);
        await _store.TouchAsync(media.MediaId, later);
        var touched = await _store.GetAsync(media.MediaId);
        Assert.Equal(later, touched!.LastReferencedAt);
        Assert.Equal(Now, touched.StoredAt);
        Assert.Equal(later, Assert.Single(await ToListAsync(_store.ListAsync())).LastReferencedAt);

        await _store.TouchAsync(media.MediaId, Now.AddDays(1));
        Assert.Equal(later, (await _store.GetAsync(media.MediaId))!.LastReferencedAt);
    }

    [Fact]
    public async Task MediaStore_delete_removes_an_item()
    {
        var content = RandomNumberGenerator.GetBytes(100);
        var media = await _store.CompleteUploadAsync((await UploadAllAsync(content)).UploadId, Now);
        var other = await _store.CompleteUploadAsync((await UploadAllAsync(content)).UploadId, Now);
        Assert.NotEqual(media.MediaId, other.MediaId);

        Assert.True(await _store.DeleteAsync(media.MediaId));

        Assert.Null(await _store.GetAsync(media.MediaId));
        Assert.Equal(MediaStoreError.UnknownMedia, await ErrorOf(() => _store.ReadAsync(media.MediaId, 0, new byte[10])));
        Assert.Equal(MediaStoreError.UnknownMedia, await ErrorOf(() => _store.TouchAsync(media.MediaId, Now)));
        Assert.False(await _store.DeleteAsync(media.MediaId));
        Assert.Equal([other.MediaId], (await ToListAsync(_store.ListAsync())).Select(m => m.MediaId));
        Assert.Equal(content, await ReadAllAsync(other.MediaId));
    }

    [Fact]
    public async Task MediaStore_leftovers_of_a_crash_are_listed_for_removal_but_never_read()
    {
        var content = RandomNumberGenerator.GetBytes(100);
        var media = await _store.CompleteUploadAsync((await UploadAllAsync(content)).UploadId, Now);
        var upload = await _store.StartUploadAsync(Spec(content), Now);
        var shard = Path.Combine(_root, "objects", media.MediaId[1..3]);
        // A crash between writing an item's metadata and renaming its data into place; between an upload's metadata
        // and its part file; and in the middle of writing metadata.
        File.Delete(Path.Combine(shard, media.MediaId));
        File.Delete(Path.Combine(_root, "uploads", upload.UploadId + ".part"));
        File.WriteAllText(Path.Combine(shard, media.MediaId + ".json.0a1b2c3d4e5f.tmp"), "{");
        File.WriteAllText(Path.Combine(_root, "uploads", upload.UploadId + ".json.0a1b2c3d4e5f.tmp"), "{");
        File.WriteAllText(Path.Combine(_root, "uploads", "notes.json"), "{}");

        Assert.Null(await _store.GetAsync(media.MediaId));
        Assert.Equal(MediaStoreError.UnknownMedia, await ErrorOf(() => _store.ReadAsync(media.MediaId, 0, new byte[10])));
        var listed = Assert.Single(await ToListAsync(_store.ListAsync()));
        Assert.Equal((media.MediaId, Now), (listed.MediaId, listed.LastReferencedAt));
        Assert.True(await _store.DeleteAsync(media.MediaId));
        Assert.Empty(await ToListAsync(_store.ListAsync()));

        Assert.Null(await _store.GetUploadAsync(upload.UploadId));
        var stale = Assert.Single(await ToListAsync(_store.ListUploadsAsync()));
        Assert.Equal((upload.UploadId, 0L), (stale.UploadId, stale.Received));
        await _store.AbortUploadAsync(upload.UploadId);
        Assert.Empty(await ToListAsync(_store.ListUploadsAsync()));
    }

    [Fact]
    public void MediaStore_ids_carry_128_random_bits()
    {
        const string alphabet = "abcdefghijklmnopqrstuvwxyz234567";
        var media = Enumerable.Range(0, 1000).Select(_ => MediaIds.NewMediaId()).ToList();
        var uploads = Enumerable.Range(0, 1000).Select(_ => MediaIds.NewUploadId()).ToList();

        Assert.All(media, id =>
        {
            Assert.Equal(27, id.Length);
            Assert.Equal('m', id[0]);
            Assert.All(id[1..], c => Assert.Contains(c, alphabet));
            Assert.True(MediaIds.IsMediaId(id));
            Assert.False(MediaIds.IsUploadId(id));
        });
        Assert.All(uploads, id =>
        {
            Assert.Equal(27, id.Length);
            Assert.Equal('p', id[0]);
            Assert.True(MediaIds.IsUploadId(id));
            Assert.False(MediaIds.IsMediaId(id));
        });
        Assert.Equal(1000, media.Distinct().Count());
        Assert.Equal(1000, uploads.Distinct().Count());
        // 26 characters carry 130 bits: 128 random, the last character's low 2 bits zero.
        Assert.All(media.Concat(uploads), id => Assert.Equal(0, alphabet.IndexOf(id[^1]) & 3));
        // Every one of the 32 characters turns up in every position but the last (1000 draws of 5 random bits).
        for (var i = 1; i < 26; i++)
            Assert.Equal(32, media.Select(id => id[i]).Distinct().Count());
    }

    public static TheoryData<string> MalformedIds() =>
    [
        "",
        "../x",
        "m" + new string('A', 26),
        "p" + new string('A', 26),
        "m" + new string('a', 25) + "A",
        "m" + new string('a', 25),
        "m" + new string('a', 27),
        "m" + new string('a', 25) + "1",
        "m/../../../victim",
        "p/../../../victim",
        "m../../../victim",
        "p../../../victim",
        "p" + new string('a', 26) + "/",
    ];

    [Theory]
    [MemberData(nameof(MalformedIds))]
    public async Task MediaStore_malformed_ids_are_unknown_and_touch_nothing_outside_the_root(string id)
    {
        // Files where a store joining the id into paths unchecked would reach, outside the root.
        var baits = new[]
        {
            Path.Combine(_root, "uploads", id + ".part"),
            Path.Combine(_root, "uploads", id + ".json"),
            Path.Combine(_root, "objects", id.Length >= 3 ? id[1..3] : id, id),
            Path.Combine(_root, "objects", id.Length >= 3 ? id[1..3] : id, id + ".json"),
            Path.Combine(_temp, "victim"),
        }.Select(Path.GetFullPath).Where(p => !p.StartsWith(_root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
         .Where(p => p.StartsWith(_temp + Path.DirectorySeparatorChar, StringComparison.Ordinal)).Distinct().ToList();
        var old = new DateTime(2001, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        foreach (var bait in baits)
        {
            System.IO.Directory.CreateDirectory(Path.GetDirectoryName(bait)!);
            File.WriteAllText(bait, "bait");
            File.SetLastWriteTimeUtc(bait, old);
        }
        var outside = FilesOutsideRoot();

        Assert.Null(await _store.GetUploadAsync(id));
        Assert.Equal(MediaStoreError.UnknownUpload, await ErrorOf(() => _store.AppendAsync(id, 0, new byte[] { 1 })));
        Assert.Equal(MediaStoreError.UnknownUpload, await ErrorOf(() => _store.CompleteUploadAsync(id, Now)));
        await _store.AbortUploadAsync(id);
        Assert.Null(await _store.GetAsync(id));
        Assert.Equal(MediaStoreError.UnknownMedia, await ErrorOf(() => _store.ReadAsync(id, 0, new byte[10])));
        Assert.Equal(MediaStoreError.UnknownMedia, await ErrorOf(() => _store.TouchAsync(id, Now)));
        Assert.False(await _store.DeleteAsync(id));

        foreach (var bait in baits)
        {
            Assert.Equal("bait", File.ReadAllText(bait));
            Assert.Equal(old, File.GetLastWriteTimeUtc(bait));
        }
        Assert.Equal(outside, FilesOutsideRoot());
    }

    private List<string> FilesOutsideRoot() =>
        System.IO.Directory.EnumerateFileSystemEntries(_temp, "*", SearchOption.AllDirectories)
            .Where(p => p != _root && !p.StartsWith(_root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            .Order(StringComparer.Ordinal).ToList();

    [Fact]
    public async Task MediaStore_well_shaped_ids_that_were_never_issued_are_unknown()
    {
        var media = MediaIds.NewMediaId();
        var upload = MediaIds.NewUploadId();
        Assert.Null(await _store.GetAsync(media));
        Assert.Null(await _store.GetUploadAsync(upload));
        Assert.Equal(MediaStoreError.UnknownMedia, await ErrorOf(() => _store.ReadAsync(media, 0, new byte[1])));
        Assert.Equal(MediaStoreError.UnknownUpload, await ErrorOf(() => _store.AppendAsync(upload, 0, new byte[1])));
        Assert.Null(await _store.GetAsync(upload));
        Assert.Null(await _store.GetUploadAsync(media));
    }

    private static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", ""));

    private static byte[] Ascii(string s) => System.Text.Encoding.ASCII.GetBytes(s);

    /// <summary>The first bytes of real files of each type.</summary>
    private static readonly Dictionary<string, byte[]> Headers = new()
    {
        ["image/jpeg"] = Hex("FF D8 FF E0 00 10 4A 46 49 46 00 01 01 00 00 01"),
        ["image/png"] = Hex("89 50 4E 47 0D 0A 1A 0A 00 00 00 0D 49 48 44 52"),
        ["image/webp"] = [.. Ascii("RIFF"), .. Hex("24 5A 00 00"), .. Ascii("WEBPVP8 ")],
        ["image/gif"] = [.. Ascii("GIF89a"), .. Hex("01 00 01 00 80 00 00 FF FF FF")],
        ["video/mp4"] = [.. Hex("00 00 00 20"), .. Ascii("ftypisom"), .. Hex("00 00 02 00")],
        ["video/webm"] = Hex("1A 45 DF A3 9F 42 86 81 01 42 F7 81 01 42 F2 81"),
    };

    public static TheoryData<string, string> TypePairs()
    {
        var data = new TheoryData<string, string>();
        foreach (var declared in Headers.Keys)
            foreach (var actual in Headers.Keys)
                data.Add(declared, actual);
        return data;
    }

    [Theory]
    [MemberData(nameof(TypePairs))]
    public void MediaStore_types_match_only_their_own_headers(string declared, string actual)
    {
        Assert.True(MediaTypes.IsKnown(declared));
        Assert.Equal(declared == actual, MediaTypes.Matches(declared, Headers[actual]));
        Assert.Equal(declared == actual, MediaTypes.Matches(declared.ToUpperInvariant(), Headers[actual]));
    }

    [Fact]
    public void MediaStore_types_need_their_whole_signature()
    {
        Assert.Equal(
            ["image/gif", "image/jpeg", "image/png", "image/webp", "video/mp4", "video/webm"],
            MediaTypes.Known.Order());
        foreach (var (type, header) in Headers)
        {
            var needed = MediaTypes.HeadBytesNeeded(type);
            Assert.InRange(needed, 1, header.Length);
            Assert.True(MediaTypes.Matches(type, header.AsSpan(0, needed)));
            Assert.False(MediaTypes.Matches(type, header.AsSpan(0, needed - 1)));
            Assert.False(MediaTypes.Matches(type, ReadOnlySpan<byte>.Empty));
        }
        Assert.Equal(12, MediaTypes.HeadBytesNeeded("image/webp"));
        Assert.Equal(8, MediaTypes.HeadBytesNeeded("image/png"));
        Assert.True(MediaTypes.Matches("image/gif", Ascii("GIF87a")));
        Assert.False(MediaTypes.Matches("image/gif", Ascii("GIF88a")));
        Assert.False(MediaTypes.Matches("image/jpeg", Headers["image/png"]));
        Assert.False(MediaTypes.Matches("image/heic", Headers["video/mp4"]));
        Assert.False(MediaTypes.IsKnown("image/heic"));
        Assert.False(MediaTypes.IsKnown("text/plain"));
    }

    [Fact]
    public void MediaStore_types_have_kinds()
    {
        Assert.Equal(MediaKind.Image, MediaTypes.Kind("image/jpeg"));
        Assert.Equal(MediaKind.Image, MediaTypes.Kind("IMAGE/WebP"));
        Assert.Equal(MediaKind.Video, MediaTypes.Kind("video/mp4"));
        Assert.Equal(MediaKind.Video, MediaTypes.Kind("Video/WebM"));
        Assert.Throws<ArgumentException>(() => MediaTypes.Kind("text/plain"));
    }
}
