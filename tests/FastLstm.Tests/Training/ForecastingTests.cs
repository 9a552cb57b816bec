using FastLstm.Training;
using FastLstm.Training.Forecasting;
using FastLstm.Training.Text;

namespace FastLstm.Tests.Training;

public class ForecastingTests
{
    [Theory]
    [InlineData(false, 0, 0)]
    [InlineData(false, 1, 0)]
    [InlineData(true, 1, 0)]
    [InlineData(true, 1, 12)]
    [InlineData(false, 0, 7)]
    public void InvertUndoesApply(bool log, int difference, int season)
    {
        var y = Enumerable.Range(0, 60).Select(t => 100 + t + (10 * Math.Sin(t / 2.0))).ToArray();
        var transform = new SeriesTransform(log, difference, season);
        var z = transform.Apply(y);
        Assert.All(z.AsSpan(0, transform.Lag).ToArray(), v => Assert.True(double.IsNaN(v)));
        for (int t = transform.Lag; t < y.Length; t++)
        {
            Assert.Equal(y[t], transform.Invert(z[t], y.AsSpan(0, t)), 1e-9);
        }
    }

    [Fact]
    public void LinearAutoregressionRecoversCoefficients()
    {
        var rng = new Random(1);
        var s = new double[3000];
        for (int t = 2; t < s.Length; t++)
        {
            s[t] = 0.3 + (0.6 * s[t - 1]) - (0.2 * s[t - 2]) + ((rng.NextDouble() * 2) - 1);
        }

        int n = s.Length - 2;
        var x = new double[n * 2];
        var y = new double[n];
        for (int i = 0; i < n; i++)
        {
            x[2 * i] = s[i];
            x[(2 * i) + 1] = s[i + 1];
            y[i] = s[i + 2];
        }

        var ar = LinearAutoregression.Fit(x, y, n, 2);
        // Standard errors here are about 0.015 per coefficient; a wrong solver is off by far more.
        Assert.InRange(ar.Predict([0.0, 0.0]), 0.3 - 0.05, 0.3 + 0.05);
        Assert.InRange(ar.Predict([1.0, 0.0]) - ar.Predict([0.0, 0.0]), -0.2 - 0.05, -0.2 + 0.05);
        Assert.InRange(ar.Predict([0.0, 1.0]) - ar.Predict([0.0, 0.0]), 0.6 - 0.05, 0.6 + 0.05);
    }

    [Fact]
    public void RegressorLearnsAndIsDeterministic()
    {
        // y = sin of a phase that the window reveals: the network must beat predicting the mean by far.
        const int count = 200, steps = 8;
        var x = new float[count * steps];
        var y = new float[count];
        for (int i = 0; i < count; i++)
        {
            for (int k = 0; k < steps; k++)
            {
                x[(i * steps) + k] = MathF.Sin((i + k) * 0.3f);
            }

            y[i] = MathF.Sin((i + steps) * 0.3f);
        }

        var options = new TrainingOptions { Epochs = 40, BatchSize = 16, LearningRate = 5e-3, Seed = 7 };
        var a = new WindowRegressor<float>(new RnnSpec(CellType.Gru, 1, 12), steps, 1, 7);
        var history = a.Fit(x, y, count, options);
        var b = new WindowRegressor<float>(new RnnSpec(CellType.Gru, 1, 12), steps, 1, 7);
        b.Fit(x, y, count, options);
        Assert.True(a.Network.Parameters.SequenceEqual(b.Network.Parameters), "same seed, same weights");
        Assert.True(a.Evaluate(x, y, count) < 0.01, $"mse {a.Evaluate(x, y, count)} (variance 0.5)");
        Assert.True(history[0].TrainLoss > 5 * history[^1].TrainLoss);
    }

    [Fact]
    public void SeriesWindowsReadWhatArraysHold()
    {
        var z = Enumerable.Range(0, 50).Select(i => (float)Math.Sin(i)).ToArray();
        var windows = new SeriesWindows<float>(z, 6, 3, 6, 42);
        var x = new float[6];
        var y = new float[3];
        for (int i = 0; i < windows.Count; i++)
        {
            windows.Read(i, x, y);
            Assert.Equal(z.AsSpan(i, 6).ToArray(), x);
            Assert.Equal(z.AsSpan(i + 6, 3).ToArray(), y);
        }
    }

