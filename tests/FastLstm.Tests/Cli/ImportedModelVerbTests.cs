using System.Globalization;
using FastLstm.Onnx;
using FastLstm.Training;

namespace FastLstm.Tests.Cli;

/// <summary><c>fastlstm forecast</c> and <c>text generate</c> on ONNX files, against the same networks run directly.</summary>
public sealed class ImportedModelVerbTests
{
    private static readonly string Air = Path.Combine(RepositoryRoot.Path, "samples", "air-passengers.csv");

    private static double[] AirValues() =>
        File.ReadLines(Air).Skip(1).Select(l => double.Parse(l.Split(',')[1], CultureInfo.InvariantCulture)).ToArray();

    /// <summary>The head's outputs for the last <paramref name="window"/> values, normalised as the CLI does.</summary>
    private static float[] Predict(RnnModel<float> network, DenseHead<float> head, double[] window, double mean, double scale)
    {
        int h = network.Spec.HiddenSize;
        using var session = new InferenceSession<float>(network, 1, window.Length);
        var x = window.Select(v => (float)((v - mean) / scale)).ToArray();
        var y = new float[window.Length * h];
        session.Forward(x, 1, window.Length, y);
        var p = new float[head.Outputs];
        head.Affine(y.AsSpan((window.Length - 1) * h, h), 1, p);
        return p;
    }

