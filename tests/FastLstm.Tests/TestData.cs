namespace FastLstm.Tests;

internal static class TestData
{
    /// <summary>Every cell type, unidirectional and bidirectional.</summary>
    public static TheoryData<CellType, bool> Cells()
    {
        var data = new TheoryData<CellType, bool>();
        foreach (var cell in Enum.GetValues<CellType>())
        {
            data.Add(cell, false);
            data.Add(cell, true);
        }

        return data;
    }

    /// <summary>Every vector width this CPU accelerates, and 128 (which every CPU runs).</summary>
    public static int[] Widths() => new[] { 128, 256, 512 }.Where(b => b <= Isa.Widest).ToArray();

    public static TheoryData<int> WidthData() => new(Widths());

    public static T[] Uniform<T>(Random rng, int n, double scale = 1)
        where T : System.Numerics.IBinaryFloatingPointIeee754<T>
    {
        var v = new T[n];
        for (int i = 0; i < n; i++)
        {
            v[i] = T.CreateTruncating(((rng.NextDouble() * 2) - 1) * scale);
        }

        return v;
    }

    /// <summary>max |a − b| / max(max |b|, tiny): the normwise relative error used throughout.</summary>
    public static double RelativeError<T>(ReadOnlySpan<T> actual, ReadOnlySpan<T> expected)
        where T : System.Numerics.IBinaryFloatingPointIeee754<T>
    {
        Assert.Equal(expected.Length, actual.Length);
        double diff = 0, scale = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            double a = double.CreateTruncating(actual[i]), e = double.CreateTruncating(expected[i]);
            diff = Math.Max(diff, double.IsNaN(a - e) ? double.PositiveInfinity : Math.Abs(a - e));
            scale = Math.Max(scale, Math.Abs(e));
        }

        return diff == 0 ? 0 : diff / Math.Max(scale, double.Epsilon);
    }
}
