using System.Security.Cryptography;

namespace Chat.Node.Media;

/// <summary>
/// Media and upload ids: "m" (media) or "p" (upload) then 26 lowercase base32 characters encoding
/// 128 random bits. Only strings of exactly that shape are ever turned into file or object names.
/// </summary>
public static class MediaIds
{
    private const string Alphabet = "abcdefghijklmnopqrstuvwxyz234567";
    private const int RandomBytes = 16;
    private const int Chars = 26; // ceil(128 / 5)

    public static string NewMediaId() => New('m');

    public static string NewUploadId() => New('p');

    /// <summary>True for strings shaped like a media id; anything else is never used as a name.</summary>
    public static bool IsMediaId(string? s) => HasShape(s, 'm');

    /// <summary>True for strings shaped like an upload id; anything else is never used as a name.</summary>
    public static bool IsUploadId(string? s) => HasShape(s, 'p');

    private static string New(char prefix)
    {
        Span<byte> bytes = stackalloc byte[RandomBytes];
        RandomNumberGenerator.Fill(bytes);
        Span<char> chars = stackalloc char[1 + Chars];
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
        // 128 bits leave 3 over: they fill the last character's high bits, the low 2 are zero.
        chars[at] = Alphabet[(int)((acc << (5 - bits)) & 31)];
        return new string(chars);
    }

    private static bool HasShape(string? s, char prefix)
    {
        if (s is null || s.Length != 1 + Chars || s[0] != prefix) return false;
        for (var i = 1; i < s.Length; i++)
            if (Alphabet.IndexOf(s[i]) < 0) return false;
        return true;
    }
}
