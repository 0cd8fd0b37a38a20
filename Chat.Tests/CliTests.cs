using System.Text.Json;
using Chat.Cli.Bench;

namespace Chat.Tests;

/// <summary>The README's tour, run through the real `chat` commands against a real node.</summary>
[Collection("chat-home")]
public sealed class CliTests : IAsyncLifetime
{
    private TestNode _node = null!;
    private readonly string _home = Path.Combine(Path.GetTempPath(), "chat-home-" + Guid.NewGuid().ToString("N")[..8]);

    public async Task InitializeAsync()
    {
        _node = await TestNode.StartAsync();
        Environment.SetEnvironmentVariable("CHAT_HOME", _home);
    }

    public async Task DisposeAsync()
    {
        Environment.SetEnvironmentVariable("CHAT_HOME", null);
        await _node.DisposeAsync();
        TestNode.TryDelete(_home);
    }

    private static async Task<(int Code, string Out)> Chat(params string[] args)
    {
        var output = new StringWriter();
        var code = await global::Chat.Cli.Program.Run(args, output);
        return (code, output.ToString());
    }

    [Fact]
    public async Task Two_profiles_exchange_a_message_and_the_receipts_show()
    {
        var alicePhone = Phones.Next();
        var bobPhone = Phones.Next();
        Assert.Equal(0, (await Chat("register", "--server", _node.Server, "--profile", "alice", "--name", "Alice", "--phone", alicePhone)).Code);
        var bobReg = await Chat("register", "--server", _node.Server, "--profile", "bob", "--name", "Bob", "--phone", bobPhone);
        Assert.Equal(0, bobReg.Code);
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_home, "bob.json")));

        var sent = await Chat("send", "--profile", "alice", "--to", bobPhone, "Hi Bob!");
        Assert.Equal(0, sent.Code);
        var messageId = sent.Out.Trim();
        Assert.StartsWith("m", messageId);

        var listen = await Chat("listen", "--profile", "bob", "--count", "1", "--timeout", "20", "--json");
        Assert.Equal(0, listen.Code);
        var message = JsonDocument.Parse(listen.Out.Trim()).RootElement;
        Assert.Equal("message", message.GetProperty("type").GetString());
        Assert.Equal(messageId, message.GetProperty("id").GetString());
        Assert.Equal("Hi Bob!", message.GetProperty("text").GetString());
        Assert.Equal(1, message.GetProperty("seq").GetInt64());
        Assert.True(message.GetProperty("sentAt").GetInt64() > 0);
        Assert.Equal("Alice", message.GetProperty("fromName").GetString());

        Assert.Equal(0, (await Chat("read", "--profile", "bob", "--with", alicePhone)).Code);

        var receipts = await Chat("listen", "--profile", "alice", "--count", "2", "--timeout", "20", "--json");
        Assert.Equal(0, receipts.Code);
        var lines = receipts.Out.Trim().Split('\n').Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(["delivered", "read"], lines.Select(l => l.GetProperty("status").GetString()));
        Assert.All(lines, l => Assert.Equal(messageId, l.GetProperty("id").GetString()));
        Assert.All(lines, l => Assert.Equal("receipt", l.GetProperty("type").GetString()));

        // listen continues where it stopped: nothing new for Bob
        var again = await Chat("listen", "--profile", "bob", "--count", "1", "--timeout", "1", "--json");
        Assert.Equal(1, again.Code);
        Assert.Equal("", again.Out.Trim());
    }

    [Fact]
    public async Task Listen_names_the_sender_with_their_phone()
    {
        var alicePhone = Phones.Next();
        Assert.Equal(0, (await Chat("register", "--server", _node.Server, "--profile", "alice", "--name", "Alice", "--phone", alicePhone)).Code);
        Assert.Equal(0, (await Chat("register", "--server", _node.Server, "--profile", "bob", "--name", "Bob", "--phone", Phones.Next())).Code);
        var bobId = JsonDocument.Parse(File.ReadAllText(Path.Combine(_home, "bob.json"))).RootElement.GetProperty("userId").GetString()!;
        Assert.Equal(0, (await Chat("send", "--profile", "alice", "--to", bobId, "Hi Bob!")).Code);

        var listen = await Chat("listen", "--profile", "bob", "--count", "1", "--timeout", "20");
        Assert.Equal(0, listen.Code);
        Assert.EndsWith($" Alice ({alicePhone}): Hi Bob!", listen.Out.Trim());
    }

    [Fact]
    public async Task A_photo_is_sent_with_a_caption_shown_by_listen_and_downloaded_byte_for_byte()
    {
        var bobPhone = Phones.Next();
        Assert.Equal(0, (await Chat("register", "--server", _node.Server, "--profile", "alice", "--name", "Alice", "--phone", Phones.Next())).Code);
        Assert.Equal(0, (await Chat("register", "--server", _node.Server, "--profile", "bob", "--name", "Bob", "--phone", bobPhone)).Code);
        var photo = Path.Combine(_home, "view.png");
        var bytes = MediaTests.FakeFile("image/png", 700_000, seed: 9);
        await File.WriteAllBytesAsync(photo, bytes);

        var sent = await Chat("send", "--profile", "alice", "--to", bobPhone, "--file", photo, "--caption", "the view");
        Assert.Equal(0, sent.Code);
        var messageId = sent.Out.Trim();

        var listen = await Chat("listen", "--profile", "bob", "--count", "1", "--timeout", "20", "--json");
        var message = JsonDocument.Parse(listen.Out.Trim()).RootElement;
        Assert.Equal(messageId, message.GetProperty("id").GetString());
        Assert.Equal("the view", message.GetProperty("text").GetString());
        var media = message.GetProperty("media");
        Assert.Equal("image/png", media.GetProperty("type").GetString());
        Assert.Equal(bytes.Length, media.GetProperty("size").GetInt64());

        var copy = Path.Combine(_home, "copy.png");
        var download = await Chat("download", "--profile", "bob", media.GetProperty("id").GetString()!, "--out", copy);
        Assert.Equal(0, download.Code);
        Assert.Contains("image/png", download.Out);
        Assert.Equal(bytes, await File.ReadAllBytesAsync(copy));

        // a file whose type cannot be told from its name, and one that is not what its name says
        var odd = Path.Combine(_home, "notes.txt");
        await File.WriteAllTextAsync(odd, "plain text");
        Assert.Equal(2, (await Chat("send", "--profile", "alice", "--to", bobPhone, "--file", odd)).Code);
        var fake = Path.Combine(_home, "fake.jpg");
        await File.WriteAllBytesAsync(fake, bytes); // PNG bytes named .jpg
        Assert.Equal(1, (await Chat("send", "--profile", "alice", "--to", bobPhone, "--file", fake)).Code);
        Assert.Equal(1, (await Chat("download", "--profile", "bob", "m" + new string('q', 26), "--out", Path.Combine(_home, "none"))).Code);
        Assert.False(File.Exists(Path.Combine(_home, "none")));
    }

    [Fact]
    public async Task A_profile_registered_on_several_servers_keeps_them_all_and_commands_use_one_that_answers()
    {
        await using var dead = TcpProxy.Start(_node.Port);
        dead.Stop(); // a cluster node that is down
        var servers = $"{dead.Address},{_node.Server}";
        var bobPhone = Phones.Next();
        Assert.Equal(0, (await Chat("register", "--server", servers, "--profile", "alice", "--name", "Alice", "--phone", Phones.Next())).Code);
        Assert.Equal(0, (await Chat("register", "--server", _node.Server, "--profile", "bob", "--name", "Bob", "--phone", bobPhone)).Code);
        var profile = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(_home, "alice.json"))).RootElement;
        Assert.Equal(servers, profile.GetProperty("server").GetString());

        var sent = await Chat("send", "--profile", "alice", "--to", bobPhone, "through whichever node is up");
        Assert.Equal(0, sent.Code);
        var listen = await Chat("listen", "--profile", "bob", "--count", "1", "--timeout", "20", "--json");
        Assert.Equal(0, listen.Code);
        Assert.Equal(sent.Out.Trim(), JsonDocument.Parse(listen.Out.Trim()).RootElement.GetProperty("id").GetString());
        Assert.Contains(servers, (await Chat("whoami", "--profile", "alice")).Out);

        // every server in the list down: a clear error, not a hang
        await using var alsoDead = TcpProxy.Start(_node.Port);
        alsoDead.Stop();
        var refused = await Chat("register", "--server", $"{dead.Address},{alsoDead.Address}", "--profile", "carol", "--name", "C",
            "--phone", Phones.Next()).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(1, refused.Code);
        Assert.False(File.Exists(Path.Combine(_home, "carol.json")));
        Assert.Equal(2, (await Chat("register", "--server", $"{_node.Server},nonsense", "--profile", "dave", "--name", "D", "--phone", Phones.Next())).Code);
    }

    [Fact]
    public async Task Listen_moves_to_the_next_server_when_its_node_dies_and_misses_nothing()
    {
        await using var a = TcpProxy.Start(_node.Port);
        await using var b = TcpProxy.Start(_node.Port);
        var bobPhone = Phones.Next();
        Assert.Equal(0, (await Chat("register", "--server", _node.Server, "--profile", "alice", "--name", "Alice", "--phone", Phones.Next())).Code);
        Assert.Equal(0, (await Chat("register", "--server", $"{a.Address},{b.Address}", "--profile", "bob", "--name", "Bob", "--phone", bobPhone)).Code);
        Assert.Equal(0, (await Chat("send", "--profile", "alice", "--to", bobPhone, "before")).Code);

        var output = new LineSignal("before");
        var listen = global::Chat.Cli.Program.Run(["listen", "--profile", "bob", "--count", "2", "--timeout", "60", "--json"], output);
        await output.Seen.WaitAsync(TimeSpan.FromSeconds(30)); // listening through A
        a.Stop();
        Assert.Equal(0, (await Chat("send", "--profile", "alice", "--to", bobPhone, "after")).Code);

        Assert.Equal(0, await listen.WaitAsync(TimeSpan.FromSeconds(60)));
        var texts = output.ToString().Trim().Split('\n').Select(l => JsonDocument.Parse(l).RootElement.GetProperty("text").GetString());
        Assert.Equal(["before", "after"], texts);
        Assert.Equal(1, b.Accepted);
    }

    [Fact]
    public async Task Listen_with_typing_prints_who_types_beside_the_messages()
    {
        await using var alice = await _node.NewUserAsync("Alice");
        var bobPhone = Phones.Next();
        Assert.Equal(0, (await Chat("register", "--server", _node.Server, "--profile", "bob", "--name", "Bob", "--phone", bobPhone)).Code);
        var bob = await alice.Client.LookupAsync(bobPhone);
        await alice.Client.SendAsync(bob.UserId, "hi");

        var output = new LineSignal("\"typing\"", "\"hi\"");
        var listen = global::Chat.Cli.Program.Run(["listen", "--profile", "bob", "--count", "2", "--timeout", "60", "--json", "--typing"], output);
        await output.SeenOther.WaitAsync(TimeSpan.FromSeconds(30)); // listening, and subscribed before the first entry is printed
        Assert.True(await alice.Client.TypingAsync(bob.UserId));
        await output.Seen.WaitAsync(TimeSpan.FromSeconds(30));
        await alice.Client.SendAsync(bob.UserId, "there?");
        Assert.Equal(0, await listen.WaitAsync(TimeSpan.FromSeconds(60)));

        var lines = output.ToString().Trim().Split('\n').Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(["message", "typing", "message"], lines.Select(l => l.GetProperty("type").GetString()));
        Assert.Equal(alice.Id, lines[1].GetProperty("from").GetString());
        Assert.Equal("Alice", lines[1].GetProperty("fromName").GetString());
        Assert.Equal(JsonValueKind.Null, lines[1].GetProperty("group").ValueKind);
        Assert.Equal(6000, lines[1].GetProperty("forMs").GetInt32());
    }

    /// <summary>Output that tells when a line containing some text has been written.</summary>
    private sealed class LineSignal(string text, string? other = null) : StringWriter
    {
        private readonly TaskCompletionSource _seen = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _seenOther = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public Task Seen => _seen.Task;
        /// <summary>A line containing the second text was written.</summary>
        public Task SeenOther => _seenOther.Task;

        public override void WriteLine(string? value)
        {
            base.WriteLine(value);
            if (value?.Contains(text) == true) _seen.TrySetResult();
            if (other is not null && value?.Contains(other) == true) _seenOther.TrySetResult();
        }
    }

    [Fact]
    public async Task Errors_are_clear_and_exit_non_zero()
    {
        var missing = await Chat("send", "--profile", "nobody", "--to", "+15550000000", "hi");
        Assert.Equal(1, missing.Code);
        var phone = Phones.Next();
        Assert.Equal(0, (await Chat("register", "--server", _node.Server, "--profile", "carol", "--name", "Carol", "--phone", phone)).Code);
        Assert.Equal(1, (await Chat("send", "--profile", "carol", "--to", "+19999999990", "hi")).Code); // unknown phone
        Assert.Equal(1, (await Chat("register", "--server", _node.Server, "--profile", "carol2", "--name", "C", "--phone", Phones.Next(), "--code", "123456")).Code); // no code was sent
        Assert.Equal(2, (await Chat("listen", "--profile", "carol", "--count", "0")).Code);
        Assert.Equal(1, (await Chat("register", "--server", "127.0.0.1:1", "--profile", "dave", "--name", "D", "--phone", Phones.Next())).Code);
    }
}

