using System.Buffers.Binary;
using System.IO.Hashing;
using FastLstm.Training;

namespace FastLstm.Tests.Training;

public class ModelFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fastlstm-model-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public static TheoryData<CellType, bool> Cells()
    {
        var data = new TheoryData<CellType, bool>();
        foreach (var cell in Enum.GetValues<CellType>())
        {
            data.Add(cell, cell is CellType.Gru or CellType.SeedLstm);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cells))]
    public void RoundTripsAreBitExact(CellType cell, bool bidirectional)
    {
        var spec = new RnnSpec(cell, 3, 5, 2, bidirectional);
        var model = Sample<double>(spec);
        string path = Path.Combine(_dir, "m.bin");
        ModelFile.Save(path, model);
        var back = ModelFile.Load<double>(path);
        Assert.Equal(spec, back.Network.Spec);
        Assert.True(model.Network.Parameters.SequenceEqual(back.Network.Parameters));
        Assert.True(model.Head!.Parameters.SequenceEqual(back.Head!.Parameters));
        Assert.Equal(model.Head.Activation, back.Head.Activation);
        Assert.Equal(model.Metadata.Keys.Order(), back.Metadata.Keys.Order());
        Assert.Equal(model.Metadata["scale"], back.Metadata["scale"]);

        var asFloat = ModelFile.Load<float>(path);
        Assert.Equal((float)model.Network.Parameters[7], asFloat.Network.Parameters[7]);
        ModelFile.Save(path, asFloat);
        Assert.True(asFloat.Network.Parameters.SequenceEqual(ModelFile.Load<float>(path).Network.Parameters));
    }

    [Fact]
    public void WithoutHeadOrMetadata()
    {
        var saved = new SavedModel<float>(RnnModel<float>.CreateRandom(new RnnSpec(CellType.Lstm, 2, 3), 1), null, new Dictionary<string, double[]>());
        string path = Path.Combine(_dir, "bare.bin");
        ModelFile.Save(path, saved);
        var back = ModelFile.Load<float>(path);
        Assert.Null(back.Head);
        Assert.Empty(back.Metadata);
    }

    [Fact]
    public void AFailedSaveKeepsThePreviousFile()
    {
        string path = Path.Combine(_dir, "keep.bin");
        var first = Sample<float>(new RnnSpec(CellType.Lstm, 2, 3));
        ModelFile.Save(path, first);
        byte[] before = File.ReadAllBytes(path);

        Assert.Throws<IOException>(() => SafeFile.Write(path, stream =>
        {
            stream.Write(new byte[100]);
            throw new IOException("disk full (simulated)");
        }));

        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal(["keep.bin"], Directory.GetFiles(_dir).Select(Path.GetFileName));
    }

    [Fact]
    public void AbsurdSizesWithAValidChecksumAreRejectedBeforeAllocating()
    {
        byte[] bytes = ModelFile.Serialize(Sample<float>(new RnnSpec(CellType.Lstm, 2, 3)));
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(40), 1L << 40); // network parameters: 2^40
        Reseal(bytes);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<InvalidDataException>(() => ModelFile.Deserialize<float>(bytes));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 64 * 1024, "rejected without allocating from the claimed size");
        Assert.Contains("1099511627776", e.Message, StringComparison.Ordinal);

        bytes = ModelFile.Serialize(Sample<float>(new RnnSpec(CellType.Lstm, 2, 3)));
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(20), 60000); // hidden size: plausible alone, not for this file
        Reseal(bytes);
        Assert.Throws<InvalidDataException>(() => ModelFile.Deserialize<float>(bytes));
    }

    [Fact]
    public void CellOptionsRoundTripAsNamedEntries()
    {
        var spec = new RnnSpec(CellType.Lstm, 2, 3, 2, true)
        {
            LstmOptions = new LstmOptions
            {
                Peepholes = true,
                CellClip = 2.5,
                CoupledInputForget = true,
                CellActivation = new RnnActivation(RnnActivationKind.HardSigmoid, 0.2, 0.5),
                OutputActivation = new RnnActivation(RnnActivationKind.ScaledTanh, 1.5, 0.75),
            },
        };
        var saved = Sample<double>(spec);
        byte[] bytes = ModelFile.Serialize(saved);
        Assert.Equal(4u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8)));
        var back = ModelFile.Deserialize<double>(bytes);
        Assert.Equal(spec, back.Network.Spec);
        Assert.Equal(saved.Network.Parameters.ToArray(), back.Network.Parameters.ToArray());
        Assert.Contains("weight_peephole_f_l1_reverse", back.Network.ParameterNames);

        foreach (var other in new RnnSpec[]
        {
            new(CellType.Gru, 2, 3) { GruOptions = new GruOptions { CellClip = 1, CandidateActivation = new RnnActivation(RnnActivationKind.Softsign) } },
            new(CellType.RnnRelu, 2, 3) { SimpleRnnOptions = new SimpleRnnOptions { CellClip = 0.5 } },
            new(CellType.RnnTanh, 2, 3) { SimpleRnnOptions = new SimpleRnnOptions { Activation = new RnnActivation(RnnActivationKind.Elu, 0.5) } },
        })
        {
            Assert.Equal(other, ModelFile.Deserialize<float>(ModelFile.Serialize(Sample<float>(other))).Network.Spec);
        }

        // The reverse direction's own options are entries of their own (cell.reverse.*); earlier versions' files are in
        // EveryEarlierVersionOnFileStillLoads.
        var perDirection = new RnnSpec(CellType.Lstm, 2, 3, 1, true)
        {
            LstmOptions = new LstmOptions { Peepholes = true },
            ReverseLstmOptions = new LstmOptions { Peepholes = true, GateActivation = new RnnActivation(RnnActivationKind.HardSigmoid, 0.3, 0.4) },
        };
        byte[] v4 = ModelFile.Serialize(Sample<float>(perDirection));
        Assert.Equal(perDirection, ModelFile.Deserialize<float>(v4).Network.Spec);
        Assert.DoesNotContain(ModelFile.Deserialize<float>(v4).Metadata.Keys, k => k.StartsWith("cell.", StringComparison.Ordinal));
        var reverseGru = new RnnSpec(CellType.GruResetBefore, 2, 3, 2, true) { ReverseGruOptions = new GruOptions { CellClip = 0.5 } };
        Assert.Equal(reverseGru, ModelFile.Deserialize<float>(ModelFile.Serialize(Sample<float>(reverseGru))).Network.Spec);
        v4[8 + 4 + 2] = 0; // bidirectional flag: a one-direction shape cannot hold these parameters (or reverse options)
        Reseal(v4);
        Assert.Contains("network parameters", Assert.Throws<InvalidDataException>(() => ModelFile.Deserialize<float>(v4)).Message, StringComparison.Ordinal);
        Assert.Contains("'cell.'", Assert.Throws<ArgumentException>(() => ModelFile.Serialize(new SavedModel<float>(RnnModel<float>.CreateRandom(perDirection, 1), null,
            new Dictionary<string, double[]> { ["cell.clip"] = [1] }))).Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// Files written by earlier versions of the format, kept as they were written (tests/fixtures/model-files): each loads
    /// to the spec, parameters, head and metadata it was saved with, whatever the current writer does.
    /// </summary>
    [Theory]
    [MemberData(nameof(EarlierFiles))]
    public void EveryEarlierVersionOnFileStillLoads(string file, uint version, RnnSpec spec)
    {
        string path = Path.Combine(RepositoryRoot.Path, "tests", "fixtures", "model-files", file + ".fastlstm");
        Assert.Equal(version, BinaryPrimitives.ReadUInt32LittleEndian(File.ReadAllBytes(path).AsSpan(8)));
        var loaded = ModelFile.Load<float>(path);
        var expected = Sample<float>(spec);
        Assert.Equal(spec, loaded.Network.Spec);
        Assert.Equal(expected.Network.Parameters.ToArray(), loaded.Network.Parameters.ToArray());
        Assert.Equal(expected.Head!.Parameters.ToArray(), loaded.Head!.Parameters.ToArray());
        Assert.Equal(expected.Metadata["vocabulary"], loaded.Metadata["vocabulary"]);
    }

    public static TheoryData<string, uint, RnnSpec> EarlierFiles() => new()
    {
        { "v1-gru", 1u, new RnnSpec(CellType.Gru, 2, 3) },
        { "v2-lstm-options", 2u, new RnnSpec(CellType.Lstm, 2, 3, 2, true) { LstmOptions = new LstmOptions { Peepholes = true, CellClip = 1.5, CoupledInputForget = true, GateActivation = new RnnActivation(RnnActivationKind.HardSigmoid, 0.3, 0.4), OutputActivation = new RnnActivation(RnnActivationKind.Softsign) } } },
        { "v2-gru-options", 2u, new RnnSpec(CellType.Gru, 2, 3) { GruOptions = new GruOptions { CellClip = 1, CandidateActivation = new RnnActivation(RnnActivationKind.Softsign) } } },
        { "v2-rnn-tanh-elu", 2u, new RnnSpec(CellType.RnnTanh, 2, 3) { SimpleRnnOptions = new SimpleRnnOptions { Activation = new RnnActivation(RnnActivationKind.Elu, 0.5) } } },
        { "v2-rnn-relu-clip", 2u, new RnnSpec(CellType.RnnRelu, 2, 3) { SimpleRnnOptions = new SimpleRnnOptions { CellClip = 0.5 } } },
        { "v2-seed-lstm", 2u, new RnnSpec(CellType.SeedLstm, 2, 3, 2) },
        { "v3-lstm-per-direction", 3u, new RnnSpec(CellType.Lstm, 2, 3, 1, true) { LstmOptions = new LstmOptions { Peepholes = true }, ReverseLstmOptions = new LstmOptions { Peepholes = true, GateActivation = new RnnActivation(RnnActivationKind.HardSigmoid, 0.3, 0.4) } } },
        { "v3-gru-reset-before-reverse", 3u, new RnnSpec(CellType.GruResetBefore, 2, 3, 2, true) { ReverseGruOptions = new GruOptions { CellClip = 0.5 } } },
    };

    [Fact]
    public void TruncatedCorruptAndForeignFilesAreRejected()
    {
        byte[] bytes = ModelFile.Serialize(Sample<float>(new RnnSpec(CellType.Gru, 2, 3)));
        Assert.Contains("truncated", Assert.Throws<InvalidDataException>(() => ModelFile.Deserialize<float>(bytes.AsSpan(0, 30))).Message, StringComparison.Ordinal);
        Assert.Contains("checksum", Assert.Throws<InvalidDataException>(() => ModelFile.Deserialize<float>(bytes.AsSpan(0, bytes.Length - 9))).Message, StringComparison.Ordinal);
        var flipped = (byte[])bytes.Clone();
        flipped[^20] ^= 0x10; // a parameter byte: only the checksum can tell
        Assert.Contains("checksum", Assert.Throws<InvalidDataException>(() => ModelFile.Deserialize<float>(flipped)).Message, StringComparison.Ordinal);
        Assert.Contains("magic", Assert.Throws<InvalidDataException>(() => ModelFile.Deserialize<float>("not a model at all, just some text here, long enough for a header and more"u8)).Message, StringComparison.Ordinal);

        string path = Path.Combine(_dir, "bad.bin");
        File.WriteAllBytes(path, bytes.AsSpan(0, 70).ToArray());
        var e = Assert.Throws<InvalidDataException>(() => ModelFile.Load<float>(path));
        Assert.StartsWith(path, e.Message, StringComparison.Ordinal);
    }

    internal static SavedModel<T> Sample<T>(RnnSpec spec)
        where T : unmanaged, System.Numerics.IBinaryFloatingPointIeee754<T>
        => new(RnnModel<T>.CreateRandom(spec, 1), DenseHead<T>.CreateRandom(spec.OutputSize, 4, Activation.Softmax, 2),
            new Dictionary<string, double[]> { ["scale"] = [1.5, -2], ["vocabulary"] = [65, 66, 67], ["empty"] = [] });

    internal static void Reseal(byte[] bytes) =>
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(bytes.Length - 4), Crc32.HashToUInt32(bytes.AsSpan(0, bytes.Length - 4)));
}