    [Fact]
    public void HoltWintersRecoversASeasonalSeriesAndPicksItsForm()
    {
        // Multiplicative seasonality on a trend: the AIC pick must be multiplicative and the forecast close.
        double Value(int t) => (100 + (2 * t)) * (1 + (0.2 * Math.Sin(t * Math.PI / 6)));
        var series = Enumerable.Range(0, 120).Select(Value).ToArray();
        var model = ExponentialSmoothing.Fit(series, 12);
        Assert.Equal(EtsSeason.Multiplicative, model.Season);
        Assert.NotEqual(EtsTrend.None, model.Trend);
        var f = model.Forecast(12);
        for (int h = 0; h < 12; h++)
        {
            Assert.InRange(f[h] / Value(120 + h), 0.97, 1.03);
        }

        // The same parameters run over the same history give the same forecast.
        Assert.Equal(f, ExponentialSmoothing.FromParameters(model.Save(), series).Forecast(12));
    }

    [Fact]
    public void SeasonIsFoundOrNot()
    {
        var rng = new Random(4);
        var seasonal = Enumerable.Range(0, 240).Select(t => (0.3 * t) + (10 * Math.Sin(t * Math.PI / 6)) + rng.NextDouble()).ToArray();
        Assert.Equal(12, SeasonDetector.Find(seasonal));
        double walk = 0;
        var randomWalk = Enumerable.Range(0, 1000).Select(_ => walk += (rng.NextDouble() * 2) - 1).ToArray();
        Assert.Equal(0, SeasonDetector.Find(randomWalk));
    }

    [Fact]
    public void BacktestScoresWhatTheForecastsMiss()
    {
        // Last value on a line of slope 2: the error at step h is exactly 2h, at every origin.
        var line = Enumerable.Range(0, 100).Select(t => 2.0 * t).ToArray();
        var backtest = Backtest.Plan(line, 5, 10, 20, 0);
        Assert.Equal(Enumerable.Range(86, 10), backtest.Origins);
        var score = backtest.Score(new LastValueMethod(), line);
        Assert.Equal(Math.Sqrt(new[] { 2, 4, 6, 8, 10 }.Average(e => e * e)), score.Rmse, 9);
        Assert.Equal(6, score.Mae, 9);
        Assert.Equal([2, 4, 6, 8, 10], score.RmseByStep.Select(v => Math.Round(v, 9)));
        Assert.Equal(3, score.Mase, 9);
        Assert.Equal(0, backtest.Score(new DriftMethod(), line).Rmse, 9);

        // A series that cannot spare ten origins gets as many as keep the fit part.
        Assert.Equal(Enumerable.Range(90, 6), Backtest.Plan(line, 5, 10, 90, 0).Origins);
    }

    [Fact]
    public void UnitRootTellsAWalkFromAMeanRevertingSeries()
    {
        int walks = 0, reverting = 0;
        for (int seed = 0; seed < 20; seed++)
        {
            var rng = new Random(seed);
            double w = 0, ar = 0;
            var walk = new double[1000];
            var ar1 = new double[1000];
            for (int t = 0; t < walk.Length; t++)
            {
                double e = rng.NextDouble() - 0.5;
                walk[t] = w += e;
                ar1[t] = ar = (0.5 * ar) + e;
            }

            walks += UnitRoot.Stationary(walk) ? 1 : 0;
            reverting += UnitRoot.Stationary(ar1) ? 1 : 0;
        }

        // A 5 % test: about one walk in twenty rejected; every AR(1) with φ = 0.5 rejected by far.
        Assert.InRange(walks, 0, 3);
        Assert.Equal(20, reverting);
        var cycle = Enumerable.Range(0, 600).Select(t => (50 * Math.Sin(t * 2 * Math.PI / 130)) + (t % 7)).ToArray();
        Assert.True(UnitRoot.Statistic(cycle) < -2.86, $"a long cycle reverts to its mean: ADF {UnitRoot.Statistic(cycle)}");
        Assert.True(double.IsNaN(UnitRoot.Statistic(new double[12])));
    }

