using Google.Protobuf;

namespace FastLstm.Bench;

/// <summary>
/// Builds a one-node ONNX model (LSTM, GRU or RNN operator, opset 14, time-major layout 0: ONNX Runtime's CPU kernels
/// do not take batch-first) from a FastLstm model,
/// its weights as initializers so ONNX Runtime can prepack them. Only the few onnx.proto messages needed are
/// encoded, field by field, with Google.Protobuf's <see cref="CodedOutputStream"/>.
/// </summary>
public static class OnnxModel
{
    private const int FloatType = 1;

    /// <summary>
    /// Inputs X [T, B, I] and initial_h (and initial_c) [1, B, H]; outputs Y [T, 1, B, H], Y_h (and Y_c) [1, B, H].
    /// Unidirectional, one layer.
    /// </summary>
    public static byte[] Build(RnnModel<float> model, int batch, int steps)
    {
        var spec = model.Spec;
        if (spec.Layers != 1 || spec.Bidirectional)
        {
            throw new ArgumentException("one unidirectional layer only", nameof(model));
        }

        int h = spec.HiddenSize, i = spec.InputSize;
        // ONNX gate orders: LSTM i, o, f, c (PyTorch i, f, g, o); GRU z, r, h (PyTorch r, z, n); RNN one gate.
        int[] order = spec.Cell switch
        {
            CellType.Lstm => [0, 3, 1, 2],
            CellType.Gru => [1, 0, 2],
            CellType.RnnTanh => [0],
            _ => throw new ArgumentException($"ONNX has no {spec.Cell} operator", nameof(model)),
        };
        string op = spec.Cell switch { CellType.Lstm => "LSTM", CellType.Gru => "GRU", _ => "RNN" };
        var w = Reorder(model.Parameter("weight_ih_l0"), order, h * i);
        var r = Reorder(model.Parameter("weight_hh_l0"), order, h * h);
        var b = Reorder(model.Parameter("bias_ih_l0"), order, h).Concat(Reorder(model.Parameter("bias_hh_l0"), order, h)).ToArray();
        bool lstm = spec.Cell == CellType.Lstm;

        var node = Message(m =>
        {
            foreach (var input in new[] { "X", "W", "R", "B", "", "initial_h" }.Concat(lstm ? ["initial_c"] : []))
            {
                m.WriteTag(1, WireFormat.WireType.LengthDelimited);
                m.WriteString(input);
            }

            foreach (var output in new[] { "Y", "Y_h" }.Concat(lstm ? ["Y_c"] : []))
            {
                m.WriteTag(2, WireFormat.WireType.LengthDelimited);
                m.WriteString(output);
            }

            m.WriteTag(4, WireFormat.WireType.LengthDelimited);
            m.WriteString(op);
            Field(m, 5, IntAttribute("hidden_size", h));
            if (spec.Cell == CellType.Gru)
            {
                Field(m, 5, IntAttribute("linear_before_reset", 1));
            }
        });
        var graph = Message(m =>
        {
            Field(m, 1, node);
            m.WriteTag(2, WireFormat.WireType.LengthDelimited);
            m.WriteString("fastlstm");
            Field(m, 5, Tensor("W", [1, order.Length * h, i], w));
            Field(m, 5, Tensor("R", [1, order.Length * h, h], r));
            Field(m, 5, Tensor("B", [1, 2 * order.Length * h], b));
            Field(m, 11, ValueInfo("X", [steps, batch, i]));
            Field(m, 11, ValueInfo("initial_h", [1, batch, h]));
            if (lstm)
            {
                Field(m, 11, ValueInfo("initial_c", [1, batch, h]));
            }

            Field(m, 12, ValueInfo("Y", [steps, 1, batch, h]));
            Field(m, 12, ValueInfo("Y_h", [1, batch, h]));
            if (lstm)
            {
                Field(m, 12, ValueInfo("Y_c", [1, batch, h]));
            }
        });
        return Message(m =>
        {
            m.WriteTag(1, WireFormat.WireType.Varint);
            m.WriteInt64(8);
            m.WriteTag(2, WireFormat.WireType.LengthDelimited);
            m.WriteString("FastLstm.Bench");
            Field(m, 7, graph);
            Field(m, 8, Message(o =>
            {
                o.WriteTag(2, WireFormat.WireType.Varint);
                o.WriteInt64(14);
            }));
        });
    }

    private static float[] Reorder(ReadOnlySpan<float> pytorch, int[] order, int block)
    {
        var result = new float[pytorch.Length];
        for (int g = 0; g < order.Length; g++)
        {
            pytorch.Slice(order[g] * block, block).CopyTo(result.AsSpan(g * block));
        }

        return result;
    }

    private static byte[] IntAttribute(string name, long value) => Message(m =>
    {
        m.WriteTag(1, WireFormat.WireType.LengthDelimited);
        m.WriteString(name);
        m.WriteTag(3, WireFormat.WireType.Varint);
        m.WriteInt64(value);
        m.WriteTag(20, WireFormat.WireType.Varint);
        m.WriteEnum(2);
    });

    private static byte[] Tensor(string name, long[] dims, float[] data) => Message(m =>
    {
        foreach (long d in dims)
        {
            m.WriteTag(1, WireFormat.WireType.Varint);
            m.WriteInt64(d);
        }

        m.WriteTag(2, WireFormat.WireType.Varint);
        m.WriteInt32(FloatType);
        m.WriteTag(8, WireFormat.WireType.LengthDelimited);
        m.WriteString(name);
        var raw = new byte[data.Length * sizeof(float)];
        Buffer.BlockCopy(data, 0, raw, 0, raw.Length);
        m.WriteTag(9, WireFormat.WireType.LengthDelimited);
        m.WriteBytes(ByteString.CopyFrom(raw));
    });

    private static byte[] ValueInfo(string name, long[] dims) => Message(m =>
    {
        m.WriteTag(1, WireFormat.WireType.LengthDelimited);
        m.WriteString(name);
        Field(m, 2, Message(type => Field(type, 1, Message(tensor =>
        {
            tensor.WriteTag(1, WireFormat.WireType.Varint);
            tensor.WriteInt32(FloatType);
            Field(tensor, 2, Message(shape =>
            {
                foreach (long d in dims)
                {
                    Field(shape, 1, Message(dim =>
                    {
                        dim.WriteTag(1, WireFormat.WireType.Varint);
                        dim.WriteInt64(d);
                    }));
                }
            }));
        }))));
    });

    private static void Field(CodedOutputStream m, int number, byte[] message)
    {
        m.WriteTag(number, WireFormat.WireType.LengthDelimited);
        m.WriteBytes(ByteString.CopyFrom(message));
    }

    private static byte[] Message(Action<CodedOutputStream> write)
    {
        using var ms = new MemoryStream();
        using (var cos = new CodedOutputStream(ms, leaveOpen: true))
        {
            write(cos);
        }

        return ms.ToArray();
    }
}
