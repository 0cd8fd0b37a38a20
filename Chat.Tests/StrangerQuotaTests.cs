using Chat.Protocol;

namespace Chat.Tests;

/// <summary>
/// <c>chat.limits.stranger-inbox-messages</c>: messages from people the recipient never wrote to fill at most this many
/// places in an inbox until the recipient's device receives them; beyond it the sender gets StrangerQuota and nothing is
/// stored. The recipient's contacts, other recipients, and the sender's other traffic are not held back; what counts
/// survives a restart.
/// </summary>
public sealed class StrangerQuotaTests
{
    // snapshots every few events, so that the restart recovers through one
    private const string Quota = "chat.limits.stranger-inbox-messages = 2\nchat.users.snapshot-every = 3";

    [Fact]
    public async Task Strangers_fill_an_offline_inbox_up_to_the_quota_then_are_refused_until_the_recipient_receives_or_writes_to_them()
    {
        var data = TestNode.NewDataDirectory();
        try
        {
            string annToken, annId, bobToken, daveToken, carolToken, carolId, bobId;
            var node = await TestNode.StartAsync(data, Quota);
            await using (node)
            {
                await using var bob = await node.NewUserAsync("Bob");
                await using var dave = await node.NewUserAsync("Dave");
                await using var ann = await node.NewUserAsync("Ann");
                await using var carol = await node.NewUserAsync("Carol");
                (annToken, annId, bobToken, daveToken, carolToken, carolId, bobId) = (ann.Token, ann.Id, bob.Token, dave.Token, carol.Token, carol.Id, bob.Id);
                await bob.Client.SendAsync(dave.Id, "hi dave"); // Dave is Bob's contact from now on
                await bob.Client.DisposeAsync(); // Bob goes offline

                await ann.Client.SendAsync(bobId, "ann 1");
                await ann.Client.SendAsync(bobId, "ann 2");
                var refused = await Assert.ThrowsAsync<ChatException>(() => ann.Client.SendAsync(bobId, "ann 3", "a-3"));
                Assert.Equal(ErrorCode.StrangerQuota, refused.Code);
                Assert.Contains("has not written to you", refused.Message);
                // the quota is the inbox's: another stranger is refused too
                Assert.Equal(ErrorCode.StrangerQuota, (await Assert.ThrowsAsync<ChatException>(() => carol.Client.SendAsync(bobId, "carol 1"))).Code);
                // Bob's contact gets through; Ann may write to others and do everything else
                await dave.Client.SendAsync(bobId, "dave 1");
                await ann.Client.SendAsync(carolId, "ann to carol");
                await ann.Client.PingAsync();
            }

            // after a restart the inbox still counts what waits, and Dave is still Bob's contact
            node = await TestNode.StartAsync(data, Quota);
            await using (node)
            {
                await using var ann = await node.ConnectAsync();
                await ann.LoginAsync(annToken);
                await ann.SyncAsync(0);
                await using var dave = await node.ConnectAsync();
                await dave.LoginAsync(daveToken);
                Assert.Equal(ErrorCode.StrangerQuota, (await Assert.ThrowsAsync<ChatException>(() => ann.SendAsync(bobId, "ann 3", "a-3"))).Code);
                await dave.SendAsync(bobId, "dave 2");

                // Bob comes back: the refused messages were never stored
                await using var bob = await node.ConnectAsync();
                await bob.LoginAsync(bobToken);
                await bob.SyncAsync(0);
                string[] expected = ["ann 1", "ann 2", "dave 1", "dave 2"];
                var seen = new List<string>();
                Message last = null!;
                foreach (var _ in expected)
                {
                    last = await bob.NextOfAsync<Message>();
                    seen.Add(last.Text);
                }
                Assert.Equal(expected, seen);

                // once Bob's device has them (Ann sees her delivered receipt), Ann's third message finds room
                bob.Ack(last.Seq);
                Assert.Equal(ReceiptStatus.Delivered, (await ann.NextOfAsync<Receipt>()).Status);
                await ann.SendAsync(bobId, "ann 3", "a-3");
                Assert.Equal("ann 3", (await bob.NextOfAsync<Message>()).Text);

                // Bob writes to Ann and goes offline: she is his contact now, and what she sends is not counted
                await bob.SendAsync(annId, "hi ann");
                await bob.DisposeAsync();
                for (var i = 4; i <= 6; i++) await ann.SendAsync(bobId, $"ann {i}");
                // a stranger still has two places, and no more
                await using var carol = await node.ConnectAsync();
                await carol.LoginAsync(carolToken);
                await carol.SendAsync(bobId, "carol 1");
                await carol.SendAsync(bobId, "carol 2");
                Assert.Equal(ErrorCode.StrangerQuota, (await Assert.ThrowsAsync<ChatException>(() => carol.SendAsync(bobId, "carol 3"))).Code);

            }
        }
        finally
        {
            try { Directory.Delete(data, recursive: true); } catch (IOException) { }
        }
    }
}
