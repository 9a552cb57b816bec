using System.Globalization;
using nietras.SeparatedValues;

namespace FastLstm.Cli;

/// <summary>Reads one numeric column of a CSV file with a header row, with one-line errors for everything that can go wrong.</summary>
internal static class Csv
{
    public static double[] ReadColumn(string path, string column)
    {
        if (!File.Exists(path))
        {
            throw new CliException($"{path}: file not found.");
        }

        using var reader = Sep.Reader(o => o with { Unescape = true, Trim = SepTrim.All }).FromFile(path);
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
                ? $"{path}: no header row (the first line must name the columns)."
                : $"{path}: no column '{column}'; the columns are {string.Join(", ", names.Select(n => $"'{n}'"))}.");
        }

        var values = new List<double>();
        foreach (var row in reader)
        {
            if (row.ColCount <= index)
            {
                throw new CliException($"{path}:{row.LineNumberFrom}: the row has {row.ColCount} cells, so no '{column}'.");
            }

            var cell = row[index].Span;
            if (!double.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || !double.IsFinite(v))
            {
                throw new CliException($"{path}:{row.LineNumberFrom}: '{cell.ToString()}' in column '{column}' is not a number.");
            }

            values.Add(v);
        }

        return [.. values];
    }
}
