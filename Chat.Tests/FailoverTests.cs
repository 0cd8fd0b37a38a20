using System.Text.Json;
using Chat.Protocol;

namespace Chat.Tests;

/// <summary>
/// A client given several addresses, as it would be given a cluster's nodes. Proxies in front of one node stand in
/// for the nodes: stopping one is a node dying under its clients.
/// </summary>
public sealed class FailoverTests : IAsyncLifetime
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);
    private TestNode _node = null!;

    public async Task InitializeAsync() => _node = await TestNode.StartAsync();
    public async Task DisposeAsync() => await _node.DisposeAsync();

    private static ChatClientOptions Options(string device, bool autoReconnect = false) =>
        new() { Device = device, AutoReconnect = autoReconnect, RequestTimeout = TimeSpan.FromSeconds(20), ConnectTimeout = TimeSpan.FromSeconds(5) };

    private async Task<(string Id, string Token)> RegisterAsync(string name)
    {
        await using var setup = await _node.ConnectAsync("setup");
        var registered = await setup.RegisterAsync(name, Phones.Next());
        return (registered.UserId, registered.Token);
    }

    [Fact]
    public async Task A_sender_whose_node_dies_moves_to_the_next_address_and_every_message_is_accepted_and_delivered_once_in_order()
    {
        await using var a = TcpProxy.Start(_node.Port);
        await using var b = TcpProxy.Start(_node.Port);
        var alice = await RegisterAsync("Alice");
        var bob = await RegisterAsync("Bob");
        await using var receiver = await ChatClient.ConnectAsync(b.Address, Options("bob"));
        await receiver.LoginAsync(bob.Token);
        await receiver.SyncAsync(0);
        var received = new List<Message>();
        async Task ReceiveUpTo(int count)
        {
            while (received.Count < count) received.Add(await receiver.NextAsync<Message>(timeoutSeconds: 30));
        }

        await using var sender = await ChatClient.ConnectAsync($"{a.Address},{b.Address}", Options("alice", autoReconnect: true));
        Assert.Equal(a.Address, sender.Server.ToString());
        await sender.LoginAsync(alice.Token);

        var sends = new List<Task<Accepted>>();
        void Send(int from, int to)
        {
            for (var i = from; i <= to; i++) sends.Add(sender.SendAsync(bob.Id, $"message {i}", $"c-{i}"));
        }
        Send(1, 50);
        await Task.WhenAll(sends).WaitAsync(Bound);
        // 51-100 reach the node and are stored, but their Accepted answers die with node A
        a.HoldAnswers();
        Send(51, 100);
        await ReceiveUpTo(100).WaitAsync(Bound);
        Assert.Equal(50, sender.UnacceptedSends);
        // 101-150 never reach the node
        a.HoldRequests();
        Send(101, 150);
        a.Stop();
        // 151-300 are sent while the client is moving to B
        Send(151, 300);

        var accepted = await Task.WhenAll(sends).WaitAsync(Bound);
        Assert.Equal(b.Address, sender.Server.ToString());
        Assert.Equal(Enumerable.Range(1, 300).Select(i => $"c-{i}"), accepted.Select(x => x.ClientMessageId));
        Assert.Equal(300, accepted.Select(x => x.MessageId).Distinct().Count());

        await ReceiveUpTo(300).WaitAsync(Bound);
        Assert.Equal(Enumerable.Range(1, 300).Select(i => $"message {i}"), received.Select(m => m.Text));
        Assert.Equal(accepted.Select(x => x.MessageId), received.Select(m => m.MessageId)); // a resend got the original answer
        // nothing was delivered twice: the next message Bob gets is a new one
        var last = await sender.SendAsync(bob.Id, "the end").WaitAsync(Bound);
        Assert.Equal(last.MessageId, (await receiver.NextAsync<Message>()).MessageId);
    }

    [Fact]
    public async Task An_address_that_refuses_connections_is_skipped_for_the_next()
    {
        await using var down = TcpProxy.Start(_node.Port);
        down.Stop();
        await using var up = TcpProxy.Start(_node.Port);
        var alice = await RegisterAsync("Alice");

        await using var client = await ChatClient.ConnectAsync($"{down.Address},{up.Address}", Options("phone")).WaitAsync(Bound);
        Assert.Equal(up.Address, client.Server.ToString());
        Assert.Equal(alice.Id, (await client.LoginAsync(alice.Token)).UserId);
        Assert.Equal("c-1", (await client.SendAsync(alice.Id, "a note to self", "c-1")).ClientMessageId);
    }

    [Fact]
    public async Task A_login_that_gets_no_answer_moves_on_to_the_next_address()
    {
        await using var a = TcpProxy.Start(_node.Port);
        await using var b = TcpProxy.Start(_node.Port);
        var alice = await RegisterAsync("Alice");
        var options = Options("phone");
        options.RequestTimeout = TimeSpan.FromSeconds(2);
        await using var client = await ChatClient.ConnectAsync($"{a.Address},{b.Address}", options);
        Assert.Equal(a.Address, client.Server.ToString());

        a.HoldAnswers(); // node A greeted the client, then hangs
        var loggedIn = await client.LoginAsync(alice.Token).WaitAsync(Bound);
        Assert.Equal(alice.Id, loggedIn.UserId);
        Assert.Equal(b.Address, client.Server.ToString());
        Assert.Equal("c-1", (await client.SendAsync(alice.Id, "a note to self", "c-1").WaitAsync(Bound)).ClientMessageId);
    }

    [Fact]
    public async Task An_address_that_accepts_but_never_answers_is_given_up_after_the_connect_timeout()
    {
        await using var hung = TcpProxy.StartSilent();
        await using var up = TcpProxy.Start(_node.Port);
        var options = Options("phone");
        options.ConnectTimeout = TimeSpan.FromSeconds(1);

        await using var client = await ChatClient.ConnectAsync($"{hung.Address},{up.Address}", options).WaitAsync(TimeSpan.FromSeconds(15));
        Assert.Equal(up.Address, client.Server.ToString());
        Assert.Equal(1, hung.Accepted);
    }

    [Fact]
    public async Task When_no_address_answers_connecting_fails_promptly_naming_each_address()
    {
        await using var down = TcpProxy.Start(_node.Port);
        down.Stop();
        await using var hung = TcpProxy.StartSilent();
        var options = Options("phone");
        options.ConnectTimeout = TimeSpan.FromSeconds(1);

        var started = DateTime.UtcNow;
        var error = await Assert.ThrowsAsync<IOException>(
            () => ChatClient.ConnectAsync($"{down.Address},{hung.Address}", options).WaitAsync(TimeSpan.FromSeconds(15)));
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(10));
        Assert.Contains(down.Address, error.Message);
        Assert.Contains(hung.Address, error.Message);
        Assert.Contains("no answer", error.Message);
    }

    [Fact]
    public async Task Bench_spreads_its_users_over_every_address_and_loses_nothing()
    {
        await using var a = TcpProxy.Start(_node.Port);
        await using var b = TcpProxy.Start(_node.Port);
        var output = new StringWriter();
        var code = await global::Chat.Cli.Program.Run(
            ["bench", "direct", "--server", $"{a.Address},{b.Address}", "--users", "10", "--messages", "40", "--window", "5",
             "--timeout", "60", "--json"], output);
        Assert.True(code == 0, $"chat bench exited with {code}: {output}");
        var json = output.ToString().Trim().Split('\n')[^1];
        var result = JsonDocument.Parse(json).RootElement;
        Assert.Equal(200, result.GetProperty("delivered").GetInt64());
        Assert.Equal(0, result.GetProperty("lost").GetInt64());
        Assert.Equal(0, result.GetProperty("duplicates").GetInt64());
        // both nodes carried users: ten logins plus registrations, split between them
        Assert.True(a.Accepted >= 5, $"A accepted {a.Accepted}");
        Assert.True(b.Accepted >= 5, $"B accepted {b.Accepted}");
    }

    [Fact]
    public async Task Bench_refuses_a_list_with_an_address_off_loopback()
    {
        var code = await global::Chat.Cli.Program.Run(["bench", "direct", "--server", $"{_node.Server},10.1.2.3:7400", "--users", "2", "--messages", "1", "--timeout", "5"], new StringWriter());
        Assert.Equal(global::Chat.Cli.Program.BadArguments, code);
    }
}
