namespace FastLstm.Training.Forecasting;

/// <summary>
/// Finds a series' seasonal period from its autocorrelation: the first difference removes the level and a trend, then the
/// lag with the highest autocorrelation that is a local peak and clearly above noise (0.3, and 3 standard errors of a
/// white-noise autocorrelation, 3/√n) is the period. None (0) when no lag qualifies — a random walk, or a series too short
/// to hold two periods.
/// </summary>
public static class SeasonDetector
{
    /// <summary>The period, 2..<paramref name="maxPeriod"/> (and at most a third of the series), or 0.</summary>
    public static int Find(ReadOnlySpan<double> series, int maxPeriod = 400)
    {
        int n = series.Length - 1;
        int limit = Math.Min(maxPeriod, n / 3);
        if (limit < 2)
        {
            return 0;
        }

        var d = new double[n];
        for (int t = 0; t < n; t++)
        {
            d[t] = series[t + 1] - series[t];
        }

        double mean = d.Average();
        double variance = d.Sum(v => (v - mean) * (v - mean));
        if (!(variance > 0))
        {
            return 0;
        }

        var acf = new double[limit + 2];
        for (int lag = 1; lag <= limit + 1 && lag < n; lag++)
        {
            double sum = 0;
            for (int t = lag; t < n; t++)
            {
                sum += (d[t] - mean) * (d[t - lag] - mean);
            }

            acf[lag] = sum / variance;
        }

        double threshold = Math.Max(0.3, 3 / Math.Sqrt(n));
        int best = 0;
        for (int lag = 2; lag <= limit; lag++)
        {
            bool peak = acf[lag] > acf[lag - 1] && acf[lag] >= acf[lag + 1];
            if (peak && acf[lag] > threshold && (best == 0 || acf[lag] > acf[best] + 0.05))
            {
                best = lag;
            }
        }

        return best;
    }
}
