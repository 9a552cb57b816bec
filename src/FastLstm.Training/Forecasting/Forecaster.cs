namespace FastLstm.Training.Forecasting;

/// <summary>The network and data choices of a forecaster.</summary>
public sealed record ForecasterOptions
{
    /// <summary>The recurrent cell.</summary>
    public CellType Cell { get; init; } = CellType.Lstm;

    /// <summary>Hidden units per layer.</summary>
    public int Hidden { get; init; } = 64;

    /// <summary>Stacked layers.</summary>
    public int Layers { get; init; } = 1;

    /// <summary>Transformed values the network reads to predict the next one.</summary>
    public int Lookback { get; init; } = 24;

    /// <summary>The latest fraction of the series, never seen in training, that scores the model.</summary>
    public double TestFraction { get; init; } = 0.2;

    /// <summary>Log, differences and seasonal difference applied before the network.</summary>
    public SeriesTransform Transform { get; init; } = new(Log: false, Difference: 1, Season: 0);

    /// <summary>Period of the seasonal-naive baseline (0: no such baseline).</summary>
    public int Season { get; init; }
}

/// <summary>Test error of one method, in the series' own units.</summary>
public sealed record ForecastScore(string Method, double Rmse, double Mae);

/// <summary>One-step-ahead scores on the held-out tail, model and baselines, with the model's predictions.</summary>
/// <param name="TestStart">Index of the first held-out value.</param>
/// <param name="Scores">The model first, then the baselines.</param>
/// <param name="Predictions">The model's one-step predictions of series[TestStart..].</param>
public sealed record ForecastEvaluation(int TestStart, IReadOnlyList<ForecastScore> Scores, double[] Predictions);

/// <summary>
/// Forecasting a univariate series with a many-to-one recurrent network: windows of the transformed, standardised
/// series predict its next value; predictions are turned back into the series' units from the history. Scaling uses
/// the training part only; the test part is never seen in training.
/// </summary>
public sealed class Forecaster
{
    private const double Kind = 1;
    private readonly WindowRegressor<float> _model;
    private readonly double _mean;
    private readonly double _std;

    private Forecaster(WindowRegressor<float> model, SeriesTransform transform, double mean, double std)
    {
        _model = model;
        Transform = transform;
        _mean = mean;
        _std = std;
    }

    /// <summary>How the series is made stationary.</summary>
    public SeriesTransform Transform { get; }

    /// <summary>Values of history the model needs: the window plus what the differences consume.</summary>
    public int MinimumHistory => Lookback + Transform.Lag;

    /// <summary>Window length.</summary>
    public int Lookback => _model.Steps;

    /// <summary>The network's shape.</summary>
    public RnnSpec Spec => _model.Network.Spec;

    /// <summary>
    /// Trains on the series except its last <see cref="ForecasterOptions.TestFraction"/>, then scores one-step-ahead
    /// predictions of that held-out part against the baselines: last value, seasonal naive (with a season) and a linear
    /// autoregression on the same windows.
    /// </summary>
    public static (Forecaster Forecaster, ForecastEvaluation Evaluation, IReadOnlyList<EpochReport> History) Train(
        ReadOnlySpan<double> series, ForecasterOptions options, TrainingOptions training, Action<EpochReport>? onEpoch = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(training);
        var transform = options.Transform;
        transform.Validate(series);
        if (options.Lookback < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.Lookback, $"lookback: expected ≥ 1, got {options.Lookback}.");
        }

