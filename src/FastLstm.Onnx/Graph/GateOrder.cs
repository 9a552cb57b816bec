namespace FastLstm.Onnx.Graph;

/// <summary>
/// ONNX and PyTorch stack a cell's gate blocks in different orders (LSTM: ONNX i, o, f, c — PyTorch i, f, g, o; GRU:
/// ONNX z, r, h — PyTorch r, z, n). Import and export both reorder here, from the cell descriptor's table
/// (<see cref="Cells.Cell.OnnxGateBlocks"/>).
/// </summary>
internal static class GateOrder
{
    /// <summary>For each PyTorch gate block, the ONNX block holding the same gate.</summary>
    public static int[] OnnxBlockOf(CellType cell) =>
        Cells.Cell.For(cell).OnnxGateBlocks ?? throw new NotSupportedException($"{cell} has no ONNX operator.");

    /// <summary>Copies gate blocks of <paramref name="rows"/> rows × <paramref name="cols"/> from ONNX order to PyTorch order.</summary>
    public static void ToTorch(CellType cell, ReadOnlySpan<float> onnx, Span<float> torch, int rows, int cols)
    {
        int[] map = OnnxBlockOf(cell);
        int block = rows * cols;
        for (int g = 0; g < map.Length; g++)
        {
            onnx.Slice(map[g] * block, block).CopyTo(torch.Slice(g * block, block));
        }
    }

    /// <summary>The inverse of <see cref="ToTorch"/>.</summary>
    public static void ToOnnx(CellType cell, ReadOnlySpan<float> torch, Span<float> onnx, int rows, int cols)
    {
        int[] map = OnnxBlockOf(cell);
        int block = rows * cols;
        for (int g = 0; g < map.Length; g++)
        {
            torch.Slice(g * block, block).CopyTo(onnx.Slice(map[g] * block, block));
        }
    }

    /// <summary>PyTorch's suffix for a layer and direction: <c>_l0</c>, <c>_l1_reverse</c>.</summary>
    public static string Suffix(int layer, int direction) => $"_l{layer}" + (direction == 1 ? "_reverse" : "");
}
