using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Chat.Protocol;
using Xunit.Abstractions;

namespace Chat.Tests;

/// <summary>
/// Several node processes on loopback forming one cluster on a shared PostgreSQL database: each node has a fixed client
/// port and cluster port (so a restarted node comes back at the same addresses), and every node is a seed.
/// </summary>
public sealed class TestCluster : IAsyncDisposable
{
    private readonly NodeProcess?[] _nodes;
    private readonly int[] _clientPorts;
    private readonly int[] _clusterPorts;
    private readonly string[] _data;
    private readonly string _connectionString;
    private readonly ITestOutputHelper? _log;
    private string? _configFile;

    private TestCluster(int size, string connectionString, ITestOutputHelper? log)
    {
        _nodes = new NodeProcess?[size];
        _clientPorts = Enumerable.Range(0, size).Select(_ => FreePort()).ToArray();
        _clusterPorts = Enumerable.Range(0, size).Select(_ => FreePort()).ToArray();
        _data = Enumerable.Range(0, size).Select(_ => TestNode.NewDataDirectory()).ToArray();
        _connectionString = connectionString;
        _log = log;
    }

    public int Size => _nodes.Length;

    /// <summary>
    /// Starts every node at once and returns when all serve clients: each accepts them once it is a cluster member, and
    /// then answers a code request (its phone entry may be on any node) once the cluster has placed its first shards.
    /// <paramref name="hocon"/>, when given, is layered over every node's test settings.
    /// </summary>
    public static async Task<TestCluster> StartAsync(int size, string connectionString, ITestOutputHelper? log = null, string? hocon = null)
    {
        var cluster = new TestCluster(size, connectionString, log);
        if (hocon is not null)
        {
            cluster._configFile = Path.Combine(cluster._data[0] + ".conf");
            File.WriteAllText(cluster._configFile, hocon);
        }
        await Task.WhenAll(Enumerable.Range(0, size).Select(cluster.StartNodeAsync));
        await cluster.WaitUntilServingAsync(TimeSpan.FromSeconds(90));
        return cluster;
    }

    /// <summary>
    /// Waits until a code request (the first step of a registration) is answered through every node, as an operator
    /// waits for a new cluster to serve before sending users to it: on a loaded machine a cluster that has just formed
    /// has left a first request unanswered for the whole request timeout while it placed its first shards.
    /// </summary>
    private async Task WaitUntilServingAsync(TimeSpan limit)
    {
        var started = Stopwatch.StartNew();
        for (var node = 0; node < Size; node++)
        {
            while (true)
            {
                try
                {
                    await using var client = await ChatClient.ConnectAsync(Servers(node).Split(',')[0]);
                    Assert.IsType<CodeSent>(await client.RequestCodeAsync("Probe", Phones.Next()));
                    break;
                }
                catch (ChatException e) when (e.Code == ErrorCode.Unavailable && started.Elapsed < limit)
                {
                    Log($"node{node}: not serving yet: {e.Message}");
                }
            }
        }
        Log($"every node answers a code request, {started.Elapsed.TotalSeconds:0.0} s after all listened");
    }

    /// <summary>Client addresses of every node, starting with node <paramref name="first"/> (a client's failover list).</summary>
    public string Servers(int first) =>
        string.Join(",", Enumerable.Range(0, Size).Select(i => $"127.0.0.1:{_clientPorts[(first + i) % Size]}"));

    /// <summary>Whether node <paramref name="index"/> is running (not killed or stopped).</summary>
    public bool IsUp(int index) => _nodes[index] is not null;

    public int Pid(int node) => _nodes[node]?.Pid ?? throw new InvalidOperationException($"node {node} is not running");

