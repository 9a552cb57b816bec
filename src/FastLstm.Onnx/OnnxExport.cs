using FastLstm.Onnx.Graph;
using FastLstm.Onnx.Proto;
using FastLstm.Training;
using Google.Protobuf;
using DataType = FastLstm.Onnx.Proto.TensorProto.Types.DataType;

namespace FastLstm.Onnx;

/// <summary>Writes a FastLstm model as standard ONNX (opset 14) that ONNX Runtime and other ONNX engines run.</summary>
public static class OnnxExport
{
    /// <summary>The opset the files use.</summary>
    public const int Opset = 14;

    /// <summary>
    /// Writes the RNN stack as ONNX LSTM / GRU / RNN nodes, one per layer, and the head (when given) as Gemm plus its
    /// activation on the last step. Graph input <c>input</c> [batch, seq, I]; outputs <c>output</c> [batch, seq, D·H],
    /// <c>h_n</c> [L·D, batch, H], <c>c_n</c> for LSTM, and <c>prediction</c> [batch, O] with a head. The save is atomic
    /// (see <see cref="SafeFile"/>).
    /// </summary>
    /// <exception cref="NotSupportedException">The cell has no ONNX operator (SeedLstm).</exception>
    /// <exception cref="ArgumentException">The head's input size is not the network's output size.</exception>
    public static void Save(RnnModel<float> model, string path, DenseHead<float>? head = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrEmpty(path);
        var proto = Build(model, head);
        SafeFile.Write(path, proto.ToByteArray());
    }

