namespace Chat.Protocol;

/// <summary>The address of one node that accepts client connections: a host name or IP address and a TCP port.</summary>
/// <param name="Host">Host name or IP address.</param>
/// <param name="Port">TCP port, 1 to 65535.</param>
public sealed record ServerAddress(string Host, int Port)
{
    /// <summary>The address as <c>host:port</c>, the form <see cref="Parse"/> reads.</summary>
    public override string ToString() => $"{Host}:{Port}";

    /// <summary>Reads <c>host:port</c>; throws <see cref="ArgumentException"/> if it is not that.</summary>
    public static ServerAddress Parse(string text)
        => TryParse(text, out var address)
            ? address
            : throw new ArgumentException($"server must be HOST:PORT, got '{text}'", nameof(text));

    /// <summary>Reads <c>host:port</c> (surrounding spaces ignored); false if it is not that.</summary>
    public static bool TryParse(string? text, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out ServerAddress? address)
    {
        address = null;
        text = text?.Trim();
        if (string.IsNullOrEmpty(text)) return false;
        var colon = text.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(text.AsSpan(colon + 1), out var port) || port is <= 0 or > 65535) return false;
        address = new ServerAddress(text[..colon], port);
        return true;
    }

    /// <summary>
    /// Reads a comma-separated list of <c>host:port</c> addresses (<c>a:7400,b:7400,c:7400</c>), in order, without
    /// repeats. Throws <see cref="ArgumentException"/> if the list is empty or an entry is not <c>host:port</c>.
    /// </summary>
    public static IReadOnlyList<ServerAddress> ParseList(string list)
    {
        var addresses = new List<ServerAddress>();
        foreach (var entry in (list ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var address = Parse(entry);
            if (!addresses.Contains(address)) addresses.Add(address);
        }
        if (addresses.Count == 0) throw new ArgumentException($"server must be HOST:PORT or a comma-separated list of them, got '{list}'", nameof(list));
        return addresses;
    }

    /// <summary>Writes addresses as the comma-separated list <see cref="ParseList"/> reads.</summary>
    public static string Join(IEnumerable<ServerAddress> addresses) => string.Join(',', addresses);
}
