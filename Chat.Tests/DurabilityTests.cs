using Chat.Protocol;

namespace Chat.Tests;

public sealed class DurabilityTests
{
    [Fact]
    public async Task A_node_stopped_and_started_on_the_same_database_loses_nothing_accepted()
    {
        var data = TestNode.NewDataDirectory();
        try
        {
            string bobId, bobToken, aliceToken;
            var accepted = new List<Accepted>();
            await using (var node = await TestNode.StartAsync(data))
            {
                await using var alice = await node.NewUserAsync("Alice");
                await using var bob = await node.NewUserAsync("Bob");
                (bobId, bobToken, aliceToken) = (bob.Id, bob.Token, alice.Token);
                await bob.Client.SyncAsync(0);
                for (var i = 1; i <= 30; i++) accepted.Add(await alice.Client.SendAsync(bob.Id, $"m{i}"));
                // Bob acknowledges the first 10; the rest stay undelivered
                for (var i = 1; i <= 10; i++) await bob.Client.NextAsync<Message>();
                bob.Client.Ack(10);
                await alice.Client.SyncAsync(0);
                var receipt = await alice.Client.NextAsync<Receipt>();
                Assert.Equal(10, receipt.MessageIds.Count);
            }

            await using (var node = await TestNode.StartAsync(data))
            {
                // the same tokens still work, and every accepted message is there, in order
                await using var bob = await node.ConnectAsync();
                await bob.LoginAsync(bobToken);
                Assert.Equal(30, await bob.SyncAsync(0));
                for (var i = 1; i <= 30; i++)
                {
                    var m = await bob.NextAsync<Message>();
                    Assert.Equal(accepted[i - 1].MessageId, m.MessageId);
                    Assert.Equal($"m{i}", m.Text);
                }
                // the delivered receipt survived at Alice's, and new acks still produce receipts
                await using var alice = await node.ConnectAsync();
                await alice.LoginAsync(aliceToken);
                await alice.SyncAsync(0);
                var old = await alice.NextAsync<Receipt>();
                Assert.Equal(accepted.Take(10).Select(a => a.MessageId), old.MessageIds);
                bob.Ack(30);
                var fresh = await alice.NextAsync<Receipt>();
                Assert.Equal(accepted.Skip(10).Select(a => a.MessageId), fresh.MessageIds);
                Assert.Equal(bobId, fresh.By);
            }
        }
        finally
        {
            TestNode.TryDelete(data);
        }
    }

    [Fact]
    public async Task Client_resends_unaccepted_sends_after_the_node_comes_back_and_each_is_delivered_once()
    {
        var data = TestNode.NewDataDirectory();
        try
        {
            string bobToken, bobId, aliceToken;
            int port;
            await using (var node = await TestNode.StartAsync(data))
            {
                await using var alice = await node.NewUserAsync("Alice");
                await using var bob = await node.NewUserAsync("Bob");
                (bobToken, bobId, aliceToken, port) = (bob.Token, bob.Id, alice.Token, node.Port);
            }
            // fixed port so the client can come back to the same address
            var extra = $"chat.port = {port}";
            var first = await Chat.Node.Hosting.ChatNode.StartAsync(new Chat.Node.Hosting.NodeOptions
            {
                DataDirectory = data, ExtraHocon = TestNode.TestHocon + "\n" + extra,
            });
            var client = await ChatClient.ConnectAsync("127.0.0.1", port, new ChatClientOptions { AutoReconnect = true });
            await client.LoginAsync(aliceToken);
            var before = await client.SendAsync(bobId, "before the stop", "c-before");
            await first.DisposeAsync(); // node goes away; the client is disconnected
            await client.Closed.WaitAsync(TimeSpan.FromSeconds(15));

            var pending = client.SendAsync(bobId, "while down", "c-down"); // queued, not yet accepted
            await using var second = await Chat.Node.Hosting.ChatNode.StartAsync(new Chat.Node.Hosting.NodeOptions
            {
                DataDirectory = data, ExtraHocon = TestNode.TestHocon + "\n" + extra,
            });
            var accepted = await pending.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal("c-down", accepted.ClientMessageId);
            // resending the first one explicitly is answered with the original id
            var again = await client.SendAsync(bobId, "before the stop", "c-before");
            Assert.Equal(before.MessageId, again.MessageId);

            await using var bobClient = await ChatClient.ConnectAsync("127.0.0.1", port);
            await bobClient.LoginAsync(bobToken);
            Assert.Equal(2, await bobClient.SyncAsync(0));
            Assert.Equal("before the stop", (await bobClient.NextAsync<Message>()).Text);
            Assert.Equal("while down", (await bobClient.NextAsync<Message>()).Text);
            await client.DisposeAsync();
        }
        finally
        {
            TestNode.TryDelete(data);
        }
    }
}

public sealed class ConfigurationTests
{
    [Fact]
    public async Task A_config_file_layers_over_the_defaults_and_its_limits_reach_clients()
    {
        var file = Path.Combine(Path.GetTempPath(), "chat-" + Guid.NewGuid().ToString("N")[..8] + ".conf");
        await File.WriteAllTextAsync(file, "chat.limits.max-text-bytes = 16\nchat.limits.max-in-flight = 7\n" +
            "chat.retention.max-age = 7d\nchat.retention.sweep-interval = 15m\n" +
            "chat.media.max-image-bytes = 1 MiB\nchat.media.allowed-types = [\"image/png\"]\n");
        var data = TestNode.NewDataDirectory();
        try
        {
            await using var node = await Chat.Node.Hosting.ChatNode.StartAsync(new Chat.Node.Hosting.NodeOptions
            {
                Port = 0, DataDirectory = data, ConfigFiles = [file], ExtraHocon = TestNode.TestHocon,
            });
            await using var client = await ChatClient.ConnectAsync("127.0.0.1", node.Endpoint.Port);
            Assert.Equal(16, client.Welcome.MaxTextBytes);
            Assert.Equal(7, client.Welcome.MaxInFlight);
            var r = await client.RegisterAsync("Ann", Phones.Next());
            await client.LoginAsync(r.Token);
            var e = await Assert.ThrowsAsync<ChatException>(() => client.SendAsync(r.UserId, "seventeen bytes!!"));
            Assert.Equal(ErrorCode.TextTooLong, e.Code);
            Assert.Contains("16", e.Message);
            Assert.Equal(TimeSpan.FromDays(7), node.Settings.RetentionMaxAge);
            Assert.Equal(TimeSpan.FromMinutes(15), node.Settings.RetentionSweepInterval);
            var big = await Assert.ThrowsAsync<ChatException>(() => client.StartUploadAsync("image/png", (1 << 20) + 1, new byte[32]));
            Assert.Equal(ErrorCode.MediaTooLarge, big.Code);
            var jpeg = await Assert.ThrowsAsync<ChatException>(() => client.StartUploadAsync("image/jpeg", 100, new byte[32]));
            Assert.Equal(ErrorCode.MediaTypeNotAllowed, jpeg.Code);
        }
        finally
        {
            File.Delete(file);
            TestNode.TryDelete(data);
        }
    }

    [Fact]
    public void A_content_type_without_a_leading_bytes_check_is_refused_at_start_with_the_known_ones_listed()
    {
        var config = Akka.Configuration.ConfigurationFactory.ParseString("chat.media.allowed-types = [\"image/png\", \"application/pdf\"]")
            .WithFallback(TestNode.DefaultConfig());
        var e = Assert.Throws<ArgumentException>(() => Chat.Node.ChatSettings.From(config));
        Assert.Contains("application/pdf", e.Message);
        Assert.Contains("image/jpeg", e.Message);
    }
}
