using System.Security.Cryptography;
using Akka.Actor;
using Chat.Node.Media;
using Chat.Node.Retention;
using Chat.Protocol;

namespace Chat.Tests;

/// <summary>Nodes keeping media in an S3-compatible store (s3rver on loopback): what clients see.</summary>
public sealed class S3MediaTests
{
    private const string NoAutomaticSweeps = "chat.retention.sweep-interval = 3650d\nchat.media.janitor-interval = 3650d";

    /// <summary>Sends the first <paramref name="bytes"/> of <paramref name="content"/> as chunks of an upload started here.</summary>
    private static async Task<string> UploadPartlyAsync(ChatClient client, byte[] content, string type, int bytes)
    {
        var started = await client.StartUploadAsync(type, content.Length, SHA256.HashData(content));
        for (var offset = 0; offset < bytes; offset += started.MaxChunkBytes)
        {
            var answer = await client.UploadChunkAsync(started.UploadId, offset, content.AsSpan(offset, Math.Min(started.MaxChunkBytes, bytes - offset)).ToArray());
            Assert.IsType<UploadStatus>(answer);
        }
        return started.UploadId;
    }

    private static async Task<byte[]> DownloadAsync(ChatClient client, string mediaId)
    {
        using var copy = new MemoryStream();
        await client.DownloadAsync(mediaId, copy);
        return copy.ToArray();
    }

    [Fact]
    public async Task An_upload_begun_through_a_node_killed_with_SIGKILL_resumes_through_another_node()
    {
        var s3 = await S3Server.NewBucketAsync();
        var database = await PostgresServer.NewDatabaseAsync();
        var dataA = TestNode.NewDataDirectory();
        var video = MediaTests.FakeFile("video/mp4", 6 << 20, seed: 7);
        string token, uploadId;
        try
        {
            // node A: a node process configured as an operator would, credentials in the usual environment variables
            Directory.CreateDirectory(dataA);
            var config = Path.Combine(dataA, "node.conf");
            await File.WriteAllTextAsync(config, "chat.persistence = postgres\n" + S3Server.Hocon(s3, withKeys: false));
            await using (var nodeA = await NodeProcess.StartAsync(dataA, extraArgs: ["--config", config], environment: new Dictionary<string, string>
                         {
                             [Chat.Node.Persistence.PostgresStore.EnvironmentVariable] = database,
                             ["AWS_ACCESS_KEY_ID"] = S3Server.AccessKey,
                             ["AWS_SECRET_ACCESS_KEY"] = S3Server.SecretKey,
                         }))
            {
                await using var alice = await ChatClient.ConnectAsync("127.0.0.1", nodeA.Port, new ChatClientOptions { RequestTimeout = TimeSpan.FromSeconds(20) });
                token = (await alice.RegisterAsync("Alice", Phones.Next())).Token;
                await alice.LoginAsync(token);
                uploadId = await UploadPartlyAsync(alice, video, "video/mp4", 3 << 20);
                await nodeA.KillAsync();
            }

            // node B: another data directory, the same database and bucket
            await using var nodeB = await PostgresServer.StartNodeAsync(database, extraHocon: S3Server.Hocon(s3));
            await using var again = await nodeB.ConnectAsync("phone");
            await again.LoginAsync(token);
            Assert.Equal(3 << 20, (await again.ResumeUploadAsync(uploadId)).Received);
            var done = await again.UploadAsync(new MemoryStream(video), "video/mp4", uploadId);
            Assert.Equal(video.Length, done.Size);
            Assert.Equal(SHA256.HashData(video), SHA256.HashData(await DownloadAsync(again, done.MediaId)));
            Assert.Empty(await S3Server.KeysAsync(s3, "uploads/"));
            Assert.Empty(await S3Server.KeysAsync(s3, "chunks/"));
            Assert.False(Directory.Exists(Path.Combine(dataA, "media"))); // nothing of it was ever on node A's disk
        }
        finally
        {
            TestNode.TryDelete(dataA);
        }
    }

