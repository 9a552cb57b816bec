namespace FastLstm.Onnx;

/// <summary>The element types a graph input or output may have here.</summary>
public enum OnnxElementType
{
    /// <summary>32-bit float (ONNX FLOAT).</summary>
    Float,

    /// <summary>64-bit float (ONNX DOUBLE).</summary>
    Double,

    /// <summary>32-bit integer (ONNX INT32), e.g. <c>sequence_lens</c>.</summary>
    Int32,

    /// <summary>64-bit integer (ONNX INT64), e.g. token ids for an embedding.</summary>
    Int64,
}

/// <summary>A graph input or output: name, element type and shape.</summary>
/// <param name="Name">The value's name in the graph.</param>
/// <param name="ElementType">Its element type.</param>
/// <param name="Shape">A number per fixed dimension, the symbol (e.g. "batch") or "?" per free dimension.</param>
public sealed record OnnxValueInfo(string Name, OnnxElementType ElementType, IReadOnlyList<string> Shape);

/// <summary>A dense row-major tensor passed to or returned by <see cref="OnnxSession.Run"/>.</summary>
/// <param name="Data"><c>float[]</c>, <c>double[]</c>, <c>int[]</c> or <c>long[]</c>, row-major.</param>
/// <param name="Shape">The dimensions; their product is <c>Data.Length</c>.</param>
public sealed record OnnxTensor(Array Data, int[] Shape)
{
    /// <summary>A float tensor.</summary>
    public static OnnxTensor FromFloats(float[] data, params int[] shape) => new(data, shape);

    /// <summary>The data as floats (throws when it holds another type).</summary>
    public float[] Floats => Data as float[] ?? throw new InvalidOperationException($"tensor holds {Data.GetType().Name}, not float[].");
}
