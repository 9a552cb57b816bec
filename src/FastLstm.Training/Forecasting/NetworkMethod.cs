namespace FastLstm.Training.Forecasting;

/// <summary>How a <see cref="NetworkMethod"/> is built and trained.</summary>
public sealed record NetworkForecastOptions
{
    /// <summary>Recurrent cell.</summary>
    public CellType Cell { get; init; } = CellType.Lstm;

    /// <summary>Hidden units per layer.</summary>
    public int Hidden { get; init; } = 32;

    /// <summary>Stacked recurrent layers.</summary>
    public int Layers { get; init; } = 1;

    /// <summary>Values each window reads.</summary>
    public int Lookback { get; init; } = 24;

    /// <summary>Steps forecast at once (direct, multi-output) or, with <see cref="Recursive"/>, one at a time fed back.</summary>
    public int Horizon { get; init; } = 24;

    /// <summary>One-step head whose predictions are fed back, instead of one head for all <see cref="Horizon"/> steps.</summary>
    public bool Recursive { get; init; }

    /// <summary>Log, difference and seasonal difference before the network (ignored with <see cref="Residual"/>).</summary>
    public SeriesTransform Transform { get; init; } = new(false, 1, 0);

    /// <summary>
    /// ES-RNN (Smyl's M4 winner, simplified): a Holt-Winters model carries the level and seasonality, the network learns
    /// the log-ratio (or, for a series with values ≤ 0, the difference) between the actual values and Holt-Winters'
    /// forecasts of them at every horizon, from a window of its one-step log-ratios.
    /// </summary>
    public bool Residual { get; init; }

    /// <summary>Seasonal period of the residual's Holt-Winters model (0: none).</summary>
    public int Period { get; init; }

    /// <summary>Networks trained from different seeds whose forecasts are averaged.</summary>
    public int Members { get; init; } = 1;

    /// <summary>Members trained at once (each on one thread, so a member's result does not depend on it).</summary>
    public int Threads { get; init; } = 1;

    /// <summary>Epochs, batch, learning rate, clipping, validation and the seed of member 0 (member k: seed + 7919·k).</summary>
    public TrainingOptions Training { get; init; } = new() { Epochs = 60, Patience = 8 };
}

/// <summary>
/// A recurrent network on windows of the series: the transformed, standardised values of the last
/// <see cref="NetworkForecastOptions.Lookback"/> steps predict the next <see cref="NetworkForecastOptions.Horizon"/> (or,
/// recursive, the next one), through a linear head on the last step; an ensemble of members averages. Training windows
/// are read from the series as batches are drawn (<see cref="SeriesWindows{T}"/>), never all materialised.
/// </summary>
public sealed class NetworkMethod : ForecastMethod
{
    private readonly NetworkForecastOptions _o;
    private WindowRegressor<float>[] _members = [];
    private ExponentialSmoothing? _ets;
    private double _mean, _std = 1;
    private bool _positive;
    private int[] _checkpoints = [];
    private (float[] Network, float[] Head)[][] _snapshots = [];

    /// <summary>A method not yet fitted.</summary>
    public NetworkMethod(NetworkForecastOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _o = options;
    }

    /// <summary>How it is built and trained.</summary>
    public NetworkForecastOptions Options => _o;

    /// <summary>Epochs the members trained before their weights were kept (for refitting without a validation split).</summary>
    public int BestEpoch { get; private set; }

    /// <inheritdoc/>
    public override string Name => _o.Residual
        ? $"ES-RNN {Options.Cell.ToString().ToLowerInvariant()} on Holt-Winters"
        : $"{_o.Cell.ToString().ToLowerInvariant()} {(_o.Recursive ? "recursive" : "direct")}, {Describe(_o.Transform)}";

    /// <summary>The members' networks and heads (after <see cref="Fit(ReadOnlySpan{double})"/>).</summary>
    public IReadOnlyList<WindowRegressor<float>> Members => _members;

    /// <summary>How forecasts store the members' weights (<see cref="WindowRegressor{T}.Weights"/>); fitting is unaffected.</summary>
    public WeightFormat Weights
    {
        get => _weights;
        set
        {
            foreach (var member in _members)
            {
                member.Weights = value;
            }

            _weights = value;
        }
    }

    private WeightFormat _weights;

