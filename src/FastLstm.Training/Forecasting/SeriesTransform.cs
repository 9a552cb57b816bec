namespace FastLstm.Training.Forecasting;

/// <summary>
/// Makes a series stationary before the network sees it, so trend and level (and a user's series leaving the
/// training range) do not matter: optional log (multiplicative growth and seasonality become additive), optional
/// first difference (removes the level and a linear trend), optional seasonal difference at lag <see cref="Season"/>.
/// The network then predicts the next transformed value; <see cref="Invert"/> rebuilds the series value from history.
/// </summary>
/// <param name="Log">Work on ln y (every value must be positive).</param>
/// <param name="Difference">1: d_t = v_t − v_{t−1}; 0: d_t = v_t.</param>
/// <param name="Season">0 for none, else z_t = d_t − d_{t−Season}.</param>
public sealed record SeriesTransform(bool Log, int Difference, int Season)
{
    /// <summary>Values at the start that have no transformed value (they are consumed by the differences).</summary>
    public int Lag => Difference + Season;

    /// <summary>Checks the parameters and that the series suits them.</summary>
    public void Validate(ReadOnlySpan<double> series)
    {
        if (Difference is not (0 or 1))
        {
            throw new ArgumentOutOfRangeException(nameof(Difference), Difference, $"difference: expected 0 or 1, got {Difference}.");
        }

        if (Season < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(Season), Season, $"season: expected ≥ 0, got {Season}.");
        }

        for (int i = 0; i < series.Length; i++)
        {
            if (!double.IsFinite(series[i]) || (Log && series[i] <= 0))
            {
                throw new ArgumentException($"series[{i}] = {series[i]}: expected a finite{(Log ? ", positive" : "")} value.", nameof(series));
            }
        }
    }

    /// <summary>z, aligned with the series: z[t] for t ≥ <see cref="Lag"/>; the first <see cref="Lag"/> entries are NaN.</summary>
    public double[] Apply(ReadOnlySpan<double> series)
    {
        var z = new double[series.Length];
        for (int t = 0; t < series.Length; t++)
        {
            z[t] = t < Lag ? double.NaN : Seasonal(series, t);
        }

        return z;
    }

    /// <summary>The transformed value at <paramref name="t"/> ≥ <see cref="Lag"/>, from the values up to and including it.</summary>
    public double At(ReadOnlySpan<double> series, int t) => Seasonal(series, t);

    /// <summary>
    /// The series value at t = history.Length implied by a predicted transformed value <paramref name="z"/>, given the
    /// values before it (actual, or earlier forecasts).
    /// </summary>
    public double Invert(double z, ReadOnlySpan<double> history)
    {
        int t = history.Length;
        if (t < Lag)
        {
            throw new ArgumentException($"history: this transform looks {Lag} values back, got {t}.", nameof(history));
        }

        double d = z + (Season > 0 ? Differenced(history, t - Season) : 0);
        double v = Difference == 1 ? Level(history[t - 1]) + d : d;
        return Log ? Math.Exp(v) : v;
    }

    private double Level(double y) => Log ? Math.Log(y) : y;

    private double Differenced(ReadOnlySpan<double> y, int t) => Difference == 1 ? Level(y[t]) - Level(y[t - 1]) : Level(y[t]);

    private double Seasonal(ReadOnlySpan<double> y, int t) => Season > 0 ? Differenced(y, t) - Differenced(y, t - Season) : Differenced(y, t);
}
