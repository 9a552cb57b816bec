namespace FastLstm.Training.Forecasting;

/// <summary>
/// The augmented Dickey-Fuller test with a constant: Δy_t = a + γ·y_{t−1} + Σ_{i≤p} b_i·Δy_{t−i} + e_t, lag order p by
/// Schwert's rule ⌊12·(n/100)^¼⌋. A t-statistic of γ below −2.86 (the 5 % point of its asymptotic distribution) rejects a
/// unit root: the series reverts to a mean, and forecasting its first differences would only add drift.
/// </summary>
public static class UnitRoot
{
    private const double Critical5 = -2.86;

    /// <summary>The t-statistic of γ (NaN when the series is too short or constant to test).</summary>
    public static double Statistic(ReadOnlySpan<double> series)
    {
        int n = series.Length;
        int p = Math.Min((int)Math.Floor(12 * Math.Pow(n / 100.0, 0.25)), (n / 4) - 2);
        int rows = n - p - 1;
        if (p < 0 || rows < p + 8)
        {
            return double.NaN;
        }

        // Frisch-Waugh: γ and its standard error from the parts of Δy_t and y_{t−1} the lagged differences do not explain.
        var lags = new double[rows * Math.Max(p, 1)];
        var dy = new double[rows];
        var level = new double[rows];
        for (int r = 0; r < rows; r++)
        {
            int t = r + p + 1;
            dy[r] = series[t] - series[t - 1];
            level[r] = series[t - 1];
            for (int i = 1; i <= p; i++)
            {
                lags[(r * p) + i - 1] = series[t - i] - series[t - i - 1];
            }
        }

        var ry = Residuals(lags, dy, rows, p);
        var rx = Residuals(lags, level, rows, p);
        double sxx = 0, sxy = 0;
        for (int r = 0; r < rows; r++)
        {
            sxx += rx[r] * rx[r];
            sxy += rx[r] * ry[r];
        }

        if (!(sxx > 0))
        {
            return double.NaN;
        }

        double gamma = sxy / sxx, sse = 0;
        for (int r = 0; r < rows; r++)
        {
            double e = ry[r] - (gamma * rx[r]);
            sse += e * e;
        }

        double variance = sse / (rows - p - 2);
        return variance > 0 ? gamma / Math.Sqrt(variance / sxx) : double.NaN;
    }

    /// <summary>Whether the test rejects a unit root at 5 %.</summary>
    public static bool Stationary(ReadOnlySpan<double> series) => Statistic(series) < Critical5;

    /// <summary>y minus its least-squares fit on a constant and the <paramref name="p"/> columns of <paramref name="x"/>.</summary>
    private static double[] Residuals(double[] x, double[] y, int rows, int p)
    {
        var result = new double[rows];
        if (p == 0)
        {
            double mean = y.Average();
            for (int r = 0; r < rows; r++)
            {
                result[r] = y[r] - mean;
            }

            return result;
        }

        var fit = LinearAutoregression.Fit(x, y, rows, p);
        for (int r = 0; r < rows; r++)
        {
            result[r] = y[r] - fit.Predict(x.AsSpan(r * p, p));
        }

        return result;
    }
}
