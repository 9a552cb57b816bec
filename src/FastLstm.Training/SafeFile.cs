using System.Runtime.InteropServices;

namespace FastLstm.Training;

/// <summary>
/// Saving without losing anything: the bytes go to a temporary file beside the target, which is renamed over the target
/// only once complete, so a failed save leaves the previous file as it was. Only a regular file (or nothing) is ever
/// replaced: a device node, a FIFO, a socket or a folder at the target is refused before anything is written. A symbolic
/// link is followed on purpose — the file it points to is replaced and the link stays a link.
/// </summary>
public static class SafeFile
{
    /// <summary>
    /// The path a save to <paramref name="path"/> replaces (symbolic links resolved), after checking that its folder exists
    /// and that nothing but a regular file is there.
    /// </summary>
    /// <exception cref="IOException">The folder is missing or the target is not a regular file.</exception>
    public static string CheckTarget(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = Path.GetFullPath(path);
        if (new FileInfo(full).LinkTarget is not null)
        {
            // A dangling link has no final target; the file it names is created.
            var target = File.ResolveLinkTarget(full, returnFinalTarget: true);
            full = target?.FullName ?? full;
        }

        string folder = Path.GetDirectoryName(full) ?? ".";
        if (!Directory.Exists(folder))
        {
            throw new IOException($"{path}: the folder {folder} does not exist.");
        }

        string? kind = Kind(full);
        if (kind is not null)
        {
            throw new IOException($"{path}: is {kind}, not a regular file; refusing to replace it.");
        }

        return full;
    }

    /// <summary>Writes <paramref name="path"/> atomically through <paramref name="write"/> (see the class remarks).</summary>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        string full = CheckTarget(path);
        string temp = Path.Combine(Path.GetDirectoryName(full) ?? ".", $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }

            // Checked again just before the rename: the target may have changed while the bytes were written.
            CheckTarget(full);
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    /// <summary>Writes <paramref name="bytes"/> to <paramref name="path"/> atomically.</summary>
    public static void Write(string path, ReadOnlyMemory<byte> bytes) => Write(path, stream => stream.Write(bytes.Span));

    /// <summary>
    /// Opens <paramref name="path"/> for reading after checking that it is a regular file (symbolic links followed), so
    /// an untrusted path naming a FIFO or a device is refused instead of blocking or reading forever.
    /// </summary>
    /// <exception cref="FileNotFoundException">Nothing is there.</exception>
    /// <exception cref="IOException">It is not a regular file.</exception>
    public static FileStream OpenRead(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = Path.GetFullPath(path);
        full = File.ResolveLinkTarget(full, returnFinalTarget: true)?.FullName ?? full;
        if (!File.Exists(full) && !Directory.Exists(full))
        {
            throw new FileNotFoundException($"{path}: no such file.", path);
        }

        string? kind = Kind(full);
        if (kind is not null)
        {
            throw new IOException($"{path}: is {kind}, not a regular file.");
        }

        return new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.Read);
    }

    /// <summary>
    /// Whether two paths name the same existing file, however they are spelled: another relative path, a symbolic link to
    /// it, or (on Linux, by device and inode) a hard link. False when either is absent.
    /// </summary>
    public static bool SameFile(string a, string b)
    {
        ArgumentException.ThrowIfNullOrEmpty(a);
        ArgumentException.ThrowIfNullOrEmpty(b);
        if (OperatingSystem.IsLinux())
        {
            return Identity(a) is { } x && Identity(b) is { } y && x == y;
        }

        string? p = Resolved(a), q = Resolved(b);
        var comparison = OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
        return p is not null && q is not null && string.Equals(p, q, comparison);

        static string? Resolved(string path)
        {
            string full = Path.GetFullPath(path);
            full = File.ResolveLinkTarget(full, returnFinalTarget: true)?.FullName ?? full;
            return File.Exists(full) ? full : null;
        }
    }

    /// <summary>The device and inode of the file <paramref name="path"/> names (links followed), or null if there is none.</summary>
    private static (uint Major, uint Minor, ulong Inode)? Identity(string path)
    {
        Span<byte> buffer = stackalloc byte[256];
        if (Statx(AtCurrentDirectory, Path.GetFullPath(path), 0, StatxType | StatxInode, ref MemoryMarshal.GetReference(buffer)) != 0)
        {
            return null;
        }

        return (BitConverter.ToUInt32(buffer[136..140]), BitConverter.ToUInt32(buffer[140..144]), BitConverter.ToUInt64(buffer[32..40]));
    }

    /// <summary>What is at <paramref name="full"/> when it is neither absent nor a regular file ("a folder", "a FIFO"…).</summary>
    private static string? Kind(string full)
    {
        if (Directory.Exists(full))
        {
            return "a folder";
        }

        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        // statx's buffer layout is the same on every Linux architecture, unlike struct stat's.
        Span<byte> buffer = stackalloc byte[256];
        if (Statx(AtCurrentDirectory, full, AtSymlinkNoFollow, StatxType, ref MemoryMarshal.GetReference(buffer)) != 0)
        {
            return null; // Nothing there (or not visible to us): the save creates it or fails with its own error.
        }

        int type = BitConverter.ToUInt16(buffer[28..30]) & 0xF000;
        return type switch
        {
            0x8000 => null,
            0x2000 => "a character device",
            0x6000 => "a block device",
            0x1000 => "a FIFO",
            0xC000 => "a socket",
            0xA000 => "a symbolic link",
            _ => "not a regular file",
        };
    }

    private const int AtCurrentDirectory = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxType = 1;
    private const uint StatxInode = 0x100;

    [DllImport("libc", EntryPoint = "statx", SetLastError = true, CharSet = CharSet.Ansi, BestFitMapping = false)]
    private static extern int Statx(int directory, string path, int flags, uint mask, ref byte buffer);
}
