using System.Buffers.Binary;
using System.IO.Hashing;
using FastLstm.Training;
using FsCheck;
using FsCheck.Fluent;

namespace FastLstm.Props;

/// <summary>
/// Thousands of random corruptions of a valid model file (full precision, or with int8 or bfloat16 weights) —
/// truncations, bit flips, byte edits, edited header fields with the checksum recomputed (so the field checks, not the
/// checksum, must catch them), appended bytes — each must end in an <see cref="InvalidDataException"/>: never another
/// exception, never a model.
/// </summary>
public class ModelFileProperties
{
    private static readonly byte[][] Files =
    [
        ModelFile.Serialize(new SavedModel<float>(RnnModel<float>.CreateRandom(new RnnSpec(CellType.Lstm, 3, 4, 2), 1),
            DenseHead<float>.CreateRandom(4, 2, Activation.Linear, 2), new Dictionary<string, double[]> { ["scale"] = [0.5, 2], ["lookback"] = [24] })),
        ModelFile.Serialize(new SavedModel<double>(RnnModel<double>.CreateRandom(new RnnSpec(CellType.SeedLstm, 2, 3, 1, true), 3),
            null, new Dictionary<string, double[]> { ["vocabulary"] = [97, 98] })),
        ModelFile.Serialize(new SavedModel<float>(RnnModel<float>.CreateRandom(new RnnSpec(CellType.GruResetBefore, 3, 4, 2, true), 4),
            DenseHead<float>.CreateRandom(8, 2, Activation.Softmax, 5), new Dictionary<string, double[]> { ["vocabulary"] = [97, 98] }), WeightFormat.Int8),
        ModelFile.Serialize(new SavedModel<float>(RnnModel<float>.CreateRandom(new RnnSpec(CellType.SeedLstm, 2, 3), 6), null, new Dictionary<string, double[]>()), WeightFormat.BFloat16),
    ];

    public enum Kind
    {
        Truncate,
        FlipBit,
        SetByte,
        EditHeaderResealed,
        EditAnywhereResealed,
        Append,
    }

