using System.Diagnostics;
using System.Security.Cryptography;
using Akka.Actor;
using Chat.Protocol;

namespace Chat.Tests;

/// <summary>Uploads, downloads and media messages over TCP against a real node.</summary>
public sealed class MediaTests(SharedMediaNode shared) : IClassFixture<SharedMediaNode>
{
    private readonly TestNode _node = shared.Node;

    /// <summary>Random bytes that start like a file of the given type.</summary>
    public static byte[] FakeFile(string contentType, int size, int seed = 1)
    {
        var bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        byte[] head = contentType switch
        {
            "image/png" => [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A],
            "image/jpeg" => [0xFF, 0xD8, 0xFF, 0xE0],
            "video/mp4" => [0, 0, 0, 0x20, (byte)'f', (byte)'t', (byte)'y', (byte)'p', (byte)'i', (byte)'s', (byte)'o', (byte)'m'],
            "video/webm" => [0x1A, 0x45, 0xDF, 0xA3],
            _ => throw new ArgumentOutOfRangeException(nameof(contentType)),
        };
        head.CopyTo(bytes, 0);
        return bytes;
    }

    private string MediaFiles() => Path.Combine(_node.DataDirectory, "media");

    /// <summary>Every regular file under the media folder (stored media, their metadata, unfinished uploads).</summary>
    private List<string> StoredFiles(string sub) =>
        Directory.Exists(Path.Combine(MediaFiles(), sub))
            ? Directory.GetFiles(Path.Combine(MediaFiles(), sub), "*", SearchOption.AllDirectories).ToList()
            : [];

    [Fact]
    public async Task An_image_and_a_20_MiB_video_round_trip_byte_for_byte_in_messages()
    {
        await using var alice = await _node.NewUserAsync("Alice");
        await using var bob = await _node.NewUserAsync("Bob");
        await bob.Client.SyncAsync(0);

        var image = FakeFile("image/png", 300_000, seed: 1);
        var video = FakeFile("video/mp4", 20 << 20, seed: 2);
        var thumbnail = FakeFile("image/jpeg", 8_000, seed: 3);
        var imageUp = await alice.Client.UploadAsync(new MemoryStream(image), "image/png");
        var videoUp = await alice.Client.UploadAsync(new MemoryStream(video), "video/mp4");
        Assert.Equal(27, imageUp.MediaId.Length);
        Assert.NotEqual(imageUp.MediaId, videoUp.MediaId);

        // the sender names only the id: type and size come from what the server stored
        var sentImage = await alice.Client.SendMediaAsync(bob.Id, new MediaRef(imageUp.MediaId, Thumbnail: thumbnail), "the beach");
        var sentVideo = await alice.Client.SendMediaAsync(bob.Id, new MediaRef(videoUp.MediaId));

        var first = await bob.Client.NextAsync<Message>();
        Assert.Equal(sentImage.MessageId, first.MessageId);
        Assert.Equal("the beach", first.Text);
        Assert.Equal(new[] { "image/png" }, new[] { first.Media!.ContentType });
        Assert.Equal(image.Length, first.Media.Size);
        Assert.Equal(thumbnail, first.Media.Thumbnail);
        var second = await bob.Client.NextAsync<Message>();
        Assert.Equal(sentVideo.MessageId, second.MessageId);
        Assert.Equal("", second.Text);
        Assert.Equal("video/mp4", second.Media!.ContentType);
        Assert.Equal(video.Length, second.Media.Size);

        // the same image to a group: every member gets the reference, with the group's id and order
        var group = await alice.Client.CreateGroupAsync("photos", [bob.Id]);
        await bob.Client.NextOfAsync<GroupNotice>();
        var sentToGroup = await alice.Client.SendGroupMediaAsync(group, new MediaRef(imageUp.MediaId), "for everyone");
        var inGroup = await bob.Client.NextOfAsync<Message>();
        Assert.Equal(sentToGroup.MessageId, inGroup.MessageId);
        Assert.Equal(group, inGroup.Group);
        Assert.Equal(imageUp.MediaId, inGroup.Media!.MediaId);
        Assert.Equal("for everyone", inGroup.Text);

        foreach (var (message, original) in new[] { (first, image), (second, video) })
        {
            using var copy = new MemoryStream();
            var last = await bob.Client.DownloadAsync(message.Media!.MediaId, copy);
            Assert.Equal(SHA256.HashData(original), SHA256.HashData(copy.ToArray()));
            Assert.Equal(SHA256.HashData(original), last.Sha256);
        }
    }

