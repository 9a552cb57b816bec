using FastLstm.Onnx.Graph;
using FastLstm.Onnx.Proto;
using FastLstm.Training;
using Google.Protobuf;

namespace FastLstm.Onnx;

/// <summary>
/// An ONNX file checked and compiled for FastLstm: its recurrent nodes (LSTM, GRU, RNN, standalone or as
/// <c>torch.onnx.export</c> writes them) run on FastLstm's engine, the nodes around them (embedding, heads, the shape
/// arithmetic exporters emit) on a small exact interpreter. A graph with anything FastLstm cannot run exactly is refused
/// by <see cref="Load(string)"/> with one message naming the node.
/// </summary>
public sealed class OnnxModel
{
    /// <summary>Largest ONNX file read (protobuf's own limit is 2 GiB).</summary>
    public const long MaxFileBytes = int.MaxValue;

    private readonly Lazy<(RnnModel<float>? Model, string? Error)> _rnn;
    private readonly Lazy<(DenseHead<float>? Head, string? Error)> _head;

    private OnnxModel(ModelProto proto, string? folder)
    {
        Graph = new CompiledGraph(proto, folder);
        Opset = Graph.OpsetVersion;
        Producer = string.IsNullOrEmpty(proto.ProducerName) ? "" : $"{proto.ProducerName} {proto.ProducerVersion}".Trim();
        _rnn = new Lazy<(RnnModel<float>?, string?)>(BuildStack);
        _head = new Lazy<(DenseHead<float>?, string?)>(ReadHead);
    }

    /// <summary>Graph inputs that are not initializers, in graph order.</summary>
    public IReadOnlyList<OnnxValueInfo> Inputs => Graph.Inputs;

    /// <summary>Graph outputs, in graph order.</summary>
    public IReadOnlyList<OnnxValueInfo> Outputs => Graph.Outputs;

    /// <summary>The default-domain opset version the file imports.</summary>
    public int Opset { get; }

    /// <summary>The producer the file names (e.g. "pytorch 1.13.0"), or empty.</summary>
    public string Producer { get; }

    /// <summary>Op types of the nodes run on every call, in graph order (constant subgraphs are folded at load).</summary>
    public IReadOnlyList<string> OpTypes => Graph.Ops.Select(o => o.OpType).ToArray();

    /// <summary>
    /// The recurrent stack as one FastLstm model with PyTorch names and layout: every LSTM / GRU / RNN node with constant
    /// weights, same cell, hidden size and directions, each reading the previous one's output.
    /// </summary>
    /// <exception cref="NotSupportedException">The graph's recurrent nodes do not form such a stack (the message says why).</exception>
    public RnnModel<float> Rnn => _rnn.Value.Model ?? throw new NotSupportedException(_rnn.Value.Error);

    /// <summary>
    /// The dense layer the graph applies to <see cref="Rnn"/>'s output (Gemm, or MatMul with an optional Add, then at most
    /// one Sigmoid / Tanh / Relu / Softmax) as a FastLstm head, or null when no graph output (<c>prediction</c> first) is
    /// computed by one. It is accepted only after the graph and <see cref="Rnn"/> with this head, applied to the last
    /// layer's output at the last step or at every step, gave the same outputs (within 1e-4·max(1, |x|)) on a seeded input.
    /// </summary>
    /// <exception cref="NotSupportedException">
    /// <see cref="Rnn"/> throws, or the layer computes something a FastLstm head does not (e.g. it reads both directions'
    /// final states, or an embedding comes before the stack); the message says which.
    /// </exception>
    public DenseHead<float>? Head => _head.Value.Error is { } error ? throw new NotSupportedException(error) : _head.Value.Head;

    internal CompiledGraph Graph { get; }

    /// <summary>Reads and checks an ONNX file; external tensor data is read from the file's folder only.</summary>
    /// <exception cref="InvalidDataException">The file is not a valid ONNX model.</exception>
    /// <exception cref="NotSupportedException">The model uses something FastLstm does not run exactly.</exception>
    public static OnnxModel Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var stream = FastLstm.Training.SafeFile.OpenRead(path);
        try
        {
            return Load(stream, Path.GetDirectoryName(Path.GetFullPath(path)));
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
        catch (NotSupportedException e)
        {
            throw new NotSupportedException($"{path}: {e.Message}", e);
        }
    }

    /// <summary>Reads and checks an ONNX model from a stream (external tensor data is refused: there is no folder).</summary>
    public static OnnxModel Load(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        return Load(stream, null);
    }

