using System.Collections.Concurrent;
using System.Diagnostics;
using Akka.Actor;
using Chat.Node.Hosting;
using Chat.Node.Media;
using Chat.Node.Retention;

namespace Chat.Tests;

/// <summary>How a node joins a cluster, and what runs once per cluster.</summary>
[Collection(ClusterCollection.Name)]
public sealed class ClusterStartTests
{
    [Fact]
    public async Task A_cluster_on_the_embedded_store_and_a_malformed_seed_are_refused_at_start_with_a_clear_message()
    {
        var data = TestNode.NewDataDirectory();
        try
        {
            foreach (var (seeds, expected) in new[]
                     {
                         ("127.0.0.1:7", "set chat.persistence = postgres"), // each node would keep its own copy of the data
                         ("no-port-here", "must be HOST:PORT"),
                     })
            {
                var lines = new ConcurrentQueue<string>();
                using var process = NodeProcess.Launch(data, extraArgs: ["--seeds", seeds], output: lines.Enqueue);
                using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                try
                {
                    await process.WaitForExitAsync(wait.Token);
                }
                finally
                {
                    if (!process.HasExited) process.Kill();
                }
                Assert.Equal(1, process.ExitCode);
                Assert.Contains(lines, line => line.StartsWith("cannot start:", StringComparison.Ordinal) && line.Contains(expected));
            }
        }
        finally
        {
            TestNode.TryDelete(data);
        }
    }

    [Fact]
    public async Task A_node_whose_seeds_cannot_be_reached_keeps_trying_says_so_and_stops_cleanly()
    {
        var data = TestNode.NewDataDirectory();
        try
        {
            var nobody = TestCluster.FreePort(); // no node listens there
            var lines = new ConcurrentQueue<string>();
            using var process = NodeProcess.Launch(data, extraArgs: ["--seeds", $"127.0.0.1:{nobody}"],
                environment: new Dictionary<string, string>
                {
                    ["CHAT_PERSISTENCE"] = "postgres",
                    ["CHAT_POSTGRES"] = await PostgresServer.NewDatabaseAsync(),
                },
                output: lines.Enqueue);
            try
            {
                // one line every 10 s while it waits (it used to die after a minute with an unhandled TimeoutException)
                var line = await NodeProcess.ReadUntilAsync(process, l => l.Contains("cluster: not joined after"), TimeSpan.FromSeconds(30));
                Assert.Contains($"127.0.0.1:{nobody}", line);
                await NodeProcess.ReadUntilAsync(process, l => l.Contains("cluster: not joined after"), TimeSpan.FromSeconds(30));
                Assert.False(process.HasExited);

                Process.Start("kill", ["-TERM", process.Id.ToString()])!.WaitForExit();
                using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                await process.WaitForExitAsync(wait.Token);
                Assert.Equal(0, process.ExitCode);
            }
            finally
            {
                if (!process.HasExited) process.Kill();
            }
        }
        finally
        {
            TestNode.TryDelete(data);
        }
    }

    [Fact]
    public async Task One_retention_sweeper_and_one_media_janitor_serve_the_cluster_and_move_to_another_node_when_theirs_leaves()
    {
        var database = await PostgresServer.NewDatabaseAsync();
        var seedPort = TestCluster.FreePort();
        var reportsA = new ConcurrentQueue<string>();
        var reportsB = new ConcurrentQueue<string>();
        Task<ChatNode> Start(int clusterPort, ConcurrentQueue<string> reports, string data) => ChatNode.StartAsync(new NodeOptions
        {
            Port = 0,
            DataDirectory = data,
            ClusterPort = clusterPort,
            Seeds = [$"127.0.0.1:{seedPort}"],
            // between two nodes every message crosses real remoting and is serialized; serialize-messages would also
            // push Akka's own node-local messages (distributed data's) through a serializer they do not support
            ExtraHocon = TestNode.TestHocon + "\nakka.actor.serialize-messages = off\n" + PostgresServer.Hocon(database),
            Report = line => reports.Enqueue(line.Text),
        });
        var dataA = TestNode.NewDataDirectory();
        var dataB = TestNode.NewDataDirectory();
        var a = await Start(seedPort, reportsA, dataA); // the seed, so the oldest member
        var b = await Start(0, reportsB, dataB);
        var aRunning = true;
        try
        {
            var timeout = TimeSpan.FromSeconds(30);
            // asked through b, swept by the one sweeper, which runs on the oldest node
            var report = await b.Retention.Ask<RetentionReport>(RetentionSweeper.SweepNow.Instance, timeout);
            var lastSeenByA = await a.Retention.Ask<RetentionSweeper.LastReport>(RetentionSweeper.GetLastReport.Instance, timeout);
            Assert.Equal(report, lastSeenByA.Report);
            Assert.Contains(reportsA, line => line.StartsWith("retention sweep", StringComparison.Ordinal));
            Assert.DoesNotContain(reportsB, line => line.StartsWith("retention sweep", StringComparison.Ordinal));
            await b.MediaJanitor.Ask<MediaJanitor.Swept>(MediaJanitor.Sweep.Instance, timeout);

            aRunning = false;
            await a.DisposeAsync(); // leaves the cluster; the singletons are handed over to b
            var after = await b.Retention.Ask<RetentionReport>(RetentionSweeper.SweepNow.Instance, timeout);
            Assert.True(after.At >= report.At);
            Assert.Contains(reportsB, line => line.StartsWith("retention sweep", StringComparison.Ordinal));
            await b.MediaJanitor.Ask<MediaJanitor.Swept>(MediaJanitor.Sweep.Instance, timeout);
        }
        finally
        {
            if (aRunning) await a.DisposeAsync();
            await b.DisposeAsync();
            TestNode.TryDelete(dataA);
            TestNode.TryDelete(dataB);
        }
    }
}
