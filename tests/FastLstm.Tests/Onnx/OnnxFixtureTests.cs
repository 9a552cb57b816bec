using FastLstm.Onnx;
using FastLstm.Onnx.Graph;

namespace FastLstm.Tests.Onnx;

/// <summary>
/// Every committed fixture (ONNX's backend node tests, PyTorch 1.13 exports; see tests/fixtures/onnx/generate.py) runs on
/// FastLstm and matches the expected outputs the generator stored: numpy's reference for node tests, PyTorch's own for
/// exports.
/// </summary>
public sealed class OnnxFixtureTests
{
    public static TheoryData<string> Fixtures() => new(Names());

    internal static IEnumerable<string> Names() =>
        Directory.GetDirectories(Path.Combine(RepositoryRoot.Path, "tests", "fixtures", "onnx"), "*", SearchOption.AllDirectories)
            .Where(d => File.Exists(Path.Combine(d, "model.onnx")))
            .Select(d => Path.GetRelativePath(Path.Combine(RepositoryRoot.Path, "tests", "fixtures", "onnx"), d))
            .Order(StringComparer.Ordinal);

    internal static string FolderOf(string fixture) => Path.Combine(RepositoryRoot.Path, "tests", "fixtures", "onnx", fixture);

    internal static (Dictionary<string, OnnxTensor> Inputs, Dictionary<string, OnnxTensor> Outputs) DataSet(string fixture)
    {
        string data = Path.Combine(FolderOf(fixture), "test_data_set_0");
        Dictionary<string, OnnxTensor> Read(string kind) => Directory.GetFiles(data, kind + "_*.pb").Order(StringComparer.Ordinal)
            .Select(TensorFile.Read).ToDictionary(t => t.Name, t => t.Tensor);
        return (Read("input"), Read("output"));
    }

    [Fact]
    public void The_fixture_set_covers_every_source()
    {
        var all = Names().ToList();
        Assert.Equal(12, all.Count(f => f.StartsWith("node", StringComparison.Ordinal)));
        Assert.True(all.Count(f => f.StartsWith("torch", StringComparison.Ordinal)) >= 22);
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void Runs_like_the_reference(string fixture)
    {
        string name = Path.GetFileName(fixture);
        string path = Path.Combine(FolderOf(fixture), "model.onnx");
        var (inputs, expected) = DataSet(fixture);
        var model = OnnxModel.Load(path);
        using var session = model.CreateSession(8, 16);
        var actual = session.Run(inputs);
        Assert.Equal(expected.Keys.Order(), actual.Keys.Where(expected.ContainsKey).Order());
        foreach (var (key, want) in expected)
        {
            var got = actual[key];
            Assert.Equal(want.Shape, got.Shape);
            AssertClose(want.Data, got.Data, $"{fixture}: {key}");
        }

        // ONNX Runtime on the same file and inputs, where it runs the file at all.
        Dictionary<string, float[]> ort;
        try
        {
            ort = RunOnnxRuntime(path, inputs);
        }
        catch (Microsoft.ML.OnnxRuntime.OnnxRuntimeException e)
        {
            Assert.True(OnnxRuntimeRefuses.Contains(name), $"ONNX Runtime refused {fixture}, which it should run: {e.Message}");
            return;
        }

        Assert.DoesNotContain(name, OnnxRuntimeRefuses);
        foreach (var (key, want) in ort)
        {
            AssertClose(want, actual[key].Data, $"{fixture}: {key} against ONNX Runtime");
        }
    }

    /// <summary>
    /// Every fixture's recurrent nodes run with compressed weights too: bfloat16 and int8 move the outputs by about the
    /// formats' precision, not more (a wrong panel or scale moves them by their whole size).
    /// </summary>
    [Theory]
    [MemberData(nameof(Fixtures))]
    public void Runs_with_compressed_weights(string fixture)
    {
        var (inputs, expected) = DataSet(fixture);
        var model = OnnxModel.Load(Path.Combine(FolderOf(fixture), "model.onnx"));
        foreach (var format in new[] { WeightFormat.BFloat16, WeightFormat.Int8 })
        {
            using var session = model.CreateSession(8, 16, weights: format);
            var actual = session.Run(inputs);
            foreach (var (key, want) in expected)
            {
                float[] w = want.Floats, got = actual[key].Floats;
                double scale = w.Max(v => Math.Abs((double)v)), diff = w.Zip(got, (a, b) => Math.Abs((double)a - b)).Max();
                Assert.True(diff <= 0.05 * Math.Max(scale, 1e-3), $"{fixture} {format}: {key} moved by {diff:E2} (scale {scale:E2})");
            }
        }
    }

    /// <summary>Fixtures ONNX Runtime 1.31.1 does not run (FastLstm does, against the operator definition's outputs).</summary>
    private static readonly HashSet<string> OnnxRuntimeRefuses = ["test_lstm_batchwise", "test_gru_batchwise", "test_simple_rnn_batchwise"];

    internal static Dictionary<string, float[]> RunOnnxRuntime(string path, Dictionary<string, OnnxTensor> inputs)
    {
        using var ort = new Microsoft.ML.OnnxRuntime.InferenceSession(path);
        var feeds = inputs.Select(kv => kv.Value.Data switch
        {
            float[] f => Microsoft.ML.OnnxRuntime.NamedOnnxValue.CreateFromTensor(kv.Key, new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>(f, kv.Value.Shape)),
            int[] n => Microsoft.ML.OnnxRuntime.NamedOnnxValue.CreateFromTensor(kv.Key, new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<int>(n, kv.Value.Shape)),
            long[] l => Microsoft.ML.OnnxRuntime.NamedOnnxValue.CreateFromTensor(kv.Key, new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<long>(l, kv.Value.Shape)),
            var d => throw new InvalidOperationException(d.GetType().Name),
        }).ToList();
        using var results = ort.Run(feeds);
        return results.ToDictionary(r => r.Name, r => r.AsTensor<float>().ToArray());
    }

    internal static void AssertClose(Array want, Array got, string what, double tolerance = 1e-4)
    {
        Assert.Equal(want.Length, got.Length);
        for (int i = 0; i < want.Length; i++)
        {
            double w = Convert.ToDouble(want.GetValue(i), System.Globalization.CultureInfo.InvariantCulture);
            double g = Convert.ToDouble(got.GetValue(i), System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(Math.Abs(w - g) <= tolerance * Math.Max(1, Math.Abs(w)), $"{what}[{i}]: expected {w}, got {g}");
        }
    }
}
