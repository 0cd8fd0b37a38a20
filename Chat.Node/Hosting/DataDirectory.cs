namespace Chat.Node.Hosting;

/// <summary>A node cannot start: what is wrong, said so that an operator can fix it (the program prints it and exits with 1).</summary>
public sealed class StartupException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>The node's data directory (embedded database, media, and what the node writes for itself).</summary>
public static class DataDirectory
{
    /// <summary>
    /// Creates the directory when missing and proves it takes a durable write (a file created, written, flushed to disk
    /// and removed). A node that cannot write must not say it is listening: it would accept logins and then fail every
    /// send with <c>Unavailable</c>.
    /// </summary>
    public static void EnsureWritable(string directory)
    {
        var full = Path.GetFullPath(directory);
        var probe = Path.Combine(full, $".write-probe-{Environment.ProcessId}");
        try
        {
            System.IO.Directory.CreateDirectory(full);
            using (var file = new FileStream(probe, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.None))
            {
                file.Write("probe"u8);
                file.Flush(flushToDisk: true);
            }
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new StartupException($"the data directory {full} is not writable ({e.Message}); give the node a directory it can write (--data DIR)", e);
        }
    }
}
