using FastLstm.Onnx;
using FastLstm.Onnx.Proto;
using Google.Protobuf;
using DataType = FastLstm.Onnx.Proto.TensorProto.Types.DataType;

namespace FastLstm.Tests.Onnx;

/// <summary>
/// com.microsoft's DynamicQuantizeLSTM (what ONNX Runtime's quantize_dynamic makes of an LSTM) imports as the LSTM of
/// its dequantized weights: per-channel int8 and per-tensor uint8 with a zero point, forward and bidirectional.
/// </summary>
public sealed class QuantizedLstmImportTests
{
    private const int Input = 5, Hidden = 8, Steps = 4, Batch = 2;

    [Theory]
    [InlineData(true, false)]
    [InlineData(false, false)]
    [InlineData(true, true)]
    public void RunsAsTheLstmOfItsDequantizedWeights(bool perChannel, bool bidirectional)
    {
        int dirs = bidirectional ? 2 : 1, g = 4 * Hidden;
        var rng = new Random(perChannel ? 3 : 4);
        // Weights within ±63 (uint8: 128 ± 63), so ONNX Runtime's u8 × s8 products stay exact without VNNI.
        int[] wq = Draw(rng, dirs * Input * g, perChannel), rq = Draw(rng, dirs * Hidden * g, perChannel);
        int scales = perChannel ? dirs * g : dirs;
        var ws = Enumerable.Range(0, scales).Select(_ => 0.002f + (0.01f * rng.NextSingle())).ToArray();
        var rs = Enumerable.Range(0, scales).Select(_ => 0.002f + (0.01f * rng.NextSingle())).ToArray();
        int zero = perChannel ? 0 : 128;
        var b = TestData.Uniform<float>(rng, dirs * 2 * g, 0.5);
        var x = TestData.Uniform<float>(rng, Steps * Batch * Input);

        var quantized = Model(bidirectional, perChannel, quantized: true, wq, rq, ws, rs, zero, b);
        var dequantized = Model(bidirectional, perChannel, quantized: false, wq, rq, ws, rs, zero, b);
        var inputs = new Dictionary<string, OnnxTensor> { ["X"] = new(x, [Steps, Batch, Input]) };
        var ours = Run(quantized, inputs);
        Assert.Equal(Run(dequantized, inputs), ours);

        string path = Path.Combine(Path.GetTempPath(), $"fastlstm-dqlstm-{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(path, quantized);
        try
        {
            // ONNX Runtime rounds its activations to 8 bits: close, not equal.
            var ort = OnnxFixtureTests.RunOnnxRuntime(path, inputs)["Y"];
            OnnxFixtureTests.AssertClose(ort, ours, "DynamicQuantizeLSTM against ONNX Runtime", 3e-2);
            var inspect = Cli.CliRunner.Run("inspect", path);
            Assert.Equal(0, inspect.Exit);
            Assert.Contains("weights: 8-bit integers in the file (DynamicQuantizeLSTM)", inspect.Out, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>
    /// 8-bit weights run as int8 on the file's own values — per channel or per tensor, full range or 7-bit
    /// (<c>reduce_range</c>), int8 or uint8 around a zero point of 128: each row is packed on the file's grid, so the
    /// packed integers times their scales are the file's weights exactly (a grid of the session's own, largest weight ÷
    /// 127, fails that for 3 of the 5 kinds), and Int8 runs are Full up to the 7-bit rounding of the activations.
    /// </summary>
    [Theory]
    [InlineData(true, true, false)]
    [InlineData(true, false, false)]
    [InlineData(false, false, false)]
    [InlineData(false, true, false)]
    [InlineData(true, false, true)]
    public void EightBitWeightsRunAsInt8OnTheFilesValues(bool perChannel, bool fullRange, bool unsigned)
    {
        int g = 4 * Hidden;
        var rng = new Random(5);
        int[] Levels(int k)
        {
            int top = fullRange ? 127 : 63;
            var q = Enumerable.Range(0, k * g).Select(_ => rng.Next(-top, top + 1)).ToArray();
            for (int n = 0; n < g; n++)
            {
                q[(rng.Next(k) * g) + n] = rng.Next(2) == 0 ? -top : top;
            }

            return unsigned ? q.Select(v => v + 128).ToArray() : q;
        }

        int scales = perChannel ? g : 1;
        var ws = Enumerable.Range(0, scales).Select(_ => 0.001f + (0.005f * rng.NextSingle())).ToArray();
        var rs = Enumerable.Range(0, scales).Select(_ => 0.001f + (0.005f * rng.NextSingle())).ToArray();
        var bytes = Model(false, perChannel, quantized: true, Levels(Input), Levels(Hidden), ws, rs, unsigned ? 128 : 0, TestData.Uniform<float>(rng, 2 * g, 0.5), unsigned: unsigned);
        var inputs = new Dictionary<string, OnnxTensor> { ["X"] = new(TestData.Uniform<float>(rng, Steps * Batch * Input), [Steps, Batch, Input]) };
        var model = OnnxModel.Load(new MemoryStream(bytes));
        float[] Run(WeightFormat format)
        {
            using var session = model.CreateSession(Batch, Steps, weights: format);
            return session.Run(inputs)["Y"].Floats;
        }

        float[] full = Run(WeightFormat.Full), int8 = Run(WeightFormat.Int8);
        double scale = full.Max(v => Math.Abs((double)v)), diff = full.Zip(int8, (a, b) => Math.Abs((double)a - b)).Max();
        Assert.True(diff <= 3e-2 * scale, $"int8 moved the outputs by {diff:E2} (scale {scale:E2})");
        foreach (string name in new[] { "weight_ih_l0", "weight_hh_l0" })
        {
            var w = model.Rnn.Parameter(name).ToArray();
            Assert.Equal(w, PackedInt8(w, w.Length / g, g, model.Rnn.QuantizationGrid(name)));
        }

        // The stack read back as one model (forecast, text generate, convert) keeps the grids: W's rows in PyTorch gate order.
        var grid = model.Rnn.QuantizationGrid("weight_ih_l0");
        Assert.NotNull(grid);
        Assert.Equal(perChannel ? ws.Order() : Enumerable.Repeat(ws[0], g), grid.Order());

        // A FastLstm model file with int8 weights stores the file's own integers and steps: it reads back to the same values and grids.
        var saved = FastLstm.Training.ModelFile.Deserialize<float>(FastLstm.Training.ModelFile.Serialize(new FastLstm.Training.SavedModel<float>(model.Rnn, null, new Dictionary<string, double[]>()), WeightFormat.Int8));
        Assert.Equal(model.Rnn.Parameters.ToArray(), saved.Network.Parameters.ToArray());
        foreach (string name in new[] { "weight_ih_l0", "weight_hh_l0" })
        {
            Assert.Equal(model.Rnn.QuantizationGrid(name), saved.Network.QuantizationGrid(name));
        }
    }

    /// <summary>
    /// The [rows, k] matrix <paramref name="w"/> as int8 packing stores it (rows as the GEMM's columns, the session's
    /// widest kernel), read back: each packed integer times its column's scale.
    /// </summary>
    private static unsafe float[] PackedInt8(float[] w, int k, int rows, float[]? grid)
    {
        var gemm = FastLstm.Kernels.Gemm<float>.For(Isa.Widest);
        var data = new byte[gemm.PackedBytes(k, rows, WeightFormat.Int8)];
        var scales = new float[gemm.Panels(rows) * gemm.NR];
        var back = new float[w.Length];
        int nr = gemm.NR;
        fixed (byte* pd = data)
        fixed (float* ps = scales)
        {
            var packed = new FastLstm.Kernels.PackedB<float>(pd, ps, k, nr, WeightFormat.Int8);
            gemm.PackB(packed, w, k, Enumerable.Range(0, k).ToArray(), Enumerable.Range(0, rows).ToArray(), transposed: true, grid);
            long panel = (long)FastLstm.Kernels.PackedB<float>.RowsOf(k, WeightFormat.Int8) * nr * 4;
            for (int r = 0; r < rows; r++)
            {
                for (int p = 0; p < k; p++)
                {
                    long at = ((r / nr) * panel) + (FastLstm.Kernels.Int8Panel<float>.Row(p) * 4 * nr) + (4 * (r % nr)) + (p % 4);
                    back[(r * k) + p] = (sbyte)data[at] * scales[r];
                }
            }
        }

        return back;
    }

    [Fact]
    public void ParametersGivenAsGraphInputsAreRefused()
    {
        var bytes = Model(false, true, quantized: true, new int[4 * Hidden * Input], new int[4 * Hidden * Hidden], new float[4 * Hidden], new float[4 * Hidden], 0, new float[8 * Hidden], biasAsInput: true);
        var e = Assert.ThrowsAny<Exception>(() => OnnxModel.Load(new MemoryStream(bytes)).CreateSession(1, 1));
        Assert.Contains("constant initializer", e.Message, StringComparison.Ordinal);
    }

    private static int[] Draw(Random rng, int n, bool signed) => Enumerable.Range(0, n).Select(_ => rng.Next(-63, 64) + (signed ? 0 : 128)).ToArray();

    private static float[] Run(byte[] model, Dictionary<string, OnnxTensor> inputs)
    {
        using var session = OnnxModel.Load(new MemoryStream(model)).CreateSession(Batch, Steps);
        return session.Run(inputs)["Y"].Floats;
    }

    /// <summary>A one-node graph: DynamicQuantizeLSTM, or the LSTM of the same weights dequantized here.</summary>
    private static byte[] Model(bool bidirectional, bool perChannel, bool quantized, int[] wq, int[] rq, float[] ws, float[] rs, int zero, float[] b, bool biasAsInput = false, bool? unsigned = null)
    {
        int dirs = bidirectional ? 2 : 1, g = 4 * Hidden;
        var graph = new GraphProto { Name = "g" };
        var node = new NodeProto { OpType = quantized ? "DynamicQuantizeLSTM" : "LSTM", Domain = quantized ? "com.microsoft" : "" };
        node.Input.AddRange(quantized ? ["X", "W", "R", "B", "", "", "", "", "W_scale", "W_zero_point", "R_scale", "R_zero_point"] : ["X", "W", "R", "B"]);
        node.Output.Add("Y");
        node.Attribute.Add(new AttributeProto { Name = "hidden_size", Type = AttributeProto.Types.AttributeType.Int, I = Hidden });
        if (bidirectional)
        {
            node.Attribute.Add(new AttributeProto { Name = "direction", Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8("bidirectional") });
        }

        graph.Node.Add(node);
        graph.Input.Add(Info("X", DataType.Float, Steps, Batch, Input));
        graph.Output.Add(Info("Y", DataType.Float, Steps, dirs, Batch, Hidden));
        if (quantized)
        {
            var type = unsigned ?? !perChannel ? DataType.Uint8 : DataType.Int8;
            long[] scaleDims = perChannel ? [dirs, g] : [dirs];
            var tensors = new[]
            {
                Bytes("W", type, wq, dirs, Input, g), Bytes("R", type, rq, dirs, Hidden, g),
                Floats("W_scale", ws, scaleDims), Bytes("W_zero_point", type, Enumerable.Repeat(zero, ws.Length).ToArray(), scaleDims),
                Floats("R_scale", rs, scaleDims), Bytes("R_zero_point", type, Enumerable.Repeat(zero, rs.Length).ToArray(), scaleDims),
            };
            graph.Initializer.AddRange(tensors);
        }
        else
        {
            graph.Initializer.Add(Floats("W", Dequantize(wq, ws, zero, dirs, Input, g, perChannel), dirs, g, Input));
            graph.Initializer.Add(Floats("R", Dequantize(rq, rs, zero, dirs, Hidden, g, perChannel), dirs, g, Hidden));
        }

        if (biasAsInput)
        {
            graph.Input.Add(Info("B", DataType.Float, dirs, 2 * g));
        }
        else
        {
            graph.Initializer.Add(Floats("B", b, dirs, 2 * g));
        }
        var model = new ModelProto { IrVersion = 8, Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Version = 14 });
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "com.microsoft", Version = 1 });
        return model.ToByteArray();
    }

    /// <summary>[dirs, K, 4H] integers to the float [dirs, 4H, K] they stand for.</summary>
    private static float[] Dequantize(int[] q, float[] scale, int zero, int dirs, int k, int g, bool perChannel)
    {
        var w = new float[q.Length];
        for (int d = 0; d < dirs; d++)
        {
            for (int n = 0; n < g; n++)
            {
                for (int i = 0; i < k; i++)
                {
                    w[(((d * g) + n) * k) + i] = (q[(((d * k) + i) * g) + n] - zero) * scale[perChannel ? (d * g) + n : d];
                }
            }
        }

        return w;
    }

    private static TensorProto Floats(string name, float[] data, params long[] dims)
    {
        var t = new TensorProto { Name = name, DataType = (int)DataType.Float };
        t.Dims.AddRange(dims);
        t.FloatData.AddRange(data);
        return t;
    }

    private static TensorProto Bytes(string name, DataType type, int[] data, params long[] dims)
    {
        var t = new TensorProto { Name = name, DataType = (int)type };
        t.Dims.AddRange(dims);
        t.RawData = ByteString.CopyFrom(data.Select(v => (byte)v).ToArray());
        return t;
    }

    private static ValueInfoProto Info(string name, DataType type, params long[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (long d in dims)
        {
            shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        }

        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } } };
    }
}