    [Fact]
    public async Task Only_the_uploader_and_those_sent_the_media_may_download_or_forward_it()
    {
        await using var alice = await _node.NewUserAsync("Alice");
        await using var bob = await _node.NewUserAsync("Bob");
        await using var mallory = await _node.NewUserAsync("Mallory");
        await bob.Client.SyncAsync(0);
        var image = FakeFile("image/png", 50_000, seed: 7);
        var up = await alice.Client.UploadAsync(new MemoryStream(image), "image/png");

        // knowing the id is not enough: Mallory is told it does not exist, and cannot unlock it by sending it to herself
        var download = await Assert.ThrowsAsync<ChatException>(() => mallory.Client.DownloadAsync(up.MediaId, new MemoryStream()));
        Assert.Equal(ErrorCode.UnknownMedia, download.Code);
        var send = await Assert.ThrowsAsync<ChatException>(() => mallory.Client.SendMediaAsync(mallory.Id, new MediaRef(up.MediaId)));
        Assert.Equal(ErrorCode.UnknownMedia, send.Code);

        // the uploader may; Bob may once a message names it, and may forward it to Mallory, who then may too
        using (var own = new MemoryStream()) Assert.Equal(SHA256.HashData(image), (await alice.Client.DownloadAsync(up.MediaId, own)).Sha256);
        await alice.Client.SendMediaAsync(bob.Id, new MediaRef(up.MediaId));
        await bob.Client.NextAsync<Message>();
        using (var copy = new MemoryStream())
        {
            await bob.Client.DownloadAsync(up.MediaId, copy);
            Assert.Equal(image, copy.ToArray());
        }
        await bob.Client.SendMediaAsync(mallory.Id, new MediaRef(up.MediaId), "look");
        await mallory.Client.SyncAsync(0);
        Assert.Equal(up.MediaId, (await mallory.Client.NextAsync<Message>()).Media!.MediaId);
        using (var forwarded = new MemoryStream())
        {
            await mallory.Client.DownloadAsync(up.MediaId, forwarded);
            Assert.Equal(image, forwarded.ToArray());
        }
    }

    [Fact]
    public async Task An_upload_cut_off_halfway_resumes_on_a_new_connection_and_completes()
    {
        await using var alice = await _node.NewUserAsync("Alice");
        var video = FakeFile("video/webm", 3 << 20, seed: 4);
        var hash = SHA256.HashData(video);
        var started = await alice.Client.StartUploadAsync("video/webm", video.Length, hash);
        // half of it, then the connection drops
        for (var offset = 0; offset < video.Length / 2; offset += started.MaxChunkBytes)
        {
            var chunk = video.AsSpan(offset, Math.Min(started.MaxChunkBytes, video.Length / 2 - offset)).ToArray();
            await alice.Client.UploadChunkAsync(started.UploadId, offset, chunk);
        }
        await alice.Client.DisposeAsync();

        await using var again = await _node.ConnectAsync("phone");
        await again.LoginAsync(alice.Token);
        var status = await again.ResumeUploadAsync(started.UploadId);
        Assert.Equal(video.Length / 2, status.Received);
        var done = await again.UploadAsync(new MemoryStream(video), "video/webm", started.UploadId);
        using var copy = new MemoryStream();
        await again.DownloadAsync(done.MediaId, copy);
        Assert.Equal(hash, SHA256.HashData(copy.ToArray()));
        Assert.DoesNotContain(StoredFiles("uploads"), f => Path.GetFileName(f).StartsWith(started.UploadId)); // the staging copy is gone

        // another user cannot see or continue someone's upload
        await using var mallory = await _node.NewUserAsync("Mallory");
        var other = await again.StartUploadAsync("image/png", 100, SHA256.HashData(new byte[100]));
        var refused = await Assert.ThrowsAsync<ChatException>(() => mallory.Client.ResumeUploadAsync(other.UploadId));
        Assert.Equal(ErrorCode.UnknownUpload, refused.Code);
    }

