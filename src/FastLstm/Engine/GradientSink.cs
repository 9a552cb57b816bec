using System.Numerics;
using System.Numerics.Tensors;

namespace FastLstm.Engine;

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
    public static void Add(T* src, int ld, int[] rowMap, int[] colMap, Span<T> grads, ParameterLayout.Tensor tensor, int tensorLd)
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
            for (int c = 0; c < colMap.Length; c++)
            {
                int col = colMap[c];
                if (col >= 0)
                {
                    dst[(row * tensorLd) + col] += s[c];
                }
            }
        }
    }

    /// <summary>Adds the column sums of an internal [rows × rowMap.Length] matrix into a PyTorch bias, through rowMap.</summary>
    public static void AddColumnSums(T* src, int rows, int ld, int[] rowMap, T* sums, Span<T> grads, ParameterLayout.Tensor tensor)
    {
        int cols = rowMap.Length;
        var sum = new Span<T>(sums, cols);
        sum.Clear();
        for (int r = 0; r < rows; r++)
        {
            TensorPrimitives.Add(sum, new ReadOnlySpan<T>(src + ((long)r * ld), cols), sum);
        }

        var dst = grads.Slice(tensor.Offset, tensor.Length);
        for (int c = 0; c < cols; c++)
        {
            if (rowMap[c] >= 0)
            {
                dst[rowMap[c]] += sum[c];
            }
        }
    }
}
