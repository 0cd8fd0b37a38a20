using System.Runtime.InteropServices;

namespace Chat.Node.Media;

/// <summary>
/// Makes a rename durable: on Linux and macOS a new or renamed file's name lives in its directory, which must be
/// flushed to disk itself (fsync on the directory) or a power cut right after the rename can lose the name even though
/// the file's bytes were flushed. .NET has no call for it, so the C library is called directly. On Windows, NTFS
/// journals renames and nothing is needed.
/// </summary>
internal static class DirectoryFlush
{
    [DllImport("libc", SetLastError = true)]
    private static extern int open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

    [DllImport("libc", SetLastError = true)]
    private static extern int fsync(int fd);

    [DllImport("libc", SetLastError = true)]
    private static extern int close(int fd);

    private const int ReadOnly = 0; // O_RDONLY

    /// <summary>Flushes <paramref name="directory"/>'s entries to disk; throws <see cref="IOException"/> when that fails.</summary>
    public static void Flush(string directory)
    {
        if (OperatingSystem.IsWindows()) return;
        var fd = open(directory, ReadOnly);
        if (fd < 0) throw new IOException($"cannot open directory {directory} to flush it (errno {Marshal.GetLastPInvokeError()})");
        try
        {
            if (fsync(fd) != 0) throw new IOException($"cannot flush directory {directory} (errno {Marshal.GetLastPInvokeError()})");
        }
        finally
        {
            close(fd);
        }
    }
}
