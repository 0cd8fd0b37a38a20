namespace Chat.Node.Media;

/// <summary>
/// Media and upload ids: "m" (media) or "p" (upload) then 26 lowercase base32 characters encoding
/// 128 random bits. Only strings of exactly that shape are ever turned into file or object names.
/// </summary>
public static class MediaIds
{
    private const int RandomBytes = 16;
    private const int Chars = 26; // ceil(128 / 5)

    public static string NewMediaId() => RandomIds.New('m', RandomBytes);

    public static string NewUploadId() => RandomIds.New('p', RandomBytes);

    /// <summary>True for strings shaped like a media id; anything else is never used as a name.</summary>
    public static bool IsMediaId(string? s) => RandomIds.HasShape(s, 'm', Chars);

    /// <summary>True for strings shaped like an upload id; anything else is never used as a name.</summary>
    public static bool IsUploadId(string? s) => RandomIds.HasShape(s, 'p', Chars);
}
