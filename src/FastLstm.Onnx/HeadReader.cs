using FastLstm.Onnx.Graph;
using FastLstm.Training;

namespace FastLstm.Onnx;

/// <summary>
/// Reads the dense layer a graph applies to its recurrent stack (Gemm, or MatMul with an optional Add, then at most one
/// Sigmoid / Tanh / Relu / Softmax) back as a FastLstm <see cref="DenseHead{T}"/>, and accepts it only after running the
/// graph and the stack with that head on the same input and finding the same outputs: what the layer reads (the last
/// step, every step, or something else such as both directions' final states) is judged by the numbers, not by guessing
/// at the ops between.
/// </summary>
internal static class HeadReader
{
    private const int Steps = 5;

    /// <summary>The head, or null when no graph output is computed by a dense layer; throws NotSupportedException when one is but differs.</summary>
    public static DenseHead<float>? Read(OnnxModel model, RnnModel<float> stack)
    {
        var graph = model.Graph;
        var producers = new Dictionary<string, Op>(StringComparer.Ordinal);
        foreach (var op in graph.Ops)
        {
            foreach (string o in op.Outputs)
            {
                producers[o] = op;
            }
        }

        foreach (var output in graph.Outputs.OrderBy(o => o.Name == "prediction" ? 0 : 1))
        {
            if (Affine(output.Name, graph, producers) is { } found)
            {
                var head = Build(found, stack);
                Verify(model, stack, head, output.Name, found.Label);
                return head;
            }
        }

        return null;
    }

    private sealed record Found(string Label, float[] Weight, bool Transposed, float WeightScale, float[]? Bias, float BiasScale, Activation Activation, int Inputs, int Outputs);

    /// <summary>Walks back from a graph output over reshaping ops and one activation to a dense layer with constant weights.</summary>
    private static Found? Affine(string name, CompiledGraph graph, Dictionary<string, Op> producers)
    {
        Activation? activation = null;
        for (int hops = 0; hops < 16 && producers.TryGetValue(name, out var op); hops++)
        {
            switch (op.OpType)
            {
                case "Squeeze" or "Unsqueeze" or "Reshape" or "Flatten" or "Identity":
                    name = op.Inputs[0];
                    continue;
                case "Sigmoid" or "Tanh" or "Relu" or "Softmax" when activation == null:
                    activation = Enum.Parse<Activation>(op.OpType);
                    name = op.Inputs[0];
                    continue;
                case "Gemm" when op is MathOps.GemmOp { TransA: false } gemm:
                    return Matrix(graph, op.Inputs[1]) is { } w
                        ? new Found(op.Label, w.Floats, gemm.TransB, gemm.Alpha, Constant(graph, op, 2), gemm.Beta, activation ?? Activation.Linear,
                            gemm.TransB ? w.Shape[1] : w.Shape[0], gemm.TransB ? w.Shape[0] : w.Shape[1])
                        : null;
                case "MatMul":
                    return MatMul(graph, op, null, activation);
                case "Add":
                    for (int side = 0; side < 2; side++)
                    {
                        if (Constant(graph, op, 1 - side) is { } bias && producers.TryGetValue(op.Inputs[side], out var product) && product.OpType == "MatMul")
                        {
                            return MatMul(graph, product, bias, activation);
                        }
                    }

                    return null;
                default:
                    return null;
            }
        }

        return null;
    }

    private static Found? MatMul(CompiledGraph graph, Op op, float[]? bias, Activation? activation) =>
        Matrix(graph, op.Inputs[1]) is { } w
            ? new Found(op.Label, w.Floats, false, 1, bias, 1, activation ?? Activation.Linear, w.Shape[0], w.Shape[1])
            : null;

    private static Value? Matrix(CompiledGraph graph, string name) =>
        graph.Constants.TryGetValue(name, out var v) && v.Rank == 2 && v.Type == OnnxElementType.Float ? v : null;

    private static float[]? Constant(CompiledGraph graph, Op op, int input) =>
        input < op.Inputs.Length && graph.Constants.TryGetValue(op.Inputs[input], out var v) && v.Type == OnnxElementType.Float ? v.Floats : null;