/// <summary>`chat register` on a node that sends codes through its log, as in the README's tour.</summary>
[Collection("chat-home")]
public sealed class CliVerificationTests : IAsyncLifetime
{
    private readonly CodeLog _codes = new();
    private TestNode _node = null!;
    private readonly string _home = Path.Combine(Path.GetTempPath(), "chat-home-" + Guid.NewGuid().ToString("N")[..8]);

    public async Task InitializeAsync()
    {
        _node = await TestNode.StartAsync(extraHocon: "chat.verification.mode = required", report: _codes.Write);
        Environment.SetEnvironmentVariable("CHAT_HOME", _home);
    }

    public async Task DisposeAsync()
    {
        Environment.SetEnvironmentVariable("CHAT_HOME", null);
        await _node.DisposeAsync();
        TestNode.TryDelete(_home);
    }

    /// <summary>Standard input of a person who types the code the node printed, once it is printed.</summary>
    private sealed class TypesCode(CodeLog codes, string phone) : TextReader
    {
        public override async ValueTask<string?> ReadLineAsync(CancellationToken cancellationToken) => await codes.NextAsync(phone);
    }

    private static async Task<(int Code, string Out)> Chat(TextReader stdin, params string[] args)
    {
        var output = new StringWriter();
        var code = await global::Chat.Cli.Program.Run(args, output, stdin: stdin);
        return (code, output.ToString());
    }