    [Fact]
    public async Task A_store_that_is_down_answers_Unavailable_and_loses_nothing_acknowledged()
    {
        await using var server = await S3Server.StartAsync();
        var s3 = await server.CreateBucketAsync();
        await using var node = await TestNode.StartAsync(extraHocon: S3Server.Hocon(s3));
        await using var alice = await node.NewUserAsync("Alice");
        var image = MediaTests.FakeFile("image/png", 700_000, seed: 8);
        var stored = await alice.Client.UploadAsync(new MemoryStream(image), "image/png");
        var video = MediaTests.FakeFile("video/webm", 3 << 20, seed: 9);
        var uploadId = await UploadPartlyAsync(alice.Client, video, "video/webm", 1 << 20);

        await server.StopAsync();
        var chunk = video.AsSpan(1 << 20, 256 * 1024).ToArray();
        var refused = await Assert.ThrowsAsync<ChatException>(() => alice.Client.UploadChunkAsync(uploadId, 1 << 20, chunk));
        Assert.Equal(ErrorCode.Unavailable, refused.Code);
        var download = await Assert.ThrowsAsync<ChatException>(() => DownloadAsync(alice.Client, stored.MediaId));
        Assert.Equal(ErrorCode.Unavailable, download.Code);

        await server.RestartAsync();
        Assert.Equal(1 << 20, (await alice.Client.ResumeUploadAsync(uploadId)).Received);
        var done = await alice.Client.UploadAsync(new MemoryStream(video), "video/webm", uploadId);
        Assert.Equal(video, await DownloadAsync(alice.Client, done.MediaId));
        Assert.Equal(image, await DownloadAsync(alice.Client, stored.MediaId));
    }

    [Fact]
    public async Task Expired_media_and_abandoned_uploads_are_removed_from_the_bucket()
    {
        var s3 = await S3Server.NewBucketAsync();
        var clock = new ManualClock(DateTimeOffset.UtcNow);
        await using var node = await TestNode.StartAsync(extraHocon: S3Server.Hocon(s3) + "\n" + NoAutomaticSweeps, clock: clock);
        await using var alice = await node.NewUserAsync("Alice");
        await using var bob = await node.NewUserAsync("Bob");
        var image = MediaTests.FakeFile("image/jpeg", 400_000, seed: 10);
        var stored = await alice.Client.UploadAsync(new MemoryStream(image), "image/jpeg");
        await alice.Client.SendMediaAsync(bob.Id, new MediaRef(stored.MediaId), "day 0");
        await UploadPartlyAsync(alice.Client, MediaTests.FakeFile("video/mp4", 2 << 20, seed: 11), "video/mp4", 512 * 1024);
        Assert.NotEmpty(await S3Server.KeysAsync(s3, "chunks/"));

        // a day later the abandoned upload has expired (chat.media.upload-expiry = 24h)
        clock.Advance(TimeSpan.FromHours(25));
        var swept = await node.Node.MediaJanitor.Ask<MediaJanitor.Swept>(MediaJanitor.Sweep.Instance, TimeSpan.FromSeconds(30));
        Assert.Equal((1, 512L * 1024), (swept.Uploads, swept.Bytes));
        Assert.Empty(await S3Server.KeysAsync(s3, "uploads/"));
        Assert.Empty(await S3Server.KeysAsync(s3, "chunks/"));
        Assert.Equal(image, await DownloadAsync(bob.Client, stored.MediaId));

        // after the retention period (30 days) the item goes too
        clock.Advance(TimeSpan.FromDays(30));
        var report = await node.Node.Retention.Ask<RetentionReport>(RetentionSweeper.SweepNow.Instance, TimeSpan.FromSeconds(60));
        Assert.Equal((1, (long)image.Length), (report.Media, report.MediaBytes));
        Assert.Empty(await S3Server.KeysAsync(s3));
        var gone = await Assert.ThrowsAsync<ChatException>(() => DownloadAsync(bob.Client, stored.MediaId));
        Assert.Equal(ErrorCode.UnknownMedia, gone.Code);
    }
}