    /// <summary>
    /// Starts node <paramref name="index"/> (again) at its addresses. The last node takes its cluster settings from
    /// CHAT_* variables, the others from flags, so both ways are exercised.
    /// </summary>
    public async Task StartNodeAsync(int index)
    {
        var seeds = string.Join(",", _clusterPorts.Select(p => $"127.0.0.1:{p}"));
        var environment = new Dictionary<string, string>
        {
            ["CHAT_PERSISTENCE"] = "postgres",
            ["CHAT_POSTGRES"] = _connectionString,
        };
        var args = new List<string>();
        // e.g. a file with akka.loglevel = INFO, to see the cluster's decisions in the test output
        if (Environment.GetEnvironmentVariable("CHAT_TEST_NODE_CONFIG") is { Length: > 0 } extra) args.AddRange(["--config", extra]);
        if (_configFile is not null) args.AddRange(["--config", _configFile]);
        if (index == Size - 1)
        {
            environment["CHAT_SEEDS"] = seeds;
            environment["CHAT_CLUSTER_HOST"] = "127.0.0.1";
            environment["CHAT_CLUSTER_PORT"] = _clusterPorts[index].ToString();
            environment["CHAT_ADMIN_PORT"] = "0";
        }
        else
        {
            args.AddRange(["--seeds", seeds, "--cluster-host", "127.0.0.1", "--cluster-port", _clusterPorts[index].ToString(), "--admin-port", "0"]);
        }
        var name = $"node{index}";
        _nodes[index] = await NodeProcess.StartAsync(_data[index], _clientPorts[index], args, environment, line => Log($"{name}: {line}"));
        Log($"{name}: started (pid {_nodes[index]!.Pid})");
    }

    /// <summary>The admin endpoint of node <paramref name="index"/>, HOST:PORT (every node has one, on a free port).</summary>
    public string Admin(int index) =>
        $"127.0.0.1:{(_nodes[index] ?? throw new InvalidOperationException($"node {index} is not running")).AdminPort}";

    /// <summary>The data directory of node <paramref name="index"/> (its admin.token is there).</summary>
    public string DataDirectory(int index) => _data[index];

    /// <summary>The cluster port of node <paramref name="index"/> (all nodes share one host: the lowest port is the lowest address).</summary>
    public int ClusterPort(int index) => _clusterPorts[index];

    /// <summary>Waits for node <paramref name="index"/> to exit on its own; returns its exit code.</summary>
    public async Task<int> ExitAsync(int index, TimeSpan timeout)
    {
        var node = _nodes[index] ?? throw new InvalidOperationException($"node {index} is not running");
        var code = await node.ExitAsync(timeout);
        _nodes[index] = null;
        await node.DisposeAsync();
        Log($"node{index}: exited by itself with code {code}");
        return code;
    }

    /// <summary>SIGKILL: the node vanishes without leaving the cluster.</summary>
    public async Task KillAsync(int index)
    {
        var node = _nodes[index] ?? throw new InvalidOperationException($"node {index} is not running");
        _nodes[index] = null;
        await node.KillAsync();
        await node.DisposeAsync();
        Log($"node{index}: killed");
    }

    /// <summary>SIGTERM: the node leaves the cluster, hands its shards over and exits; returns its exit code.</summary>
    public async Task<int> TerminateAsync(int index)
    {
        var node = _nodes[index] ?? throw new InvalidOperationException($"node {index} is not running");
        _nodes[index] = null;
        var code = await node.TerminateAsync();
        await node.DisposeAsync();
        Log($"node{index}: stopped with exit code {code}");
        return code;
    }

    public void Log(string line)
    {
        try { _log?.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} {line}"); }
        catch (InvalidOperationException) { /* the test has finished */ }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in _nodes)
            if (node is not null) await node.DisposeAsync();
        foreach (var d in _data) TestNode.TryDelete(d);
        if (_configFile is not null) File.Delete(_configFile);
    }

    /// <summary>A loopback port nobody listens on right now.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>
/// Tests that run several node processes and PostgreSQL: alone, after the others, so that their timings (failure
/// detection, failover, request timeouts) measure the cluster and not two cores shared with the rest of the suite.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ClusterCollection
{
    public const string Name = "cluster";
}
