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
    private const int Int8Type = 3;

    /// <summary>
    /// Inputs X [T, B, I] and initial_h (and initial_c) [1, B, H]; outputs Y [T, 1, B, H], Y_h (and Y_c) [1, B, H].
    /// Unidirectional, one layer. <paramref name="int8"/> (LSTM only): what ONNX Runtime's <c>quantize_dynamic</c> makes of
    /// it with per-channel weights — a com.microsoft <c>DynamicQuantizeLSTM</c> node, W and R as int8 [1, K, 4H], one
    /// symmetric scale per output channel, zero points 0.
    /// </summary>
    public static byte[] Build(RnnModel<float> model, int batch, int steps, bool int8 = false)
    {
        var spec = model.Spec;
        if (spec.Layers != 1 || spec.Bidirectional || (int8 && spec.Cell != CellType.Lstm))
        {
            throw new ArgumentException("one unidirectional layer only (int8: an LSTM)", nameof(model));
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

        string[] inputs = ["X", "W", "R", "B", "", "initial_h", .. lstm ? ["initial_c"] : Array.Empty<string>(),
            .. int8 ? ["", "W_scale", "W_zero_point", "R_scale", "R_zero_point"] : Array.Empty<string>()];
        var node = Message(m =>
        {
            foreach (var input in inputs)
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
            m.WriteString(int8 ? "DynamicQuantizeLSTM" : op);
            Field(m, 5, IntAttribute("hidden_size", h));
            if (int8)
            {
                m.WriteTag(7, WireFormat.WireType.LengthDelimited);
                m.WriteString("com.microsoft");
            }
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
            if (int8)
            {
                var (wq, ws) = Quantize(w, order.Length * h, i);
                var (rq, rs) = Quantize(r, order.Length * h, h);
                Field(m, 5, Int8Tensor("W", [1, i, order.Length * h], wq));
                Field(m, 5, Int8Tensor("R", [1, h, order.Length * h], rq));
                Field(m, 5, Tensor("W_scale", [1, order.Length * h], ws));
                Field(m, 5, Int8Tensor("W_zero_point", [1, order.Length * h], new sbyte[order.Length * h]));
                Field(m, 5, Tensor("R_scale", [1, order.Length * h], rs));
                Field(m, 5, Int8Tensor("R_zero_point", [1, order.Length * h], new sbyte[order.Length * h]));
            }
            else
            {
                Field(m, 5, Tensor("W", [1, order.Length * h, i], w));
                Field(m, 5, Tensor("R", [1, order.Length * h, h], r));
            }

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
            if (int8)
            {
                Field(m, 8, Message(o =>
                {
                    o.WriteTag(1, WireFormat.WireType.LengthDelimited);
                    o.WriteString("com.microsoft");
                    o.WriteTag(2, WireFormat.WireType.Varint);
                    o.WriteInt64(1);
                }));
            }
        });
    }

    /// <summary>
    /// W [rows, cols] as int8 transposed to [cols, rows], one symmetric scale per row — in 7 bits (what
    /// <c>quantize_dynamic</c>'s reduce_range does) on a CPU without VNNI, where ONNX Runtime's u8 × s8 pair products
    /// saturate 16 bits with full-range weights.
    /// </summary>
    private static (sbyte[] Values, float[] Scales) Quantize(float[] w, int rows, int cols)
    {
        float top = HasVnni ? 127 : 63;
        var q = new sbyte[rows * cols];
        var scales = new float[rows];
        for (int n = 0; n < rows; n++)
        {
            var row = w.AsSpan(n * cols, cols);
            float max = 0;
            foreach (float v in row)
            {
                max = Math.Max(max, Math.Abs(v));
            }

            scales[n] = max / top;
            for (int k = 0; k < cols; k++)
            {
                q[(k * rows) + n] = scales[n] == 0 ? (sbyte)0 : (sbyte)Math.Clamp(MathF.Round(row[k] / scales[n]), -top, top);
            }
        }

        return (q, scales);
    }

    /// <summary>AVX-VNNI, or AVX512-VNNI (CPUID leaf 7, ECX bit 11), which this .NET does not report.</summary>
    public static bool HasVnni =>
        System.Runtime.Intrinsics.X86.AvxVnni.IsSupported
        || (System.Runtime.Intrinsics.X86.X86Base.IsSupported && (System.Runtime.Intrinsics.X86.X86Base.CpuId(7, 0).Ecx & (1 << 11)) != 0);

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

    private static byte[] Tensor(string name, long[] dims, float[] data)
    {
        var raw = new byte[data.Length * sizeof(float)];
        Buffer.BlockCopy(data, 0, raw, 0, raw.Length);
        return Tensor(name, dims, FloatType, raw);
    }

    private static byte[] Int8Tensor(string name, long[] dims, sbyte[] data) => Tensor(name, dims, Int8Type, (byte[])(Array)data);

    private static byte[] Tensor(string name, long[] dims, int type, byte[] raw) => Message(m =>
    {
        foreach (long d in dims)
        {
            m.WriteTag(1, WireFormat.WireType.Varint);
            m.WriteInt64(d);
        }

        m.WriteTag(2, WireFormat.WireType.Varint);
        m.WriteInt32(type);
        m.WriteTag(8, WireFormat.WireType.LengthDelimited);
        m.WriteString(name);
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