    [Fact]
    public async Task Register_asks_for_the_code_the_phone_got_or_takes_it_with_code()
    {
        var phone = Phones.Next();
        var registered = await Chat(new TypesCode(_codes, phone), "register", "--server", _node.Server, "--profile", "ann", "--name", "Ann", "--phone", phone);
        Assert.Equal(0, registered.Code);
        Assert.StartsWith("u", registered.Out.Trim());

        // a script without a terminal: the first run sends the code, the second brings it
        var other = Phones.Next();
        Assert.Equal(1, (await Chat(new StringReader(""), "register", "--server", _node.Server, "--profile", "bob", "--name", "Bob", "--phone", other)).Code);
        var code = await _codes.NextAsync(other);
        Assert.Equal(0, (await Chat(new StringReader(""), "register", "--server", _node.Server, "--profile", "bob", "--name", "Bob", "--phone", other, "--code", code)).Code);
        Assert.Equal(0, (await Chat(new StringReader(""), "send", "--profile", "bob", "--to", phone, "hi Ann")).Code);
    }
}

/// <summary>Each load-generator workload at small sizes against an in-process node: the tool counts honestly.</summary>
public sealed class BenchTests : IAsyncLifetime
{
    private TestNode _node = null!;
    public async Task InitializeAsync() => _node = await TestNode.StartAsync();
    public async Task DisposeAsync() => await _node.DisposeAsync();

