using System.Text;

namespace FastLstm.Cli;

/// <summary>Reads a training corpus: UTF-8 text only, so a binary or Latin-1 file is an error rather than silent noise.</summary>
internal static class Corpus
{
    /// <summary>Largest corpus read (the one-hot training keeps a few bytes per character in memory).</summary>
    public const long MaxBytes = 256L << 20;

    public static string Read(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists)
        {
            throw new CliException($"{path}: file not found.");
        }

        if (info.Length > MaxBytes)
        {
            throw new CliException($"{path}: {info.Length} bytes; a corpus may have at most {MaxBytes} ({MaxBytes >> 20} MiB).");
        }

        // Read in chunks up to the cap, whatever the file claims: a device or a pipe reports no length and may never end.
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        using var bytes = new MemoryStream();
        var chunk = new byte[1 << 20];
        int read;
        while ((read = stream.Read(chunk)) > 0)
        {
            int nul = Array.IndexOf(chunk, (byte)0, 0, read);
            if (nul >= 0)
            {
                throw new CliException($"{path}: byte {bytes.Length + nul} is NUL; this looks like a binary file, not text.");
            }

            if (bytes.Length + read > MaxBytes)
            {
                throw new CliException($"{path}: more than {MaxBytes} bytes ({MaxBytes >> 20} MiB), the most a corpus may have; stopped reading there (it is not a regular file, so it may not end).");
            }

            bytes.Write(chunk, 0, read);
        }

        return Decode(bytes.ToArray(), path);
    }

    /// <summary>The text of <paramref name="bytes"/> (a UTF-8 byte-order mark dropped); <paramref name="name"/> starts every message.</summary>
    public static string Decode(byte[] bytes, string name)
    {
        int nul = Array.IndexOf(bytes, (byte)0);
        if (nul >= 0)
        {
            throw new CliException($"{name}: byte {nul} is NUL; this looks like a binary file, not text.");
        }

        var span = bytes.AsSpan();
        if (span.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]))
        {
            span = span[3..];
        }

        int offset = 0;
        while (offset < span.Length)
        {
            if (Rune.DecodeFromUtf8(span[offset..], out _, out int used) != System.Buffers.OperationStatus.Done)
            {
                throw new CliException($"{name}: byte {offset + (bytes.Length - span.Length)} (0x{span[offset]:X2}) is not valid UTF-8; save the text as UTF-8 (Latin-1 and other encodings are not read).");
            }

            offset += used;
        }

        return Encoding.UTF8.GetString(span);
    }
}
