using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Npgsql;

namespace Chat.Tests;

/// <summary>
/// One throwaway PostgreSQL server per test run, started on first use on a free loopback port, in a temporary
/// directory that is removed when the test process exits. Each test gets its own database from
/// <see cref="NewDatabaseAsync"/>. Needs PostgreSQL's server binaries: found under /usr/lib/postgresql/*/bin, installed
/// with apt-get when missing and the tests run as root.
/// </summary>
public static class PostgresServer
{
    private static readonly Lazy<Task<Server>> Instance = new(StartAsync);
    private static int _databases;

    /// <summary>Creates an empty database and returns its Npgsql connection string.</summary>
    public static async Task<string> NewDatabaseAsync()
    {
        var server = await Instance.Value;
        var name = $"chat_{Environment.ProcessId}_{Interlocked.Increment(ref _databases)}";
        await using (var connection = new NpgsqlConnection(server.ConnectionString("postgres")))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
            await create.ExecuteNonQueryAsync();
        }
        return server.ConnectionString(name);
    }

    /// <summary>HOCON that selects PostgreSQL with the given connection string.</summary>
    public static string Hocon(string connectionString) =>
        $"chat.persistence = postgres\nchat.postgres.connection-string = \"{connectionString}\"";

    /// <summary>An in-process node on the database; <paramref name="dataDirectory"/> holds only media.</summary>
    public static Task<TestNode> StartNodeAsync(string connectionString, string? dataDirectory = null, string? extraHocon = null,
        TimeProvider? clock = null, Action<string>? report = null) =>
        TestNode.StartAsync(dataDirectory, Hocon(connectionString) + "\n" + (extraHocon ?? ""), clock, report);

    /// <summary>
    /// A node process on the database: PostgreSQL selected by a --config file written into <paramref name="dataDirectory"/>,
    /// the connection string given as CHAT_POSTGRES, as an operator would.
    /// </summary>
    public static async Task<NodeProcess> StartNodeProcessAsync(string connectionString, string dataDirectory, Action<string>? output = null)
    {
        System.IO.Directory.CreateDirectory(dataDirectory);
        var config = Path.Combine(dataDirectory, "postgres.conf");
        await File.WriteAllTextAsync(config, "chat.persistence = postgres\n");
        return await NodeProcess.StartAsync(dataDirectory, extraArgs: ["--config", config],
            environment: new Dictionary<string, string> { [Chat.Node.Persistence.PostgresStore.EnvironmentVariable] = connectionString }, output: output);
    }

    private sealed record Server(string Directory, string Bin, int Port, bool AsPostgresUser)
    {
        public string ConnectionString(string database) =>
            new NpgsqlConnectionStringBuilder
            {
                Host = "127.0.0.1", Port = Port, Username = "postgres", Database = database,
                // tests start and stop many nodes; a short pool lifetime keeps idle connections from piling up
                ConnectionIdleLifetime = 10,
            }.ToString();
    }


    private static async Task<Server> StartAsync()
    {
        var bin = FindBinaries();
        if (bin is null)
        {
            if (!Programs.IsRoot)
                throw new InvalidOperationException(
                    "The PostgreSQL tests need PostgreSQL's server programs (initdb, pg_ctl under /usr/lib/postgresql/*/bin) and they are not installed. " +
                    "Install them (Debian/Ubuntu: sudo apt-get install -y postgresql), or run the tests as root to have them installed.");
            Console.Error.WriteLine("PostgreSQL tests: initdb not found; installing PostgreSQL with apt-get (running as root)");
            await Programs.RunAsync("apt-get", ["update"], TimeSpan.FromMinutes(10));
            await Programs.RunAsync("apt-get", ["install", "-y", "postgresql"], TimeSpan.FromMinutes(15),
                new Dictionary<string, string> { ["DEBIAN_FRONTEND"] = "noninteractive" });
            bin = FindBinaries() ?? throw new InvalidOperationException("apt-get installed postgresql, but no initdb under /usr/lib/postgresql/*/bin");
            Console.Error.WriteLine($"PostgreSQL tests: installed, using {bin}");
        }

        // PostgreSQL refuses to run as root: as root, the cluster belongs to the postgres user and runs as it
        var asPostgres = Programs.IsRoot;
        var dir = Path.Combine(Path.GetTempPath(), "chat-pg-" + Guid.NewGuid().ToString("N")[..12]);
        var data = Path.Combine(dir, "data");
        var socket = Path.Combine(dir, "socket");
        System.IO.Directory.CreateDirectory(socket);
        if (asPostgres) await Programs.RunAsync("chown", ["-R", "postgres:postgres", dir], TimeSpan.FromSeconds(30));
        var server = new Server(dir, bin, FreePort(), asPostgres);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Stop(server);
        StartWatchdog(server);

        await RunAsPostgresAsync(server, Path.Combine(bin, "initdb"),
            ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync"], TimeSpan.FromMinutes(2));
        var options = $"-c listen_addresses=127.0.0.1 -p {server.Port} -c unix_socket_directories={socket} -c max_connections=400";
        await RunAsPostgresAsync(server, Path.Combine(bin, "pg_ctl"),
            ["-D", data, "-l", Path.Combine(dir, "server.log"), "-w", "-t", "60", "-o", options, "start"], TimeSpan.FromSeconds(90));
        return server;
    }

    /// <summary>The newest installed version's bin directory holding initdb and pg_ctl.</summary>
    private static string? FindBinaries()
    {
        const string root = "/usr/lib/postgresql";
        if (!System.IO.Directory.Exists(root)) return null;
        return System.IO.Directory.GetDirectories(root)
            .Select(d => (Dir: Path.Combine(d, "bin"), Version: double.TryParse(Path.GetFileName(d), System.Globalization.CultureInfo.InvariantCulture, out var v) ? v : 0))
            .Where(x => File.Exists(Path.Combine(x.Dir, "initdb")) && File.Exists(Path.Combine(x.Dir, "pg_ctl")))
            .OrderByDescending(x => x.Version)
            .Select(x => x.Dir)
            .FirstOrDefault();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>
    /// The test runner may kill the test process right after the last test, before exit handlers finish, and the
    /// server runs on in its own process: a detached shell waits for this process to end, then stops the server and
    /// removes its directory.
    /// </summary>
    private static void StartWatchdog(Server server)
    {
        static string Q(string s) => "'" + s.Replace("'", "'\\''") + "'";
        var stop = $"{Q(Path.Combine(server.Bin, "pg_ctl"))} -D {Q(Path.Combine(server.Directory, "data"))} -m fast -w stop";
        if (server.AsPostgresUser) stop = "runuser -u postgres -- " + stop;
        var script = $"while kill -0 {Environment.ProcessId} 2>/dev/null; do sleep 1; done; {stop}; rm -rf {Q(server.Directory)}";
        // started in the background of a shell that exits at once, so it leaves this process's tree
        var info = new ProcessStartInfo("setsid")
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = "/",
        };
        foreach (var a in new[] { "sh", "-c", $"({script}) </dev/null >/dev/null 2>&1 &" }) info.ArgumentList.Add(a);
        using var shell = Process.Start(info) ?? throw new InvalidOperationException("cannot start the PostgreSQL watchdog");
        shell.WaitForExit();
    }

    private static void Stop(Server server)
    {
        try
        {
            RunAsPostgresAsync(server, Path.Combine(server.Bin, "pg_ctl"), ["-D", Path.Combine(server.Directory, "data"), "-m", "fast", "-w", "stop"],
                TimeSpan.FromSeconds(30)).GetAwaiter().GetResult();
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"PostgreSQL tests: stopping the server failed: {e.Message}");
        }
        TestNode.TryDelete(server.Directory);
    }

    private static Task RunAsPostgresAsync(Server server, string program, IReadOnlyList<string> args, TimeSpan timeout) =>
        server.AsPostgresUser
            ? Programs.RunAsync("runuser", ["-u", "postgres", "--", program, .. args], timeout)
            : Programs.RunAsync(program, args, timeout);
}
