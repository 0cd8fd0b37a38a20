using System.Text.RegularExpressions;
using Akka.Configuration;
using Chat.Node.Hosting;

namespace Chat.Tests;

/// <summary>
/// hocon/node.conf holds every chat setting's default, and nothing else does: a node whose node.conf lacks one refuses
/// to start and names it, instead of running on a second copy of the default kept in code.
/// </summary>
public sealed class ConfigDefaultsTests
{
    private static readonly string Hocon = Path.Combine(AppContext.BaseDirectory, "hocon");

    /// <summary>Each setting of the chat section with its line in node.conf: (path, line index).</summary>
    private static List<(string Path, int Line)> ChatSettingsInNodeConf(string[] lines)
    {
        var found = new List<(string, int)>();
        var sections = new Stack<string>();
        for (var i = 0; i < lines.Length; i++)
        {
            var line = Regex.Replace(lines[i], @"#.*$", "").Trim();
            if (Regex.Match(line, @"^([a-z0-9.-]+)\s*\{$") is { Success: true } open) sections.Push(open.Groups[1].Value);
            else if (line == "}") sections.Pop();
            else if (Regex.Match(line, @"^([a-z-]+)\s*=") is { Success: true } setting)
            {
                var path = string.Join(".", sections.Reverse().Append(setting.Groups[1].Value));
                if (path.StartsWith("chat.", StringComparison.Ordinal)) found.Add((path, i));
            }
        }
        return found;
    }

    [Fact]
    public async Task A_node_whose_node_conf_lacks_a_chat_setting_refuses_to_start_and_names_it()
    {
        var lines = File.ReadAllLines(Path.Combine(Hocon, "node.conf"));
        var settings = ChatSettingsInNodeConf(lines);
        Assert.True(settings.Count >= 39, $"only {settings.Count} chat settings found in node.conf");
        foreach (var (path, line) in settings)
        {
            // the connection string is read by a node on PostgreSQL only; it too has its one default in node.conf
            if (path == "chat.postgres.connection-string") continue;
            var dir = CopyOfHocon(lines.Where((_, i) => i != line));
            try
            {
                // a test node's port and data directory, unless the setting left out is one of them
                var extra = new[] { ("chat.port", "0"), ("chat.data-directory", Quote(Path.Combine(dir, "data"))) }
                    .Where(o => o.Item1 != path).Select(o => $"{o.Item1} = {o.Item2}");
                ConfigurationException? refused = null;
                try
                {
                    await using var node = await ChatNode.StartAsync(new NodeOptions { HoconDirectory = dir, ExtraHocon = string.Join("\n", extra) });
                }
                catch (ConfigurationException e)
                {
                    refused = e;
                }
                Assert.True(refused is not null, $"a node started without {path}");
                Assert.Contains(path, refused!.Message);
                Assert.Contains("missing", refused.Message);
            }
            finally
            {
                TestNode.TryDelete(dir);
            }
        }
    }

    [Fact]
    public void Of_several_config_files_the_later_one_wins_as_the_usage_says()
    {
        var first = Path.GetTempFileName();
        var second = Path.GetTempFileName();
        try
        {
            File.WriteAllText(first, "chat.limits.sends-per-user = 7\nchat.limits.lookups-per-user = 9");
            File.WriteAllText(second, "chat.limits.sends-per-user = 4");
            var settings = Chat.Node.ChatSettings.From(ChatNode.LoadConfig(new NodeOptions { ConfigFiles = [first, second] }));
            Assert.Equal(4, settings.SendsPerUser);
            Assert.Equal(9, settings.LookupsPerUser); // what only the first sets still counts
        }
        finally
        {
            File.Delete(first);
            File.Delete(second);
        }
    }

    [Fact]
    public void Node_conf_alone_gives_the_documented_defaults()
    {
        var settings = TestNode.DefaultSettings();
        Assert.Equal(7400, settings.Port);
        Assert.Equal(256, settings.MaxInFlight);
        Assert.Equal(1 << 20, settings.MaxFrameBytes);
        Assert.Equal(TimeSpan.FromDays(30), settings.RetentionMaxAge);
        Assert.Equal(["image/jpeg", "image/png", "image/webp", "image/gif", "video/mp4", "video/webm"], settings.Media.AllowedTypes);
    }

    private static string Quote(string value) => "\"" + value.Replace("\\", "\\\\") + "\"";

    private static string CopyOfHocon(IEnumerable<string> nodeConf)
    {
        var dir = TestNode.NewDataDirectory();
        Directory.CreateDirectory(dir);
        foreach (var file in Directory.GetFiles(Hocon, "*.conf")) File.Copy(file, Path.Combine(dir, Path.GetFileName(file)));
        File.WriteAllLines(Path.Combine(dir, "node.conf"), nodeConf);
        return dir;
    }
}
