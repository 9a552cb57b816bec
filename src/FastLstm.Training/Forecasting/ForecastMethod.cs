namespace FastLstm.Training.Forecasting;

/// <summary>
/// One way to forecast a series: fitted once on a history, it then forecasts from that history or any extension of it
/// (the rolling origins of a backtest) without refitting.
/// </summary>
public abstract class ForecastMethod
{
    /// <summary>What the method is called in score tables.</summary>
    public abstract string Name { get; }

    /// <summary>The fewest values <see cref="Fit"/> takes (and a forecast's history needs).</summary>
    public virtual int MinimumLength => 1;

    /// <summary>Fits on <paramref name="series"/> (values a forecast may later extend).</summary>
    public abstract void Fit(ReadOnlySpan<double> series);

    /// <summary>The <paramref name="steps"/> values after <paramref name="history"/>.</summary>
    public abstract double[] Forecast(ReadOnlySpan<double> history, int steps);
}

/// <summary>Every future value is the last one (the random walk's optimal forecast).</summary>
public sealed class LastValueMethod : ForecastMethod
{
    /// <inheritdoc/>
    public override string Name => "last value";

    /// <inheritdoc/>
    public override void Fit(ReadOnlySpan<double> series)
    {
    }

    /// <inheritdoc/>
    public override double[] Forecast(ReadOnlySpan<double> history, int steps) => Enumerable.Repeat(history[^1], steps).ToArray();
}

/// <summary>Each future value is the value one season before it.</summary>
public sealed class SeasonalNaiveMethod(int period) : ForecastMethod
{
    /// <inheritdoc/>
    public override string Name => $"seasonal naive ({period})";

    /// <inheritdoc/>
    public override int MinimumLength => period;

    /// <inheritdoc/>
    public override void Fit(ReadOnlySpan<double> series)
    {
    }

    /// <inheritdoc/>
    public override double[] Forecast(ReadOnlySpan<double> history, int steps)
    {
        var f = new double[steps];
        for (int h = 0; h < steps; h++)
        {
            // The value a whole number of seasons back from step h.
            f[h] = history[history.Length - period + (h % period)];
        }

        return f;
    }
}

/// <summary>The line from the first value to the last, extended (Hyndman's drift method).</summary>
public sealed class DriftMethod : ForecastMethod
{
    /// <inheritdoc/>
    public override string Name => "drift";

    /// <inheritdoc/>
    public override void Fit(ReadOnlySpan<double> series)
    {
    }

    /// <inheritdoc/>
    public override double[] Forecast(ReadOnlySpan<double> history, int steps)
    {
        double last = history[^1];
        double slope = history.Length > 1 ? (last - history[0]) / (history.Length - 1) : 0;
        return Enumerable.Range(1, steps).Select(h => last + (h * slope)).ToArray();
    }
}

/// <summary>Holt-Winters, the form picked by AIC (<see cref="ExponentialSmoothing.Fit(ReadOnlySpan{double}, int)"/>).</summary>
public sealed class HoltWintersMethod(int period) : ForecastMethod
{
    private ExponentialSmoothing? _model;

    /// <inheritdoc/>
    public override string Name => _model?.Name ?? "Holt-Winters";

    /// <inheritdoc/>
    public override int MinimumLength => ExponentialSmoothing.MinimumLength;

    /// <summary>The fitted model (after <see cref="Fit"/>).</summary>
    public ExponentialSmoothing Model => _model ?? throw new InvalidOperationException("Holt-Winters: call Fit first.");

    /// <inheritdoc/>
    public override void Fit(ReadOnlySpan<double> series) => _model = ExponentialSmoothing.Fit(series, period);

    /// <summary>Uses parameters fitted elsewhere (a saved model).</summary>
    public void Use(ExponentialSmoothing model) => _model = model;

    /// <inheritdoc/>
    public override double[] Forecast(ReadOnlySpan<double> history, int steps) => Model.Apply(history, out _).Forecast(steps);
}

/// <summary>
/// The linear baseline: an autoregression of the first differences of order <paramref name="order"/>, fitted by least
/// squares, iterated for multi-step forecasts.
/// </summary>
public sealed class AutoregressionMethod(int order) : ForecastMethod
{
    private LinearAutoregression? _ar;

    /// <summary>Intercept then coefficients (after <see cref="Fit"/>).</summary>
    public double[] Weights => (_ar ?? throw new InvalidOperationException("autoregression: call Fit first.")).Weights;

    /// <summary>A fitted autoregression from its <see cref="Weights"/>.</summary>
    public static AutoregressionMethod FromWeights(double[] weights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        if (weights.Length is < 2 or > 10_001 || weights.Any(w => !double.IsFinite(w)))
        {
            throw new InvalidDataException("autoregression weights: expected an intercept and 1..10000 finite coefficients.");
        }

        return new AutoregressionMethod(weights.Length - 1) { _ar = LinearAutoregression.FromWeights(weights) };
    }

    /// <inheritdoc/>
    public override string Name => $"linear autoregression ({order})";

    /// <inheritdoc/>
    public override int MinimumLength => (2 * order) + 3;

    /// <inheritdoc/>
    public override void Fit(ReadOnlySpan<double> series)
    {
        if (series.Length < MinimumLength)
        {
            throw new ArgumentException($"series: an autoregression of order {order} needs at least {MinimumLength} values, got {series.Length}.", nameof(series));
        }

        int count = series.Length - 1 - order;

        var x = new double[count * order];
        var y = new double[count];
        for (int i = 0; i < count; i++)
        {
            for (int k = 0; k < order; k++)
            {
                int t = i + k + 1;
                x[(i * order) + k] = series[t] - series[t - 1];
            }

            y[i] = series[i + order + 1] - series[i + order];
        }

        _ar = LinearAutoregression.Fit(x, y, count, order);
    }

    /// <inheritdoc/>
    public override double[] Forecast(ReadOnlySpan<double> history, int steps)
    {
        var ar = _ar ?? throw new InvalidOperationException("autoregression: call Fit first.");
        var d = new List<double>(order + steps);
        for (int k = history.Length - order; k < history.Length; k++)
        {
            d.Add(history[k] - history[k - 1]);
        }

        var f = new double[steps];
        double level = history[^1];
        for (int h = 0; h < steps; h++)
        {
            double next = ar.Predict(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(d)[^order..]);
            d.Add(next);
            level += next;
            f[h] = level;
        }

        return f;
    }
}

/// <summary>The mean of other methods' forecasts (forecast combination: its errors partly cancel).</summary>
public sealed class CombinationMethod(params ForecastMethod[] parts) : ForecastMethod
{
    /// <inheritdoc/>
    public override string Name => $"mean of {string.Join(" and ", parts.Select(p => p.Name))}";

    /// <summary>The methods averaged.</summary>
    public IReadOnlyList<ForecastMethod> Parts => parts;

    /// <inheritdoc/>
    public override int MinimumLength => parts.Max(p => p.MinimumLength);

    /// <inheritdoc/>
    public override void Fit(ReadOnlySpan<double> series)
    {
        foreach (var p in parts)
        {
            p.Fit(series);
        }
    }

    /// <inheritdoc/>
    public override double[] Forecast(ReadOnlySpan<double> history, int steps)
    {
        var sum = new double[steps];
        foreach (var p in parts)
        {
            var f = p.Forecast(history, steps);
            for (int h = 0; h < steps; h++)
            {
                sum[h] += f[h] / parts.Length;
            }
        }

        return sum;
    }
}