    private BenchOptions Options => new() { Server = _node.Server, Users = 10, Messages = 40, Window = 5, Connections = 60, Timeout = TimeSpan.FromSeconds(60) };

    [Fact]
    public async Task Direct_delivers_everything_once_and_in_order()
    {
        var r = await Workloads.DirectAsync(Options with { ServerPid = Environment.ProcessId });
        Assert.False(r.TimedOut);
        Assert.Equal(200L, r["sent_expected"]);
        Assert.Equal(200L, r["delivered"]);
        Assert.Equal(0L, r["lost"]);
        Assert.Equal(0L, r["duplicates"]);
        Assert.Equal(0L, r["out_of_order"]);
        Assert.Contains("\"lat_ms_p99\":", Workloads.ToJson(r));
        // --ack-every 1 (the default): each message received is acknowledged on its own, though they come in windows of 5
        Assert.Equal(200L, r["acks_sent"]);
        // the node runs in this process: the CPU per message is there for both sides
        Assert.True((double)r["client_cpu_us_per_msg"] > 0);
        Assert.True((double)r["server_cpu_us_per_msg"] > 0);
    }

    [Fact]
    public async Task Direct_counts_the_sends_the_node_refuses_as_not_accepted_and_goes_on()
    {
        // each user may send a burst of 25, then 25 a minute: most of each sender's 40 messages past the 25th are
        // refused (RateLimited); each refusal frees its place in the window, so the run ends without waiting
        await using var node = await TestNode.StartAsync(extraHocon: "chat.limits.sends-per-user = 25");
        var r = await Workloads.DirectAsync(Options with { Server = node.Server }).WaitAsync(TimeSpan.FromSeconds(90));

        Assert.False(r.TimedOut);
        Assert.InRange((long)r["not_accepted"], 50L, 75L);
        Assert.Equal(200L, (long)r["accepted"] + (long)r["not_accepted"]);
        Assert.Equal(r["accepted"], r["delivered"]);
        Assert.Equal(0L, r["lost"]);
        Assert.Equal(0L, r["out_of_order"]);
    }

