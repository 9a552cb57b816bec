namespace FastLstm.Training.Forecasting;

/// <summary>One method's rolling-origin score, in the series' own units.</summary>
/// <param name="Method">The method's name.</param>
/// <param name="Rmse">Root mean squared error over every origin and horizon step.</param>
/// <param name="Mae">Mean absolute error, likewise.</param>
/// <param name="Mase">MAE over the in-sample MAE of the seasonal-naive forecast (the naive one without a season).</param>
/// <param name="Smape">Symmetric mean absolute percentage error, 0..200 %.</param>
/// <param name="RmseByStep">RMSE at each horizon step 1..H, over the origins (what prediction intervals are built from).</param>
/// <param name="MseByOrigin">Mean squared error of each origin's H-step forecast (what comparing two methods pairs up).</param>
public sealed record BacktestScore(string Method, double Rmse, double Mae, double Mase, double Smape, double[] RmseByStep, double[] MseByOrigin);

/// <summary>
/// Rolling-origin evaluation at a horizon: methods are fitted once on the values before the first origin, then each
/// forecasts the next H values from every origin, given the actual history up to it — the errors a user of a
/// multi-step forecast sees, on data the fit never saw.
/// </summary>
public sealed class Backtest
{
    private Backtest(int[] origins, int horizon, double scale)
    {
        Origins = origins;
        Horizon = horizon;
        Scale = scale;
    }

    /// <summary>The forecast origins: the number of values known at each.</summary>
    public IReadOnlyList<int> Origins { get; }

    /// <summary>Steps forecast from each origin.</summary>
    public int Horizon { get; }

    /// <summary>Values the methods are fitted on (those before the first origin).</summary>
    public int FitLength => Origins[0];

    /// <summary>The in-sample MAE of the seasonal-naive forecast over the fit part: MASE's denominator.</summary>
    public double Scale { get; }

    /// <summary>
    /// Origins for a series: <paramref name="count"/> consecutive ones (fewer if the series cannot spare them while keeping
    /// <paramref name="minimumFit"/> values to fit on), the last one leaving exactly H values after it.
    /// </summary>
    public static Backtest Plan(ReadOnlySpan<double> series, int horizon, int count, int minimumFit, int period)
    {
        int n = series.Length;
        int last = n - horizon;
        int available = last - minimumFit + 1;
        if (available < 1)
        {
            throw new ArgumentException($"series: {n} values are too few to fit on {minimumFit} and forecast {horizon} ahead; need at least {minimumFit + horizon}.", nameof(series));
        }

        int k = Math.Clamp(count, 1, available);
        var origins = Enumerable.Range(last - k + 1, k).ToArray();
        int m = period > 0 && origins[0] > period ? period : 1;
        double sum = 0;
        for (int t = m; t < origins[0]; t++)
        {
            sum += Math.Abs(series[t] - series[t - m]);
        }

        double scale = sum / Math.Max(1, origins[0] - m);
        return new Backtest(origins, horizon, scale > 0 ? scale : 1);
    }

    /// <summary>Fits <paramref name="method"/> on the fit part (unless <paramref name="fitted"/>) and scores it.</summary>
    public BacktestScore Score(ForecastMethod method, ReadOnlySpan<double> series, bool fitted = false)
    {
        ArgumentNullException.ThrowIfNull(method);
        if (!fitted)
        {
            method.Fit(series[..FitLength]);
        }

        var forecasts = Forecasts(method, series);
        return Score(method.Name, forecasts, series);
    }

    /// <summary>Each origin's H-step forecast, origin by origin.</summary>
    public double[][] Forecasts(ForecastMethod method, ReadOnlySpan<double> series)
    {
        var result = new double[Origins.Count][];
        for (int i = 0; i < Origins.Count; i++)
        {
            result[i] = method.Forecast(series[..Origins[i]], Horizon);
        }

        return result;
    }

    /// <summary>
    /// Whether <paramref name="candidate"/> beats <paramref name="baseline"/> by more than the backtest's noise: the paired
    /// differences of their per-origin errors, one-sided at 2.5 % — counting only as many independent samples as there are
    /// non-overlapping horizons among the origins, since overlapping forecasts share most of their errors, and judging the t
    /// statistic against Student's distribution with that many samples less one (below two samples nothing is shown: a
    /// trending stretch makes every drifting method look consistently better over a single horizon's worth of origins).
    /// </summary>
    public bool Beats(BacktestScore candidate, BacktestScore baseline)
    {
        ArgumentNullException.ThrowIfNull(candidate);
        ArgumentNullException.ThrowIfNull(baseline);
        int k = Origins.Count;
        var d = baseline.MseByOrigin.Zip(candidate.MseByOrigin, (b, c) => b - c).ToArray();
        double mean = d.Average();
        if (k < 2)
        {
            return mean > 0;
        }

        double sd = Math.Sqrt(d.Sum(x => (x - mean) * (x - mean)) / (k - 1));
        double independent = Math.Clamp(((Origins[^1] - Origins[0]) / (double)Horizon) + 1, 1, k);
        return mean > 0 && independent >= 2 && (sd == 0 || mean / (sd / Math.Sqrt(independent)) > StudentT975(independent - 1));
    }

    /// <summary>The 97.5 % point of Student's t with <paramref name="df"/> ≥ 1 degrees of freedom, interpolated in 1 / df.</summary>
    private static double StudentT975(double df)
    {
        ReadOnlySpan<double> dfs = [1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 60];
        ReadOnlySpan<double> t = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.306, 2.228, 2.131, 2.086, 2.042, 2.000];
        if (df >= dfs[^1])
        {
            double w = dfs[^1] / df;
            return 1.960 + (w * (t[^1] - 1.960));
        }

        int i = 1;
        while (dfs[i] < df)
        {
            i++;
        }

        double u = ((1 / dfs[i - 1]) - (1 / df)) / ((1 / dfs[i - 1]) - (1 / dfs[i]));
        return t[i - 1] + (u * (t[i] - t[i - 1]));
    }

    /// <summary>The score of given forecasts (one array of H per origin).</summary>
    public BacktestScore Score(string name, double[][] forecasts, ReadOnlySpan<double> series)
    {
        double se = 0, ae = 0, sp = 0;
        var byStep = new double[Horizon];
        var byOrigin = new double[Origins.Count];
        int count = 0;
        for (int i = 0; i < Origins.Count; i++)
        {
            for (int h = 0; h < Horizon; h++)
            {
                double actual = series[Origins[i] + h], f = forecasts[i][h];
                double e = f - actual;
                if (!double.IsFinite(e))
                {
                    e = double.PositiveInfinity;
                }

                se += e * e;
                ae += Math.Abs(e);
                double denominator = Math.Abs(actual) + Math.Abs(f);
                sp += denominator > 0 ? 200 * Math.Abs(e) / denominator : 0;
                byStep[h] += e * e;
                byOrigin[i] += e * e / Horizon;
                count++;
            }
        }

        for (int h = 0; h < Horizon; h++)
        {
            byStep[h] = Math.Sqrt(byStep[h] / Origins.Count);
        }

        return new BacktestScore(name, Math.Sqrt(se / count), ae / count, ae / count / Scale, sp / count, byStep, byOrigin);
    }
}
