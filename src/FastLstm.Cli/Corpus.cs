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

        return Decode(File.ReadAllBytes(path), path);
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