    [Fact]
    public void BeatsNeedsTwoIndependentHorizons()
    {
        var line = Enumerable.Range(0, 400).Select(t => (double)t).ToArray();
        BacktestScore Score(Backtest b, double level, int seed)
        {
            var rng = new Random(seed);
            var mse = b.Origins.Select(_ => level + rng.NextDouble()).ToArray();
            return new BacktestScore("m", Math.Sqrt(mse.Average()), 0, 0, 0, [], mse);
        }

        // Ten origins inside one horizon: however consistent the advantage, that is one or two forecasts' worth.
        var short_ = Backtest.Plan(line, 10, 10, 100, 0);
        Assert.False(short_.Beats(Score(short_, 1, 1), Score(short_, 9, 2)));

        // Sixty origins over six horizons: a consistent advantage shows, a noisy small one does not.
        var wide = Backtest.Plan(line, 10, 60, 100, 0);
        Assert.True(wide.Beats(Score(wide, 1, 1), Score(wide, 9, 2)));
        Assert.False(wide.Beats(Score(wide, 1, 1), Score(wide, 1.02, 2)));
        Assert.False(wide.Beats(Score(wide, 9, 1), Score(wide, 1, 2)));
    }

    public static TheoryData<string> Methods => ["autoregression", "holt-winters", "seasonal naive", "network", "network residual", "network recursive"];

    /// <summary>
    /// MinimumLength is what the forecaster leaves a candidate out by, instead of catching its failure: a fit on that many
    /// values works and forecasts from them, and the throwing methods refuse one value fewer.
    /// </summary>
    [Theory]
    [MemberData(nameof(Methods))]
    public void MinimumLengthIsTheShortestSeriesAFitTakes(string name)
    {
        var network = new NetworkForecastOptions
        {
            Hidden = 2, Lookback = 5, Horizon = 3, Period = 4, Members = 1, Transform = new SeriesTransform(true, 1, 4),
            Training = new TrainingOptions { Epochs = 1, Seed = 3 },
        };
        Func<ForecastMethod> make = name switch
        {
            "autoregression" => () => new AutoregressionMethod(6),
            "holt-winters" => () => new HoltWintersMethod(4),
            "seasonal naive" => () => new SeasonalNaiveMethod(7),
            "network" => () => new NetworkMethod(network),
            "network residual" => () => new NetworkMethod(network with { Residual = true }),
            _ => () => new NetworkMethod(network with { Recursive = true }),
        };
        int n = make().MinimumLength;
        var series = Enumerable.Range(0, n).Select(t => 10 + Math.Sin(t / 2.0) + (0.01 * t)).ToArray();
        var method = make();
        method.Fit(series);
        Assert.All(method.Forecast(series, 3), v => Assert.True(double.IsFinite(v)));
        if (name != "seasonal naive")
        {
            Assert.Throws<ArgumentException>(() => make().Fit(series.AsSpan(1)));
        }
    }

    [Fact]
    public void CheckpointsKeepEachEpochsWeights()
    {
        var series = Enumerable.Range(0, 120).Select(t => 10 + Math.Sin(t / 3.0)).ToArray();
        var options = new NetworkForecastOptions { Hidden = 4, Lookback = 12, Horizon = 6, Transform = new SeriesTransform(false, 0, 0), Members = 2, Training = new TrainingOptions { Seed = 5 } };
        var checkpoints = new NetworkMethod(options);
        checkpoints.FitCheckpoints(series, [1, 3]);
        Assert.Equal(3, checkpoints.BestEpoch);
        var atThree = checkpoints.Forecast(series, 6);
        checkpoints.UseCheckpoint(0);
        Assert.Equal(1, checkpoints.BestEpoch);
        var once = new NetworkMethod(options);
        once.Fit(series, 1);
        Assert.Equal(once.Forecast(series, 6), checkpoints.Forecast(series, 6));
        Assert.NotEqual(atThree, checkpoints.Forecast(series, 6));
        checkpoints.UseCheckpoint(1);
        Assert.Equal(atThree, checkpoints.Forecast(series, 6));
        Assert.Throws<ArgumentException>(() => checkpoints.FitCheckpoints(series, [3, 3]));
        Assert.Throws<ArgumentOutOfRangeException>(() => checkpoints.UseCheckpoint(2));
    }