    [Fact]
    public async Task Bad_uploads_get_clear_errors_and_store_nothing_while_the_connection_keeps_working()
    {
        await using var alice = await _node.NewUserAsync("Alice");
        await using var bob = await _node.NewUserAsync("Bob");
        await bob.Client.SyncAsync(0);
        var png = FakeFile("image/png", 50_000);
        // the node is shared by this class's tests: what counts is what this test leaves behind
        var objectsBefore = StoredFiles("objects").ToHashSet();
        var uploadsBefore = StoredFiles("uploads").ToHashSet();

        // declared size over the limit (2 MiB for images here): the limit is in the message
        var tooLarge = await Assert.ThrowsAsync<ChatException>(() =>
            alice.Client.StartUploadAsync("image/png", (2 << 20) + 1, SHA256.HashData(png)));
        Assert.Equal(ErrorCode.MediaTooLarge, tooLarge.Code);
        Assert.Contains("2097152", tooLarge.Message);

        // a content type not allowed
        var notAllowed = await Assert.ThrowsAsync<ChatException>(() =>
            alice.Client.StartUploadAsync("application/pdf", 1000, SHA256.HashData(png)));
        Assert.Equal(ErrorCode.MediaTypeNotAllowed, notAllowed.Code);
        Assert.Contains("image/png", notAllowed.Message);

        // a wrong hash: every byte arrives, the check at the end fails, nothing is stored
        var wrongHash = await Assert.ThrowsAsync<ChatException>(() => UploadWithHash(alice.Client, png, "image/png", SHA256.HashData(new byte[1])));
        Assert.Equal(ErrorCode.HashMismatch, wrongHash.Code);

        // leading bytes that do not match the declared type: a PNG declared as JPEG
        var mismatch = await Assert.ThrowsAsync<ChatException>(() => alice.Client.UploadAsync(new MemoryStream(png), "image/jpeg"));
        Assert.Equal(ErrorCode.MediaTypeMismatch, mismatch.Code);

        // a chunk at the wrong offset: refused with the expected offset, the upload stays resumable
        var upload = await alice.Client.StartUploadAsync("image/png", png.Length, SHA256.HashData(png));
        await alice.Client.UploadChunkAsync(upload.UploadId, 0, png[..1000]);
        var wrongOffset = await Assert.ThrowsAsync<ChatException>(() => alice.Client.UploadChunkAsync(upload.UploadId, 5000, png[5000..6000]));
        Assert.Equal(ErrorCode.WrongOffset, wrongOffset.Code);
        Assert.Contains("1000", wrongOffset.Message);
        Assert.Equal(1000, (await alice.Client.ResumeUploadAsync(upload.UploadId)).Received);

        // a chunk larger than the server allows
        var big = await Assert.ThrowsAsync<ChatException>(() => alice.Client.UploadChunkAsync(upload.UploadId, 1000, new byte[(256 << 10) + 1]));
        Assert.Equal(ErrorCode.ChunkTooLarge, big.Code);

        // a media message naming media that does not exist, and an oversized thumbnail
        var unknown = await Assert.ThrowsAsync<ChatException>(() =>
            alice.Client.SendMediaAsync(bob.Id, new MediaRef("m" + new string('a', 26))));
        Assert.Equal(ErrorCode.UnknownMedia, unknown.Code);
        var stored = await alice.Client.UploadAsync(new MemoryStream(png), "image/png");
        var thumbnail = await Assert.ThrowsAsync<ChatException>(() =>
            alice.Client.SendMediaAsync(bob.Id, new MediaRef(stored.MediaId, Thumbnail: new byte[16 * 1024 + 1])));
        Assert.Equal(ErrorCode.ChunkTooLarge, thumbnail.Code);
        Assert.Contains("16384", thumbnail.Message);
        var download = await Assert.ThrowsAsync<ChatException>(() => alice.Client.DownloadAsync("m" + new string('b', 26), Stream.Null));
        Assert.Equal(ErrorCode.UnknownMedia, download.Code);

        // nothing but the one good upload is stored (its bytes and its metadata)
        var objects = StoredFiles("objects").Except(objectsBefore).ToList();
        Assert.Equal(2, objects.Count);
        Assert.All(objects, f => Assert.StartsWith(stored.MediaId, Path.GetFileName(f)));
        // only the deliberately unfinished upload is left in the staging area (its bytes and its declaration)
        Assert.All(StoredFiles("uploads").Except(uploadsBefore), f => Assert.StartsWith(upload.UploadId, Path.GetFileName(f)));

        // the connection still works for chat
        await alice.Client.SendAsync(bob.Id, "still here");
        Assert.Equal("still here", (await bob.Client.NextAsync<Message>()).Text);
    }

