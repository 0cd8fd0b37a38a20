using System.Security.Cryptography;
using MessagePack;
using MessagePack.Formatters;

namespace Chat.Node;

/// <summary>A user's id: "u" then 16 lowercase base32 characters (80 random bits).</summary>
[MessagePackFormatter(typeof(UserIdFormatter))]
public readonly record struct UserId(string Value)
{
    private const string Alphabet = "abcdefghijklmnopqrstuvwxyz234567";

    public static UserId New() => new(NewId('u'));

    /// <summary>Random bytes from a per-thread buffer filled 4 KiB at a time (one system call per ~400 ids, not one per id).</summary>
    [ThreadStatic] private static byte[]? _random;
    [ThreadStatic] private static int _used;

    private static ReadOnlySpan<byte> RandomBytes(int count)
    {
        if (_random is null || _used + count > _random.Length)
        {
            _random ??= new byte[4096];
            RandomNumberGenerator.Fill(_random);
            _used = 0;
        }
        var bytes = _random.AsSpan(_used, count);
        _used += count;
        return bytes;
    }

    /// <summary><paramref name="prefix"/> then 16 lowercase base32 characters of 80 cryptographically random bits.</summary>
    public static string NewId(char prefix)
    {
        var bytes = RandomBytes(10);
        Span<char> chars = stackalloc char[17];
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
        return new string(chars);
    }

    /// <summary>True for strings shaped like a user id; anything else is never routed to an entity.</summary>
    public static bool IsValid(string? s)
    {
        if (s is null || s.Length != 17 || s[0] != 'u') return false;
        for (var i = 1; i < s.Length; i++)
            if (Alphabet.IndexOf(s[i]) < 0) return false;
        return true;
    }

    public override string ToString() => Value;
}

/// <summary>A group's id: "g" then 16 lowercase base32 characters (80 random bits).</summary>
[MessagePackFormatter(typeof(GroupIdFormatter))]
public readonly record struct GroupId(string Value)
{
    public static GroupId New() => new(UserId.NewId('g'));

    public static bool IsValid(string? s) => s is { Length: 17 } && s[0] == 'g' && UserId.IsValid("u" + s[1..]);

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