    [Fact]
    public async Task Offline_stores_then_drains_everything()
    {
        var r = await Workloads.OfflineAsync(Options);
        Assert.False(r.TimedOut);
        Assert.Equal(200L, r["delivered"]);
        Assert.Equal(0L, r["lost"]);
    }

    [Fact]
    public async Task Connections_all_log_in()
    {
        // the "server" is this process; a thread kept busy throughout gives it CPU time the hold must count
        using var done = new CancellationTokenSource();
        var busy = new Thread(() => { while (!done.IsCancellationRequested) Thread.SpinWait(1_000); }) { IsBackground = true };
        busy.Start();
        BenchResult r;
        try
        {
            r = await Workloads.ConnectionsAsync(Options with { ServerPid = Environment.ProcessId, Hold = TimeSpan.FromSeconds(1) });
        }
        finally
        {
            done.Cancel();
            busy.Join();
        }
        Assert.Equal(60, r["connections"]);
        Assert.Equal(0L, r["failures"]);
        Assert.Contains("server_rss_delta_per_conn_bytes", Workloads.ToJson(r));
        Assert.InRange((double)r["hold_s"], 0.9, 30.0);
        // more than nothing (the busy thread ran), at most every core for the whole hold
        Assert.InRange((double)r["server_idle_cpu_percent"], 0.001, 100.0 * Environment.ProcessorCount);
    }

