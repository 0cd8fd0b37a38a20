using System.Text.Json;
using System.Text.Json.Serialization;

namespace Chat.Cli;

/// <summary>
/// What the CLI remembers about one account: where it lives, how to log in, and how far listen got.
/// <see cref="Server"/> is one <c>host:port</c> or, for a cluster, a comma-separated list of them: one string, so that
/// profiles written before clusters existed read unchanged.
/// </summary>
internal sealed record Profile(string Server, string UserId, string Token, string Name, string Phone, long LastSeq);

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    RespectNullableAnnotations = true,
    RespectRequiredConstructorParameters = true)]
[JsonSerializable(typeof(Profile))]
internal sealed partial class ProfileJson : JsonSerializerContext;

/// <summary>
/// Profiles on disk: one <c>&lt;name&gt;.json</c> per profile in <c>$CHAT_HOME</c> (default <c>~/.chat</c>).
/// The directory is created 0700 and files 0600 on Unix, since a profile holds an access token.
/// </summary>
internal sealed class ProfileStore(string directory)
{
    // Relaxed escaping keeps "+49..." readable instead of "\u002B49...".
    private static readonly JsonWriterOptions WriterOptions = new()
    {
        Indented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public string Directory { get; } = directory;

    /// <summary>The store named by CHAT_HOME, or ~/.chat; read on every call so each run sees the current environment.</summary>
    public static ProfileStore FromEnvironment()
    {
        var home = Environment.GetEnvironmentVariable("CHAT_HOME");
        if (string.IsNullOrWhiteSpace(home))
            home = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".chat");
        return new ProfileStore(home);
    }

    public static bool IsValidName(string name)
        => name.Length is > 0 and <= 64 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');

    public string PathOf(string name)
    {
        if (!IsValidName(name))
            throw new CliException($"invalid profile name '{name}': use letters, digits, '-' and '_'");
        return Path.Combine(Directory, name + ".json");
    }

    public bool Exists(string name) => File.Exists(PathOf(name));

    public Profile Load(string name)
    {
        var path = PathOf(name);
        if (!File.Exists(path)) throw new CliException($"no profile {name}; run chat register first");
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllBytes(path), ProfileJson.Default.Profile)
                ?? throw new JsonException("empty");
        }
        catch (JsonException e)
        {
            throw new CliException($"profile {name} is damaged ({path}): {e.Message}");
        }
    }

    /// <summary>Writes the profile atomically: a private temporary file in the same directory, then a rename.</summary>
    public void Save(string name, Profile profile)
    {
        var path = PathOf(name);
        if (OperatingSystem.IsWindows()) System.IO.Directory.CreateDirectory(Directory);
        else System.IO.Directory.CreateDirectory(Directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        var temp = Path.Combine(Directory, $".{name}.{Guid.NewGuid():N}.tmp");
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        try
        {
            using (var file = new FileStream(temp, options))
            {
                using (var json = new Utf8JsonWriter(file, WriterOptions))
                    JsonSerializer.Serialize(json, profile, ProfileJson.Default.Profile);
                file.Flush(flushToDisk: true);
            }
            File.Move(temp, path, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }
}
