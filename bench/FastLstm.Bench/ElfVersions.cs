using System.Buffers.Binary;
using System.Text;

namespace FastLstm.Bench;

/// <summary>Edits the version requirements (<c>.gnu.version_r</c>, SHT_GNU_verneed) of a little-endian ELF64 shared object.</summary>
public static class ElfVersions
{
    private const uint GnuVerneed = 0x6ffffffe;
    private const ushort Weak = 0x2;

    /// <summary>
    /// Sets VER_FLG_WEAK on every requirement of <paramref name="version"/>: the loader then accepts a library that lacks
    /// the version. Writes a patched copy beside the file and renames it over it; returns whether anything changed.
    /// </summary>
    public static bool MarkWeak(string path, string version)
    {
        if (!File.Exists(path))
        {
            return false;
        }

        byte[] f = File.ReadAllBytes(path);
        if (f.Length < 64 || !f.AsSpan(0, 4).SequenceEqual("\u007fELF"u8) || f[4] != 2 || f[5] != 1)
        {
            throw new InvalidDataException($"{path}: not a little-endian ELF64 file");
        }

        long shoff = (long)U64(f, 0x28);
        int shentsize = U16(f, 0x3A), shnum = U16(f, 0x3C);
        bool changed = false;
        for (int s = 0; s < shnum; s++)
        {
            long sh = shoff + ((long)s * shentsize);
            if (U32(f, sh + 4) != GnuVerneed)
            {
                continue;
            }

            long strings = (long)U64(f, shoff + ((long)U32(f, sh + 40) * shentsize) + 24);
            long need = (long)U64(f, sh + 24);
            for (uint e = 0, needs = U32(f, sh + 44); e < needs; e++)
            {
                long aux = need + U32(f, need + 8);
                for (int a = 0, count = U16(f, need + 2); a < count; a++)
                {
                    int name = (int)(strings + U32(f, aux + 8));
                    int end = Array.IndexOf(f, (byte)0, name);
                    ushort flags = U16(f, aux + 4);
                    if (Encoding.ASCII.GetString(f, name, end - name) == version && (flags & Weak) == 0)
                    {
                        BinaryPrimitives.WriteUInt16LittleEndian(f.AsSpan((int)aux + 4), (ushort)(flags | Weak));
                        changed = true;
                    }

                    aux += U32(f, aux + 12);
                }

                need += U32(f, need + 12);
            }
        }

        if (changed)
        {
            string temp = path + ".weak-versions";
            File.WriteAllBytes(temp, f);
            File.Move(temp, path, overwrite: true);
        }

        return changed;
    }

    private static ushort U16(byte[] f, long at) => BinaryPrimitives.ReadUInt16LittleEndian(f.AsSpan((int)at));

    private static uint U32(byte[] f, long at) => BinaryPrimitives.ReadUInt32LittleEndian(f.AsSpan((int)at));

    private static ulong U64(byte[] f, long at) => BinaryPrimitives.ReadUInt64LittleEndian(f.AsSpan((int)at));
}