    private static OnnxModel Load(Stream stream, string? folder)
    {
        byte[] bytes = ReadAll(stream);
        ModelProto proto;
        try
        {
            proto = ModelProto.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new InvalidDataException($"not an ONNX model: {e.Message}", e);
        }

        return new OnnxModel(proto, folder);
    }

    private static byte[] ReadAll(Stream stream)
    {
        if (stream.CanSeek && stream.Length - stream.Position > MaxFileBytes)
        {
            throw new InvalidDataException($"the file has {stream.Length} bytes; at most {MaxFileBytes} are read.");
        }

        using var copy = new MemoryStream();
        var buffer = new byte[1 << 16];
        int n;
        while ((n = stream.Read(buffer)) > 0)
        {
            if (copy.Length + n > MaxFileBytes)
            {
                throw new InvalidDataException($"the stream holds more than {MaxFileBytes} bytes.");
            }

            copy.Write(buffer, 0, n);
        }

        return copy.ToArray();
    }

    /// <summary>
    /// A session that runs the graph for up to <paramref name="maxBatch"/> sequences of up to <paramref name="maxSteps"/>
    /// steps, its recurrent nodes storing their weights as <paramref name="weights"/>.
    /// </summary>
    public OnnxSession CreateSession(int maxBatch, int maxSteps, int threads = 1, WeightFormat weights = WeightFormat.Full) =>
        new(this, maxBatch, maxSteps, threads, weights);

    private (RnnModel<float>?, string?) BuildStack()
    {
        var recurrent = Graph.Ops.OfType<RecurrentOp>().ToList();
        if (recurrent.Count == 0)
        {
            return (null, "the graph has no LSTM, GRU or RNN node.");
        }

        var first = recurrent[0];
        foreach (var op in recurrent)
        {
            if (op.Model == null)
            {
                return (null, $"{op.Label}: W, R or B is not a constant (e.g. a graph input), so there is no fixed model.");
            }

            if (op.ReverseOnly)
            {
                return (null, $"{op.Label}: direction = reverse has no RnnSpec (FastLstm layers run forwards or both ways).");
            }

            if (op.Shape != first.Shape)
            {
                return (null, $"{op.Label}: differs from {first.Label} in cell, options, hidden size or directions; they are not one stack.");
            }
        }

        var producers = new Dictionary<string, Op>(StringComparer.Ordinal);
        foreach (var op in Graph.Ops)
        {
            foreach (string o in op.Outputs)
            {
                producers[o] = op;
            }
        }

        for (int k = 1; k < recurrent.Count; k++)
        {
            if (!Reads(recurrent[k].Inputs[0], recurrent[k - 1], producers) || recurrent[k].Model!.Spec.InputSize != first.Directions * first.Hidden)
            {
                return (null, $"{recurrent[k].Label} does not read {recurrent[k - 1].Label}'s output; the recurrent nodes are not one stack.");
            }
        }

        var spec = first.Shape with { InputSize = first.Model!.Spec.InputSize, Layers = recurrent.Count };
        var model = new RnnModel<float>(spec);
        for (int k = 0; k < recurrent.Count; k++)
        {
            var layer = recurrent[k].Model!;
            foreach (string name in layer.ParameterNames)
            {
                // Layer 0 of the node's own model is layer k of the stack: same names but for the layer number.
                string stacked = name.Replace("_l0", $"_l{k}", StringComparison.Ordinal);
                layer.Parameter(name).CopyTo(model.Parameter(stacked));
                if (layer.QuantizationGrid(name) is { } grid)
                {
                    model.SetQuantizationGrid(stacked, grid);
                }
            }
        }

        return (model, null);
    }

    private (DenseHead<float>?, string?) ReadHead()
    {
        try
        {
            return (HeadReader.Read(this, Rnn), null);
        }
        catch (NotSupportedException e)
        {
            return (null, e.Message);
        }
    }

    /// <summary>Whether <paramref name="name"/> is <paramref name="source"/>'s Y reshaped by data-moving ops only.</summary>
    private static bool Reads(string name, Op source, Dictionary<string, Op> producers)
    {
        for (int hops = 0; hops < 16; hops++)
        {
            if (!producers.TryGetValue(name, out var op))
            {
                return false;
            }

            if (op == source)
            {
                return op.Outputs[0] == name;
            }

            if (op.OpType is not ("Transpose" or "Reshape" or "Squeeze" or "Unsqueeze" or "Identity" or "Flatten"))
            {
                return false;
            }

            name = op.Inputs[0];
        }

        return false;
    }
}