    [Fact]
    public async Task A_text_sent_during_a_large_upload_on_the_same_connection_arrives_promptly()
    {
        await using var alice = await _node.NewUserAsync("Alice");
        await using var bob = await _node.NewUserAsync("Bob");
        await bob.Client.SyncAsync(0);
        var video = FakeFile("video/mp4", 40 << 20, seed: 5);
        var underway = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        long stored = 0; // bytes the node has confirmed so far
        var progress = new Progress(p =>
        {
            Interlocked.Exchange(ref stored, p.Done);
            if (p.Done >= 2 << 20) underway.TrySetResult();
        });
        var upload = alice.Client.UploadAsync(new MemoryStream(video), "video/mp4", progress: progress);

        // once the upload is well under way, texts go out on the same connection
        await underway.Task.WaitAsync(TimeSpan.FromSeconds(60));
        var behind = new List<long>();
        for (var i = 0; i < 5; i++)
        {
            var before = Interlocked.Read(ref stored);
            await alice.Client.SendAsync(bob.Id, $"text {i}");
            var message = await bob.Client.NextAsync<Message>();
            behind.Add(Interlocked.Read(ref stored) - before);
            Assert.Equal($"text {i}", message.Text);
        }
        Assert.False(upload.IsCompleted, "the upload finished before the texts arrived: they waited for it, or it was too short to tell");
        var done = await upload;
        Assert.Equal(video.Length, done.Size);
        // a text waits for the few chunks already in flight (8 of 256 KiB), not for the rest of the 40 MiB upload
        Assert.True(behind.Max() < 16 << 20, $"upload bytes stored while each text travelled: {string.Join(", ", behind)}");
    }

    private sealed class Progress(Action<TransferProgress> report) : IProgress<TransferProgress>
    {
        public void Report(TransferProgress value) => report(value);
    }

    [Fact]
    public async Task A_group_picture_is_set_by_a_member_announced_to_all_shown_in_info_and_removed()
    {
        await using var alice = await _node.NewUserAsync("Alice");
        await using var bob = await _node.NewUserAsync("Bob");
        await using var carol = await _node.NewUserAsync("Carol");
        var group = await alice.Client.CreateGroupAsync("hikers", [bob.Id]);
        await alice.Client.SyncAsync(0);
        await alice.Client.NextOfAsync<GroupNotice>(); // created

        var picture = await bob.Client.UploadAsync(new MemoryStream(FakeFile("image/png", 20_000)), "image/png");
        await bob.Client.SetGroupImageAsync(group, new MediaRef(picture.MediaId));
        var notice = await alice.Client.NextOfAsync<GroupNotice>();
        Assert.Equal(GroupNoticeKind.ImageChanged, notice.Kind);
        Assert.Equal(bob.Id, notice.Actor);
        Assert.Equal(picture.MediaId, notice.Image!.MediaId);
        Assert.Equal("image/png", notice.Image.ContentType);
        var info = await alice.Client.GetGroupInfoAsync(group);
        Assert.Equal(picture.MediaId, info.Image!.MediaId);
        Assert.Equal(20_000, info.Image.Size);

        // not a member, not an image, not stored: refused, and the picture stays
        var carols = await carol.Client.UploadAsync(new MemoryStream(FakeFile("image/png", 1_000, seed: 9)), "image/png");
        var outsider = await Assert.ThrowsAsync<ChatException>(() => carol.Client.SetGroupImageAsync(group, new MediaRef(carols.MediaId)));
        Assert.Equal(ErrorCode.NotMember, outsider.Code);
        // nor with the group's picture, which she may not even see
        var unseen = await Assert.ThrowsAsync<ChatException>(() => carol.Client.SetGroupImageAsync(group, new MediaRef(picture.MediaId)));
        Assert.Equal(ErrorCode.UnknownMedia, unseen.Code);
        var video = await bob.Client.UploadAsync(new MemoryStream(FakeFile("video/webm", 5_000)), "video/webm");
        var notImage = await Assert.ThrowsAsync<ChatException>(() => bob.Client.SetGroupImageAsync(group, new MediaRef(video.MediaId)));
        Assert.Equal(ErrorCode.MediaTypeNotAllowed, notImage.Code);
        var missing = await Assert.ThrowsAsync<ChatException>(() => bob.Client.SetGroupImageAsync(group, new MediaRef("m" + new string('z', 26))));
        Assert.Equal(ErrorCode.UnknownMedia, missing.Code);
        Assert.Equal(picture.MediaId, (await bob.Client.GetGroupInfoAsync(group)).Image!.MediaId);

        await alice.Client.SetGroupImageAsync(group, null);
        var removed = await alice.Client.NextOfAsync<GroupNotice>();
        Assert.Equal(GroupNoticeKind.ImageChanged, removed.Kind);
        Assert.Null(removed.Image);
        Assert.Null((await bob.Client.GetGroupInfoAsync(group)).Image);
    }