    /// <summary>Standardisation of the transformed series: mean, deviation; and, with a residual, its Holt-Winters parameters.</summary>
    public (double Mean, double Std, ExponentialSmoothing? Ets, bool Positive) State => (_mean, _std, _ets, _positive);

    private int Outputs => _o.Recursive && !_o.Residual ? 1 : _o.Horizon;

    // Values the transform (or the residual's two seasons) looks back before the first window starts.
    private int Lag => _o.Residual ? Math.Max(1, 2 * _o.Period) : _o.Transform.Lag;

    /// <inheritdoc/>
    /// <remarks>Enough for 8 whole training windows.</remarks>
    public override int MinimumLength => Lag + _o.Lookback + Outputs + 7;

    /// <summary>The epochs of member 0's last fit (training and validation loss).</summary>
    public IReadOnlyList<EpochReport> Reports { get; private set; } = [];

    /// <summary>e.g. "log, difference, seasonal difference 12".</summary>
    public static string Describe(SeriesTransform t)
    {
        ArgumentNullException.ThrowIfNull(t);
        var parts = new List<string>();
        if (t.Log)
        {
            parts.Add("log");
        }

        if (t.Difference == 1)
        {
            parts.Add("difference");
        }

        if (t.Season > 0)
        {
            parts.Add($"seasonal difference {t.Season}");
        }

        return parts.Count == 0 ? "levels" : string.Join(", ", parts);
    }

    /// <inheritdoc/>
    public override void Fit(ReadOnlySpan<double> series) => Fit(series, null);

    /// <summary>Fits; <paramref name="epochs"/> trains exactly that many epochs on every window (no validation split).</summary>
    public void Fit(ReadOnlySpan<double> series, int? epochs)
    {
        var training = epochs is int e ? _o.Training with { Epochs = e, ValidationFraction = 0 } : _o.Training;
        var best = Train(series, training, []);
        BestEpoch = (int)Math.Round(best.Average());
    }

    /// <summary>
    /// Fits every member for the last of <paramref name="checkpoints"/> (ascending epochs) on every window, no validation
    /// split, keeping the weights each member had at each checkpoint: a backtest then scores every checkpoint through
    /// <see cref="UseCheckpoint"/>. The epoch count is chosen on the backtest's forecasts, not on a validation split of a
    /// few windows whose best epoch jumps with the seed.
    /// </summary>
    public void FitCheckpoints(ReadOnlySpan<double> series, IReadOnlyList<int> checkpoints)
    {
        ArgumentNullException.ThrowIfNull(checkpoints);
        if (checkpoints.Count == 0 || checkpoints[0] < 1 || checkpoints.Zip(checkpoints.Skip(1), (a, b) => b > a).Contains(false))
        {
            throw new ArgumentException($"checkpoints: expected ascending epochs ≥ 1, got [{string.Join(", ", checkpoints)}].", nameof(checkpoints));
        }

        Train(series, _o.Training with { Epochs = checkpoints[^1], ValidationFraction = 0, Patience = checkpoints[^1] }, [.. checkpoints]);
        UseCheckpoint(_checkpoints.Length - 1);
    }

    /// <summary>Puts every member back to its weights at checkpoint <paramref name="index"/>; <see cref="BestEpoch"/> follows.</summary>
    public void UseCheckpoint(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, _checkpoints.Length);
        for (int k = 0; k < _members.Length; k++)
        {
            _snapshots[k][index].Network.CopyTo(_members[k].Network.Parameters);
            _snapshots[k][index].Head.CopyTo(_members[k].Head.Parameters);
        }

