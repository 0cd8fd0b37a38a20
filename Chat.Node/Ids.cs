using System.Security.Cryptography;
using MessagePack;
using MessagePack.Formatters;

namespace Chat.Node;

/// <summary>A user's id: "u" then 16 lowercase base32 characters (80 random bits).</summary>
[MessagePackFormatter(typeof(UserIdFormatter))]
public readonly record struct UserId(string Value)
{
    public static UserId New() => new(NewId('u'));

    /// <summary><paramref name="prefix"/> then 16 lowercase base32 characters of 80 random bits.</summary>
    public static string NewId(char prefix) => RandomIds.New(prefix, 10);

    /// <summary>True for strings shaped like a user id; anything else is never routed to an entity.</summary>
    public static bool IsValid(string? s) => RandomIds.HasShape(s, 'u', 16);

    public override string ToString() => Value;
}

/// <summary>
/// Random identifiers: a prefix letter, then lowercase base32 of cryptographically random bytes. The bytes come from a
/// per-thread buffer filled 4 KiB at a time (one system call per few hundred ids, not one per id).
/// </summary>
public static class RandomIds
{
    public const string Alphabet = "abcdefghijklmnopqrstuvwxyz234567";

    [ThreadStatic] private static byte[]? _random;
    [ThreadStatic] private static int _used;

    /// <summary>The prefix and ceil(8 × <paramref name="randomBytes"/> / 5) characters; leftover bits fill the last character's high bits.</summary>
    public static string New(char prefix, int randomBytes)
    {
        if (_random is null || _used + randomBytes > _random.Length)
        {
            _random ??= new byte[4096];
            RandomNumberGenerator.Fill(_random);
            _used = 0;
        }
        var bytes = _random.AsSpan(_used, randomBytes);
        _used += randomBytes;
        return Encode(prefix, bytes);
    }

    /// <summary>The prefix and ceil(8 × length / 5) lowercase base32 characters of <paramref name="bytes"/>.</summary>
    public static string Encode(char prefix, ReadOnlySpan<byte> bytes)
    {
        Span<char> chars = stackalloc char[1 + (bytes.Length * 8 + 4) / 5];
        chars[0] = prefix;
        ulong acc = 0;
        int bits = 0, at = 1;
        foreach (var b in bytes)
        {
            acc = (acc << 8) | b;
            bits += 8;
            while (bits >= 5)
            {
                bits -= 5;
                chars[at++] = Alphabet[(int)((acc >> bits) & 31)];
            }
        }
        if (bits > 0) chars[at] = Alphabet[(int)((acc << (5 - bits)) & 31)];
        return new string(chars);
    }

    /// <summary>True when <paramref name="s"/> is the prefix then exactly <paramref name="chars"/> base32 characters.</summary>
    public static bool HasShape(string? s, char prefix, int chars)
    {
        if (s is null || s.Length != 1 + chars || s[0] != prefix) return false;
        for (var i = 1; i < s.Length; i++)
            if (Alphabet.IndexOf(s[i]) < 0) return false;
        return true;
    }
}

/// <summary>A group's id: "g" then 16 lowercase base32 characters (80 random bits).</summary>
[MessagePackFormatter(typeof(GroupIdFormatter))]
public readonly record struct GroupId(string Value)
{
    public static GroupId New() => new(UserId.NewId('g'));

    /// <summary>
    /// The id of the group that <paramref name="creator"/> creates under its own <paramref name="clientGroupId"/>: the
    /// first 80 bits of a SHA-256 of both, so a repeated creation names the same group, and another user's creation
    /// under the same client id names another.
    /// </summary>
    public static GroupId For(UserId creator, string clientGroupId)
    {
        var text = $"{creator.Value}\n{clientGroupId}";
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text), hash);
        return new(RandomIds.Encode('g', hash[..10]));
    }

    public static bool IsValid(string? s) => RandomIds.HasShape(s, 'g', 16);

    public override string ToString() => Value;
}

public sealed class GroupIdFormatter : IMessagePackFormatter<GroupId>
{
    public void Serialize(ref MessagePackWriter writer, GroupId value, MessagePackSerializerOptions options) =>
        writer.Write(value.Value);

    public GroupId Deserialize(ref MessagePackReader reader, MessagePackSerializerOptions options) =>
        new(reader.ReadString() ?? throw new MessagePackSerializationException("null group id"));
}

public sealed class UserIdFormatter : IMessagePackFormatter<UserId>
{
    public void Serialize(ref MessagePackWriter writer, UserId value, MessagePackSerializerOptions options) =>
        writer.Write(value.Value);

    public UserId Deserialize(ref MessagePackReader reader, MessagePackSerializerOptions options) =>
        new(reader.ReadString() ?? throw new MessagePackSerializationException("null user id"));
}

/// <summary>Access tokens: "{userId}.{secret}"; the server keeps only SHA-256 of the secret.</summary>
public static class Tokens
{
    public static (string Token, byte[] Hash) New(UserId user)
    {
        var secret = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32))
            .TrimEnd('=').Replace('+', '-').Replace('/', '_');
        return ($"{user.Value}.{secret}", Hash(secret));
    }

    public static byte[] Hash(string secret) => SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(secret));

    public static bool TryParse(string? token, out UserId user, out byte[] hash)
    {
        user = default;
        hash = [];
        if (token is null || token.Length > 200) return false;
        var dot = token.IndexOf('.');
        if (dot < 0 || !UserId.IsValid(token[..dot]) || dot == token.Length - 1) return false;
        user = new UserId(token[..dot]);
        hash = Hash(token[(dot + 1)..]);
        return true;
    }
}
