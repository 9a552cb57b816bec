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
    public void ForecasterRoundTripsThroughItsFile()
    {
        var series = Enumerable.Range(0, 120).Select(t => 50 + (0.5 * t) + (5 * Math.Sin(t * Math.PI / 6))).ToArray();
        var (forecaster, evaluation, _) = Forecaster.Train(series, new ForecasterOptions { Hidden = 8, Lookback = 12, Season = 12, Transform = new(false, 1, 12) },
            new TrainingOptions { Epochs = 5, Seed = 3 });
        Assert.Equal(["Lstm (this model)", "last value", "seasonal naive (12)", "linear autoregression"], evaluation.Scores.Select(s => s.Method));
        Assert.Equal(series.Length - evaluation.TestStart, evaluation.Predictions.Length);
        string path = Path.GetTempFileName();
        try
        {
            forecaster.Save(path);
            var loaded = Forecaster.Load(path);
            Assert.Equal(forecaster.Forecast(series, 6), loaded.Forecast(series, 6));
            Assert.Throws<InvalidDataException>(() => TextModel.Load(path));
        }
        finally
        {
            File.Delete(path);
        }

        Assert.Contains("too few", Assert.Throws<ArgumentException>(() => Forecaster.Train(series.AsSpan(0, 30), new ForecasterOptions(), new TrainingOptions())).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => forecaster.PredictNext(series.AsSpan(0, 5)));
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
    }
}