        BestEpoch = _checkpoints[index];
    }

    /// <summary>Trains the members; returns each one's best epoch and keeps its weights at every epoch in <paramref name="keep"/>.</summary>
    private int[] Train(ReadOnlySpan<double> series, TrainingOptions training, int[] keep)
    {
        if (series.Length < MinimumLength)
        {
            throw new ArgumentException($"series: {series.Length} values are too few for 8 training windows with a lookback of {_o.Lookback} and horizon {Outputs}; need at least {MinimumLength}.", nameof(series));
        }

        var (z, first, count) = Prepare(series);

        var data = _o.Residual ? new ResidualWindows(this, z, first, count) : (WindowSet<float>)new SeriesWindows<float>(z.Float, _o.Lookback, Outputs, first, count);
        var members = new WindowRegressor<float>[_o.Members];
        var best = new int[_o.Members];
        var reports = new IReadOnlyList<EpochReport>[_o.Members];
        var snapshots = new (float[] Network, float[] Head)[_o.Members][];
        Parallel.For(0, _o.Members, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, _o.Threads) }, k =>
        {
            var spec = new RnnSpec(_o.Cell, 1, _o.Hidden, _o.Layers);
            int seed = unchecked(training.Seed + (7919 * k));
            var member = new WindowRegressor<float>(spec, _o.Lookback, Outputs, seed);
            var kept = snapshots[k] = new (float[], float[])[keep.Length];
            reports[k] = member.Fit(data, training with { Seed = seed }, r =>
            {
                int at = Array.IndexOf(keep, r.Epoch);
                if (at >= 0)
                {
                    kept[at] = (member.Network.Parameters.ToArray(), member.Head.Parameters.ToArray());
                }
            });
            best[k] = reports[k].LastOrDefault(r => r.IsBest)?.Epoch ?? 0;
            members[k] = member;
        });
        if (Array.IndexOf(best, 0) is int lost and >= 0)
        {
            throw new TrainingDivergedException($"{Name}: network {lost + 1} of {best.Length} never reached a finite loss in {training.Epochs} epochs.");
        }

        _members = members;
        Weights = _weights;
        (_snapshots, _checkpoints) = (snapshots, keep);
        Reports = reports[0];
        return best;
    }

    /// <summary>Uses trained members and state (a saved model).</summary>
    public void Use(WindowRegressor<float>[] members, double mean, double std, ExponentialSmoothing? ets, bool positive)
    {
        _members = members;
        Weights = _weights;
        (_mean, _std, _ets, _positive) = (mean, std, ets, positive);
    }

    /// <inheritdoc/>
    public override double[] Forecast(ReadOnlySpan<double> history, int steps)
    {
        if (_members.Length == 0)
        {
            throw new InvalidOperationException("network forecast: call Fit first.");
        }

        return _o.Residual ? ForecastResidual(history, steps) : ForecastTransformed(history, steps);
    }

    /// <summary>The standardised model input over <paramref name="series"/>, and the span of whole training windows.</summary>
    private (Scaled Z, int First, int Count) Prepare(ReadOnlySpan<double> series)
    {
        int n = series.Length, lag = Lag, outputs = Outputs;
        double[] z;
        if (_o.Residual)
        {
            _positive = true;
            foreach (double v in series)
            {
                _positive &= v > 0;
            }

            _ets = ExponentialSmoothing.Fit(series, _o.Period);
            _ets.Apply(series, out var fitted);
            z = Ratios(series, fitted);
        }
        else
        {
            _o.Transform.Validate(series);
            z = _o.Transform.Apply(series);
        }

        var valid = z.AsSpan(lag).ToArray();
        _mean = valid.Average();
        double sd = Math.Sqrt(valid.Select(v => (v - _mean) * (v - _mean)).Average());
        _std = sd > 1e-12 ? sd : 1;
        var scaled = new Scaled(z, _mean, _std, series.ToArray(), _o.Residual ? _ets!.ForecastsAlong(series, _o.Horizon) : null, _o.Horizon, _positive);
        int first = lag + _o.Lookback;
        return (scaled, first, n - first - outputs + 1);
    }

    /// <summary>ln(y / fitted), or y − fitted for a series with values ≤ 0; 0 where the fitted value is not usable.</summary>
    private double[] Ratios(ReadOnlySpan<double> y, ReadOnlySpan<double> fitted)
    {
        var r = new double[y.Length];
        for (int t = 0; t < y.Length; t++)
        {
            double v = _positive ? (fitted[t] > 0 ? Math.Log(y[t] / fitted[t]) : 0) : y[t] - fitted[t];
            r[t] = double.IsFinite(v) ? v : 0;
        }

        return r;
    }

    private double[] ForecastTransformed(ReadOnlySpan<double> history, int steps)
    {
        var t = _o.Transform;
        var values = new List<double>(history.Length + steps);
        values.AddRange(history);
        var z = new List<double>(history.Length + steps);
        for (int i = 0; i < history.Length; i++)
        {
            z.Add(i < t.Lag ? double.NaN : t.At(history, i));
        }

        var window = new float[_o.Lookback];
        var predicted = new float[Outputs];
        var sum = new double[Outputs];
        var result = new double[steps];
        for (int done = 0; done < steps;)
        {
            for (int k = 0; k < _o.Lookback; k++)
            {
                window[k] = (float)((z[z.Count - _o.Lookback + k] - _mean) / _std);
            }

            // Each member's forecast in series units, then their mean; a member's z-path is rebuilt from its own values.
            int block = Math.Min(Outputs, steps - done);
            Array.Clear(sum);
            int tail = Math.Min(values.Count, t.Lag + 1);
            foreach (var member in _members)
            {
                member.Predict(window, 1, predicted);

                // Inverting needs only the last Lag + 1 values before each step.
                var path = values.GetRange(values.Count - tail, tail);
                for (int h = 0; h < block; h++)
                {
                    path.Add(t.Invert((predicted[h] * _std) + _mean, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(path)));
                    sum[h] += path[^1] / _members.Length;
                }
            }

            for (int h = 0; h < block; h++)
            {
                values.Add(sum[h]);
                z.Add(t.At(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(values), values.Count - 1));
                result[done + h] = sum[h];
            }

            done += block;
        }

        return result;
    }

    private double[] ForecastResidual(ReadOnlySpan<double> history, int steps)
    {
        var ets = _ets ?? throw new InvalidOperationException("ES-RNN: no Holt-Winters model.");
        var values = new List<double>(history.ToArray());
        var result = new double[steps];
        var window = new float[_o.Lookback];
        var predicted = new float[Outputs];
        for (int done = 0; done < steps;)
        {
            var span = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(values);
            var positioned = ets.Apply(span, out var fitted);
            var r = Ratios(span, fitted);
            for (int k = 0; k < _o.Lookback; k++)
            {
                window[k] = (float)((r[r.Length - _o.Lookback + k] - _mean) / _std);
            }

            var baseline = positioned.Forecast(Outputs);
            int block = Math.Min(Outputs, steps - done);
            var mean = new double[block];
            foreach (var member in _members)
            {
                member.Predict(window, 1, predicted);
                for (int h = 0; h < block; h++)
                {
                    double correction = (predicted[h] * _std) + _mean;
                    mean[h] += (_positive ? baseline[h] * Math.Exp(correction) : baseline[h] + correction) / _members.Length;
                }
            }

            for (int h = 0; h < block; h++)
            {
                values.Add(mean[h]);
                result[done + h] = mean[h];
            }

            done += block;
        }

        return result;
    }

    /// <summary>The standardised input series as floats, and (residual) the standardised targets: forecast corrections by horizon.</summary>
    private sealed class Scaled
    {
        public Scaled(double[] z, double mean, double std, double[] y, double[]? forecasts, int horizon, bool positive)
        {
            Float = z.Select(v => double.IsFinite(v) ? (float)((v - mean) / std) : 0f).ToArray();
            if (forecasts is not null)
            {
                // Target for origin t and step h: the correction the actual value needs from the forecast made at t − 1.
                Targets = new float[y.Length * horizon];
                for (int t = 1; t < y.Length; t++)
                {
                    for (int h = 0; h < horizon && t + h < y.Length; h++)
                    {
                        double f = forecasts[((t - 1) * horizon) + h];
                        double c = positive ? (f > 0 ? Math.Log(y[t + h] / f) : 0) : y[t + h] - f;
                        Targets[(t * horizon) + h] = double.IsFinite(c) ? (float)((c - mean) / std) : 0f;
                    }
                }
            }
        }

        public float[] Float { get; }

        public float[]? Targets { get; }
    }

    /// <summary>Residual windows: inputs the one-step log-ratios before t, targets Holt-Winters' corrections from t on.</summary>
    private sealed class ResidualWindows(NetworkMethod owner, Scaled z, int first, int count) : WindowSet<float>
    {
        /// <inheritdoc/>
        public override int Count => count;

        /// <inheritdoc/>
        public override int Window => owner._o.Lookback;

        /// <inheritdoc/>
        public override int Outputs => owner.Outputs;

        /// <inheritdoc/>
        public override void Read(int index, Span<float> x, Span<float> y)
        {
            int t = first + index;
            z.Float.AsSpan(t - Window, Window).CopyTo(x);
            z.Targets!.AsSpan(t * owner._o.Horizon, Outputs).CopyTo(y);
        }
    }
}