    internal static ModelProto Build(RnnModel<float> model, DenseHead<float>? head)
    {
        var spec = model.Spec;
        if (spec.Cell == CellType.SeedLstm)
        {
            throw new NotSupportedException("model: SeedLstm (the learn / forget / remember / use LSTM) has no ONNX operator; export Lstm, Gru, GruResetBefore, RnnTanh or RnnRelu models.");
        }

        if (head != null && head.Inputs != spec.OutputSize)
        {
            throw new ArgumentException($"head: expected {spec.OutputSize} inputs (the network's output size), got {head.Inputs}.", nameof(head));
        }

        string op = spec.Cell switch { CellType.Lstm => "LSTM", CellType.Gru or CellType.GruResetBefore => "GRU", _ => "RNN" };
        int g = spec.GateCount, h = spec.HiddenSize, d = spec.Directions;
        var graph = new GraphProto { Name = "fastlstm" };
        graph.Input.Add(Info("input", ["batch", "seq", spec.InputSize]));
        graph.Node.Add(Node("Transpose", ["input"], ["x_0"], Ints("perm", 1, 0, 2)));
        var hs = new List<string>();
        var cs = new List<string>();
        for (int layer = 0; layer < spec.Layers; layer++)
        {
            int input = spec.LayerInputSize(layer);
            var w = new float[d * g * h * input];
            var r = new float[d * g * h * h];
            var b = new float[d * 2 * g * h];
            for (int dir = 0; dir < d; dir++)
            {
                string s = GateOrder.Suffix(layer, dir);
                GateOrder.ToOnnx(spec.Cell, model.Parameter("weight_ih" + s), w.AsSpan(dir * g * h * input, g * h * input), h, input);
                GateOrder.ToOnnx(spec.Cell, model.Parameter("weight_hh" + s), r.AsSpan(dir * g * h * h, g * h * h), h, h);
                GateOrder.ToOnnx(spec.Cell, model.Parameter("bias_ih" + s), b.AsSpan(dir * 2 * g * h, g * h), h, 1);
                GateOrder.ToOnnx(spec.Cell, model.Parameter("bias_hh" + s), b.AsSpan((dir * 2 * g * h) + (g * h), g * h), h, 1);
            }

            string l = layer.ToString(System.Globalization.CultureInfo.InvariantCulture);
            graph.Initializer.Add(Tensor($"W_{l}", w, d, g * h, input));
            graph.Initializer.Add(Tensor($"R_{l}", r, d, g * h, h));
            graph.Initializer.Add(Tensor($"B_{l}", b, d, 2 * g * h));
            var attributes = new List<AttributeProto>
            {
                new() { Name = "hidden_size", Type = AttributeProto.Types.AttributeType.Int, I = h },
                new() { Name = "direction", Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(d == 2 ? "bidirectional" : "forward") },
            };
            if (op == "GRU")
            {
                attributes.Add(new AttributeProto { Name = "linear_before_reset", Type = AttributeProto.Types.AttributeType.Int, I = spec.Cell == CellType.Gru ? 1 : 0 });
            }

            attributes.AddRange(OptionAttributes(spec));
            string[] inputs = [$"x_{l}", $"W_{l}", $"R_{l}", $"B_{l}"];
            if (spec.LstmOptions is { Peepholes: true })
            {
                graph.Initializer.Add(Tensor($"P_{l}", Peepholes(model, layer, d, h), d, 3 * h));
                inputs = [.. inputs, "", "", "", $"P_{l}"];
            }

            string[] outs = op == "LSTM" ? [$"y_{l}", $"h_{l}", $"c_{l}"] : [$"y_{l}", $"h_{l}"];
            graph.Node.Add(Node(op, inputs, outs, [.. attributes]));
            hs.Add(outs[1]);
            if (op == "LSTM")
            {
                cs.Add(outs[2]);
            }

            // Y is [seq, D, batch, H]; the next layer (and the output) reads [seq, batch, D·H].
            string next = $"x_{layer + 1}";
            graph.Node.Add(Node("Transpose", [$"y_{l}"], [$"yt_{l}"], Ints("perm", 0, 2, 1, 3)));
            graph.Node.Add(Node("Reshape", [$"yt_{l}", "flat_shape"], [next]));
        }

        graph.Initializer.Add(LongTensor("flat_shape", 0, 0, -1));
        string last = $"x_{spec.Layers}";
        graph.Node.Add(Node("Transpose", [last], ["output"], Ints("perm", 1, 0, 2)));
        graph.Node.Add(Node("Concat", [.. hs], ["h_n"], new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = 0 }));
        graph.Output.Add(Info("output", ["batch", "seq", spec.OutputSize]));
        graph.Output.Add(Info("h_n", [spec.Layers * d, "batch", h]));
        if (op == "LSTM")
        {
            graph.Node.Add(Node("Concat", [.. cs], ["c_n"], new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = 0 }));
            graph.Output.Add(Info("c_n", [spec.Layers * d, "batch", h]));
        }

        if (head != null)
        {
            AddHead(graph, head, last);
        }

        var result = new ModelProto { IrVersion = 8, ProducerName = "FastLstm", ProducerVersion = typeof(OnnxExport).Assembly.GetName().Version?.ToString(3) ?? "", Graph = graph };
        result.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        return result;
    }

    /// <summary>
    /// A spec's cell options as the operator's attributes: clip, input_forget, and the activation list (with α and β in
    /// list order) whenever it is not the operator's default.
    /// </summary>
    private static IEnumerable<AttributeProto> OptionAttributes(RnnSpec spec)
    {
        var directions = Enumerable.Range(0, spec.Directions).Select(d => DirectionOptions(spec, d)).ToArray();
        var (clip, coupled, _) = directions[0];
        if (directions[^1].Clip != clip || directions[^1].Coupled != coupled)
        {
            throw new NotSupportedException("model: the two directions have different cell clips or input_forget settings; an ONNX node has one of each.");
        }

        var all = directions.SelectMany(o => o.Activations).ToArray();
        RnnActivation[] defaults = spec.Cell switch
        {
            CellType.Lstm => [RnnActivation.Sigmoid, RnnActivation.Tanh, RnnActivation.Tanh],
            CellType.Gru or CellType.GruResetBefore => [RnnActivation.Sigmoid, RnnActivation.Tanh],
            _ => [RnnActivation.Tanh],
        };
        bool standard = all.SequenceEqual(directions.SelectMany(_ => defaults));
        if (clip is { } c)
        {
            yield return new AttributeProto { Name = "clip", Type = AttributeProto.Types.AttributeType.Float, F = (float)c };
        }

        if (coupled)
        {
            yield return new AttributeProto { Name = "input_forget", Type = AttributeProto.Types.AttributeType.Int, I = 1 };
        }

        if (standard)
        {
            yield break;
        }

        var names = new AttributeProto { Name = "activations", Type = AttributeProto.Types.AttributeType.Strings };
        names.Strings.AddRange(all.Select(a => ByteString.CopyFromUtf8(a.Kind.ToString())));
        yield return names;
        var alpha = new AttributeProto { Name = "activation_alpha", Type = AttributeProto.Types.AttributeType.Floats };
        alpha.Floats.AddRange(all.Where(a => a.TakesAlpha).Select(a => (float)a.Alpha));
        var beta = new AttributeProto { Name = "activation_beta", Type = AttributeProto.Types.AttributeType.Floats };
        beta.Floats.AddRange(all.Where(a => a.TakesBeta).Select(a => (float)a.Beta));
        if (alpha.Floats.Count > 0)
        {
            yield return alpha;
        }

        if (beta.Floats.Count > 0)
        {
            yield return beta;
        }
    }

    /// <summary>One direction's clip, input_forget and activation list (the operator's f, g, h order).</summary>
    private static (double? Clip, bool Coupled, RnnActivation[] Activations) DirectionOptions(RnnSpec spec, int direction)
    {
        switch (spec.Cell)
        {
            case CellType.Lstm:
                var l = spec.LstmOptionsOf(direction);
                return (l.CellClip, l.CoupledInputForget, [l.GateActivation, l.CellActivation, l.OutputActivation]);
            case CellType.Gru or CellType.GruResetBefore:
                var g = spec.GruOptionsOf(direction);
                return (g.CellClip, false, [g.GateActivation, g.CandidateActivation]);
            default:
                var r = spec.SimpleRnnOptionsOf(direction);
                return (r.CellClip, false, [r.Activation ?? new RnnActivation(spec.Cell == CellType.RnnRelu ? RnnActivationKind.Relu : RnnActivationKind.Tanh)]);
        }
    }

    /// <summary>ONNX P [D, 3H]: each direction's peepholes in the operator's order i, o, f.</summary>
    private static float[] Peepholes(RnnModel<float> model, int layer, int directions, int h)
    {
        var p = new float[directions * 3 * h];
        for (int dir = 0; dir < directions; dir++)
        {
            string s = GateOrder.Suffix(layer, dir);
            model.Parameter("weight_peephole_i" + s).CopyTo(p.AsSpan(dir * 3 * h, h));
            model.Parameter("weight_peephole_o" + s).CopyTo(p.AsSpan((dir * 3 * h) + h, h));
            model.Parameter("weight_peephole_f" + s).CopyTo(p.AsSpan((dir * 3 * h) + (2 * h), h));
        }

        return p;
    }

    private static void AddHead(GraphProto graph, DenseHead<float> head, string sequence)
    {
        graph.Initializer.Add(LongScalar("last_step", -1));
        graph.Initializer.Add(Tensor("head_weight", head.Weight.ToArray(), head.Outputs, head.Inputs));
        graph.Initializer.Add(Tensor("head_bias", head.Bias.ToArray(), head.Outputs));
        graph.Node.Add(Node("Gather", [sequence, "last_step"], ["last"], new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = 0 }));
        string activation = head.Activation switch
        {
            Activation.Linear => "Identity",
            Activation.Sigmoid => "Sigmoid",
            Activation.Tanh => "Tanh",
            Activation.Relu => "Relu",
            Activation.Softmax => "Softmax",
            var a => throw new NotSupportedException($"head: activation {a} has no ONNX export."),
        };
        graph.Node.Add(Node("Gemm", ["last", "head_weight", "head_bias"], ["logits"], new AttributeProto { Name = "transB", Type = AttributeProto.Types.AttributeType.Int, I = 1 }));
        graph.Node.Add(activation == "Softmax"
            ? Node("Softmax", ["logits"], ["prediction"], new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = -1 })
            : Node(activation, ["logits"], ["prediction"]));
        graph.Output.Add(Info("prediction", ["batch", head.Outputs]));
    }

    private static NodeProto Node(string op, string[] inputs, string[] outputs, params AttributeProto[] attributes)
    {
        var n = new NodeProto { OpType = op, Name = $"{op}_{outputs[0]}" };
        n.Input.AddRange(inputs);
        n.Output.AddRange(outputs);
        n.Attribute.AddRange(attributes);
        return n;
    }

    private static AttributeProto Ints(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    private static TensorProto Tensor(string name, float[] data, params long[] dims)
    {
        var t = new TensorProto { Name = name, DataType = (int)DataType.Float };
        t.Dims.AddRange(dims);
        var bytes = new byte[data.Length * 4];
        System.Runtime.InteropServices.MemoryMarshal.AsBytes(data.AsSpan()).CopyTo(bytes);
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("ONNX raw data is little-endian; this machine is not.");
        }

        t.RawData = ByteString.CopyFrom(bytes);
        return t;
    }

    private static TensorProto LongTensor(string name, params long[] values)
    {
        var t = LongScalar(name, 0);
        t.Dims.Add(values.Length);
        t.Int64Data.Clear();
        t.Int64Data.AddRange(values);
        return t;
    }

    private static TensorProto LongScalar(string name, long value)
    {
        var t = new TensorProto { Name = name, DataType = (int)DataType.Int64 };
        t.Int64Data.Add(value);
        return t;
    }

    private static ValueInfoProto Info(string name, object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var dim in dims)
        {
            shape.Dim.Add(dim is string s ? new TensorShapeProto.Types.Dimension { DimParam = s } : new TensorShapeProto.Types.Dimension { DimValue = (int)dim });
        }

        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)DataType.Float, Shape = shape } },
        };
    }
}
