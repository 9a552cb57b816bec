using FastLstm.Onnx.Proto;

namespace FastLstm.Onnx.Graph;

/// <summary>
/// A checked, compiled ONNX graph: every name defined before use, every node an op FastLstm runs exactly, every node
/// whose inputs are all constants already run (constant folding), the rest kept in order for each run.
/// </summary>
internal sealed class CompiledGraph
{
    /// <summary>The opset versions this importer knows the semantics of.</summary>
    public const int MinOpset = 7, MaxOpset = 22;

    public CompiledGraph(ModelProto model, string? folder)
    {
        var graph = model.Graph ?? throw new InvalidDataException("the model has no graph.");
        int opset = Opset(model);
        OpsetVersion = opset;
        foreach (var t in graph.Initializer)
        {
            if (string.IsNullOrEmpty(t.Name) || !Constants.TryAdd(t.Name, TensorDecoder.Decode(t, $"initializer '{t.Name}'", folder)))
            {
                throw new InvalidDataException($"initializer '{t.Name}' is unnamed or named twice.");
            }
        }

        if (graph.SparseInitializer.Count > 0)
        {
            throw new NotSupportedException("sparse initializers are not supported.");
        }

        var defined = new HashSet<string>(Constants.Keys, StringComparer.Ordinal);
        foreach (var v in graph.Input)
        {
            if (Constants.ContainsKey(v.Name))
            {
                continue; // An initializer listed as an input too (IR < 4): a constant the caller may not override here.
            }

            var info = Describe(v, "input");
            if (!defined.Add(v.Name))
            {
                throw new InvalidDataException($"graph input '{v.Name}' is named twice.");
            }

            Inputs.Add(info);
        }

        foreach (var node in graph.Node)
        {
            var op = Compile(node, opset, folder, defined);
            foreach (string output in op.Outputs.Where(o => o.Length > 0))
            {
                if (!defined.Add(output))
                {
                    throw OnnxGraphException.For(node, $"output '{output}' is already defined", invalid: true);
                }
            }

            if (op.Foldable && op.Inputs.Where(i => i.Length > 0).All(Constants.ContainsKey))
            {
                Value?[] outs;
                try
                {
                    outs = op.Run(op.Inputs.Select(i => i.Length > 0 ? Constants[i] : null).ToArray(), null);
                }
                catch (Exception e) when (e is not (InvalidDataException or NotSupportedException or OutOfMemoryException))
                {
                    throw new InvalidDataException($"{op.Label}: {e.Message}", e);
                }

                for (int k = 0; k < op.Outputs.Length; k++)
                {
                    if (op.Outputs[k].Length > 0 && k < outs.Length && outs[k] != null)
                    {
                        Constants[op.Outputs[k]] = outs[k]!;
                    }
                }

                Folded.Add(op);
            }
            else
            {
                Ops.Add(op);
            }
        }

        foreach (var v in graph.Output)
        {
            if (!defined.Contains(v.Name))
            {
                throw new InvalidDataException($"graph output '{v.Name}' is not computed by any node.");
            }

            Outputs.Add(Describe(v, "output"));
        }
    }

    public Dictionary<string, Value> Constants { get; } = new(StringComparer.Ordinal);

    public List<OnnxValueInfo> Inputs { get; } = [];

    public List<OnnxValueInfo> Outputs { get; } = [];

    /// <summary>The ops each run executes, in graph order.</summary>
    public List<Op> Ops { get; } = [];

    /// <summary>The ops already run at load.</summary>
    public List<Op> Folded { get; } = [];

    public int OpsetVersion { get; }

    private static int Opset(ModelProto model)
    {
        int opset = -1;
        foreach (var o in model.OpsetImport)
        {
            if (o.Domain is "" or "ai.onnx")
            {
                opset = (int)Math.Clamp(o.Version, int.MinValue, int.MaxValue);
            }
        }

        return opset >= MinOpset && opset <= MaxOpset
            ? opset
            : throw new NotSupportedException(opset < 0
                ? "the model imports no default-domain opset."
                : $"opset {opset} is not supported (opsets {MinOpset}..{MaxOpset} are).");
    }

    private Op Compile(NodeProto node, int opset, string? folder, HashSet<string> defined)
    {
        if (node.Domain is not ("" or "ai.onnx") && !(node.Domain == "com.microsoft" && node.OpType == "DynamicQuantizeLSTM"))
        {
            throw OnnxGraphException.For(node, $"domain '{node.Domain}' is not supported (only the default ONNX domain is, and com.microsoft's DynamicQuantizeLSTM)", invalid: false);
        }

        foreach (string input in node.Input)
        {
            if (input.Length > 0 && !defined.Contains(input))
            {
                throw OnnxGraphException.For(node, $"input '{input}' is not defined before the node (nodes must be sorted topologically)", invalid: true);
            }
        }

        var attributes = new NodeAttributes(node, opset, folder);
        Op op = node.OpType is "LSTM" or "GRU" or "RNN" or "DynamicQuantizeLSTM"
            ? RecurrentOp.Compile(node, attributes, name => Constants.GetValueOrDefault(name))
            : ShapeOps.Compile(node, opset, attributes) ?? MathOps.Compile(node, attributes) ?? IndexOps.Compile(node, opset, attributes)
              ?? throw OnnxGraphException.For(node, $"op type {node.OpType} is not supported (supported: {string.Join(", ", Supported)})", invalid: false);
        attributes.RejectUnread();
        return op;
    }

    /// <summary>Every op type the importer runs.</summary>
    public static readonly string[] Supported =
    [
        "LSTM", "GRU", "RNN", "DynamicQuantizeLSTM", "Gemm", "MatMul", "Add", "Sub", "Mul", "Div", "Sigmoid", "Tanh", "Relu", "Neg", "Exp", "Softmax", "LogSoftmax",
        "Constant", "Identity", "Shape", "Gather", "Unsqueeze", "Squeeze", "Concat", "Reshape", "Flatten", "Transpose", "Slice",
        "ConstantOfShape", "Expand", "Cast", "TopK", "ReduceProd", "Range", "ScatterElements",
    ];

    private static OnnxValueInfo Describe(ValueInfoProto v, string what)
    {
        var t = v.Type?.TensorType ?? throw new NotSupportedException($"graph {what} '{v.Name}' is not a tensor.");
        var type = (TensorProto.Types.DataType)t.ElemType switch
        {
            TensorProto.Types.DataType.Float => OnnxElementType.Float,
            TensorProto.Types.DataType.Double => OnnxElementType.Double,
            TensorProto.Types.DataType.Int32 => OnnxElementType.Int32,
            TensorProto.Types.DataType.Int64 => OnnxElementType.Int64,
            var e => throw new NotSupportedException($"graph {what} '{v.Name}' has element type {e} (float, double, int32 and int64 are supported)."),
        };
        var shape = t.Shape?.Dim.Select(d => d.ValueCase switch
        {
            TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue => d.DimValue.ToString(System.Globalization.CultureInfo.InvariantCulture),
            TensorShapeProto.Types.Dimension.ValueOneofCase.DimParam when d.DimParam.Length > 0 => d.DimParam,
            _ => "?",
        }).ToArray() ?? [];
        return new OnnxValueInfo(v.Name, type, shape);
    }
}
