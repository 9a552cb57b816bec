using System.Globalization;
using nietras.SeparatedValues;

namespace FastLstm.Cli;

/// <summary>Reads one numeric column of a CSV file with a header row, with one-line errors for everything that can go wrong.</summary>
internal static class Csv
{
    /// <summary>Bytes looked at for a NUL before parsing: enough to tell a binary file from text.</summary>
    private const int Sniff = 64 << 10;

    public static double[] ReadColumn(string path, string column)
    {
        if (!File.Exists(path))
        {
            throw new CliException($"{path}: file not found.");
        }

        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        return ReadColumn(stream, column, path);
    }

    /// <summary>The column from a seekable <paramref name="stream"/>; <paramref name="name"/> starts every message.</summary>
    public static double[] ReadColumn(Stream stream, string column, string name)
    {
        var head = new byte[(int)Math.Min(Sniff, stream.Length)];
        stream.ReadExactly(head);
        int nul = Array.IndexOf(head, (byte)0);
        if (nul >= 0)
        {
            throw new CliException($"{name}: byte {nul} is NUL; this looks like a binary file, not CSV text.");
        }

        stream.Position = 0;
        try
        {
            // The column-count check is ours (below), so its message names the file and the line.
            using var reader = Sep.Reader(o => o with { Unescape = true, Trim = SepTrim.All, DisableColCountCheck = true }).From(stream);
            return Read(reader, column, name);
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or NotSupportedException or ArgumentException)
        {
            throw new CliException($"{name}: not a CSV file Sep can read ({e.Message.Split('\n')[0]}).");
        }
    }

    private static double[] Read(SepReader reader, string column, string name)
    {
        var names = reader.Header.ColNames;
        int index = -1;
        for (int i = 0; i < names.Count; i++)
        {
            if (string.Equals(names[i], column, StringComparison.Ordinal))
            {
                index = i;
            }
        }

        if (index < 0)
        {
            throw new CliException(names.Count == 0
                ? $"{name}: no header row (the first line must name the columns)."
                : $"{name}: no column '{column}'; the columns are {Shown(names)}.");
        }

        var values = new List<double>();
        int blank = 0;
        foreach (var row in reader)
        {
            // Blank lines are accepted at the end of the file only (an editor's trailing newline); inside the data they
            // would silently shift the series.
            if (row.ColCount == 1 && row[0].Span.IsWhiteSpace())
            {
                blank = blank == 0 ? row.LineNumberFrom : blank;
                continue;
            }

            if (blank > 0)
            {
                throw new CliException($"{name}:{blank}: a blank line inside the data (blank lines may only end the file).");
            }

            if (row.ColCount <= index)
            {
                throw new CliException($"{name}:{row.LineNumberFrom}: the row has {row.ColCount} cells, so no '{column}'.");
            }

            var cell = row[index].Span;
            if (!double.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || !double.IsFinite(v))
            {
                throw new CliException($"{name}:{row.LineNumberFrom}: '{Clip(cell.ToString())}' in column '{column}' is not a number.");
            }

            values.Add(v);
        }

        return [.. values];
    }

    /// <summary>Column names as a message shows them: at most ten, each at most 40 characters.</summary>
    private static string Shown(IReadOnlyList<string> names)
    {
        var shown = names.Take(10).Select(n => $"'{Clip(n)}'");
        return string.Join(", ", shown) + (names.Count > 10 ? $" and {names.Count - 10} more" : "");
    }

    private static string Clip(string text)
    {
        string oneLine = new(text.Select(c => char.IsControl(c) ? '?' : c).ToArray());
        return oneLine.Length <= 40 ? oneLine : string.Concat(oneLine.AsSpan(0, 40), "…");
    }
}
