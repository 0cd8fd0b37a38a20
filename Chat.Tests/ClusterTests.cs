using System.Collections.Concurrent;
using System.Diagnostics;
using Chat.Protocol;
using Xunit.Abstractions;

namespace Chat.Tests;

/// <summary>
/// Three node processes on one PostgreSQL database, users spread over them, one-to-one and group messages sent
/// continuously while nodes are killed, restarted and stopped: nothing accepted may be lost, duplicated or reordered.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ClusterTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_killed_node_loses_nothing_its_users_are_served_again_within_seconds_and_it_rejoins()
    {
        await using var cluster = await TestCluster.StartAsync(3, await PostgresServer.NewDatabaseAsync(), output);
        await using var load = await ClusterLoad.StartAsync(cluster);

        await load.RunForAsync(TimeSpan.FromSeconds(3));
        await cluster.KillAsync(2);
        var killedAt = Stopwatch.GetTimestamp(); // the process is gone: a send accepted from now on was served by the others
        // every sender, including those whose own node died and those writing to users whose entities lived there,
        // gets an Accepted again
        var servedAgain = await load.AllServedAfterAsync(killedAt, TimeSpan.FromSeconds(60));
        cluster.Log($"every sender served again {servedAgain.TotalSeconds:0.0} s after the kill");
        await load.RunForAsync(TimeSpan.FromSeconds(2));

        await cluster.StartNodeAsync(2);
        await load.RunForAsync(TimeSpan.FromSeconds(5)); // shards rebalance onto the returning node meanwhile
        await load.StopAndVerifyAsync();

        // a send to a user whose shard was on the dead node waited for the server's answer, never longer
        Assert.True(load.LongestCallOnLiveNode < TimeSpan.FromSeconds(13),
            $"a send through a node that stayed up waited {load.LongestCallOnLiveNode.TotalSeconds:0.0} s for an answer");
        Assert.True(servedAgain < TimeSpan.FromSeconds(20), $"users were served again only after {servedAgain.TotalSeconds:0.0} s");
        await load.VerifyAccountsAsync();
    }

    [Fact]
    public async Task In_a_two_node_cluster_the_node_left_without_the_lowest_address_downs_itself_and_exits()
    {
        // keep-majority on a tie keeps the side holding the lowest address: with two nodes, losing that one stops both
        // (docs/operations.md, "Running a cluster"); the survivor must not linger as a node that serves nobody
        await using var cluster = await TestCluster.StartAsync(2, await PostgresServer.NewDatabaseAsync(), output);
        var lowest = cluster.ClusterPort(0) < cluster.ClusterPort(1) ? 0 : 1;
        await cluster.KillAsync(lowest);
        Assert.Equal(3, await cluster.ExitAsync(1 - lowest, TimeSpan.FromSeconds(60)));
    }

    [Fact]
    public async Task A_rolling_restart_of_every_node_under_load_loses_nothing_and_shows_no_error()
    {
        await using var cluster = await TestCluster.StartAsync(3, await PostgresServer.NewDatabaseAsync(), output);
        await using var load = await ClusterLoad.StartAsync(cluster);
        await load.RunForAsync(TimeSpan.FromSeconds(2));
        for (var node = 0; node < cluster.Size; node++)
        {
            Assert.Equal(0, await cluster.TerminateAsync(node));
            await load.RunForAsync(TimeSpan.FromSeconds(1));
            await cluster.StartNodeAsync(node);
            await load.RunForAsync(TimeSpan.FromSeconds(2));
        }
        await load.StopAndVerifyAsync();
        // A graceful stop hands shards over: clients see a reconnect, and no error answer but one. On two cores shared by
        // three nodes, PostgreSQL and the load, a send made while one node rejoined and the next left has waited longer
        // than the request timeout (10 s, and 20 s when raised) while the shards moved; it is answered Unavailable, the
        // load resends it with the same id, and StopAndVerifyAsync shows it stored once.
        Assert.All(load.Errors, e => Assert.Contains(": Unavailable the message was not stored in time", e));
        await load.VerifyAccountsAsync();
    }
}

/// <summary>
/// Six users, two on each node, each client holding every node's address (starting with its own) and reconnecting
/// on its own: each user sends to the next one, the first also posts to a group of all six, one message in flight
/// per sender. A send answered with an error is resent with the same client message id. Everything received is
/// acknowledged at once; receipts are collected.
/// </summary>
internal sealed class ClusterLoad : IAsyncDisposable
{
    private const int Users = 6;
    private readonly TestCluster _cluster;
    private readonly List<Participant> _users = [];
    private string _group = "";
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _senders = [];
    private long _longestOnLiveNodeTicks;