    private static double[][] ForecastCsv(string path) =>
        File.ReadLines(path).Skip(1).Select(l => l.Split(',').Skip(1).Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray()).ToArray();

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void Forecast_runs_an_onnx_forecaster_one_step_fed_back_or_k_steps_at_once(int outputs)
    {
        string dir = Directory.CreateTempSubdirectory("fastlstm-imported").FullName;
        try
        {
            var network = RnnModel<float>.CreateRandom(new RnnSpec(CellType.Lstm, 1, 6), 3);
            var head = DenseHead<float>.CreateRandom(6, outputs, Activation.Linear, 4);
            string onnx = Path.Combine(dir, "f.onnx"), csv = Path.Combine(dir, "f.csv"), png = Path.Combine(dir, "f.png");
            OnnxExport.Save(network, onnx, head);
            var (exit, output, error) = CliRunner.Run("forecast", "--model", onnx, "--csv", Air, "--column", "passengers", "--steps", "5",
                "--lookback", "12", "--normalize", "280,120", "--out", csv, "--plot", png);
            Assert.True(exit == 0, error);
            Assert.Contains(outputs == 1 ? "one step, fed back" : "3 steps at once", output, StringComparison.Ordinal);
            Assert.Contains("24 backtest origins", output, StringComparison.Ordinal);
            Assert.True(new FileInfo(png).Length > 1000);

            // The same network run directly: predictions denormalised, each block fed back into the window.
            var window = AirValues()[^12..].ToList();
            var expected = new List<double>();
            while (expected.Count < 5)
            {
                foreach (float p in Predict(network, head, [.. window], 280, 120))
                {
                    double v = (p * 120.0) + 280;
                    expected.Add(v);
                    window.RemoveAt(0);
                    window.Add(v);
                }
            }

            var rows = ForecastCsv(csv);
            Assert.Equal(5, rows.Length);
            for (int i = 0; i < 5; i++)
            {
                Assert.Equal(expected[i], rows[i][0], 1e-3);
                Assert.True(rows[i][3] < rows[i][1] && rows[i][1] < rows[i][0] && rows[i][0] < rows[i][2] && rows[i][2] < rows[i][4], $"intervals at step {i + 1}: {string.Join(", ", rows[i])}");
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static string Sample(string name) => Path.Combine(RepositoryRoot.Path, "samples", "pytorch", name);

    /// <summary>A forecaster trained in PyTorch (samples/pytorch/train.py) forecasts in FastLstm what PyTorch forecast.</summary>
    [Fact]
    public void Forecast_with_the_pytorch_trained_sample_matches_pytorchs_own_forecast()
    {
        using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Sample("air-passengers-lstm.json")));
        double mean = json.RootElement.GetProperty("mean").GetDouble(), scale = json.RootElement.GetProperty("scale").GetDouble();
        string dir = Directory.CreateTempSubdirectory("fastlstm-imported").FullName;
        try
        {
            string csv = Path.Combine(dir, "f.csv");
            var (exit, _, error) = CliRunner.Run("forecast", "--model", Sample("air-passengers-lstm.onnx"), "--csv", Air, "--column", "passengers", "--steps", "24",
                "--lookback", "24", "--normalize", string.Create(CultureInfo.InvariantCulture, $"{mean:R},{scale:R}"), "--out", csv, "--plot", Path.Combine(dir, "f.png"));
            Assert.True(exit == 0, error);
            var expected = File.ReadLines(Sample("air-passengers-lstm.expected.csv")).Skip(1).Select(l => double.Parse(l.Split(',')[1], CultureInfo.InvariantCulture)).ToArray();
            var actual = ForecastCsv(csv).Select(r => r[0]).ToArray();
            Assert.Equal(24, actual.Length);
            for (int i = 0; i < 24; i++)
            {
                Assert.True(Math.Abs(actual[i] - expected[i]) <= 1e-4 * Math.Abs(expected[i]), $"step {i + 1}: FastLstm {actual[i]}, PyTorch {expected[i]}");
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>A character model trained in PyTorch with its states as inputs and outputs: stepped with the state carried, greedy, it writes PyTorch's text.</summary>
    [Fact]
    public void Text_generate_with_the_pytorch_trained_sample_continues_as_pytorch_does()
    {
        string expected = File.ReadAllText(Sample("genesis-lstm.expected.txt"));
        var (exit, output, error) = CliRunner.Run("text", "generate", "--model", Sample("genesis-lstm.onnx"), "--vocab", Path.Combine(RepositoryRoot.Path, "samples", "genesis-kjv.txt"),
            "--prompt", "And God said", "--length", (expected.Length - "And God said".Length).ToString(CultureInfo.InvariantCulture), "--temperature", "0.001");
        Assert.True(exit == 0, error);
        Assert.Equal(expected + "\n", output);
    }

    [Fact]
    public void Forecast_with_an_onnx_file_of_free_length_asks_for_the_window_in_one_line()
    {
        string dir = Directory.CreateTempSubdirectory("fastlstm-imported").FullName;
        try
        {
            string onnx = Path.Combine(dir, "f.onnx");
            OnnxExport.Save(RnnModel<float>.CreateRandom(new RnnSpec(CellType.Gru, 1, 4), 1), onnx, DenseHead<float>.CreateRandom(4, 1, Activation.Linear, 2));
            var (exit, _, error) = CliRunner.Run("forecast", "--model", onnx, "--csv", Air, "--column", "passengers", "--out", Path.Combine(dir, "x.csv"), "--plot", Path.Combine(dir, "x.png"));
            Assert.Equal(1, exit);
            Assert.Contains("give --lookback", error, StringComparison.Ordinal);
            Assert.Single(error.TrimEnd().Split('\n'));

            // A FastLstm model file holds its own window and scaling.
            string model = Path.Combine(dir, "m.fastlstm");
            Assert.Equal(0, CliRunner.Run("train", "--csv", Air, "--column", "passengers", "--out", model, "--method", "last-value").Exit);
            (exit, _, error) = CliRunner.Run("forecast", "--model", model, "--csv", Air, "--column", "passengers", "--lookback", "3", "--out", Path.Combine(dir, "x.csv"), "--plot", Path.Combine(dir, "x.png"));
            Assert.Equal(1, exit);
            Assert.Contains("--lookback and --normalize are for ONNX models", error, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Text_generate_runs_an_onnx_character_model_as_the_same_fastlstm_text_model()
    {
        string dir = Directory.CreateTempSubdirectory("fastlstm-imported").FullName;
        try
        {
            const string corpus = "the quick brown fox jumps over the lazy dog.\n";
            var vocabulary = corpus.Distinct().Order().ToArray();
            string text = Path.Combine(dir, "corpus.txt"), onnx = Path.Combine(dir, "t.onnx"), model = Path.Combine(dir, "t.fastlstm");
            File.WriteAllText(text, corpus);
            var network = RnnModel<float>.CreateRandom(new RnnSpec(CellType.Lstm, vocabulary.Length, 16), 5);
            var head = DenseHead<float>.CreateRandom(16, vocabulary.Length, Activation.Softmax, 6);
            for (int i = 0; i < head.Parameters.Length; i++)
            {
                head.Parameters[i] *= 8; // sharp distributions: sampling at a low temperature has no near ties to break differently
            }

            OnnxExport.Save(network, onnx, head);
            ModelFile.Save(model, new SavedModel<float>(network, head, new Dictionary<string, double[]>
            {
                ["kind"] = [2],
                ["vocabulary"] = vocabulary.Select(c => (double)c).ToArray(),
            }));
            string[] args = ["--prompt", "the ", "--length", "60", "--temperature", "0.3", "--seed", "4"];
            var own = CliRunner.Run(["text", "generate", "--model", model, .. args]);
            var imported = CliRunner.Run(["text", "generate", "--model", onnx, "--vocab", text, .. args]);
            Assert.True(own.Exit == 0, own.Err);
            Assert.True(imported.Exit == 0, imported.Err);
            Assert.StartsWith("the ", imported.Out, StringComparison.Ordinal);
            Assert.Equal(own.Out, imported.Out);

            var missing = CliRunner.Run("text", "generate", "--model", onnx);
            Assert.Equal(1, missing.Exit);
            Assert.Contains("give --vocab FILE", missing.Err, StringComparison.Ordinal);
            File.WriteAllText(text, corpus + "Z");
            var wrong = CliRunner.Run(["text", "generate", "--model", onnx, "--vocab", text, .. args]);
            Assert.Equal(1, wrong.Exit);
            Assert.Contains($"reads {vocabulary.Length} characters per step; the vocabulary has {vocabulary.Length + 1}", wrong.Err, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
