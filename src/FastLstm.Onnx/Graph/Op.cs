using FastLstm.Onnx.Proto;

namespace FastLstm.Onnx.Graph;

/// <summary>
/// One compiled node: attributes checked once at load, then run on values. Ops whose inputs are all constants run once
/// at load (constant folding); the rest run on every <see cref="OnnxSession.Run"/>.
/// </summary>
internal abstract class Op
{
    protected Op(NodeProto node)
    {
        Label = OnnxGraphException.Label(node);
        OpType = node.OpType;
        Inputs = node.Input.ToArray();
        Outputs = node.Output.ToArray();
    }

    public string Label { get; }

    public string OpType { get; }

    public string[] Inputs { get; }

    public string[] Outputs { get; }

    /// <summary>Computes the outputs; <paramref name="inputs"/> holds null for an omitted optional input.</summary>
    public abstract Value?[] Run(Value?[] inputs, object? state);

    /// <summary>Per-session resources (the recurrent ops' engine sessions), made when a session is created.</summary>
    public virtual object? CreateState(int maxBatch, int maxSteps, int threads, WeightFormat weights) => null;

    /// <summary>Whether running at load on constant inputs is allowed (not for ops that own sessions).</summary>
    public virtual bool Foldable => true;

    protected InvalidDataException Fail(string message) => new($"{Label}: {message}.");

    protected Value Need(Value?[] inputs, int k) =>
        k < inputs.Length && inputs[k] is { } v ? v : throw Fail($"input {k} is required");

    protected static Value? Optional(Value?[] inputs, int k) => k < inputs.Length ? inputs[k] : null;

    protected int Axis(long axis, int rank, string what = "axis")
    {
        long a = axis < 0 ? axis + rank : axis;
        return a >= 0 && a < rank ? (int)a : throw Fail($"{what} {axis} is outside rank {rank}");
    }

    protected int[] CheckedShape(IEnumerable<long> dims)
    {
        var shape = new List<int>();
        foreach (long d in dims)
        {
            if (d < 0 || d > Value.MaxElements)
            {
                throw Fail($"dimension {d} is out of range");
            }

            shape.Add((int)d);
        }

        var r = shape.ToArray();
        return Value.Product(r) <= Value.MaxElements ? r : throw Fail($"shape {Value.Format(r)} exceeds {Value.MaxElements} elements");
    }
}
