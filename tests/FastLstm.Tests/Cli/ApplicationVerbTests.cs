namespace FastLstm.Tests.Cli;

/// <summary>train → forecast and text train → generate through the CLI, and every error path of those verbs.</summary>
public class ApplicationVerbTests : IDisposable
{
    private static readonly string Samples = Path.Combine(FindRoot(), "samples");
    private readonly string _dir = Directory.CreateTempSubdirectory("fastlstm-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void TrainThenForecastWritesEveryFile()
    {
        string model = Path.Combine(_dir, "air.model");
        var train = CliRunner.Run("train", "--csv", Path.Combine(Samples, "air-passengers.csv"), "--column", "passengers", "--out", model,
            "--season", "12", "--hidden", "8", "--epochs", "3", "--lookback", "12");
        Assert.True(train.Exit == 0, train.Err);
        foreach (var method in new[] { "lstm (this model)", "last value", "seasonal naive (12)", "linear autoregression" })
        {
            Assert.Contains(method, train.Out, StringComparison.OrdinalIgnoreCase);
        }

        Assert.Contains("epoch 1/3", train.Out, StringComparison.Ordinal); // plain progress lines when redirected
        Assert.True(new FileInfo(model).Length > 100);
        Assert.True(new FileInfo(model + ".loss.png").Length > 1000);
        Assert.True(new FileInfo(model + ".test.png").Length > 1000);

        string csv = Path.Combine(_dir, "f.csv"), png = Path.Combine(_dir, "f.png");
        var forecast = CliRunner.Run("forecast", "--model", model, "--csv", Path.Combine(Samples, "air-passengers.csv"), "--column", "passengers",
            "--steps", "12", "--out", csv, "--plot", png);
        Assert.True(forecast.Exit == 0, forecast.Err);
        var lines = File.ReadAllLines(csv);
        Assert.Equal("step,forecast", lines[0]);
        Assert.Equal(13, lines.Length);
        Assert.All(lines.Skip(1).Select((l, i) => (l, i)), p =>
        {
            Assert.StartsWith($"{p.i + 1},", p.l, StringComparison.Ordinal);
            Assert.InRange(double.Parse(p.l.Split(',')[1], System.Globalization.CultureInfo.InvariantCulture), 100, 2000);
        });
        Assert.True(new FileInfo(png).Length > 1000);
    }

    [Fact]
    public void TextTrainThenGenerate()
    {
        string corpus = Path.Combine(_dir, "corpus.txt");
        File.WriteAllText(corpus, string.Concat(Enumerable.Repeat("In the beginning God created the heaven and the earth.\n", 60)));
        string model = Path.Combine(_dir, "text.model");
        var train = CliRunner.Run("text", "train", "--file", corpus, "--out", model, "--hidden", "16", "--layers", "1", "--seq", "20", "--epochs", "2", "--batch", "4");
        Assert.True(train.Exit == 0, train.Err);
        Assert.Contains("held-out bits per character", train.Out, StringComparison.Ordinal);
        Assert.True(File.Exists(model + ".loss.png"));
        var generate = CliRunner.Run("text", "generate", "--model", model, "--prompt", "In the", "--length", "30");
        Assert.True(generate.Exit == 0, generate.Err);
        Assert.StartsWith("In the", generate.Out, StringComparison.Ordinal);
        CliRunner.AssertOneLineError(CliRunner.Run("text", "generate", "--model", model, "--prompt", "Q"), 1, "'Q'");
        CliRunner.AssertOneLineError(CliRunner.Run("forecast", "--model", model, "--csv", Path.Combine(Samples, "air-passengers.csv"), "--column", "passengers"), 1, "not a time-series model");
    }

    [Fact]
    public void DataErrorsAreOneLine()
    {
        string air = Path.Combine(Samples, "air-passengers.csv"), model = Path.Combine(_dir, "m");
        CliRunner.AssertOneLineError(Train(Path.Combine(_dir, "missing.csv"), "x"), 1, "file not found");
        CliRunner.AssertOneLineError(Train(air, "Passengers"), 1, "no column 'Passengers'; the columns are 'month', 'passengers'");

        string bad = Path.Combine(_dir, "bad.csv");
        File.WriteAllLines(bad, ["t,v", "1,2", "2,abc", "3,4"]);
        CliRunner.AssertOneLineError(Train(bad, "v"), 1, "bad.csv:3: 'abc' in column 'v' is not a number");

        string tiny = Path.Combine(_dir, "tiny.csv");
        File.WriteAllLines(tiny, ["v", .. Enumerable.Range(1, 20).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture))]);
        CliRunner.AssertOneLineError(Train(tiny, "v"), 1, "too few for a window of 24");

        string negative = Path.Combine(_dir, "neg.csv");
        File.WriteAllLines(negative, ["v", "1", "-1", "2"]);
        CliRunner.AssertOneLineError(CliRunner.Run("train", "--csv", negative, "--column", "v", "--out", model, "--log", "yes"), 1, "--log yes");

        CliRunner.AssertOneLineError(CliRunner.Run("forecast", "--model", Path.Combine(_dir, "none"), "--csv", air, "--column", "passengers"), 1, "file not found");
        string corrupt = Path.Combine(_dir, "corrupt.model");
        File.WriteAllText(corrupt, "FASTLSTM and then nonsense that is long enough to pass the size check.........");
        CliRunner.AssertOneLineError(CliRunner.Run("forecast", "--model", corrupt, "--csv", air, "--column", "passengers"), 1, "invalid model file");
        CliRunner.AssertOneLineError(CliRunner.Run("text", "train", "--file", Path.Combine(_dir, "none.txt"), "--out", model), 1, "file not found");
        string small = Path.Combine(_dir, "small.txt");
        File.WriteAllText(small, "abc");
        CliRunner.AssertOneLineError(CliRunner.Run("text", "train", "--file", small, "--out", model), 1, "too few");
        Assert.False(File.Exists(model));

        (int, string, string) Train(string csv, string column) => CliRunner.Run("train", "--csv", csv, "--column", column, "--out", model);
    }

    [Theory]
    [InlineData("--lookback", "0", "--lookback")]
    [InlineData("--lr", "-1", "--lr")]
    [InlineData("--log", "maybe", "maybe")]
    [InlineData("--cell", "transformer", "--cell")]
    [InlineData("--test-fraction", "1.5", "--test-fraction")]
    public void BadOptionValuesAreOneLine(string option, string value, string mentions) =>
        CliRunner.AssertOneLineError(CliRunner.Run("train", "--csv", "x.csv", "--column", "v", "--out", "m", option, value), 2, mentions);

    [Fact]
    public void MissingRequiredOptionsAreOneLine() =>
        CliRunner.AssertOneLineError(CliRunner.Run("train", "--csv", "x.csv"), 2, "--column");

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "FastLstm.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("FastLstm.sln not found above the test binaries.");
    }
}