    private ClusterLoad(TestCluster cluster) => _cluster = cluster;

    /// <summary>Error answers seen by senders (each was followed by a resend).</summary>
    public ConcurrentQueue<string> Errors { get; } = new();

    public TimeSpan LongestCallOnLiveNode => TimeSpan.FromTicks(Interlocked.Read(ref _longestOnLiveNodeTicks));

    public static async Task<ClusterLoad> StartAsync(TestCluster cluster)
    {
        var load = new ClusterLoad(cluster);
        for (var i = 0; i < Users; i++)
            load._users.Add(await Participant.RegisterAsync(cluster, i, $"user{i}"));
        load._group = await load._users[0].Client.CreateGroupAsync("cluster", load._users.Skip(1).Select(u => u.Id).ToList());
        for (var i = 0; i < Users; i++)
        {
            var from = load._users[i];
            var to = load._users[(i + 1) % Users];
            load._senders.Add(load.SendLoopAsync(from, $"direct-{i}", (text, cmid, ct) => from.Client.SendAsync(to.Id, text, cmid, ct)));
        }
        load._senders.Add(load.SendLoopAsync(load._users[0], "group", (text, cmid, ct) => load._users[0].Client.SendGroupAsync(load._group, text, cmid, ct)));
        return load;
    }

    /// <summary>Lets the load run for a while (sends go on in the background).</summary>
    public Task RunForAsync(TimeSpan time) => Task.Delay(time);