    [Fact]
    public void AnEpochDrawsAtMostItsWindows()
    {
        var z = Enumerable.Range(0, 300).Select(i => (float)Math.Sin(i * 0.2)).ToArray();
        var windows = new SeriesWindows<float>(z, 8, 1, 8, 290);
        float[] Fit(int perEpoch)
        {
            var r = new WindowRegressor<float>(new RnnSpec(CellType.Lstm, 1, 4), 8, 1, 3);
            r.Fit(windows, new TrainingOptions { Epochs = 3, ValidationFraction = 0, Seed = 3, WindowsPerEpoch = perEpoch });
            return r.Network.Parameters.ToArray();
        }

        // As many as there are is all of them; fewer is a different (cheaper) fit.
        Assert.Equal(Fit(0), Fit(290));
        Assert.NotEqual(Fit(0), Fit(64));
        Assert.Throws<ArgumentOutOfRangeException>(() => new TrainingOptions { WindowsPerEpoch = -1 }.Validate());
    }

    [Fact]
    public void ARandomWalkIsForecastByItsLastValue()
    {
        var rng = new Random(4);
        double w = 100;
        var walk = Enumerable.Range(0, 400).Select(_ => w += rng.NextDouble() - 0.5).ToArray();
        var (forecaster, report) = Forecaster.Train(walk, new ForecasterOptions { Hidden = 4, Ensemble = 1, Season = 0 }, new TrainingOptions { Epochs = 4 });
        Assert.Equal(ForecastChoice.LastValue, forecaster.Choice);
        Assert.Equal("last value", report.Chosen);
        Assert.All(forecaster.Forecast(walk, 5).Values, v => Assert.Equal(walk[^1], v));

        // Nothing refitted for a forecast without a network, and the file still holds what loading needs.
        string path = Path.GetTempFileName();
        try
        {
            forecaster.Save(path);
            Assert.Equal(forecaster.Forecast(walk, 5).Values, Forecaster.Load(path, walk).Forecast(walk, 5).Values);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void ForecasterChoosesTrainsRefitsAndRoundTrips()
    {
        var rng = new Random(2);
        var series = Enumerable.Range(0, 160).Select(t => 50 + (0.5 * t) + (8 * Math.Sin(t * Math.PI / 6)) + rng.NextDouble()).ToArray();
        var options = new ForecasterOptions { Hidden = 8, Ensemble = 2, Threads = 2 };
        var training = new TrainingOptions { Epochs = 6, Seed = 3 };
        var (forecaster, report) = Forecaster.Train(series, options, training);
        Assert.Equal(12, report.Season);
        Assert.Equal(24, report.Horizon);
        Assert.Contains(report.Scores, s => s.Method == "last value");
        Assert.Contains(report.Scores, s => s.Method.StartsWith("Holt-Winters", StringComparison.Ordinal));
        Assert.Contains(report.Scores, s => s.Method.StartsWith("ES-RNN", StringComparison.Ordinal));
        var chosen = report.Scores.Single(s => s.Method == report.Chosen);
        var combination = report.Scores.Single(s => s.Method.StartsWith("mean of", StringComparison.Ordinal));
        Assert.True(chosen == combination || report.Backtest.Beats(chosen, combination), $"chose {report.Chosen}: the combination unless beaten beyond noise");
        Assert.True(report.Scores.Single(s => s.Method == report.Chosen).Rmse < report.Scores.Single(s => s.Method == "last value").Rmse,
            "a seasonal series with a trend must be forecast better than by its last value");

        var f = forecaster.Forecast(series, 30);
        Assert.Equal(30, f.Values.Length);
        for (int h = 0; h < 30; h++)
        {
            Assert.True(f.Lower95[h] <= f.Lower80[h] && f.Lower80[h] <= f.Values[h] && f.Values[h] <= f.Upper80[h] && f.Upper80[h] <= f.Upper95[h]);
        }

        // Same seed, same forecaster; and the file holds everything the forecast needs.
        var (again, _) = Forecaster.Train(series, options, training);
        Assert.Equal(f.Values, again.Forecast(series, 30).Values);
        string path = Path.GetTempFileName();
        try
        {
            forecaster.Save(path);
            var loaded = Forecaster.Load(path, series);
            Assert.Equal(forecaster.Method, loaded.Method);
            Assert.Equal(f.Values, loaded.Forecast(series, 30).Values);
            Assert.Equal(f.Upper95, loaded.Forecast(series, 30).Upper95);
            Assert.Throws<InvalidDataException>(() => TextModel.Load(path));
        }
        finally
        {
            File.Delete(path);
        }

        Assert.Contains("too few", Assert.Throws<ArgumentException>(() => Forecaster.Train(series.AsSpan(0, 10), options, training)).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => forecaster.Forecast(series.AsSpan(0, 5), 3));
    }

    [Theory]
    [InlineData(ForecastChoice.Direct)]
    [InlineData(ForecastChoice.Recursive)]
    [InlineData(ForecastChoice.EsRnn)]
    [InlineData(ForecastChoice.Combination)]
    public void LongForecastsTakeLinearTime(ForecastChoice method)
    {
        var series = Enumerable.Range(0, 200).Select(t => 100 + (10 * Math.Sin(t * Math.PI / 6)) + (0.1 * t)).ToArray();
        var (forecaster, _) = Forecaster.Train(series, new ForecasterOptions { Hidden = 4, Ensemble = 1, Method = method }, new TrainingOptions { Epochs = 2 });
        Assert.Contains(method == ForecastChoice.EsRnn ? "ES-RNN" : method == ForecastChoice.Combination ? "mean of" : method == ForecastChoice.Recursive ? "recursive" : "direct", forecaster.Method, StringComparison.Ordinal);
        var f = forecaster.Forecast(series, 20_000).Values;
        Assert.Equal(20_000, f.Length);
        Assert.All(f, v => Assert.True(double.IsFinite(v)));
    }

    [Fact]
    public void TextModelTrainsGeneratesAndRoundTrips()
    {
        string text = string.Concat(Enumerable.Repeat("the cat sat on the mat. ", 200));
        var options = new TextModelOptions { Hidden = 24, Layers = 1, SequenceLength = 20, Streams = 4 };
        var (model, history) = TextModel.Train(text, options, new TrainingOptions { Epochs = 4, LearningRate = 1e-2, Clip = 5, Seed = 2 });
        Assert.True(history[^1].HeldOutBitsPerCharacter < history[0].HeldOutBitsPerCharacter);
        Assert.True(history[^1].HeldOutBitsPerCharacter < 1.5, $"{history[^1].HeldOutBitsPerCharacter} bits/char on a repeated phrase");
        string a = model.Generate("the ", 40, 0.5, 9);
        Assert.StartsWith("the ", a, StringComparison.Ordinal);
        Assert.Equal(44, a.Length);

        string path = Path.GetTempFileName();
        try
        {
            model.Save(path);
            Assert.Equal(a, TextModel.Load(path).Generate("the ", 40, 0.5, 9));
        }
        finally
        {
            File.Delete(path);
        }

        Assert.Contains("'z'", Assert.Throws<ArgumentException>(() => model.Generate("zebra", 5, 1, 1)).Message, StringComparison.Ordinal);
        Assert.Equal("length", Assert.Throws<ArgumentOutOfRangeException>(() => model.Generate("the", int.MaxValue, 1, 1)).ParamName);
    }

    [Fact]
    public void TextCharactersOutsideTheBmpAreOneCharacterEach()
    {
        string text = string.Concat(Enumerable.Repeat("a😀b𝄞 ", 300));
        var options = new TextModelOptions { Hidden = 8, Layers = 1, SequenceLength = 10, Streams = 2 };
        var (model, _) = TextModel.Train(text, options, new TrainingOptions { Epochs = 1, Seed = 1 });
        Assert.Equal([0x20, 0x61, 0x62, 0x1D11E, 0x1F600], model.Vocabulary.Select(r => r.Value).Order().ToArray());
        string generated = model.Generate("a", 200, 1, 3);
        Assert.DoesNotContain('\uFFFD', generated);
        Assert.True(System.Text.Unicode.Utf8.IsValid(System.Text.Encoding.UTF8.GetBytes(generated)));
        Assert.Equal("text", Assert.Throws<ArgumentException>(() => TextModel.Train("ab\uD800cd" + text, options, new TrainingOptions { Epochs = 1 })).ParamName);
    }
}
