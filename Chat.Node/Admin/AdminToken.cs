using System.Security.Cryptography;
using System.Text;

namespace Chat.Node.Admin;

/// <summary>
/// The bearer token of the admin endpoint: <c>chat.admin.token</c> when set, else the one in
/// <c>&lt;data-directory&gt;/admin.token</c>, generated there (file mode 600) on first start. <c>chat admin --data DIR</c>
/// reads the same file.
/// </summary>
public static class AdminToken
{
    public const string FileName = "admin.token";

    public static string Load(AdminSettings admin, string dataDirectory)
    {
        if (admin.Token.Length > 0) return admin.Token;
        var path = Path.Combine(dataDirectory, FileName);
        if (File.Exists(path))
        {
            var existing = File.ReadAllText(path).Trim();
            if (existing.Length < 16)
                throw new ArgumentException($"{path} holds no admin token (at least 16 characters); delete it to have a new one generated");
            return existing;
        }
        var token = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        // created readable by the node's user alone before the secret is in it
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var file = new FileStream(path, options))
            file.Write(Encoding.ASCII.GetBytes(token + "\n"));
        return token;
    }

    /// <summary>Whether an Authorization header carries the token (compared in constant time).</summary>
    public static bool Authorizes(string token, string? authorization)
    {
        const string scheme = "Bearer ";
        if (authorization is null || !authorization.StartsWith(scheme, StringComparison.OrdinalIgnoreCase)) return false;
        var given = Encoding.UTF8.GetBytes(authorization[scheme.Length..].Trim());
        return CryptographicOperations.FixedTimeEquals(given, Encoding.UTF8.GetBytes(token));
    }
}