    [Fact]
    public async Task Media_requests_beyond_the_per_connection_limit_are_refused_and_every_one_is_answered()
    {
        await using var alice = await _node.NewUserAsync("Alice");
        var file = FakeFile("image/png", 40 * 1000);
        var upload = await alice.Client.StartUploadAsync("image/png", file.Length, SHA256.HashData(file));
        // 40 chunks sent at once, without waiting: the node holds at most max-chunks-in-flight (8) of them
        var chunks = Enumerable.Range(0, 40)
            .Select(i => alice.Client.UploadChunkAsync(upload.UploadId, i * 1000L, file[(i * 1000)..((i + 1) * 1000)]))
            .ToList();
        var outcomes = new List<ErrorCode?>();
        foreach (var chunk in chunks)
        {
            try { await chunk; outcomes.Add(null); }
            catch (ChatException e) { outcomes.Add(e.Code); }
        }
        Assert.Equal(40, outcomes.Count); // every request was answered
        Assert.Contains(ErrorCode.RateLimited, outcomes);
        Assert.True(outcomes.Count(o => o is null) >= 1, "the first chunks were stored");
        // what the node kept is exactly the prefix it acknowledged: the upload resumes from there
        var stored = outcomes.TakeWhile(o => o is null).Count() * 1000L;
        Assert.Equal(stored, (await alice.Client.ResumeUploadAsync(upload.UploadId)).Received);
    }

    [Fact]
    public async Task Unfinished_uploads_are_removed_after_the_upload_expiry()
    {
        var clock = new ManualClock(DateTimeOffset.UtcNow);
        var reports = new System.Collections.Concurrent.ConcurrentQueue<string>();
        await using var node = await TestNode.StartAsync(clock: clock, report: reports.Enqueue);
        await using var alice = await node.NewUserAsync("Alice");
        var png = FakeFile("image/png", 10_000);
        var stale = await alice.Client.StartUploadAsync("image/png", png.Length, SHA256.HashData(png));
        await alice.Client.UploadChunkAsync(stale.UploadId, 0, png[..4000]);
        clock.Advance(TimeSpan.FromHours(23));
        var fresh = await alice.Client.StartUploadAsync("image/png", png.Length, SHA256.HashData(png));

        // a crash between writing metadata and renaming it left a temporary file (its time: now, 25 h before the clock)
        var leftover = Path.Combine(node.DataDirectory, "media", "uploads", stale.UploadId + ".json.00112233aabb.tmp");
        await File.WriteAllTextAsync(leftover, "{}");

        clock.Advance(TimeSpan.FromHours(2)); // the first is 25 h old, the second 2 h
        var swept = await node.Node.MediaJanitor.Ask<Node.Media.MediaJanitor.Swept>(Node.Media.MediaJanitor.Sweep.Instance, TimeSpan.FromSeconds(10));
        Assert.Equal(1, swept.Uploads);
        Assert.Equal(4000, swept.Bytes);
        Assert.Equal(1, swept.Leftovers);
        Assert.False(File.Exists(leftover));
        Assert.Contains(reports, line => line.Contains("removed 1 temporary files (2 bytes) left by interrupted writes"));
        var gone = await Assert.ThrowsAsync<ChatException>(() => alice.Client.ResumeUploadAsync(stale.UploadId));
        Assert.Equal(ErrorCode.UnknownUpload, gone.Code);
        Assert.Equal(0, (await alice.Client.ResumeUploadAsync(fresh.UploadId)).Received);
        var uploads = Directory.GetFiles(Path.Combine(node.DataDirectory, "media", "uploads"));
        Assert.DoesNotContain(uploads, f => Path.GetFileName(f).StartsWith(stale.UploadId, StringComparison.Ordinal));
        Assert.Contains(reports, line => line.Contains("removed 1 unfinished uploads"));
    }

    private static async Task<UploadComplete> UploadWithHash(ChatClient client, byte[] data, string type, byte[] hash)
    {
        var status = await client.StartUploadAsync(type, data.Length, hash);
        Frame last = status;
        for (var offset = 0; offset < data.Length; offset += status.MaxChunkBytes)
            last = await client.UploadChunkAsync(status.UploadId, offset, data.AsSpan(offset, Math.Min(status.MaxChunkBytes, data.Length - offset)).ToArray());
        return (UploadComplete)last;
    }
}