        if (options.TestFraction is <= 0 or >= 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.TestFraction, $"test fraction: expected a value in (0, 1), got {options.TestFraction}.");
        }

        int n = series.Length, first = transform.Lag + options.Lookback;
        int testStart = n - (int)Math.Round(n * options.TestFraction);
        int trainWindows = testStart - first;
        if (trainWindows < 10 || testStart >= n)
        {
            throw new ArgumentException(
                $"series: {n} values are too few for a window of {options.Lookback} (+{transform.Lag} consumed by differencing) with {options.TestFraction:P0} held out; need at least {(int)Math.Ceiling((first + 10) / (1 - options.TestFraction)) + 1}.",
                nameof(series));
        }

        var z = transform.Apply(series);
        var fitted = z.AsSpan(transform.Lag, testStart - transform.Lag);
        double mean = fitted.ToArray().Average();
        double std = Math.Sqrt(fitted.ToArray().Select(v => (v - mean) * (v - mean)).Average());
        std = std > 1e-12 ? std : 1;
        var scaled = z.Select(v => (v - mean) / std).ToArray();

        int lookback = options.Lookback;
        var x = new float[trainWindows * lookback];
        var y = new float[trainWindows];
        var xd = new double[trainWindows * lookback];
        for (int i = 0; i < trainWindows; i++)
        {
            int t = first + i;
            for (int k = 0; k < lookback; k++)
            {
                xd[(i * lookback) + k] = scaled[t - lookback + k];
                x[(i * lookback) + k] = (float)scaled[t - lookback + k];
            }

            y[i] = (float)scaled[t];
        }

        var spec = new RnnSpec(options.Cell, 1, options.Hidden, options.Layers);
        var regressor = new WindowRegressor<float>(spec, lookback, 1, training.Seed);
        var history = regressor.Fit(x, y, trainWindows, training, onEpoch);
        var forecaster = new Forecaster(regressor, transform, mean, std);
        var ar = LinearAutoregression.Fit(xd, y.Select(v => (double)v).ToArray(), trainWindows, lookback);
        return (forecaster, forecaster.Evaluate(series, scaled, testStart, ar, options.Season), history);
    }

    /// <summary>The next value after <paramref name="history"/>.</summary>
    public double PredictNext(ReadOnlySpan<double> history)
    {
        CheckHistory(history);
        var window = Window(Transform.Apply(history), history.Length);
        var prediction = new float[1];
        _model.Predict(window, 1, prediction);
        return Transform.Invert((prediction[0] * _std) + _mean, history);
    }

    /// <summary>One-to-many: the next <paramref name="steps"/> values, each prediction fed back as history.</summary>
    public double[] Forecast(ReadOnlySpan<double> history, int steps)
    {
        CheckHistory(history);
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        var extended = new List<double>(history.Length + steps);
        extended.AddRange(history);
        var result = new double[steps];
        for (int k = 0; k < steps; k++)
        {
            result[k] = PredictNext(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(extended));
            extended.Add(result[k]);
        }

        return result;
    }

    /// <summary>Saves network, head, transform, window and scaling in one model file.</summary>
    public void Save(string path) => ModelFile.Save(path, new SavedModel<float>(_model.Network, _model.Head, new Dictionary<string, double[]>
    {
        ["kind"] = [Kind],
        ["lookback"] = [Lookback],
        ["transform"] = [Transform.Log ? 1 : 0, Transform.Difference, Transform.Season],
        ["scale"] = [_mean, _std],
    }));

    /// <summary>Loads a forecaster saved by <see cref="Save"/>.</summary>
    /// <exception cref="InvalidDataException">Not a valid forecaster file.</exception>
    public static Forecaster Load(string path)
    {
        var saved = ModelFile.Load<float>(path);
        var m = saved.Metadata;
        if (!m.TryGetValue("kind", out var kind) || kind is not [Kind] || saved.Head is null || saved.Network.Spec.InputSize != 1 || saved.Head.Outputs != 1)
        {
            throw new InvalidDataException($"{path}: not a time-series model (train one with 'fastlstm train').");
        }

        if (!m.TryGetValue("lookback", out var lookback) || lookback is not [>= 1 and <= 100_000]
            || !m.TryGetValue("transform", out var t) || t is not [0 or 1, 0 or 1, >= 0 and <= 100_000]
            || !m.TryGetValue("scale", out var scale) || scale is not [_, > 0] || !double.IsFinite(scale[0]))
        {
            throw new InvalidDataException($"{path}: the forecaster's window, transform or scaling is missing or invalid.");
        }

        var regressor = new WindowRegressor<float>(saved.Network, saved.Head, (int)lookback[0]);
        return new Forecaster(regressor, new SeriesTransform(t[0] == 1, (int)t[1], (int)t[2]), scale[0], scale[1]);
    }

    private ForecastEvaluation Evaluate(ReadOnlySpan<double> series, double[] scaled, int testStart, LinearAutoregression ar, int season)
    {
        int count = series.Length - testStart, lookback = Lookback;
        var windows = new float[count * lookback];
        for (int i = 0; i < count; i++)
        {
            for (int k = 0; k < lookback; k++)
            {
                windows[(i * lookback) + k] = (float)scaled[testStart + i - lookback + k];
            }
        }

        var predicted = new float[count];
        _model.Predict(windows, count, predicted);
        var model = new double[count];
        var last = new double[count];
        var seasonal = new double[count];
        var linear = new double[count];
        var actual = series[testStart..].ToArray();
        for (int i = 0; i < count; i++)
        {
            int t = testStart + i;
            var before = series[..t];
            model[i] = Transform.Invert((predicted[i] * _std) + _mean, before);
            last[i] = series[t - 1];
            seasonal[i] = season > 0 && t >= season ? series[t - season] : double.NaN;
            linear[i] = Transform.Invert((ar.Predict(scaled.AsSpan(t - lookback, lookback)) * _std) + _mean, before);
        }

        var scores = new List<ForecastScore>
        {
            Score($"{Spec.Cell} (this model)", model, actual),
            Score("last value", last, actual),
        };
        if (season > 0)
        {
            scores.Add(Score($"seasonal naive ({season})", seasonal, actual));
        }

        scores.Add(Score("linear autoregression", linear, actual));
        return new ForecastEvaluation(testStart, scores, model);
    }

    private static ForecastScore Score(string method, double[] predicted, double[] actual)
    {
        double se = 0, ae = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            double e = predicted[i] - actual[i];
            se += e * e;
            ae += Math.Abs(e);
        }

        return new ForecastScore(method, Math.Sqrt(se / actual.Length), ae / actual.Length);
    }

    private float[] Window(double[] z, int end)
    {
        var w = new float[Lookback];
        for (int k = 0; k < Lookback; k++)
        {
            w[k] = (float)((z[end - Lookback + k] - _mean) / _std);
        }

        return w;
    }

    private void CheckHistory(ReadOnlySpan<double> history)
    {
        if (history.Length < MinimumHistory)
        {
            throw new ArgumentException($"history: expected at least {MinimumHistory} values (window {Lookback} + {Transform.Lag} for differencing), got {history.Length}.", nameof(history));
        }

        Transform.Validate(history);
    }
}
