using System.Collections.Concurrent;
using System.Security.Cryptography;
using Chat.Protocol;

namespace Chat.Tests;

/// <summary>
/// An upload cut off by a lost connection goes on after the reconnect from where the server's copy ends, and the media
/// message after it, whose answer was lost with the connection too, is resent with its client message id and stored once.
/// </summary>
public sealed class UploadResumeTests
{
    private sealed class Inline(Action<TransferProgress> report) : IProgress<TransferProgress>
    {
        public void Report(TransferProgress value) => report(value);
    }

    /// <param name="automatic">the client reconnects on its own (AutoReconnect); otherwise the application does, as <c>chat open</c> does</param>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task An_upload_cut_by_a_lost_connection_continues_after_the_reconnect_and_the_recipient_gets_the_file_once(bool automatic)
    {
        await using var node = await TestNode.StartAsync();
        // Alice's only address is the proxy, as a profile has one server: a blip drops her, and she comes back there
        await using var proxy = TcpProxy.Start(node.Port);
        await using var bob = await node.NewUserAsync("Bob");
        await using var alice = await ChatClient.ConnectAsync(proxy.Address,
            new ChatClientOptions { Device = "open", AutoReconnect = automatic, RequestTimeout = TimeSpan.FromSeconds(20) });
        await alice.LoginAsync((await alice.RegisterAsync("Alice", Phones.Next())).Token);
        using var stop = new CancellationTokenSource();
        var reconnecting = automatic ? Task.CompletedTask : StayConnectedAsync(alice, stop.Token);

        var file = MediaTests.FakeFile("video/mp4", 3 << 20, seed: 7); // 12 chunks of 256 KiB
        const long cutAfter = 1 << 20;
        var reports = new ConcurrentQueue<TransferProgress>();
        var cutAt = -1L;
        var progress = new Inline(p =>
        {
            reports.Enqueue(p);
            if (p.Done >= cutAfter && Interlocked.CompareExchange(ref cutAt, p.Done, -1) == -1) proxy.DropConnections();
        });
        var uploadIds = new ConcurrentQueue<string>();
        var uploaded = await alice.UploadAsync(new MemoryStream(file), "video/mp4", progress: progress, started: uploadIds.Enqueue,
            resumeWithin: TimeSpan.FromSeconds(60)).WaitAsync(TimeSpan.FromSeconds(90));

        Assert.InRange(Interlocked.Read(ref cutAt), cutAfter, file.Length - 1); // cut mid-way
        Assert.True(proxy.Accepted >= 2, "the client did not connect again");
        Assert.Single(uploadIds); // the same upload went on: not started afresh
        // and from the server's copy: after the cut the progress never went back below what the server held then
        Assert.All(reports.SkipWhile(p => p.Done < cutAfter), p => Assert.True(p.Done >= cutAfter, $"progress back at {p.Done}"));
        Assert.Equal(file.Length, uploaded.Size);

        // The Send reaches the node, but its answer is lost with the connection: the resend after the reconnect, with
        // the same client message id, is answered with the original message and delivers nothing twice.
        await bob.Client.SyncAsync(0);
        proxy.HoldAnswers();
        var sending = alice.SendMediaAsync(bob.Id, new MediaRef(uploaded.MediaId), "the clip");
        var received = await bob.Client.NextOfAsync<Message>(30);
        Assert.False(sending.IsCompleted);
        proxy.DropConnections();
        proxy.ResumeAnswers();
        var accepted = await sending.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(received.MessageId, accepted.MessageId);
        Assert.Equal("the clip", received.Text);

        // stored once: the next thing Bob receives from Alice is her next message
        await alice.SendAsync(bob.Id, "marker").WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal("marker", (await bob.Client.NextOfAsync<Message>(30)).Text);

        // and Bob downloads exactly the file Alice chose
        using var downloaded = new MemoryStream();
        await bob.Client.DownloadAsync(received.Media!.MediaId, downloaded);
        Assert.Equal(Convert.ToHexString(SHA256.HashData(file)), Convert.ToHexString(SHA256.HashData(downloaded.ToArray())));

        await stop.CancelAsync();
        await reconnecting;
    }