    /// <summary>Waits until every sender has had a send accepted that was started after <paramref name="since"/>; returns how long that took.</summary>
    public async Task<TimeSpan> AllServedAfterAsync(long since, TimeSpan limit)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var last = _users.SelectMany(u => u.Streams.Values).Min(s => s.LastAcceptedStart);
            if (last > since) return Stopwatch.GetElapsedTime(since);
            if (deadline.Elapsed > limit) throw new TimeoutException($"some senders were not served within {limit}");
            await Task.Delay(50);
        }
    }

    /// <summary>
    /// Stops sending, then checks every receiver got every accepted message exactly once and in send order, and every
    /// sender a delivered receipt for each.
    /// </summary>
    public async Task StopAndVerifyAsync()
    {
        _stop.Cancel();
        await Task.WhenAll(_senders);
        var expected = new Dictionary<(string Receiver, string Stream), List<Sent>>();
        for (var i = 0; i < Users; i++)
            expected[(_users[(i + 1) % Users].Id, $"direct-{i}")] = _users[i].Streams[$"direct-{i}"].Accepted.ToList();
        foreach (var member in _users.Skip(1))
            expected[(member.Id, "group")] = _users[0].Streams["group"].Accepted.ToList();
        _cluster.Log($"accepted: {string.Join(", ", _users.SelectMany(u => u.Streams).Select(s => $"{s.Key} {s.Value.Accepted.Count}"))}");

        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        foreach (var ((receiverId, stream), sent) in expected)
        {
            var receiver = _users.Single(u => u.Id == receiverId);
            Assert.NotEmpty(sent);
            await receiver.WaitForAsync(() => receiver.ReceivedCount(stream) >= sent.Count, wait.Token,
                () => $"{receiver.Name} received {receiver.ReceivedCount(stream)} of {sent.Count} accepted {stream} messages");
            var received = receiver.Received(stream);
            Assert.Equal(sent.Select(s => s.MessageId), received.Select(r => r.MessageId)); // each once, in send order
            Assert.Equal(sent.Select(s => s.Text), received.Select(r => r.Text));
        }
        foreach (var user in _users) user.AcknowledgeAll(); // an ack written while its client was reconnecting is repeated
        for (var i = 0; i < Users; i++)
        {
            var sender = _users[i];
            var ids = sender.Streams[$"direct-{i}"].Accepted.Select(s => s.MessageId).ToList();
            await sender.WaitForAsync(() => ids.All(sender.Delivered.ContainsKey), wait.Token,
                () => $"{sender.Name} has delivered receipts for {ids.Count(sender.Delivered.ContainsKey)} of {ids.Count} messages");
        }
    }

    /// <summary>Tokens, phone numbers and the group survived: fresh logins through every node, lookups, and a phone stays its owner's when someone else asks for a code.</summary>
    public async Task VerifyAccountsAsync()
    {
        for (var node = 0; node < _cluster.Size; node++)
        {
            await using var client = await ChatClient.ConnectAsync(_cluster.Servers(node).Split(',')[0]);
            var asker = _users[node].Client; // logged in, through this node
            foreach (var user in _users)
            {
                Assert.Equal(user.Id, (await AgainIfUnavailableAsync(() => asker.LookupAsync(user.Phone))).UserId);
                // a Register without the code changes nothing: the number stays its owner's
                Assert.IsType<CodeSent>(await AgainIfUnavailableAsync(() => client.RequestCodeAsync("Squatter", user.Phone)));
                Assert.Equal(user.Id, (await AgainIfUnavailableAsync(() => asker.LookupAsync(user.Phone))).UserId);
            }
            foreach (var user in _users)
            {
                await using var again = await ChatClient.ConnectAsync(_cluster.Servers(node).Split(',')[0],
                    new ChatClientOptions { Device = "check" });
                Assert.Equal(user.Id, (await AgainIfUnavailableAsync(() => again.LoginAsync(user.Token))).UserId);
            }
            var info = await _users[node].Client.GetGroupInfoAsync(_group);
            Assert.Equal(_users.Select(u => u.Id).Order(), info.Members.Order());
        }
    }

    /// <summary>
    /// A request answered <c>Unavailable</c> is asked again, as a client does. The node itself repeats these requests
    /// when a shard moves (SessionSpecs); on two cores shared by three nodes, PostgreSQL and the load, a shard that was
    /// still starting has left all of a request's tries unanswered for the whole request timeout (10 s).
    /// </summary>
    private async Task<T> AgainIfUnavailableAsync<T>(Func<Task<T>> request)
    {
        for (var attempt = 1; ; attempt++)
        {
            try { return await request(); }
            catch (ChatException e) when (e.Code == ErrorCode.Unavailable && attempt < 3)
            {
                _cluster.Log($"asked again after: {e.Code} {e.Message}");
            }
        }
    }

    private async Task SendLoopAsync(Participant from, string stream, Func<string, string, CancellationToken, Task<Accepted>> send)
    {
        var state = from.Streams[stream] = new StreamState();
        for (var i = 1; !_stop.IsCancellationRequested; i++)
        {
            var cmid = $"{stream}-{i}";
            var text = $"{stream} #{i}";
            while (true)
            {
                var started = Stopwatch.GetTimestamp();
                var nodeUp = _cluster.IsUp(from.HomeNode);
                try
                {
                    // bounded: a send that never completes fails the test instead of hanging it
                    using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(90));
                    var accepted = await send(text, cmid, bound.Token);
                    state.Accepted.Enqueue(new Sent(accepted.MessageId, text));
                    state.LastAcceptedStart = started;
                    break;
                }
                catch (ChatException e)
                {
                    Errors.Enqueue($"{from.Name} {cmid}: {e.Code} {e.Message}");
                    _cluster.Log($"{from.Name} {cmid}: {e.Code} after {Stopwatch.GetElapsedTime(started).TotalSeconds:0.0} s");
                    await Task.Delay(100);
                }
                finally
                {
                    // only calls whose connection stayed up the whole time: a client of a killed node waits for its reconnect too
                    if (nodeUp && _cluster.IsUp(from.HomeNode) && from.Client.Server.ToString() == from.HomeServer)
                    {
                        var took = Stopwatch.GetElapsedTime(started).Ticks;
                        long seen;
                        while (took > (seen = Interlocked.Read(ref _longestOnLiveNodeTicks)) &&
                               Interlocked.CompareExchange(ref _longestOnLiveNodeTicks, took, seen) != seen) { }
                    }
                }
            }
            await Task.Delay(20);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        try { await Task.WhenAll(_senders); } catch (Exception) { /* reported by the test already */ }
        foreach (var user in _users) await user.DisposeAsync();
    }

    internal sealed record Sent(string MessageId, string Text);

    internal sealed class StreamState
    {
        public ConcurrentQueue<Sent> Accepted { get; } = new();
        public long LastAcceptedStart;
    }

    /// <summary>One user: a reconnecting client, what it received per stream, and the delivered receipts it got.</summary>
    internal sealed class Participant : IAsyncDisposable
    {
        private readonly ConcurrentDictionary<string, ConcurrentQueue<Sent>> _received = new();
        private readonly Task _reader;
        private readonly SemaphoreSlim _changed = new(0);

        private Participant(ChatClient client, string id, string token, string phone, string name, int homeNode, string homeServer)
        {
            Client = client;
            Id = id;
            Token = token;
            Phone = phone;
            Name = name;
            HomeNode = homeNode;
            HomeServer = homeServer;
            _reader = ReadAsync();
        }

        public ChatClient Client { get; }
        public string Id { get; }
        public string Token { get; }
        public string Phone { get; }
        public string Name { get; }
        public int HomeNode { get; }
        public string HomeServer { get; }
        public ConcurrentDictionary<string, StreamState> Streams { get; } = new();
        public ConcurrentDictionary<string, bool> Delivered { get; } = new();

        public static async Task<Participant> RegisterAsync(TestCluster cluster, int index, string name)
        {
            var home = index % cluster.Size;
            var servers = cluster.Servers(home);
            var client = await ChatClient.ConnectAsync(servers, new ChatClientOptions
            {
                AutoReconnect = true,
                SendRetries = 0, // the load sees every error answer and resends itself
                Device = name,
                RequestTimeout = TimeSpan.FromSeconds(30),
            });
            string phone;
            Registered registered;
            for (var attempt = 1; ; attempt++)
            {
                phone = Phones.Next();
                try
                {
                    registered = await client.RegisterAsync(name, phone);
                    break;
                }
                catch (ChatException e) when (e.Code == ErrorCode.Unavailable && attempt < 3)
                {
                    // "did not answer in time; retry": on a busy test machine a cluster that has just formed can take
                    // longer than the node's 10 s to place the phone numbers' first shard, and a client retries. A new
                    // number: the first attempt may still have claimed its own.
                    cluster.Log($"{name}: registration {e.Code} ({e.Message}); retrying");
                }
            }
            await client.LoginAsync(registered.Token);
            var participant = new Participant(client, registered.UserId, registered.Token, phone, name, home, servers.Split(',')[0]);
            await client.SyncAsync(0);
            return participant;
        }

        public void AcknowledgeAll()
        {
            try { Client.Ack(Client.LastSeq); }
            catch (InvalidOperationException) { /* reconnecting: the resumed sync is acknowledged as it arrives */ }
        }

        public int ReceivedCount(string stream) => _received.TryGetValue(stream, out var q) ? q.Count : 0;

        public IReadOnlyList<Sent> Received(string stream) => _received.TryGetValue(stream, out var q) ? q.ToList() : [];

        public async Task WaitForAsync(Func<bool> condition, CancellationToken ct, Func<string> describe)
        {
            try
            {
                while (!condition()) await _changed.WaitAsync(TimeSpan.FromSeconds(1), ct);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail(describe());
            }
        }

        private async Task ReadAsync()
        {
            await foreach (var entry in Client.Entries.ReadAllAsync())
            {
                try
                {
                    Handle(entry);
                }
                catch (InvalidOperationException)
                {
                    // not connected at this moment: the entry is acknowledged again after the resync
                }
                _changed.Release();
            }
        }

        private void Handle(Frame entry)
        {
            switch (entry)
            {
                case Message m:
                    var stream = m.Group is not null ? "group" : m.Text[..m.Text.IndexOf(' ')];
                    _received.GetOrAdd(stream, _ => new ConcurrentQueue<Sent>()).Enqueue(new Sent(m.MessageId, m.Text));
                    Client.Ack(m.Seq);
                    break;
                case Receipt r:
                    if (r.Status == ReceiptStatus.Delivered) foreach (var id in r.MessageIds) Delivered[id] = true;
                    Client.Ack(r.Seq);
                    break;
                case ReceiptSet set:
                    foreach (var item in set.Items)
                        if (item.Status == ReceiptStatus.Delivered) foreach (var id in item.MessageIds) Delivered[id] = true;
                    Client.Ack(set.Seq);
                    break;
                default:
                    if (entry.GetType().GetProperty("Seq")?.GetValue(entry) is long seq) Client.Ack(seq);
                    break;
            }
        }

        public async ValueTask DisposeAsync()
        {
            await Client.DisposeAsync();
            try { await _reader; } catch (Exception) { /* closed */ }
        }
    }
}