    [Fact]
    public async Task Media_uploads_downloads_and_verifies_and_reports_peak_memory()
    {
        var r = await Workloads.MediaAsync(Options with { MediaBytes = 3 << 20, ServerPid = Environment.ProcessId });
        Assert.False(r.TimedOut);
        Assert.Equal(1, r["verified"]);
        Assert.True((double)r["upload_mib_per_s"] > 0);
        // the node's memory was read (before) and sampled during the transfer (peak, never below what was read first)
        Assert.True((long)r["server_rss_before_bytes"] > 0);
        Assert.True((long)r["server_rss_peak_bytes"] >= (long)r["server_rss_before_bytes"]);
    }
}

public sealed class GroupBenchTests : IAsyncLifetime
{
    private TestNode _node = null!;
    public async Task InitializeAsync() => _node = await TestNode.StartAsync();
    public async Task DisposeAsync() => await _node.DisposeAsync();

    [Fact]
    public async Task Group_delivers_every_post_to_every_other_member_once()
    {
        var r = await Workloads.GroupAsync(new BenchOptions
        {
            Server = _node.Server, Groups = 2, GroupSize = 5, Messages = 4, Window = 1, Timeout = TimeSpan.FromSeconds(90),
            ServerPid = Environment.ProcessId,
        });
        Assert.False(r.TimedOut);
        Assert.Equal(2L * 5 * 4 * 4, r["deliveries_expected"]);
        Assert.Equal(r["deliveries_expected"], r["delivered"]);
        Assert.Equal(0L, r["lost"]);
        Assert.Equal(0L, r["duplicates"]);
        Assert.True((double)r["server_cpu_us_per_delivery"] > 0);
        Assert.True((double)r["client_cpu_us_per_post"] > 0);
    }

    [Fact]
    public async Task Group_counts_the_posts_the_node_refuses_and_ends_without_waiting_for_their_deliveries()
    {
        // each member may post a burst of 2: of its 4 posts about 2 are refused (RateLimited), each freeing its window
        await using var node = await TestNode.StartAsync(extraHocon: "chat.limits.sends-per-user = 2");
        var r = await Workloads.GroupAsync(new BenchOptions
        {
            Server = node.Server, Groups = 2, GroupSize = 5, Messages = 4, Window = 1, Timeout = TimeSpan.FromSeconds(30),
        }).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.False(r.TimedOut);
        Assert.InRange((long)r["posts_not_accepted"], 10L, 20L);
        Assert.Equal(40L, (long)r["posts_accepted"] + (long)r["posts_not_accepted"]);
        Assert.Equal((long)r["posts_accepted"] * 4, r["delivered"]);
        Assert.Equal(0L, r["lost"]);
    }
}

[Collection("chat-home")]
public sealed class CliGroupTests : IAsyncLifetime
{
    private TestNode _node = null!;
    private readonly string _home = Path.Combine(Path.GetTempPath(), "chat-home-" + Guid.NewGuid().ToString("N")[..8]);

    public async Task InitializeAsync() => _node = await TestNode.StartAsync();

    public async Task DisposeAsync()
    {
        await _node.DisposeAsync();
        TestNode.TryDelete(_home);
    }

