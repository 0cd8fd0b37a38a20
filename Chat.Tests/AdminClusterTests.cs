using System.Net;
using System.Text.Json;
using Chat.Protocol;
using Xunit.Abstractions;

namespace Chat.Tests;

/// <summary><c>chat admin</c> against a three-node cluster on PostgreSQL, and readiness of a node that has not joined yet.</summary>
[Collection(ClusterCollection.Name)]
public sealed class AdminClusterTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Every_admin_command_sees_the_whole_cluster_and_node_leave_hands_shards_over_with_nothing_lost()
    {
        await using var cluster = await TestCluster.StartAsync(3, await PostgresServer.NewDatabaseAsync(), output);
        string[] Admin(int node) => ["--node", cluster.Admin(node), "--data", cluster.DataDirectory(node)];
        string Address(int node) => $"akka.tcp://chat@127.0.0.1:{cluster.ClusterPort(node)}";

        // recipients registered and gone offline: their entities spread over the three nodes' shards
        var recipients = new List<(string Id, string Token, string Phone)>();
        for (var i = 0; i < 20; i++)
        {
            await using var client = await ChatClient.ConnectAsync(cluster.Servers(i % 3).Split(',')[0]);
            var phone = Phones.Next();
            var registered = await client.RegisterAsync($"r{i}", phone);
            recipients.Add((registered.UserId, registered.Token, phone));
        }
        await using var sender = await ChatClient.ConnectAsync(cluster.Servers(0).Split(',')[0], new ChatClientOptions { Device = "desk" });
        var senderPhone = Phones.Next();
        var senderId = (await sender.LoginAsync((await sender.RegisterAsync("Sender", senderPhone)).Token)).UserId;

        var status = await AdminCli.JsonAsync(["status", .. Admin(0)]);
        var members = status.GetProperty("members").EnumerateArray().ToList();
        Assert.Equal(Enumerable.Range(0, 3).Select(Address).Order(), members.Select(m => m.GetProperty("address").GetString()!).Order());
        Assert.All(members, m => Assert.Equal("Up", m.GetProperty("status").GetString()));
        Assert.All(members, m => Assert.True(m.GetProperty("reachable").GetBoolean()));
        Assert.Single(members, m => m.GetProperty("leader").GetBoolean());
        Assert.Equal(Address(0), status.GetProperty("self").GetString());

        var sessions = await AdminCli.JsonAsync(["sessions", .. Admin(2)]);
        var perNode = sessions.GetProperty("nodes").EnumerateArray().ToDictionary(n => n.GetProperty("address").GetString()!);
        Assert.Equal(3, perNode.Count);
        Assert.All(perNode.Values, n => Assert.Equal(JsonValueKind.Null, n.GetProperty("error").ValueKind));
        Assert.Equal(1, perNode[Address(0)].GetProperty("sessions").GetInt32()); // the sender, logged in on node 0
        Assert.Equal(0, perNode[Address(1)].GetProperty("sessions").GetInt32());
        Assert.Equal(1, sessions.GetProperty("sessions").GetInt32());
        Assert.Equal($"127.0.0.1:{cluster.Servers(1).Split(',')[0].Split(':')[1]}", perNode[Address(1)].GetProperty("clients").GetString());

        var user = await AdminCli.JsonAsync(["user", senderPhone, .. Admin(2)]); // asked on node 2, the user's entity anywhere
        Assert.Equal(senderId, user.GetProperty("id").GetString());
        Assert.Equal(["desk"], user.GetProperty("devices").EnumerateArray().Select(d => d.GetString()));

        const int perRecipient = 2;
        foreach (var (id, _, _) in recipients)
            for (var k = 0; k < perRecipient; k++)
                await sender.SendAsync(id, $"{id} {k}");

        var shards = await AdminCli.JsonAsync(["shards", .. Admin(1)]);
        var users = shards.EnumerateArray().Single(r => r.GetProperty("region").GetString() == "user");
        var entitiesOn = users.GetProperty("nodes").EnumerateArray()
            .ToDictionary(n => n.GetProperty("address").GetString()!, n => n.GetProperty("entities").GetInt32());
        output.WriteLine($"user entities per node: {string.Join(", ", entitiesOn)}");
        Assert.True(entitiesOn.GetValueOrDefault(Address(2)) > 0, "node 2 runs no user entity: the leave below would move nothing");
        Assert.True(users.GetProperty("entities").GetInt32() >= recipients.Count + 1);

        var report = await AdminCli.JsonAsync(["retention", "run", .. Admin(1)]);
        Assert.True(report.GetProperty("report").GetProperty("entities").GetInt32() >= recipients.Count + 1);
        var last = await AdminCli.JsonAsync(["retention", "report", .. Admin(2)]);
        Assert.Equal(report.GetProperty("report").GetProperty("at").GetString(), last.GetProperty("report").GetProperty("at").GetString());

        // node 2 leaves: it hands its shards over and stops on its own
        var leave = await AdminCli.JsonAsync(["node", "leave", $"127.0.0.1:{cluster.ClusterPort(2)}", .. Admin(0)]);
        Assert.Equal(Address(2), leave.GetProperty("address").GetString());
        Assert.Equal(0, await cluster.ExitAsync(2, TimeSpan.FromSeconds(60)));
        await WaitForMembersAsync(Admin(0), 2);

        var after = (await AdminCli.JsonAsync(["shards", .. Admin(0)])).EnumerateArray().Single(r => r.GetProperty("region").GetString() == "user");
        Assert.DoesNotContain(Address(2), after.GetProperty("nodes").EnumerateArray().Select(n => n.GetProperty("address").GetString()));

        // nothing lost: every recipient, its entity now on node 0 or 1, receives everything sent before the leave, in order
        foreach (var (id, token, _) in recipients)
        {
            await using var client = await ChatClient.ConnectAsync(cluster.Servers(0).Split(',')[0]);
            await client.LoginAsync(token);
            await client.SyncAsync(0);
            for (var k = 0; k < perRecipient; k++)
                Assert.Equal($"{id} {k}", (await client.NextAsync<Message>(30)).Text);
        }

        // node down: the downed member is removed and exits with its "removed from the cluster" code
        await AdminCli.JsonAsync(["node", "down", Address(1), .. Admin(0)]);
        Assert.Equal(3, await cluster.ExitAsync(1, TimeSpan.FromSeconds(60)));
        await WaitForMembersAsync(Admin(0), 1);
    }

    /// <summary>Asks <c>chat admin status</c> until the cluster has <paramref name="count"/> members.</summary>
    private static async Task WaitForMembersAsync(string[] admin, int count)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var members = (await AdminCli.JsonAsync(["status", .. admin])).GetProperty("members").GetArrayLength();
            if (members == count) return;
            Assert.True(DateTime.UtcNow < deadline, $"still {members} members, not {count}");
            await Task.Delay(200);
        }
    }

    [Fact]
    public async Task A_node_is_live_but_not_ready_until_it_has_joined_the_cluster()
    {
        var database = await PostgresServer.NewDatabaseAsync();
        var seedPort = TestCluster.FreePort(); // nobody there yet
        var ownPort = TestCluster.FreePort();
        var adminPort = TestCluster.FreePort();
        var seeds = $"127.0.0.1:{seedPort},127.0.0.1:{ownPort}";
        var environment = new Dictionary<string, string> { ["CHAT_PERSISTENCE"] = "postgres", ["CHAT_POSTGRES"] = database };
        var data = TestNode.NewDataDirectory();
        var seedData = TestNode.NewDataDirectory();
        using var waiting = NodeProcess.Launch(data, 0,
            ["--seeds", seeds, "--cluster-port", ownPort.ToString(), "--admin-port", adminPort.ToString()], environment, line => output.WriteLine($"waiting: {line}"));
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{adminPort}/"), Timeout = TimeSpan.FromSeconds(10) };
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (!await IsAsync(http, "health/live", HttpStatusCode.OK))
            {
                Assert.True(DateTime.UtcNow < deadline, "the endpoint did not come up");
                Assert.False(waiting.HasExited, "the node exited");
                await Task.Delay(100);
            }
            var notReady = await http.GetAsync("health/ready");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, notReady.StatusCode);
            var readiness = JsonDocument.Parse(await notReady.Content.ReadAsStringAsync()).RootElement;
            Assert.False(readiness.GetProperty("ready").GetBoolean());
            Assert.False(readiness.GetProperty("memberUp").GetBoolean());
            Assert.False(readiness.GetProperty("shardsRegistered").GetBoolean());
            Assert.False(readiness.GetProperty("clientPortOpen").GetBoolean());

            // the seed comes up: the waiting node joins, opens its client port and becomes ready
            await using var seed = await NodeProcess.StartAsync(seedData, 0, ["--seeds", seeds, "--cluster-port", seedPort.ToString()], environment,
                line => output.WriteLine($"seed: {line}"));
            deadline = DateTime.UtcNow.AddSeconds(60);
            while (!await IsAsync(http, "health/ready", HttpStatusCode.OK))
            {
                Assert.True(DateTime.UtcNow < deadline, "the node did not become ready after its seed came up");
                await Task.Delay(200);
            }
            var ready = JsonDocument.Parse(await http.GetStringAsync("health/ready")).RootElement;
            Assert.True(ready.GetProperty("memberUp").GetBoolean());
            Assert.True(ready.GetProperty("shardsRegistered").GetBoolean());
            Assert.True(ready.GetProperty("journalWritable").GetBoolean());
            Assert.True(ready.GetProperty("clientPortOpen").GetBoolean());
        }
        finally
        {
            if (!waiting.HasExited) waiting.Kill(entireProcessTree: true);
            await waiting.WaitForExitAsync();
            TestNode.TryDelete(data);
            TestNode.TryDelete(seedData);
        }
    }

    private static async Task<bool> IsAsync(HttpClient http, string path, HttpStatusCode expected)
    {
        try
        {
            return (await http.GetAsync(path)).StatusCode == expected;
        }
        catch (HttpRequestException)
        {
            return false; // not listening yet
        }
    }
}
