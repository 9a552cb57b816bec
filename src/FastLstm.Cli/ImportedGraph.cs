using System.Globalization;
using FastLstm.Onnx;

namespace FastLstm.Cli;

/// <summary>
/// What the forecasting and text verbs need to know about an ONNX file exported elsewhere, read from its inputs' and
/// outputs' types and shapes: it is run with batch 1, so a free dimension other than the sequence is the batch.
/// </summary>
internal static class ImportedGraph
{
    /// <summary>The fixed size of dimension <paramref name="axis"/>, or null when it is free.</summary>
    public static int? Fixed(OnnxValueInfo info, int axis) =>
        int.TryParse(info.Shape[axis], NumberStyles.None, CultureInfo.InvariantCulture, out int n) ? n : null;

    /// <summary>A zero tensor for an input that carries state (every free dimension is the batch: 1).</summary>
    public static OnnxTensor Zeros(string path, OnnxValueInfo info)
    {
        int free = info.Shape.Count(d => !int.TryParse(d, NumberStyles.None, CultureInfo.InvariantCulture, out _));
        if (info.ElementType != OnnxElementType.Float || free > 1)
        {
            throw new CliException($"{path}: input '{info.Name}' ({Describe(info)}) is not one this verb can fill: it fills the first input with the data and any other float input with zeros (an initial state, one free dimension for the batch).");
        }

        int[] shape = [.. Enumerable.Range(0, info.Shape.Count).Select(a => Fixed(info, a) ?? 1)];
        long count = shape.Aggregate(1L, (p, d) => p * d);
        if (count > 1 << 24)
        {
            throw new CliException($"{path}: input '{info.Name}' ({Describe(info)}) holds {count} values; an initial state this large is not plausible.");
        }

        return new OnnxTensor(new float[count], shape);
    }

    public static string Describe(OnnxValueInfo info) => $"{info.ElementType} [{string.Join(", ", info.Shape)}]";

    /// <summary>The output's values when they are floats (as ONNX Runtime would return them).</summary>
    public static float[] Floats(string path, IReadOnlyDictionary<string, OnnxTensor> outputs, string name) =>
        outputs[name].Data as float[] ?? throw new CliException($"{path}: output '{name}' is not float.");
}
