using Chat.Node.Hosting;
using Chat.Protocol;

namespace Chat.Tests;

/// <summary>A real node on 127.0.0.1, port 0, with its own data directory, for end-to-end tests.</summary>
public sealed class TestNode : IAsyncDisposable
{
    /// <summary>
    /// Every test node: messages serialized as between nodes, and phone verification in its test mode (the code comes
    /// back in CodeSent and <see cref="ChatClient.RegisterAsync(string, string, string?, CancellationToken)"/> completes it),
    /// and no warm-up before listening (a test node starts faster; WarmupTests start their own).
    /// Tests of verification itself layer <c>chat.verification.mode = required</c> over it.
    /// </summary>
    public const string TestHocon = """
        akka.loglevel = WARNING
        akka.actor.serialize-messages = on
        chat.verification.mode = auto
        chat.limits.registrations-per-address = 0
        chat.limits.lookups-per-user = 0
        chat.limits.whois-per-user = 0
        chat.limits.sends-per-user = 0
        chat.limits.stranger-inbox-messages = 0
        chat.limits.stranger-inbox-bytes = 0
        chat.startup.warm-up = off
        """;

    private TestNode(ChatNode node, string dataDirectory, bool ownsDirectory)
    {
        Node = node;
        DataDirectory = dataDirectory;
        _ownsDirectory = ownsDirectory;
    }

    private readonly bool _ownsDirectory;
    public ChatNode Node { get; }
    public string DataDirectory { get; }
    public int Port => Node.Endpoint.Port;
    public string Server => $"127.0.0.1:{Port}";

    /// <summary>The settings of hocon/node.conf alone.</summary>
    public static Chat.Node.ChatSettings DefaultSettings() =>
        Chat.Node.ChatSettings.From(DefaultConfig());

    /// <summary>hocon/node.conf alone.</summary>
    public static Akka.Configuration.Config DefaultConfig() =>
        Akka.Configuration.ConfigurationFactory.ParseString(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "hocon", "node.conf")));

    public static string NewDataDirectory() =>
        Path.Combine(Path.GetTempPath(), "chat-test-" + Guid.NewGuid().ToString("N")[..12]);

    public static async Task<TestNode> StartAsync(string? dataDirectory = null, string? extraHocon = null, TimeProvider? clock = null,
        Action<string>? report = null)
    {
        var owns = dataDirectory is null;
        dataDirectory ??= NewDataDirectory();
        var node = await ChatNode.StartAsync(new NodeOptions
        {
            Port = 0,
            DataDirectory = dataDirectory,
            ExtraHocon = TestHocon + "\n" + (extraHocon ?? ""),
            Clock = clock ?? TimeProvider.System,
            Report = report is null ? null : line => report(line.Text),
        });
        return new TestNode(node, dataDirectory, owns);
    }

    public Task<ChatClient> ConnectAsync(string device = "test") =>
        ChatClient.ConnectAsync("127.0.0.1", Port, new ChatClientOptions { Device = device, RequestTimeout = TimeSpan.FromSeconds(20) });

    /// <summary>Registers a new user with a fresh phone number and returns a logged-in client.</summary>
    public async Task<User> NewUserAsync(string name, string device = "test")
    {
        var client = await ConnectAsync(device);
        var phone = Phones.Next();
        var registered = await client.RegisterAsync(name, phone);
        await client.LoginAsync(registered.Token);
        return new User(client, registered.UserId, registered.Token, phone, name);
    }

    /// <summary>Stops the node; keeps the data directory when the test supplied it (to start again on it).</summary>
    public async ValueTask DisposeAsync()
    {
        await Node.DisposeAsync();
        if (_ownsDirectory) TryDelete(DataDirectory);
    }

    public static void TryDelete(string directory)
    {
        try { Directory.Delete(directory, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

public sealed record User(ChatClient Client, string Id, string Token, string Phone, string Name) : IAsyncDisposable
{
    public ValueTask DisposeAsync() => Client.DisposeAsync();
}

public static class Phones
{
    private static int _next = Random.Shared.Next(1_000_000, 8_000_000);
    public static string Next() => "+1555" + Interlocked.Increment(ref _next).ToString("D7");
}

public static class EntryExtensions
{
    /// <summary>Reads the next inbox entry, failing the test if none comes in time.</summary>
    public static async Task<Frame> NextAsync(this ChatClient client, int timeoutSeconds = 15)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(timeoutSeconds));
        return await client.Entries.ReadAsync(cts.Token);
    }

    public static async Task<T> NextAsync<T>(this ChatClient client, int timeoutSeconds = 15) where T : Frame
    {
        var frame = await client.NextAsync(timeoutSeconds);
        return Assert.IsType<T>(frame);
    }

    /// <summary>Reads entries until one of type T arrives (skipping others), within the timeout.</summary>
    public static async Task<T> NextOfAsync<T>(this ChatClient client, int timeoutSeconds = 15) where T : Frame
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(timeoutSeconds));
        while (true)
        {
            var frame = await client.Entries.ReadAsync(cts.Token);
            if (frame is T t) return t;
        }
    }
}

/// <summary>
/// One node shared by the tests of a class (an xUnit class fixture): each test makes its own users, so tests do not see
/// each other, and the class starts one node instead of one per test.
/// </summary>
public class SharedNode : IAsyncLifetime
{
    protected virtual string? ExtraHocon => null;
    public TestNode Node { get; private set; } = null!;
    public async Task InitializeAsync() => Node = await TestNode.StartAsync(extraHocon: ExtraHocon);
    public async Task DisposeAsync() => await Node.DisposeAsync();
}

/// <summary>The media tests' node: images limited to 2 MiB so that the limit can be reached cheaply.</summary>
public sealed class SharedMediaNode : SharedNode
{
    protected override string? ExtraHocon => "chat.media.max-image-bytes = 2 MiB";
}
