namespace Chat.Tests;

/// <summary>
/// <c>chat</c> ships as a .NET tool: packed from Chat.Cli and installed from the package folder, as the README's
/// install commands do, it runs as a command of its own and talks to a node.
/// </summary>
public sealed class ToolInstallTests
{
    private static readonly TimeSpan Slow = TimeSpan.FromMinutes(3);

    [Fact]
    public async Task Chat_packed_and_installed_as_a_dotnet_tool_registers_sends_and_listens()
    {
        var repository = RepositoryRoot();
        // the tests' own build configuration (bin/<configuration>/net10.0/): Chat.Cli was built in it alongside them
        var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
        var work = Path.Combine(Path.GetTempPath(), "chat-tool-" + Guid.NewGuid().ToString("N")[..12]);
        System.IO.Directory.CreateDirectory(work);
        try
        {
            var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
            var packages = Path.Combine(work, "nupkg");
            await Programs.RunAsync(dotnet, ["pack", Path.Combine(repository, "Chat.Cli", "Chat.Cli.csproj"), "--no-build", "-c", configuration,
                "-o", packages], Slow);
            Assert.Single(System.IO.Directory.GetFiles(packages, "ChatAkka.Cli.*.nupkg"));

            // the package folder as the only source: the install uses what was just packed, and needs no network
            var sources = Path.Combine(work, "nuget.config");
            await File.WriteAllTextAsync(sources, $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration><packageSources><clear /><add key="local" value="{packages}" /></packageSources></configuration>
                """);
            var tools = Path.Combine(work, "tools");
            await Programs.RunAsync(dotnet, ["tool", "install", "--tool-path", tools, "--configfile", sources, "ChatAkka.Cli"], Slow);
            var chat = Path.Combine(tools, "chat");
            Assert.True(File.Exists(chat), "no chat command in the tool path");

            var environment = new Dictionary<string, string> { ["CHAT_HOME"] = Path.Combine(work, "home") };
            // the command is a small native launcher that looks for the runtime here when it is not in the usual place
            if (Path.IsPathRooted(dotnet)) environment["DOTNET_ROOT"] = Path.GetDirectoryName(dotnet)!;
            Task<string> Chat(params string[] args) => Programs.RunAsync(chat, args, TimeSpan.FromMinutes(1), environment);

            var help = await Chat("--help");
            Assert.Contains("USAGE", help);
            Assert.Contains("register", help);
            Assert.Contains("listen", help);

            await using var node = await TestNode.StartAsync();
            string alicePhone = Phones.Next(), bobPhone = Phones.Next();
            var alice = await Chat("register", "--server", node.Server, "--profile", "alice", "--name", "Alice", "--phone", alicePhone);
            Assert.Matches(@"\bu[a-z2-7]{16}\b", alice);
            await Chat("register", "--server", node.Server, "--profile", "bob", "--name", "Bob", "--phone", bobPhone);
            var sent = await Chat("send", "--profile", "alice", "--to", bobPhone, "hello from the installed tool");
            Assert.Matches(@"\bm[a-z2-7]+\b", sent);
            var heard = await Chat("listen", "--profile", "bob", "--count", "1", "--timeout", "30", "--json");
            Assert.Contains("\"text\":\"hello from the installed tool\"", heard);
        }
        finally
        {
            try { System.IO.Directory.Delete(work, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>The folder holding ChatAkka.sln, above the tests' output folder.</summary>
    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "ChatAkka.sln"))) return dir.FullName;
        throw new InvalidOperationException($"no ChatAkka.sln above {AppContext.BaseDirectory}");
    }
}
