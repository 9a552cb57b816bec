using System.Buffers.Binary;
using System.Text;
using FastLstm.Onnx;
using FastLstm.Onnx.Graph;

namespace FastLstm.Tests.Onnx;

/// <summary>safetensors: PyTorch state_dicts load by name in every float dtype; malformed headers are refused.</summary>
public sealed class SafeTensorsTests
{
    private static readonly RnnSpec Spec = new(CellType.Lstm, 3, 4, 2, true);

    private static string Fixture(string file) => Path.Combine(RepositoryRoot.Path, "tests", "fixtures", "onnx", "safetensors", file);

    [Theory]
    [InlineData("f32")]
    [InlineData("f64")]
    [InlineData("f16")]
    [InlineData("bf16")]
    public void A_pytorch_state_dict_runs_with_pytorchs_outputs(string dtype)
    {
        string path = Fixture($"lstm_{dtype}.safetensors");
        Assert.Equal(Spec, SafeTensors.InferSpec(path, "lstm."));
        var model = SafeTensors.LoadRnn<float>(path, Spec, "lstm.");
        var x = TensorFile.Read(Fixture($"lstm_{dtype}.input.pb")).Tensor;
        var want = TensorFile.Read(Fixture($"lstm_{dtype}.output.pb")).Tensor;
        using var session = new InferenceSession<float>(model, 2, 5);
        var y = new float[want.Data.Length];
        session.Forward(x.Floats, 2, 5, y);
        OnnxFixtureTests.AssertClose(want.Data, y, dtype);
        Assert.Contains(SafeTensors.List(path), t => t.Name == "head.weight");
    }

    [Theory]
    [InlineData(CellType.Gru, "")]
    [InlineData(CellType.SeedLstm, "rnn.")]
    public void Save_then_load_is_exact(CellType cell, string prefix)
    {
        var model = RnnModel<double>.CreateRandom(new RnnSpec(cell, 5, 3, 2, true), 4);
        string path = Path.Combine(Path.GetTempPath(), $"fastlstm-{Guid.NewGuid():N}.safetensors");
        try
        {
            SafeTensors.Save(model, path, prefix);
            Assert.Equal(0, (new FileInfo(path).Length - 8 - BinaryPrimitives.ReadInt64LittleEndian(File.ReadAllBytes(path))) % 8);
            Assert.Equal(model.Spec, SafeTensors.InferSpec(path, prefix));
            var back = SafeTensors.LoadRnn<double>(path, model.Spec, prefix);
            Assert.Equal(model.Parameters.ToArray(), back.Parameters.ToArray());
        }
        finally
        {
            File.Delete(path);
        }
    }

    public static TheoryData<string, string> Broken() => new()
    {
        { "huge header", "claims" },
        { "header past the end", "claims" },
        { "not json", "not valid JSON" },
        { "offsets past the end", "outside" },
        { "overlap", "overlap" },
        { "size mismatch", "needs" },
        { "missing", "missing" },
        { "wrong shape", "has shape" },
        { "integer dtype", "dtype I64" },
        { "unknown dtype", "unknown dtype" },
        { "listed twice", "twice" },
        { "negative shape", "not a size" },
    };

    [Theory]
    [MemberData(nameof(Broken))]
    public void A_malformed_file_is_refused_with_a_reason(string kind, string words)
    {
        var spec = new RnnSpec(CellType.RnnTanh, 1, 1);
        string ok = """{"weight_ih_l0":{"dtype":"F32","shape":[1,1],"data_offsets":[0,4]},"weight_hh_l0":{"dtype":"F32","shape":[1,1],"data_offsets":[4,8]},"bias_ih_l0":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},"bias_hh_l0":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}}""";
        string header = kind switch
        {
            "not json" => "{\"weight_ih_l0\": [",
            "offsets past the end" => ok.Replace("[12,16]", "[12,400]", StringComparison.Ordinal),
            "overlap" => ok.Replace("[4,8]", "[2,6]", StringComparison.Ordinal),
            "size mismatch" => ok.Replace("[8,12]", "[8,10]", StringComparison.Ordinal),
            "missing" => ok.Replace("bias_hh_l0", "other", StringComparison.Ordinal),
            "wrong shape" => ok.Replace("\"shape\":[1,1],\"data_offsets\":[0,4]", "\"shape\":[1],\"data_offsets\":[0,4]", StringComparison.Ordinal),
            "integer dtype" => ok.Replace("\"F32\",\"shape\":[1],\"data_offsets\":[8,12]", "\"I32\",\"shape\":[1],\"data_offsets\":[8,12]", StringComparison.Ordinal).Replace("I32", "I64", StringComparison.Ordinal).Replace("[8,12]", "[8,16]", StringComparison.Ordinal).Replace("[12,16]", "[16,20]", StringComparison.Ordinal),
            "unknown dtype" => ok.Replace("\"F32\",\"shape\":[1],\"data_offsets\":[8,12]", "\"Q7\",\"shape\":[1],\"data_offsets\":[8,12]", StringComparison.Ordinal),
            "listed twice" => ok.Replace("\"bias_hh_l0\"", "\"bias_ih_l0\"", StringComparison.Ordinal),
            "negative shape" => ok.Replace("[1,1],\"data_offsets\":[0,4]", "[-1,1],\"data_offsets\":[0,4]", StringComparison.Ordinal),
            _ => ok,
        };
        var json = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + json.Length + 20];
        ulong claimed = kind switch { "huge header" => 1UL << 40, "header past the end" => (ulong)json.Length + 100, _ => (ulong)json.Length };
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, claimed);
        json.CopyTo(bytes, 8);
        string path = Path.Combine(Path.GetTempPath(), $"fastlstm-{Guid.NewGuid():N}.safetensors");
        File.WriteAllBytes(path, bytes);
        try
        {
            var e = Assert.Throws<InvalidDataException>(() => SafeTensors.LoadRnn<float>(path, spec));
            Assert.Contains(words, e.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void A_fifo_is_refused_instead_of_blocking()
    {
        string path = Path.Combine(Path.GetTempPath(), $"fastlstm-{Guid.NewGuid():N}.fifo");
        using (var p = System.Diagnostics.Process.Start("mkfifo", path))
        {
            p.WaitForExit();
            Assert.Equal(0, p.ExitCode);
        }

        try
        {
            Assert.Throws<IOException>(() => SafeTensors.LoadRnn<float>(path, Spec));
            Assert.Throws<IOException>(() => OnnxModel.Load(path));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
