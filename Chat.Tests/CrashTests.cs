using Chat.Protocol;

namespace Chat.Tests;

public sealed class CrashTests
{
    [Fact]
    public async Task After_a_crash_the_client_repeats_its_ack_and_the_delivered_receipts_it_covers_are_issued_again()
    {
        // the node keeps acknowledgements in memory until an entity stops or snapshots (docs/protocol.md 9.4): a crash
        // loses them, and the client's ack, repeated when it reconnects, makes the node issue their receipts again
        var data = TestNode.NewDataDirectory();
        try
        {
            var node = await NodeProcess.StartAsync(data);
            var port = node.Port;
            string aliceToken, messageId;
            await using var bob = await ChatClient.ConnectAsync("127.0.0.1", port, new ChatClientOptions { AutoReconnect = true });
            try
            {
                await using var alice = await ChatClient.ConnectAsync("127.0.0.1", port);
                var a = await alice.RegisterAsync("Alice", Phones.Next());
                aliceToken = a.Token;
                await alice.LoginAsync(a.Token);
                var b = await bob.RegisterAsync("Bob", Phones.Next());
                await bob.LoginAsync(b.Token);
                await bob.SyncAsync(0);
                messageId = (await alice.SendAsync(b.UserId, "hello", "c1")).MessageId;
                bob.Ack((await bob.NextAsync<Message>()).Seq);
                await alice.SyncAsync(0);
                Assert.Contains(messageId, (await alice.NextAsync<Receipt>()).MessageIds); // stored in Alice's inbox
                await node.KillAsync();
            }
            finally
            {
                await node.DisposeAsync();
            }

            await using var again = await NodeProcess.StartAsync(data, port);
            await using var aliceAgain = await ChatClient.ConnectAsync("127.0.0.1", port);
            await aliceAgain.LoginAsync(aliceToken);
            await aliceAgain.SyncAsync(0);
            var delivered = 0;
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            while (delivered < 2)
            {
                var entry = await aliceAgain.Entries.ReadAsync(wait.Token);
                delivered += entry switch
                {
                    Receipt r => r.Status == ReceiptStatus.Delivered && r.MessageIds.Contains(messageId) ? 1 : 0,
                    ReceiptSet set => set.Items.Count(i => i.Status == ReceiptStatus.Delivered && i.MessageIds.Contains(messageId)),
                    _ => 0,
                };
            }
        }
        finally
        {
            TestNode.TryDelete(data);
        }
    }

    [Fact]
    public async Task Sigkill_loses_nothing_that_was_accepted_and_sigterm_exits_cleanly()
    {
        var data = TestNode.NewDataDirectory();
        try
        {
            string bobToken;
            var accepted = new List<Accepted>();
            await using (var node = await NodeProcess.StartAsync(data))
            {
                await using var alice = await ChatClient.ConnectAsync("127.0.0.1", node.Port);
                var a = await alice.RegisterAsync("Alice", Phones.Next());
                await alice.LoginAsync(a.Token);
                await using var bobClient = await ChatClient.ConnectAsync("127.0.0.1", node.Port);
                var b = await bobClient.RegisterAsync("Bob", Phones.Next());
                bobToken = b.Token;
                // many sends in flight at once, so they share journal batches
                accepted.AddRange(await Task.WhenAll(Enumerable.Range(1, 200)
                    .Select(i => alice.SendAsync(b.UserId, $"m{i}", $"c{i}"))));
                await node.KillAsync();
            }

            await using (var node = await NodeProcess.StartAsync(data))
            {
                await using var bob = await ChatClient.ConnectAsync("127.0.0.1", node.Port);
                await bob.LoginAsync(bobToken);
                Assert.Equal(200, await bob.SyncAsync(0));
                var received = new HashSet<string>();
                for (var i = 0; i < 200; i++) received.Add((await bob.NextAsync<Message>()).MessageId);
                Assert.True(received.SetEquals(accepted.Select(x => x.MessageId)));
                await bob.DisposeAsync();
                Assert.Equal(0, await node.TerminateAsync());
            }
        }
        finally
        {
            TestNode.TryDelete(data);
        }
    }
}