    private static DenseHead<float> Build(Found f, RnnModel<float> stack)
    {
        int features = stack.Spec.Directions * stack.Spec.HiddenSize;
        if (f.Outputs < 1 || f.Inputs != features)
        {
            throw new NotSupportedException($"{f.Label} maps {f.Inputs} features to {f.Outputs}; a head on the recurrent stack reads its {features} and gives at least one.");
        }

        if (f.Bias != null && f.Bias.Length != 1 && f.Bias.Length != f.Outputs)
        {
            throw new NotSupportedException($"{f.Label}: a bias of {f.Bias.Length} values for {f.Outputs} outputs is not one bias per output.");
        }

        var head = new DenseHead<float>(f.Inputs, f.Outputs, f.Activation);
        var weight = head.Weight;
        for (int o = 0; o < f.Outputs; o++)
        {
            for (int k = 0; k < f.Inputs; k++)
            {
                weight[(o * f.Inputs) + k] = f.WeightScale * f.Weight[f.Transposed ? (o * f.Inputs) + k : (k * f.Outputs) + o];
            }
        }

        var bias = head.Bias;
        for (int o = 0; f.Bias != null && o < f.Outputs; o++)
        {
            bias[o] = f.BiasScale * f.Bias[f.Bias.Length == 1 ? 0 : o];
        }

        return head;
    }

    /// <summary>
    /// Runs the graph and the stack with the head on one seeded sequence (repeated over the batch where the graph fixes
    /// one), in either layout the input may have: batch-first, then sequence-first; the head is refused unless one agrees.
    /// </summary>
    private static void Verify(OnnxModel model, RnnModel<float> stack, DenseHead<float> head, string output, string label)
    {
        var graph = model.Graph;
        var input = FirstInput(graph, model.Graph.Ops.OfType<RecurrentOp>().First());
        int features = stack.Spec.InputSize, outputs = head.Outputs;
        string? mismatch = null;
        foreach (bool sequenceFirst in new[] { false, true })
        {
            int steps = Fixed(input, sequenceFirst ? 0 : 1) ?? Steps, batch = Fixed(input, sequenceFirst ? 1 : 0) ?? 1;
            if (steps < 1 || batch < 1 || (long)steps * batch * features > 1 << 24 || Fixed(input, 2) is { } f && f != features)
            {
                continue;
            }

            var rng = new Random(1);
            var x = new float[steps * features];
            for (int i = 0; i < x.Length; i++)
            {
                x[i] = (float)((rng.NextDouble() * 2) - 1);
            }

            var y = new float[steps * stack.Spec.Directions * stack.Spec.HiddenSize];
            var expected = new float[steps * outputs];
            using (var session = new InferenceSession<float>(stack, 1, steps))
            {
                session.Forward(x, 1, steps, y);
            }

            head.Forward(y, steps, expected);
            var data = new float[batch * x.Length];
            for (int r = 0; r < batch; r++)
            {
                for (int t = 0; t < steps; t++)
                {
                    x.AsSpan(t * features, features).CopyTo(data.AsSpan((sequenceFirst ? (t * batch) + r : (r * steps) + t) * features));
                }
            }

            int[] shape = sequenceFirst ? [steps, batch, features] : [batch, steps, features];
            var inputs = new Dictionary<string, OnnxTensor>(StringComparer.Ordinal) { [input.Name] = new OnnxTensor(data, shape) };
            if (!Fill(graph, input, inputs, batch, steps))
            {
                throw new NotSupportedException($"{label}: the graph takes inputs other than the sequence, an initial state and lengths; the head cannot be checked.");
            }

            float[] got;
            using (var onnx = model.CreateSession(batch, steps))
            {
                try
                {
                    got = onnx.Run(inputs)[output].Data as float[] ?? throw new NotSupportedException($"{label}: output '{output}' is not float.");
                }
                catch (Exception e) when (e is ArgumentException or InvalidDataException)
                {
                    continue; // The graph fixes sizes this layout does not give.
                }
            }

            // What the head gives for every row of the batch: the last step's prediction, or every step's, in the input's layout.
            var want = new float[got.Length];
            bool lastStep = got.Length == batch * outputs;
            if (lastStep || got.Length == batch * steps * outputs)
            {
                for (int r = 0; r < batch; r++)
                {
                    if (lastStep)
                    {
                        expected.AsSpan((steps - 1) * outputs, outputs).CopyTo(want.AsSpan(r * outputs));
                        continue;
                    }

                    for (int t = 0; t < steps; t++)
                    {
                        expected.AsSpan(t * outputs, outputs).CopyTo(want.AsSpan((sequenceFirst ? (t * batch) + r : (r * steps) + t) * outputs));
                    }
                }

                if (Agree(got, want, out mismatch))
                {
                    return;
                }
            }

            mismatch ??= $"'{output}' holds {got.Length} values, not {batch * outputs} (the last step) or {batch * steps * outputs} (every step)";
        }

        throw new NotSupportedException($"{label}: a FastLstm head reads the last layer's output at the last step or at every step, and this one computes something else ({mismatch ?? "the graph refused a sequence in either layout"}).");
    }