    [Fact]
    public async Task A_group_is_created_and_talks_through_the_chat_commands()
    {
        // CHAT_HOME is process-wide: this class is in the same collection as CliTests, so they never overlap
        async Task<(int Code, string Out)> Chat(params string[] args)
        {
            var o = new StringWriter();
            var code = await global::Chat.Cli.Program.Run(args, o);
            return (code, o.ToString());
        }
        Environment.SetEnvironmentVariable("CHAT_HOME", _home);
        try
        {
            var annPhone = Phones.Next();
            var bobPhone = Phones.Next();
            Assert.Equal(0, (await Chat("register", "--server", _node.Server, "--profile", "ann", "--name", "Ann", "--phone", annPhone)).Code);
            Assert.Equal(0, (await Chat("register", "--server", _node.Server, "--profile", "bob", "--name", "Bob", "--phone", bobPhone)).Code);
            var created = await Chat("group", "create", "--profile", "ann", "--name", "Weekend", "--members", bobPhone);
            Assert.Equal(0, created.Code);
            var groupId = created.Out.Trim();
            Assert.StartsWith("g", groupId);
            Assert.Equal(0, (await Chat("send", "--profile", "ann", "--group", groupId, "Saturday?")).Code);

            var listen = await Chat("listen", "--profile", "bob", "--count", "2", "--timeout", "20", "--json");
            Assert.Equal(0, listen.Code);
            var lines = listen.Out.Trim().Split('\n').Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement).ToList();
            Assert.Equal("notice", lines[0].GetProperty("type").GetString());
            Assert.Equal("created", lines[0].GetProperty("kind").GetString());
            Assert.Equal("message", lines[1].GetProperty("type").GetString());
            Assert.Equal(groupId, lines[1].GetProperty("group").GetString());
            Assert.Equal("Saturday?", lines[1].GetProperty("text").GetString());

            var info = await Chat("group", "info", "--profile", "bob", "--group", groupId, "--json");
            Assert.Equal(0, info.Code);
            Assert.Equal("Weekend", System.Text.Json.JsonDocument.Parse(info.Out).RootElement.GetProperty("name").GetString());
            Assert.Equal(1, (await Chat("group", "add", "--profile", "bob", "--group", groupId, "--members", annPhone)).Code); // not admin

            // any member sets the picture; info and listen show it
            var picture = Path.Combine(Path.GetTempPath(), "chat-pic-" + Guid.NewGuid().ToString("N")[..8] + ".png");
            await File.WriteAllBytesAsync(picture, MediaTests.FakeFile("image/png", 5_000));
            try
            {
                var set = await Chat("group", "image", "--profile", "bob", "--group", groupId, "--file", picture);
                Assert.Equal(0, set.Code);
                var pictureId = set.Out.Trim();
                var withPicture = await Chat("group", "info", "--profile", "ann", "--group", groupId, "--json");
                Assert.Equal(pictureId, System.Text.Json.JsonDocument.Parse(withPicture.Out).RootElement.GetProperty("image").GetString());
                var notice = await Chat("listen", "--profile", "bob", "--count", "1", "--timeout", "20", "--json");
                var json = System.Text.Json.JsonDocument.Parse(notice.Out.Trim()).RootElement;
                Assert.Equal("image", json.GetProperty("kind").GetString());
                Assert.Equal(pictureId, json.GetProperty("image").GetString());
                Assert.Equal(2, (await Chat("group", "image", "--profile", "bob", "--group", groupId)).Code); // neither --file nor --clear
            }
            finally
            {
                File.Delete(picture);
            }
        }
        finally
        {
            Environment.SetEnvironmentVariable("CHAT_HOME", null);
        }
    }
}

public sealed class RestartBenchTests
{
    [Fact]
    public async Task Restart_serves_every_prepared_user_their_whole_inbox_after_the_node_restarts()
    {
        var data = TestNode.NewDataDirectory();
        var state = Path.Combine(Path.GetTempPath(), "restart-" + Guid.NewGuid().ToString("N")[..8] + ".txt");
        try
        {
            await using (var node = await TestNode.StartAsync(data))
            {
                var prepared = await Workloads.RestartAsync(new BenchOptions
                {
                    Server = node.Server, Users = 30, Messages = 3, Phase = "prepare", StateFile = state, Timeout = TimeSpan.FromSeconds(60),
                });
                Assert.Equal(30, prepared["users"]);
            }
            await using (var node = await TestNode.StartAsync(data))
            {
                var r = await Workloads.RestartAsync(new BenchOptions
                {
                    Server = node.Server, Phase = "check", StateFile = state, Timeout = TimeSpan.FromSeconds(60), ServerPid = Environment.ProcessId,
                });
                Assert.False(r.TimedOut);
                Assert.Equal(30L, r["served"]);
                Assert.Equal(0L, r["failures"]);
                Assert.Equal(30L * 3, r["entries_synced"]);
                // the node runs in this process: what a returning user costs is there for both sides
                Assert.True((double)r["server_cpu_us_per_user"] > 0);
                Assert.True((double)r["client_cpu_us_per_user"] > 0);
            }
        }
        finally
        {
            TestNode.TryDelete(data);
            File.Delete(state);
        }
    }
}

