namespace FastLstm.Tests.Cli;

/// <summary>train → forecast and text train → generate through the CLI, and every error path of those verbs.</summary>
public class ApplicationVerbTests : IDisposable
{
    private static readonly string Samples = Path.Combine(RepositoryRoot.Path, "samples");
    private readonly string _dir = Directory.CreateTempSubdirectory("fastlstm-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void TrainThenForecastWritesEveryFile()
    {
        string model = Path.Combine(_dir, "air.model");
        var train = CliRunner.Run("train", "--csv", Path.Combine(Samples, "air-passengers.csv"), "--column", "passengers", "--out", model,
            "--season", "12", "--hidden", "8", "--epochs", "3", "--lookback", "12");
        Assert.True(train.Exit == 0, train.Err);
        foreach (var method in new[] { "lstm direct", "last value", "seasonal naive (12)", "drift", "Holt-Winters", "linear autoregression", "ES-RNN" })
        {
            Assert.Contains(method, train.Out, StringComparison.OrdinalIgnoreCase);
        }

        Assert.Contains("backtest: last value", train.Out, StringComparison.Ordinal); // plain progress lines when redirected
        Assert.Contains("train: backtest: last value (", train.Out, StringComparison.Ordinal); // the stage and the time so far,
        Assert.DoesNotContain("0/1", train.Out, StringComparison.Ordinal); // not a count and an estimate that mean nothing
        Assert.DoesNotContain("eta", train.Out, StringComparison.Ordinal);
        Assert.Contains("chosen: ", train.Out, StringComparison.Ordinal);
        Assert.Matches(@"backtest RMSE with the network's weights compressed \(forecast --weights\): full [\d.]+, bf16 [\d.]+, int8 [\d.]+\.", train.Out);
        Assert.True(new FileInfo(model).Length > 100);
        Assert.True(new FileInfo(model + ".loss.png").Length > 1000);
        Assert.True(new FileInfo(model + ".test.png").Length > 1000);

        string csv = Path.Combine(_dir, "f.csv"), png = Path.Combine(_dir, "f.png");
        var forecast = CliRunner.Run("forecast", "--model", model, "--csv", Path.Combine(Samples, "air-passengers.csv"), "--column", "passengers",
            "--steps", "12", "--out", csv, "--plot", png);
        Assert.True(forecast.Exit == 0, forecast.Err);
        var lines = File.ReadAllLines(csv);
        Assert.Equal("step,forecast,lower_80,upper_80,lower_95,upper_95", lines[0]);
        Assert.Equal(13, lines.Length);
        Assert.All(lines.Skip(1).Select((l, i) => (l, i)), p =>
        {
            Assert.StartsWith($"{p.i + 1},", p.l, StringComparison.Ordinal);
            var v = p.l.Split(',').Skip(1).Select(x => double.Parse(x, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
            Assert.InRange(v[0], 100, 2000);
            Assert.True(v[3] <= v[1] && v[1] <= v[0] && v[0] <= v[2] && v[2] <= v[4], $"intervals not nested around the forecast: {p.l}");
        });
        Assert.True(new FileInfo(png).Length > 1000);

        // The same forecast with int8 weights: close to the full-precision one, not the same bits.
        string int8 = Path.Combine(_dir, "f8.csv");
        var compressed = CliRunner.Run("forecast", "--model", model, "--csv", Path.Combine(Samples, "air-passengers.csv"), "--column", "passengers",
            "--steps", "12", "--out", int8, "--plot", png, "--weights", "int8");
        Assert.True(compressed.Exit == 0, compressed.Err);
        var full = lines.Skip(1).Select(l => double.Parse(l.Split(',')[1], System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        var eight = File.ReadAllLines(int8).Skip(1).Select(l => double.Parse(l.Split(',')[1], System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        Assert.All(full.Zip(eight), p => Assert.InRange(p.Second, p.First * 0.95, p.First * 1.05));
        CliRunner.AssertOneLineError(CliRunner.Run("forecast", "--model", model, "--csv", Path.Combine(Samples, "air-passengers.csv"), "--column", "passengers",
            "--weights", "int4"), 2, "--weights: expected one of full, bf16, int8, got 'int4'");
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
        Assert.Matches(@"with compressed weights \(text generate --weights\): bf16 [\d.]+, int8 [\d.]+ bits per character", train.Out);
        Assert.True(File.Exists(model + ".loss.png"));
        var generate = CliRunner.Run("text", "generate", "--model", model, "--prompt", "In the", "--length", "30");
        Assert.True(generate.Exit == 0, generate.Err);
        Assert.StartsWith("In the", generate.Out, StringComparison.Ordinal);
        var bf16 = CliRunner.Run("text", "generate", "--model", model, "--prompt", "In the", "--length", "30", "--weights", "bf16");
        Assert.True(bf16.Exit == 0, bf16.Err);
        Assert.StartsWith("In the", bf16.Out, StringComparison.Ordinal);
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

        string ragged = Path.Combine(_dir, "ragged.csv");
        File.WriteAllLines(ragged, ["t,v", "1,2", "2", "3,4"]);
        CliRunner.AssertOneLineError(Train(ragged, "v"), 1, "ragged.csv:3: the row has 1 cells");

        string binary = Path.Combine(_dir, "binary.csv");
        File.WriteAllBytes(binary, [.. Enumerable.Range(0, 3000).Select(i => (byte)((i * 7919) % 251))]);
        CliRunner.AssertOneLineError(Train(binary, "v"), 1, "looks like a binary file");

        string wide = Path.Combine(_dir, "wide.csv");
        File.WriteAllLines(wide, [string.Join(",", Enumerable.Range(0, 200).Select(i => new string('c', 100) + i)), "1"]);
        var many = Train(wide, "v");
        CliRunner.AssertOneLineError(many, 1, "and 190 more");
        Assert.True(many.Item3.Length < 700, $"{many.Item3.Length} characters of column names");

        string tiny = Path.Combine(_dir, "tiny.csv");
        File.WriteAllLines(tiny, ["v", .. Enumerable.Range(1, 20).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture))]);
        CliRunner.AssertOneLineError(Train(tiny, "v"), 1, "20 values are too few");

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

    [Fact]
    public void ForecastFromAHistoryShorterThanTheWindowIsAOneLineError()
    {
        string model = Path.Combine(_dir, "air.model"), air = Path.Combine(Samples, "air-passengers.csv");
        var train = CliRunner.Run("train", "--csv", air, "--column", "passengers", "--out", model, "--season", "12", "--hidden", "8", "--epochs", "2", "--ensemble", "1");
        Assert.True(train.Exit == 0, train.Err);
        var lines = File.ReadAllLines(air);
        string shortCsv = Path.Combine(_dir, "short.csv"), header = Path.Combine(_dir, "header.csv");
        File.WriteAllLines(shortCsv, lines[..4]);
        File.WriteAllLines(header, lines[..1]);
        foreach (var (csv, rows) in new[] { (shortCsv, 3), (header, 0) })
        {
            var r = CliRunner.Run("forecast", "--model", model, "--csv", csv, "--column", "passengers", "--out", Path.Combine(_dir, "f.csv"), "--plot", Path.Combine(_dir, "f.png"));
            CliRunner.AssertOneLineError(r, 1, $"too few rows for the model's window: the history has {rows} values");
        }
    }

    [Fact]
    public void BlankLinesMayEndACsvButNotInterruptIt()
    {
        var lines = File.ReadAllLines(Path.Combine(Samples, "air-passengers.csv"));
        string trailing = Path.Combine(_dir, "trailing.csv"), crlf = Path.Combine(_dir, "crlf.csv"), inside = Path.Combine(_dir, "inside.csv");
        File.WriteAllText(trailing, string.Join("\n", lines) + "\n\n");
        File.WriteAllText(crlf, string.Join("\r\n", lines) + "\r\n\r\n");
        File.WriteAllLines(inside, [.. lines[..50], "", .. lines[50..]]);
        Assert.Equal(144, FastLstm.Cli.Csv.ReadColumn(trailing, "passengers").Length);
        Assert.Equal(144, FastLstm.Cli.Csv.ReadColumn(crlf, "passengers").Length);
        var e = Assert.Throws<FastLstm.Cli.CliException>(() => FastLstm.Cli.Csv.ReadColumn(inside, "passengers"));
        Assert.Contains("inside.csv:51: a blank line inside the data", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TrainingThatDivergesSaysSoAndWhatToChange()
    {
        string model = Path.Combine(_dir, "div.model");
        var r = CliRunner.Run("train", "--csv", Path.Combine(Samples, "air-passengers.csv"), "--column", "passengers", "--out", model,
            "--cell", "rnn-relu", "--lr", "10", "--clip", "0", "--epochs", "5", "--ensemble", "1", "--method", "direct");
        CliRunner.AssertOneLineError(r, 1, "training diverged");
        Assert.Contains("lower --lr (now 10) or turn gradient clipping on (--clip 1)", r.Err, StringComparison.Ordinal);
        Assert.Contains("diverged; left out", r.Out, StringComparison.Ordinal);
        Assert.False(File.Exists(model));
    }

    [Fact]
    public void SeriesOutsideTheForecastersRangeAreRefusedAtTrain()
    {
        var lines = File.ReadAllLines(Path.Combine(Samples, "air-passengers.csv"));
        foreach (var (scale, mentions) in new[] { (1e300, "divide by 1e302"), (1e-300, "divide by 1e-298") })
        {
            string csv = Path.Combine(_dir, "scaled.csv"), model = Path.Combine(_dir, "scaled.model");
            File.WriteAllLines(csv, [lines[0], .. lines[1..].Select(l => l.Split(',')).Select(c => $"{c[0]},{(double.Parse(c[1], System.Globalization.CultureInfo.InvariantCulture) * scale).ToString("R", System.Globalization.CultureInfo.InvariantCulture)}")]);
            var r = CliRunner.Run("train", "--csv", csv, "--column", "passengers", "--out", model);
            CliRunner.AssertOneLineError(r, 1, mentions);
            Assert.False(File.Exists(model));
        }
    }

    [Fact]
    public void ANonFiniteForecastIsAnErrorAndWritesNothing()
    {
        string csv = Path.Combine(_dir, "f.csv");
        var r = CliRunner.Run("forecast", "--model", Path.Combine(Samples, "pytorch", "air-passengers-lstm.onnx"), "--csv", Path.Combine(Samples, "air-passengers.csv"),
            "--column", "passengers", "--lookback", "12", "--normalize", "1e308,1e-308", "--out", csv, "--plot", Path.Combine(_dir, "f.png"));
        CliRunner.AssertOneLineError(r, 1, "the forecast is not finite");
        Assert.Contains("check --normalize", r.Err, StringComparison.Ordinal);
        Assert.False(File.Exists(csv));
    }

    [Fact]
    public void OptionsTheSeriesCannotHonourAreNamedWithTheValueUsed()
    {
        var r = CliRunner.Run("train", "--csv", Path.Combine(Samples, "air-passengers.csv"), "--column", "passengers", "--out", Path.Combine(_dir, "h.model"),
            "--horizon", "10000", "--lookback", "10000", "--season", "100000", "--epochs", "1", "--ensemble", "1", "--hidden", "4");
        Assert.True(r.Exit == 0, r.Err);
        Assert.Contains("note: --horizon 10000 is more than 144 values allow; used 36.", r.Out, StringComparison.Ordinal);
        Assert.Contains("note: --lookback 10000 is more than 144 values allow; used 36.", r.Out, StringComparison.Ordinal);
        Assert.Contains("note: --season 100000 is more than 144 values allow; used none.", r.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void AnEndlessDeviceIsNotReadToTheEnd()
    {
        Assert.True(File.Exists("/dev/zero"), "this test needs a Unix /dev/zero");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        CliRunner.AssertOneLineError(CliRunner.Run("text", "train", "--file", "/dev/zero", "--out", Path.Combine(_dir, "z.model")), 1, "byte 0 is NUL");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"{clock.Elapsed} reading /dev/zero");
    }

    [Fact]
    public void InfoAndVersionPrintOneVersion()
    {
        var version = CliRunner.Run("--version");
        var info = CliRunner.Run("info");
        Assert.Equal(0, version.Exit);
        Assert.Equal(0, info.Exit);
        Assert.Contains("+", version.Out, StringComparison.Ordinal); // the package version and the commit
        Assert.Equal($"fastlstm: {version.Out.Trim()}", info.Out.Split('\n')[0].Trim());
        Assert.Contains($"int8: {Isa.DescribeInt8(Isa.Bits)}", info.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void HelpShowsDefaultsAsTypedAndTooLargeNumbersGetTheRange()
    {
        var flow = CliRunner.Run("gradient-flow", "--help");
        Assert.Contains("Default: rnn-tanh,rnn-relu,gru,lstm,seed-lstm.", flow.Out, StringComparison.Ordinal);
        Assert.Contains("Default: 10,50,100,200.", CliRunner.Run("long-memory", "--help").Out, StringComparison.Ordinal);
        Assert.Contains("Recurrent cell. Default: lstm.", CliRunner.Run("train", "--help").Out, StringComparison.Ordinal);
        Assert.DoesNotContain("RnnTanh", flow.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("GruResetBefore", CliRunner.Run("convert", "--help").Out, StringComparison.Ordinal);
        var forecast = CliRunner.Run("forecast", "--help").Out;
        Assert.Contains("--lookback <int>", forecast, StringComparison.Ordinal);
        Assert.Contains("--normalize <MEAN,SCALE>", forecast, StringComparison.Ordinal);
        Assert.Contains("or an ONNX forecasting model", forecast, StringComparison.Ordinal);
        CliRunner.AssertOneLineError(CliRunner.Run("bench", "--steps", "99999999999"), 2, "--steps: expected 1..");
    }

    [Fact]
    public void InspectAndConvertSayWhatAForecasterHolds()
    {
        string model = Path.Combine(_dir, "fc.model"), onnx = Path.Combine(_dir, "fc.onnx");
        var train = CliRunner.Run("train", "--csv", Path.Combine(Samples, "air-passengers.csv"), "--column", "passengers", "--out", model,
            "--season", "12", "--hidden", "4", "--epochs", "2", "--ensemble", "3", "--method", "combination");
        Assert.True(train.Exit == 0, train.Err);
        var inspect = CliRunner.Run("inspect", model);
        Assert.Equal(0, inspect.Exit);
        Assert.Contains("forecaster: method Combination, horizon 24, season 12", inspect.Out, StringComparison.Ordinal);
        Assert.Contains("networks: 3 averaged, each lstm direct", inspect.Out, StringComparison.Ordinal);
        Assert.Contains("Holt-Winters: saved, half of the combination", inspect.Out, StringComparison.Ordinal);
        var convert = CliRunner.Run("convert", model, onnx);
        Assert.Equal(0, convert.Exit);
        Assert.Contains("is a forecaster; " + onnx + " holds its first network and head only, without the rest of it:", convert.Out, StringComparison.Ordinal);
        Assert.Contains("  Holt-Winters: saved, half of the combination", convert.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void AnEmptyPathIsNamedByItsOption()
    {
        string air = Path.Combine(Samples, "air-passengers.csv");
        CliRunner.AssertOneLineError(CliRunner.Run("train", "--csv", air, "--column", "passengers", "--out", ""), 1, "--out: expected a file name, got an empty path.");
        CliRunner.AssertOneLineError(CliRunner.Run("gradient-flow", "--plot", ""), 1, "--plot: expected a file name");
        CliRunner.AssertOneLineError(CliRunner.Run("convert", air, ""), 1, "OUT: expected a file name");
        CliRunner.AssertOneLineError(CliRunner.Run("inspect", ""), 1, "FILE: expected a file name");
    }

    [Fact]
    public async Task AnEndlessPipeIsReadUpToTheCorpusCapAndSaysSo()
    {
        string fifo = Path.Combine(_dir, "endless");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", [fifo]))
        {
            mkfifo.WaitForExit();
            Assert.Equal(0, mkfifo.ExitCode);
        }

        // Endless text until the reader goes away (then the write fails and the writer stops).
        var writer = Task.Run(() =>
        {
            var line = System.Text.Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("in the beginning\n", 4096)));
            try
            {
                using var stream = new FileStream(fifo, FileMode.Open, FileAccess.Write);
                while (true)
                {
                    stream.Write(line);
                }
            }
            catch (IOException)
            {
            }
        });
        var r = CliRunner.Run("text", "train", "--file", fifo, "--out", Path.Combine(_dir, "e.model"));
        CliRunner.AssertOneLineError(r, 1, $"more than {256L << 20} bytes (256 MiB), the most a corpus may have; stopped reading there");
        await writer.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public void NoVerbShowsEveryVerb()
    {
        var r = CliRunner.Run();
        Assert.Equal(FastLstm.Cli.ExitCodes.Usage, r.Exit);
        foreach (var verb in new[] { "train", "forecast", "text", "gradcheck", "bench", "gradient-flow", "long-memory", "inspect", "convert", "info" })
        {
            Assert.Contains($"  {verb} ", r.Out, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void HostileInputsAreRefusedUpFront()
    {
        string air = Path.Combine(Samples, "air-passengers.csv");
        var refusals = new[]
        {
            (CliRunner.Run("train", "--csv", air, "--column", "passengers", "--out", Path.Combine(_dir, "m"), "--hidden", "4096", "--layers", "16"), "of memory"),
            (CliRunner.Run("bench", "--hidden", "16384", "--input", "65536", "--batch", "4096", "--steps", "65536"), "of memory"),
            (CliRunner.Run("long-memory", "--hidden", "1024", "--batch", "4096", "--steps", "10000"), "of memory"),
            (CliRunner.Run("train", "--csv", air, "--column", "passengers", "--out", Path.Combine(_dir, "none", "m")), "does not exist"),
            (CliRunner.Run("train", "--csv", air, "--column", "passengers", "--out", "/dev/null"), "not a regular file"),
        };
        foreach (var (result, mentions) in refusals)
        {
            CliRunner.AssertOneLineError(result, 1, mentions);
            Assert.Equal("", result.Item2); // refused before any work printed progress
        }

        string binary = Path.Combine(_dir, "binary.txt"), latin1 = Path.Combine(_dir, "latin1.txt");
        File.WriteAllBytes(binary, [.. "abc"u8, 0, 1, 2, .. "def"u8]);
        File.WriteAllBytes(latin1, [.. "caf"u8, 0xE9, .. " au lait"u8]);
        CliRunner.AssertOneLineError(CliRunner.Run("text", "train", "--file", binary, "--out", Path.Combine(_dir, "t")), 1, "binary");
        CliRunner.AssertOneLineError(CliRunner.Run("text", "train", "--file", latin1, "--out", Path.Combine(_dir, "t")), 1, "not valid UTF-8");
        Assert.False(File.Exists(Path.Combine(_dir, "t")));
    }

    [Fact]
    public void HelpSaysFastlstmAndEachDefaultOnce()
    {
        var help = CliRunner.Run("train", "--help");
        Assert.Equal(0, help.Exit);
        Assert.Contains("fastlstm train [options]", help.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("FastLstm.Cli", help.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("Default ", help.Out, StringComparison.Ordinal);
        Assert.Contains("<lstm|gru|gru-reset-before|rnn-tanh|rnn-relu|seed-lstm>", help.Out, StringComparison.Ordinal);
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(help.Out, "seasonal-naive"));
    }

    [Theory]
    [InlineData("--lookback", "-1", "--lookback")]
    [InlineData("--horizon", "-1", "--horizon")]
    [InlineData("--method", "magic", "magic")]
    [InlineData("--lr", "-1", "--lr")]
    [InlineData("--log", "maybe", "maybe")]
    [InlineData("--cell", "transformer", "--cell")]
    [InlineData("--test-fraction", "1.5", "--test-fraction")]
    public void BadOptionValuesAreOneLine(string option, string value, string mentions) =>
        CliRunner.AssertOneLineError(CliRunner.Run("train", "--csv", "x.csv", "--column", "v", "--out", "m", option, value), 2, mentions);

    [Fact]
    public void MissingRequiredOptionsAreOneLine() =>
        CliRunner.AssertOneLineError(CliRunner.Run("train", "--csv", "x.csv"), 2, "--column");
}