    [Fact]
    public async Task An_upload_the_server_is_still_busy_with_after_a_reconnect_is_waited_for_and_completes()
    {
        await using var node = await TestNode.StartAsync();
        await using var proxy = TcpProxy.Start(node.Port);
        await using var alice = await ChatClient.ConnectAsync(proxy.Address,
            new ChatClientOptions { Device = "open", AutoReconnect = true, RequestTimeout = TimeSpan.FromSeconds(20) });
        await alice.LoginAsync((await alice.RegisterAsync("Alice", Phones.Next())).Token);

        var file = MediaTests.FakeFile("video/mp4", 3 << 20, seed: 9);
        var uploadIds = new ConcurrentQueue<string>();
        // A third of the way in, the test holds the upload's part file, as a slow server still writing a chunk of the
        // lost connection does: every chunk is then answered UploadBusy for seconds (three here), longer than a few
        // quick tries last. Taken here, while the client waits for this report, so the upload cannot finish first.
        FileStream? holder = null;
        var midway = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var progress = new Inline(p =>
        {
            if (p.Done < 1 << 20 || midway.Task.IsCompleted) return;
            var part = Path.Combine(node.DataDirectory, "media", "uploads", uploadIds.Single() + ".part");
            var deadline = Environment.TickCount64 + 30_000;
            while (holder is null)
                try
                {
                    holder = new FileStream(part, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
                }
                catch (IOException) when (Environment.TickCount64 < deadline && File.Exists(part))
                {
                    Thread.Sleep(1); // the server is writing a chunk this moment
                }
            midway.TrySetResult();
        });
        var uploading = alice.UploadAsync(new MemoryStream(file), "video/mp4", progress: progress, started: uploadIds.Enqueue,
            resumeWithin: TimeSpan.FromSeconds(60));
        await midway.Task.WaitAsync(TimeSpan.FromSeconds(60));
        proxy.DropConnections();
        await Task.Delay(TimeSpan.FromSeconds(3)); // the time the server stays busy: the case itself, not a wait for it
        Assert.False(uploading.IsCompleted, uploading.Exception?.ToString());
        await holder!.DisposeAsync();

        var uploaded = await uploading.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Single(uploadIds); // the same upload went on
        Assert.Equal(file.Length, uploaded.Size);
        await using var bob = await node.NewUserAsync("Bob");
        await bob.Client.SyncAsync(0);
        await alice.SendMediaAsync(bob.Id, new MediaRef(uploaded.MediaId)).WaitAsync(TimeSpan.FromSeconds(30));
        using var downloaded = new MemoryStream();
        await bob.Client.DownloadAsync((await bob.Client.NextOfAsync<Message>(30)).Media!.MediaId, downloaded);
        Assert.Equal(Convert.ToHexString(SHA256.HashData(file)), Convert.ToHexString(SHA256.HashData(downloaded.ToArray())));
    }

    [Fact]
    public async Task An_upload_completed_while_its_answer_was_lost_is_uploaded_again_and_the_file_arrives_whole()
    {
        await using var node = await TestNode.StartAsync();
        await using var proxy = TcpProxy.Start(node.Port);
        await using var bob = await node.NewUserAsync("Bob");
        await using var alice = await ChatClient.ConnectAsync(proxy.Address,
            new ChatClientOptions { Device = "open", AutoReconnect = true, RequestTimeout = TimeSpan.FromSeconds(20) });
        var token = (await alice.RegisterAsync("Alice", Phones.Next())).Token;
        await alice.LoginAsync(token);
        // Alice's other device, straight to the node: it sees what the server has of the upload
        await using var other = await node.ConnectAsync("other");
        await other.LoginAsync(token);

        var file = MediaTests.FakeFile("image/png", 3 << 20, seed: 8);
        var held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var progress = new Inline(p =>
        {
            // from here every chunk left is on its way: the server completes the upload, but Alice hears nothing of it
            if (p.Done >= file.Length - ChatClient.TransferWindow * (256 << 10) && !held.Task.IsCompleted)
            {
                proxy.HoldAnswers();
                held.TrySetResult();
            }
        });
        var uploadIds = new ConcurrentQueue<string>();
        var uploading = alice.UploadAsync(new MemoryStream(file), "image/png", progress: progress, started: uploadIds.Enqueue,
            resumeWithin: TimeSpan.FromSeconds(60));
        await held.Task.WaitAsync(TimeSpan.FromSeconds(60));
        var first = Assert.Single(uploadIds);
        using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
            while (await StillUnfinishedAsync(other, first)) await Task.Delay(50, cts.Token);
        proxy.DropConnections();
        proxy.ResumeAnswers();
        var uploaded = await uploading.WaitAsync(TimeSpan.FromSeconds(90));

        Assert.Equal(2, uploadIds.Distinct().Count()); // the server no longer knew the first: started afresh
        await bob.Client.SyncAsync(0);
        await alice.SendMediaAsync(bob.Id, new MediaRef(uploaded.MediaId)).WaitAsync(TimeSpan.FromSeconds(30));
        var received = await bob.Client.NextOfAsync<Message>(30);
        using var downloaded = new MemoryStream();
        await bob.Client.DownloadAsync(received.Media!.MediaId, downloaded);
        Assert.Equal(Convert.ToHexString(SHA256.HashData(file)), Convert.ToHexString(SHA256.HashData(downloaded.ToArray())));
    }

    /// <summary>Whether the server still has the upload unfinished (asking changes nothing, or completes one whose bytes all arrived).</summary>
    private static async Task<bool> StillUnfinishedAsync(ChatClient client, string uploadId)
    {
        try
        {
            await client.ResumeUploadAsync(uploadId);
            return true;
        }
        catch (ChatException e) when (e.Code == ErrorCode.UnknownUpload)
        {
            return false;
        }
        catch (ChatException e) when (e.Code == ErrorCode.UploadBusy)
        {
            return true;
        }
        catch (InvalidCastException)
        {
            return false; // answered UploadComplete: every byte had arrived, and this question completed it
        }
    }

    /// <summary>What <c>chat open</c> does: when the connection closes, reconnect (log in, resend, resync) until it works.</summary>
    private static async Task StayConnectedAsync(ChatClient client, CancellationToken ct)
    {
        try
        {
            while (!ct.IsCancellationRequested)
            {
                await client.Closed.WaitAsync(ct);
                while (true)
                {
                    try
                    {
                        await client.ReconnectAsync(ct);
                        break;
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        await Task.Delay(100, ct);
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
            // the test is over
        }
    }
}