/// <summary>`chat listen` against a node process that is killed: what a profile remembers across both restarts.</summary>
[Collection("chat-home")]
public sealed class CliCrashTests : IAsyncLifetime
{
    private readonly string _home = Path.Combine(Path.GetTempPath(), "chat-home-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly string _data = TestNode.NewDataDirectory();

    public Task InitializeAsync()
    {
        Environment.SetEnvironmentVariable("CHAT_HOME", _home);
        return Task.CompletedTask;
    }

    public Task DisposeAsync()
    {
        Environment.SetEnvironmentVariable("CHAT_HOME", null);
        TestNode.TryDelete(_home);
        TestNode.TryDelete(_data);
        return Task.CompletedTask;
    }

    private static async Task<(int Code, string Out)> Chat(params string[] args)
    {
        var output = new StringWriter();
        var code = await global::Chat.Cli.Program.Run(args, output);
        return (code, output.ToString());
    }

    [Fact]
    public async Task A_listen_after_a_node_crash_acknowledges_the_profiles_position_again_so_the_sender_gets_its_delivered_receipt()
    {
        // the node keeps acks in memory (docs/protocol.md 9.4): the crash below loses Bob's, and his next listen, which
        // starts after the message he already printed, must acknowledge it again or Alice never hears it was delivered
        int port;
        string messageId;
        await using (var node = await NodeProcess.StartAsync(_data))
        {
            port = node.Port;
            var server = $"127.0.0.1:{port}";
            var bobPhone = Phones.Next();
            Assert.Equal(0, (await Chat("register", "--server", server, "--profile", "alice", "--name", "Alice", "--phone", Phones.Next())).Code);
            Assert.Equal(0, (await Chat("register", "--server", server, "--profile", "bob", "--name", "Bob", "--phone", bobPhone)).Code);
            var sent = await Chat("send", "--profile", "alice", "--to", bobPhone, "before the crash");
            Assert.Equal(0, sent.Code);
            messageId = sent.Out.Trim();
            Assert.Equal(0, (await Chat("listen", "--profile", "bob", "--count", "1", "--timeout", "20")).Code);
            var first = await Chat("listen", "--profile", "alice", "--count", "1", "--timeout", "20", "--json");
            Assert.Equal(0, first.Code); // the ack reached the node: Alice's inbox holds the receipt
            Assert.Equal("delivered", JsonDocument.Parse(first.Out.Trim()).RootElement.GetProperty("status").GetString());
            await node.KillAsync();
        }

        await using var again = await NodeProcess.StartAsync(_data, port);
        var quiet = await Chat("listen", "--profile", "bob", "--timeout", "2", "--json");
        Assert.Equal(0, quiet.Code);
        Assert.Equal("", quiet.Out.Trim()); // nothing new for Bob: his listen starts where the last one ended
        var receipt = await Chat("listen", "--profile", "alice", "--count", "1", "--timeout", "20", "--json");
        Assert.True(receipt.Code == 0, $"no receipt for Alice after the crash: {receipt.Out}");
        var entry = JsonDocument.Parse(receipt.Out.Trim()).RootElement;
        Assert.Equal("delivered", entry.GetProperty("status").GetString());
        Assert.Equal(messageId, entry.GetProperty("id").GetString());
    }
}