    private static int? Fixed(OnnxValueInfo info, int axis) =>
        int.TryParse(info.Shape[axis], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int n) ? n : null;

    /// <summary>The graph input the first recurrent node reads, through reshaping ops only (an embedding in between is refused).</summary>
    private static OnnxValueInfo FirstInput(CompiledGraph graph, RecurrentOp first)
    {
        string name = first.Inputs[0];
        for (int hops = 0; hops < 16; hops++)
        {
            if (graph.Inputs.FirstOrDefault(i => i.Name == name) is { } info)
            {
                return info.ElementType == OnnxElementType.Float && info.Shape.Count == 3
                    ? info
                    : throw new NotSupportedException($"graph input '{name}' is not float [batch, steps, features]; a FastLstm model file reads features.");
            }

            var op = graph.Ops.FirstOrDefault(o => o.Outputs.Contains(name))
                ?? throw new NotSupportedException($"{first.Label} does not read a graph input.");
            if (op.OpType is not ("Transpose" or "Reshape" or "Squeeze" or "Unsqueeze" or "Identity"))
            {
                throw new NotSupportedException($"{first.Label} reads what {op.Label} computes; a FastLstm model file has no layer before the stack (it reads the features themselves).");
            }

            name = op.Inputs[0];
        }

        throw new NotSupportedException($"{first.Label} does not read a graph input.");
    }

    /// <summary>Zero initial states (a free dimension is the batch) and full lengths for the other inputs; false for an input of another kind.</summary>
    private static bool Fill(CompiledGraph graph, OnnxValueInfo sequence, Dictionary<string, OnnxTensor> inputs, int batch, int steps)
    {
        foreach (var info in graph.Inputs.Where(i => i != sequence))
        {
            if (info.ElementType is OnnxElementType.Int64 or OnnxElementType.Int32 && info.Shape.Count == 1)
            {
                inputs[info.Name] = info.ElementType == OnnxElementType.Int64
                    ? new OnnxTensor(Enumerable.Repeat((long)steps, batch).ToArray(), [batch])
                    : new OnnxTensor(Enumerable.Repeat(steps, batch).ToArray(), [batch]);
                continue;
            }

            if (info.ElementType != OnnxElementType.Float || info.Shape.Count(d => !int.TryParse(d, out _)) > 1)
            {
                return false;
            }

            int[] shape = [.. info.Shape.Select(d => int.TryParse(d, out int n) ? n : batch)];
            if (shape.Any(d => d < 0) || Value.Product(shape) > 1 << 24)
            {
                return false;
            }

            inputs[info.Name] = new OnnxTensor(new float[Value.Product(shape)], shape);
        }

        return true;
    }

    private static bool Agree(float[] got, ReadOnlySpan<float> want, out string? mismatch)
    {
        for (int i = 0; i < got.Length; i++)
        {
            if (!(Math.Abs(got[i] - want[i]) <= 1e-4 * Math.Max(1, Math.Abs(want[i]))))
            {
                mismatch = $"value {i}: the graph gives {got[i]}, the head on the last layer's output {want[i]}";
                return false;
            }
        }

        mismatch = null;
        return true;
    }
}
