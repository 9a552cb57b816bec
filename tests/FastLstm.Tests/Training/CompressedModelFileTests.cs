using System.Buffers.Binary;
using FastLstm.Training;

namespace FastLstm.Tests.Training;

/// <summary>
/// Model files whose weight matrices are stored as bfloat16 or int8 (version 5): smaller, holding exactly what a session
/// of that format packs, loading to the same outputs, and as strict as full-precision files about what they accept.
/// </summary>
public class CompressedModelFileTests
{
    private static readonly RnnSpec Spec = new(CellType.Lstm, 12, 40, 2);

    private static SavedModel<float> Sample() => ModelFileTests.Sample<float>(Spec);

    [Theory]
    [InlineData(WeightFormat.BFloat16)]
    [InlineData(WeightFormat.Int8)]
    public void WeightMatricesAreStoredRoundedAndTheRestExactly(WeightFormat format)
    {
        var saved = Sample();
        byte[] full = ModelFile.Serialize(saved);
        byte[] bytes = ModelFile.Serialize(saved, format);
        Assert.Equal(4u, BinaryPrimitives.ReadUInt32LittleEndian(full.AsSpan(8)));
        Assert.Equal(5u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8)));

        var layout = saved.Network.Layout;
        long matrices = layout.Tensors.Where(layout.IsPacked).Sum(t => (long)t.Length);
        long saving = format == WeightFormat.BFloat16 ? 2 * matrices : (3 * matrices) - layout.Tensors.Where(layout.IsPacked).Sum(t => 4L * t.Shape[0]);
        Assert.Equal(full.Length - saving, bytes.Length);

        var back = ModelFile.Deserialize<float>(bytes);
        Assert.Equal(format, back.Weights);
        Assert.Equal(WeightFormat.Full, ModelFile.Deserialize<float>(full).Weights);
        Assert.Equal(Spec, back.Network.Spec);
        Assert.Equal(saved.Head!.Parameters.ToArray(), back.Head!.Parameters.ToArray());
        Assert.Equal(saved.Metadata["vocabulary"], back.Metadata["vocabulary"]);
        foreach (var t in layout.Tensors)
        {
            var original = saved.Network.Parameter(t.Name).ToArray();
            var loaded = back.Network.Parameter(t.Name).ToArray();
            Assert.Equal(layout.IsPacked(t) ? Rounded(original, t.Shape[1], format) : original, loaded);
        }
    }

    /// <summary>The matrices stored compressed are the ones sessions pack: W_ih, W_hh and the seed LSTM's W_use; peepholes and biases stay floats.</summary>
    [Theory]
    [InlineData(CellType.SeedLstm, "weight_ih_l0 weight_hh_l0 weight_use_l0 weight_ih_l0_reverse weight_hh_l0_reverse weight_use_l0_reverse")]
    [InlineData(CellType.GruResetBefore, "weight_ih_l0 weight_hh_l0 weight_ih_l0_reverse weight_hh_l0_reverse")]
    [InlineData(CellType.Lstm, "weight_ih_l0 weight_hh_l0 weight_ih_l0_reverse weight_hh_l0_reverse")]
    public void TheStoredMatricesAreThePackedOnes(CellType cell, string names)
    {
        var spec = new RnnSpec(cell, 3, 4, 1, true) { LstmOptions = cell == CellType.Lstm ? new LstmOptions { Peepholes = true } : null };
        var layout = RnnModel<float>.CreateRandom(spec, 1).Layout;
        Assert.Equal(names.Split(' '), layout.Tensors.Where(layout.IsPacked).Select(t => t.Name));
    }

    /// <summary>
    /// An int8 file loads to the integers and steps it was saved with: an Int8 session of it is the saved model's own, bit
    /// for bit, and saving it again writes the same bytes.
    /// </summary>
    [Fact]
    public void AnInt8FileRunsExactlyTheSavedIntegers()
    {
        var saved = Sample();
        byte[] bytes = ModelFile.Serialize(saved, WeightFormat.Int8);
        var back = ModelFile.Deserialize<float>(bytes);
        Assert.Equal(bytes, ModelFile.Serialize(back, WeightFormat.Int8));

        const int batch = 2, steps = 5;
        var x = TestData.Uniform<float>(new Random(3), batch * steps * Spec.InputSize);
        float[] Run(RnnModel<float> model, WeightFormat weights)
        {
            using var session = new InferenceSession<float>(model, batch, steps, weights: weights);
            var y = new float[batch * steps * Spec.HiddenSize];
            session.Forward(x, batch, steps, y);
            return y;
        }

        Assert.Equal(Run(saved.Network, WeightFormat.Int8), Run(back.Network, WeightFormat.Int8));

        // A model read from coarser integers (an ONNX DynamicQuantizeLSTM: 7-bit weights, its own steps) keeps them
        // through a file: its largest integers are near 64, so steps of the file's own rows would give other integers.
        var coarse = Sample();
        var layout = coarse.Network.Layout;
        foreach (var t in layout.Tensors.Where(layout.IsPacked))
        {
            var w = coarse.Network.Parameter(t.Name).ToArray();
            int cols = t.Shape[1];
            coarse.Network.SetQuantizationGrid(t.Name, Enumerable.Range(0, t.Shape[0]).Select(r => 2 * w.AsSpan(r * cols, cols).ToArray().Max(Math.Abs) / 127f).ToArray());
        }

        var coarseBack = ModelFile.Deserialize<float>(ModelFile.Serialize(coarse, WeightFormat.Int8));
        Assert.Equal(Run(coarse.Network, WeightFormat.Int8), Run(coarseBack.Network, WeightFormat.Int8));
        var bf16 = ModelFile.Deserialize<float>(ModelFile.Serialize(saved, WeightFormat.BFloat16));
        Assert.Equal(Run(saved.Network, WeightFormat.BFloat16), Run(bf16.Network, WeightFormat.BFloat16));
        Assert.Equal(Run(bf16.Network, WeightFormat.BFloat16), Run(bf16.Network, WeightFormat.Full));
    }

    [Fact]
    public void WhatCannotBeStoredIsRefusedOnSave()
    {
        var model = ModelFileTests.Sample<double>(Spec);
        Assert.Equal("weights", Assert.Throws<ArgumentException>(() => ModelFile.Serialize(model, WeightFormat.Int8)).ParamName);
        Assert.Equal("weights", Assert.Throws<ArgumentOutOfRangeException>(() => ModelFile.Serialize(Sample(), (WeightFormat)9)).ParamName);

        var saved = Sample();
        saved.Network.Parameter("weight_hh_l1")[45] = float.PositiveInfinity;
        var e = Assert.Throws<ArgumentException>(() => ModelFile.Serialize(saved, WeightFormat.Int8));
        Assert.Equal("model", e.ParamName);
        Assert.Contains("weight_hh_l1 row 1", e.Message, StringComparison.Ordinal);
        Assert.True(float.IsPositiveInfinity(ModelFile.Deserialize<float>(ModelFile.Serialize(saved, WeightFormat.BFloat16)).Network.Parameter("weight_hh_l1")[45]));
    }

    [Fact]
    public void BadIntegersStepsAndStorageCodesAreRejected()
    {
        byte[] bytes = ModelFile.Serialize(Sample(), WeightFormat.Int8);
        var layout = Sample().Network.Layout;
        var first = layout.Tensors[0];
        int body = BodyStart(bytes);
        var minus128 = (byte[])bytes.Clone();
        minus128[body + (4 * first.Shape[0]) + 7] = 0x80;
        ModelFileTests.Reseal(minus128);
        Assert.Contains("int8 value -128", Assert.Throws<InvalidDataException>(() => ModelFile.Deserialize<float>(minus128)).Message, StringComparison.Ordinal);

        var nanStep = (byte[])bytes.Clone();
        BinaryPrimitives.WriteSingleLittleEndian(nanStep.AsSpan(body + 8), float.NaN);
        ModelFileTests.Reseal(nanStep);
        Assert.Contains("weight_ih_l0 row 2: int8 step NaN", Assert.Throws<InvalidDataException>(() => ModelFile.Deserialize<float>(nanStep)).Message, StringComparison.Ordinal);

        // A version-4 file cannot claim compressed storage, and a storage code must be one of the four.
        var v4 = (byte[])bytes.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(v4.AsSpan(8), 4);
        ModelFileTests.Reseal(v4);
        Assert.Contains("storage 1", Assert.Throws<InvalidDataException>(() => ModelFile.Deserialize<float>(v4)).Message, StringComparison.Ordinal);
        var three = (byte[])bytes.Clone();
        three[12] = 3;
        ModelFileTests.Reseal(three);
        Assert.Contains("storage 3", Assert.Throws<InvalidDataException>(() => ModelFile.Deserialize<float>(three)).Message, StringComparison.Ordinal);

        // bfloat16 and int8 sizes differ: a file relabelled from one to the other does not account for its length.
        var relabelled = (byte[])bytes.Clone();
        relabelled[12] = 2;
        ModelFileTests.Reseal(relabelled);
        Assert.Contains("the parameters need", Assert.Throws<InvalidDataException>(() => ModelFile.Deserialize<float>(relabelled)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ADoubleModelReadsACompressedFileToTheSameValues()
    {
        byte[] bytes = ModelFile.Serialize(Sample(), WeightFormat.Int8);
        var f = ModelFile.Deserialize<float>(bytes);
        var d = ModelFile.Deserialize<double>(bytes);
        Assert.Equal(WeightFormat.Int8, d.Weights);
        Assert.Equal(f.Network.Parameters.ToArray().Select(v => (double)v), d.Network.Parameters.ToArray());
    }

    /// <summary>Where the parameters start: after the header and the metadata entries (name length, name, count, values).</summary>
    private static int BodyStart(byte[] bytes)
    {
        int entries = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(36)), at = 56;
        for (int e = 0; e < entries; e++)
        {
            at += 1 + bytes[at];
            at += 4 + (8 * BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(at)));
        }

        return at;
    }

    /// <summary>The values a weight matrix [rows, cols] holds after storage, computed here independently of the writer.</summary>
    private static float[] Rounded(float[] w, int cols, WeightFormat format)
    {
        var r = new float[w.Length];
        for (int row = 0; row < w.Length / cols; row++)
        {
            var values = w.AsSpan(row * cols, cols);
            float step = values.ToArray().Max(Math.Abs) / 127f;
            for (int j = 0; j < cols; j++)
            {
                float v = values[j];
                r[(row * cols) + j] = format == WeightFormat.Int8
                    ? (float)Math.Round(v / step, MidpointRounding.ToEven) * step
                    : BitConverter.UInt32BitsToSingle((BitConverter.SingleToUInt32Bits(v) + 0x7FFF + ((BitConverter.SingleToUInt32Bits(v) >> 16) & 1)) & 0xFFFF0000);
            }
        }

        return r;
    }
}
