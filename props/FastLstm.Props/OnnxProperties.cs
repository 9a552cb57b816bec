using FastLstm.Onnx;
using FastLstm.Onnx.Graph;
using FastLstm.Onnx.Proto;
using FsCheck;
using FsCheck.Fluent;
using Google.Protobuf;

namespace FastLstm.Props;

/// <summary>
/// Thousands of corrupted ONNX models — byte-level damage and structural edits of valid files (dims claiming 2^40
/// elements or negative, raw data shorter than its dims, external data outside the folder, unknown ops and attributes,
/// dangling names, removed initializers) — thrown at <see cref="OnnxModel.Load(Stream)"/> and, when a model loads, at a
/// run: only the documented exceptions, never a crash, a hang or a wrong kind of error.
/// </summary>
public class OnnxProperties
{
    private static readonly string Root = FindRoot();

    private static readonly string[] Fixtures = ["torch/lstm_l2_bidir_o14", "torch/gru_bidir_last_step_sigmoid_o17", "torch/embedding_lstm_every_step_o14", "node/test_gru_seq_length", "torch/lstm_unfolded_o14", "torch/packed_unsorted_lstm_o14", "node/test_lstm_with_peepholes"];

    private static readonly (byte[] Bytes, Dictionary<string, OnnxTensor> Inputs)[] Files = Fixtures.Select(Read).ToArray();

    public enum Kind
    {
        Truncate,
        FlipBit,
        SetByte,
        Append,
        HugeDims,
        NegativeDims,
        ShortRawData,
        ExternalOutsideFolder,
        UnknownOp,
        UnknownAttribute,
        DanglingInput,
        DropInitializer,
        ShuffleNodes,
        EditAttributeInt,
    }

    [Fact]
    public void EveryCorruptionLoadsOrFailsWithADocumentedException()
    {
        var corruption =
            from file in Gen.Choose(0, Files.Length - 1)
            from kind in Gen.Elements(Enum.GetValues<Kind>())
            from position in Gen.Choose(0, int.MaxValue)
            from value in Gen.Choose(0, int.MaxValue)
            select (file, kind, position, value);
        int loaded = 0, refused = 0;
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(3000).WithQuietOnSuccess(true), Prop.ForAll(corruption.ToArbitrary(), c =>
        {
            byte[] bytes = Corrupt(Files[c.file].Bytes, c.kind, c.position, c.value);
            OnnxModel model;
            try
            {
                model = OnnxModel.Load(new MemoryStream(bytes));
            }
            catch (Exception e) when (e is InvalidDataException or NotSupportedException)
            {
                refused++;
                return true;
            }

            loaded++;
            try
            {
                using var session = model.CreateSession(4, 8);
                session.Run(Files[c.file].Inputs);
            }
            catch (Exception e) when (e is InvalidDataException or NotSupportedException or ArgumentException)
            {
            }

            return true;
        }));

        // Both outcomes happen: the corruptions reach past the parser, and the checks refuse most of them.
        Assert.True(refused > 1000, $"only {refused} refused");
        Assert.True(loaded > 50, $"only {loaded} loaded");
    }

    private static byte[] Corrupt(byte[] original, Kind kind, int position, int value)
    {
        var bytes = (byte[])original.Clone();
        int at = position % bytes.Length;
        switch (kind)
        {
            case Kind.Truncate:
                return bytes[..at];
            case Kind.FlipBit:
                bytes[at] ^= (byte)(1 << (value % 8));
                return bytes;
            case Kind.SetByte:
                bytes[at] = (byte)value;
                return bytes;
            case Kind.Append:
                return [.. bytes, .. Enumerable.Range(0, 1 + (value % 64)).Select(i => (byte)(value >> (i % 24)))];
        }

        var model = ModelProto.Parser.ParseFrom(original);
        var graph = model.Graph;
        var initializers = graph.Initializer;
        var nodes = graph.Node;
        switch (kind)
        {
            case Kind.HugeDims when initializers.Count > 0:
                var t = initializers[position % initializers.Count];
                t.Dims.Clear();
                t.Dims.Add(1L << 20);
                t.Dims.Add(1L << 20);
                break;
            case Kind.NegativeDims when initializers.Count > 0:
                initializers[position % initializers.Count].Dims.Add(-1 - (value % 5));
                break;
            case Kind.ShortRawData when initializers.Count > 0:
                var s = initializers[position % initializers.Count];
                if (!s.RawData.IsEmpty)
                {
                    s.RawData = ByteString.CopyFrom(s.RawData.Span[..(value % s.RawData.Length)]);
                }
                else
                {
                    s.Dims.Add(2);
                }

                break;
            case Kind.ExternalOutsideFolder when initializers.Count > 0:
                var e = initializers[position % initializers.Count];
                e.DataLocation = TensorProto.Types.DataLocation.External;
                e.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = value % 2 == 0 ? "../../etc/passwd" : "/etc/passwd" });
                break;
            case Kind.UnknownOp:
                nodes[position % nodes.Count].OpType = value % 2 == 0 ? "Conv" : "Loop";
                break;
            case Kind.UnknownAttribute:
                nodes[position % nodes.Count].Attribute.Add(new AttributeProto { Name = "mystery", Type = AttributeProto.Types.AttributeType.Int, I = value });
                break;
            case Kind.DanglingInput:
                var n = nodes[position % nodes.Count];
                if (n.Input.Count > 0)
                {
                    n.Input[value % n.Input.Count] = "nowhere";
                }

                break;
            case Kind.DropInitializer when initializers.Count > 0:
                initializers.RemoveAt(position % initializers.Count);
                break;
            case Kind.ShuffleNodes when nodes.Count > 1:
                int i = position % nodes.Count, j = value % nodes.Count;
                (nodes[i], nodes[j]) = (nodes[j], nodes[i]);
                break;
            case Kind.EditAttributeInt:
                var withInts = nodes.SelectMany(x => x.Attribute).Where(a => a.Type is AttributeProto.Types.AttributeType.Int or AttributeProto.Types.AttributeType.Ints).ToList();
                if (withInts.Count > 0)
                {
                    var a = withInts[position % withInts.Count];
                    long v = (value % 7) - 3 + (value % 3 == 0 ? 1L << 40 : 0);
                    if (a.Type == AttributeProto.Types.AttributeType.Int)
                    {
                        a.I = v;
                    }
                    else if (a.Ints.Count > 0)
                    {
                        a.Ints[position % a.Ints.Count] = v;
                    }
                }

                break;
        }

        return model.ToByteArray();
    }

    private static (byte[], Dictionary<string, OnnxTensor>) Read(string fixture)
    {
        string dir = Path.Combine(Root, "tests", "fixtures", "onnx", fixture);
        var inputs = Directory.GetFiles(Path.Combine(dir, "test_data_set_0"), "input_*.pb").Select(TensorFile.Read).ToDictionary(t => t.Name, t => t.Tensor);
        return (File.ReadAllBytes(Path.Combine(dir, "model.onnx")), inputs);
    }

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "FastLstm.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("FastLstm.sln not found above the test assembly.");
    }
}