    [Fact]
    public void EveryCorruptionIsACleanInvalidDataException()
    {
        var corruption =
            from file in Gen.Choose(0, Files.Length - 1)
            from kind in Gen.Elements(Enum.GetValues<Kind>())
            from position in Gen.Choose(0, int.MaxValue)
            from value in Gen.Choose(0, int.MaxValue)
            select (file, kind, position, value);
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(5000).WithQuietOnSuccess(true), Prop.ForAll(corruption.ToArbitrary(), c =>
        {
            byte[] bytes = Corrupt(Files[c.file], c.kind, c.position, c.value);
            try
            {
                if (c.file == 1)
                {
                    ModelFile.Deserialize<double>(bytes);
                }
                else
                {
                    ModelFile.Deserialize<float>(bytes);
                }
            }
            catch (InvalidDataException)
            {
                return;
            }

            // A few edits are harmless (a changed parameter value, or a head's activation changed to another defined one,
            // under a recomputed checksum): then the file is still valid and must load; anything else that loaded is a bug.
            Assert.True((c.kind == Kind.EditAnywhereResealed && Unchanged(Files[c.file], bytes)) || OtherHeadActivation(Files[c.file], bytes),
                $"{c.kind} at {c.position} was accepted");
        }));
    }

    [Fact]
    public void RoundTripsAreBitExact()
    {
        var shapes =
            from cell in Gen.Elements(Enum.GetValues<CellType>())
            from input in Gen.Choose(1, 6)
            from hidden in Gen.Choose(1, 9)
            from layers in Gen.Choose(1, 3)
            from bi in Gen.Elements(false, true)
            from seed in Gen.Choose(0, 1000)
            from options in Gen.Elements<LstmOptions?>(null, new LstmOptions { Peepholes = true, CellClip = 1.5 },
                new LstmOptions { CoupledInputForget = true, GateActivation = new(RnnActivationKind.HardSigmoid, 0.2, 0.5) })
            from reverse in Gen.Elements<LstmOptions?>(null, new LstmOptions { CellClip = 0.5, OutputActivation = new(RnnActivationKind.Softsign) })
            let lstm = cell == CellType.Lstm
            select (new RnnSpec(cell, input, hidden, layers, bi)
            {
                LstmOptions = lstm ? options : null,
                ReverseLstmOptions = lstm && bi && options is not { Peepholes: true } ? reverse : null,
            }, seed);
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(200).WithQuietOnSuccess(true), Prop.ForAll(shapes.ToArbitrary(), c =>
        {
            var model = new SavedModel<double>(RnnModel<double>.CreateRandom(c.Item1, c.seed),
                DenseHead<double>.CreateRandom(c.Item1.OutputSize, 3, Activation.Softmax, c.seed), new Dictionary<string, double[]> { ["x"] = [c.seed, double.NaN, -0.0] });
            byte[] bytes = ModelFile.Serialize(model);
            var back = ModelFile.Deserialize<double>(bytes);
            Assert.Equal(c.Item1, back.Network.Spec);
            Assert.Equal(bytes, ModelFile.Serialize(back));

            // Compressed weights hold rounded values, and the same ones again after a round trip.
            var single = new SavedModel<float>(RnnModel<float>.CreateRandom(c.Item1, c.seed), null, model.Metadata);
            foreach (var format in new[] { WeightFormat.BFloat16, WeightFormat.Int8 })
            {
                byte[] compressed = ModelFile.Serialize(single, format);
                var loaded = ModelFile.Deserialize<float>(compressed);
                Assert.Equal(c.Item1, loaded.Network.Spec);
                Assert.Equal(compressed, ModelFile.Serialize(loaded, format));
            }
        }));
    }

    // A resealed edit is only acceptable where it changed no structure: the parameter and metadata value bytes after
    // the header. Everything up to the end of the header must be rejected when changed.
    /// <summary>Only the head-activation byte (offset 15) differs, and it names another activation: a valid model file.</summary>
    private static bool OtherHeadActivation(byte[] original, byte[] edited) =>
        original.Length == edited.Length && original[15] != 255 && Enum.IsDefined((Activation)edited[15])
        && original.AsSpan(0, 15).SequenceEqual(edited.AsSpan(0, 15)) && original.AsSpan(16, original.Length - 20).SequenceEqual(edited.AsSpan(16, edited.Length - 20));

    private static bool Unchanged(byte[] original, byte[] edited) =>
        original.Length == edited.Length && original.AsSpan(0, 56).SequenceEqual(edited.AsSpan(0, 56));

    private static byte[] Corrupt(byte[] original, Kind kind, int position, int value)
    {
        switch (kind)
        {
            case Kind.Truncate:
                return original.AsSpan(0, position % original.Length).ToArray();
            case Kind.FlipBit:
            {
                var b = (byte[])original.Clone();
                b[position % b.Length] ^= (byte)(1 << (value % 8));
                return b;
            }

            case Kind.SetByte:
            {
                var b = (byte[])original.Clone();
                int i = position % b.Length;
                b[i] = (byte)(b[i] + 1 + (value % 255));
                return b;
            }

            case Kind.EditHeaderResealed:
            {
                var b = (byte[])original.Clone();
                int field = 8 + (position % 48);
                if (value % 3 == 0)
                {
                    BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(field & ~3), value % 2 == 0 ? int.MaxValue - (value % 7) : -1 - (value % 100));
                }
                else
                {
                    b[field] = (byte)(b[field] + 1 + (value % 255));
                }

                Reseal(b);
                return b;
            }

            case Kind.EditAnywhereResealed:
            {
                var b = (byte[])original.Clone();
                int i = 8 + (position % (b.Length - 12));
                b[i] = (byte)(b[i] + 1 + (value % 255));
                Reseal(b);
                return b;
            }

            default:
                return [.. original, .. BitConverter.GetBytes(value)];
        }
    }

    private static void Reseal(byte[] b) =>
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(b.Length - 4), Crc32.HashToUInt32(b.AsSpan(0, b.Length - 4)));
}
