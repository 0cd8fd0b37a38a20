namespace Chat.Node.Media;

public enum MediaKind
{
    Image = 1,
    Video = 2,
}

/// <summary>
/// The content types media may be declared as, and the leading bytes each must start with, so a declared
/// type can be checked against the first bytes of an upload. Content types compare case-insensitively.
/// </summary>
public static class MediaTypes
{
    /// <summary>Bytes expected at an offset.</summary>
    private readonly record struct Part(int Offset, byte[] Bytes)
    {
        public int End => Offset + Bytes.Length;

        public bool Matches(ReadOnlySpan<byte> head) => head.Slice(Offset, Bytes.Length).SequenceEqual(Bytes);
    }

    /// <summary>One accepted signature: every part must match.</summary>
    private sealed record Signature(params Part[] Parts)
    {
        public int Needed => Parts.Max(p => p.End);

        public bool Matches(ReadOnlySpan<byte> head)
        {
            if (head.Length < Needed) return false;
            foreach (var part in Parts)
                if (!part.Matches(head)) return false;
            return true;
        }
    }

    private static Part At(int offset, params byte[] bytes) => new(offset, bytes);

    private static Part At(int offset, string ascii) => new(offset, System.Text.Encoding.ASCII.GetBytes(ascii));

    /// <summary>Each known type with its alternative signatures (any one of them matches).</summary>
    private static readonly Dictionary<string, Signature[]> Signatures = new(StringComparer.Ordinal)
    {
        ["image/jpeg"] = [new(At(0, 0xFF, 0xD8, 0xFF))],
        ["image/png"] = [new(At(0, 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A))],
        ["image/webp"] = [new(At(0, "RIFF"), At(8, "WEBP"))],
        ["image/gif"] = [new(At(0, "GIF87a")), new(At(0, "GIF89a"))],
        ["video/mp4"] = [new(At(4, "ftyp"))],
        ["video/webm"] = [new(At(0, 0x1A, 0x45, 0xDF, 0xA3))],
    };

    /// <summary>The known content types, lowercase.</summary>
    public static IReadOnlyCollection<string> Known { get; } = Signatures.Keys.ToArray();

    public static bool IsKnown(string contentType) => Signatures.ContainsKey(Normalize(contentType));

    /// <summary>Image for image/*, Video for video/*; <see cref="ArgumentException"/> for anything else.</summary>
    public static MediaKind Kind(string contentType)
    {
        var type = Normalize(contentType);
        if (type.StartsWith("image/", StringComparison.Ordinal)) return MediaKind.Image;
        if (type.StartsWith("video/", StringComparison.Ordinal)) return MediaKind.Video;
        throw new ArgumentException($"not an image or video content type: {contentType}", nameof(contentType));
    }

    /// <summary>How many leading bytes <see cref="Matches"/> needs for a known type; <see cref="ArgumentException"/> for an unknown one.</summary>
    public static int HeadBytesNeeded(string contentType) =>
        Signatures.TryGetValue(Normalize(contentType), out var signatures)
            ? signatures.Max(s => s.Needed)
            : throw new ArgumentException($"unknown content type: {contentType}", nameof(contentType));

    /// <summary>
    /// True when <paramref name="head"/> (the first bytes of the media) starts the way the known type
    /// <paramref name="contentType"/> does; false for an unknown type or a head shorter than <see cref="HeadBytesNeeded"/>.
    /// </summary>
    public static bool Matches(string contentType, ReadOnlySpan<byte> head)
    {
        if (!Signatures.TryGetValue(Normalize(contentType), out var signatures)) return false;
        if (head.Length < signatures.Max(s => s.Needed)) return false;
        foreach (var signature in signatures)
            if (signature.Matches(head)) return true;
        return false;
    }

    private static string Normalize(string contentType) => contentType.ToLowerInvariant();
}
