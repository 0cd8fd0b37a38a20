using Chat.Protocol;

namespace Chat.Tests;

public sealed class CrashTests
{
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
