using System.Numerics;
using System.Numerics.Tensors;

namespace FastLstm.Engine;

/// <summary>
/// An index map (internal index → PyTorch index, −1 for padding) as its runs of consecutive indices, so that moving data
/// through it is a few contiguous vector adds instead of one indexed add per element.
/// </summary>
internal sealed class MapRuns
{
    public MapRuns(int[] map)
    {
        var runs = new List<(int Source, int Target, int Length)>();
        for (int c = 0; c < map.Length;)
        {
            if (map[c] < 0)
            {
                c++;
                continue;
            }

            int end = c + 1;
            while (end < map.Length && map[end] == map[c] + (end - c))
            {
                end++;
            }

            runs.Add((c, map[c], end - c));
            c = end;
        }

        Source = runs.Select(r => r.Source).ToArray();
        Target = runs.Select(r => r.Target).ToArray();
        Length = runs.Select(r => r.Length).ToArray();
    }

    public int Count => Source.Length;

    public int[] Source { get; }

    public int[] Target { get; }

    public int[] Length { get; }
}

/// <summary>
/// Moves gradients computed in the engine's padded layout into the flat PyTorch layout of
/// <see cref="TrainingSession{T}.Gradients"/>, adding (gradients accumulate like PyTorch's <c>.grad</c>).
/// </summary>
internal static unsafe class GradientSink<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    /// <summary>
    /// Adds an internal [rowMap.Length × colMap.Length] result (row stride <paramref name="ld"/>) into a PyTorch tensor of
    /// row stride <paramref name="tensorLd"/>: internal (r, c) goes to (rowMap[r], colMap[c]); padding (−1) is dropped.
    /// </summary>
    public static void Add(T* src, int ld, int[] rowMap, MapRuns colMap, Span<T> grads, ParameterLayout.Tensor tensor, int tensorLd)
    {
        var dst = grads.Slice(tensor.Offset, tensor.Length);
        for (int r = 0; r < rowMap.Length; r++)
        {
            int row = rowMap[r];
            if (row < 0)
            {
                continue;
            }

            T* s = src + ((long)r * ld);
            for (int i = 0; i < colMap.Count; i++)
            {
                var to = dst.Slice((row * tensorLd) + colMap.Target[i], colMap.Length[i]);
                TensorPrimitives.Add(to, new ReadOnlySpan<T>(s + colMap.Source[i], colMap.Length[i]), to);
            }
        }
    }

    /// <summary>Adds the column sums of an internal [rows × rowMap.Length] matrix into a PyTorch bias, through rowMap.</summary>
    public static void AddColumnSums(T* src, int rows, int ld, int[] rowMap, T* sums, Span<T> grads, ParameterLayout.Tensor tensor)
    {
        ColumnSums(src, rows, ld, rowMap.Length, sums);
        AddSums(sums, rowMap, grads, tensor);
    }

    /// <summary>sums[c] = Σ_r src[r · ld + c] for the first <paramref name="cols"/> columns.</summary>
    public static void ColumnSums(T* src, int rows, int ld, int cols, T* sums)
    {
        var sum = new Span<T>(sums, cols);
        sum.Clear();
        for (int r = 0; r < rows; r++)
        {
            TensorPrimitives.Add(sum, new ReadOnlySpan<T>(src + ((long)r * ld), cols), sum);
        }
    }

    /// <summary>Adds internal sums[c] into a PyTorch bias at rowMap[c] (padding, −1, dropped).</summary>
    public static void AddSums(T* sums, int[] rowMap, Span<T> grads, ParameterLayout.Tensor tensor)
    {
        var dst = grads.Slice(tensor.Offset, tensor.Length);
        for (int c = 0; c < rowMap.Length; c++)
        {
            if (rowMap[c] >= 0)
            {
                dst[rowMap[c]] += sums[c];
            }
        }
    }
}
