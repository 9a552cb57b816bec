namespace FastLstm.Training.Forecasting;

/// <summary>The trend of a Holt-Winters model.</summary>
public enum EtsTrend
{
    /// <summary>No trend (simple or seasonal exponential smoothing).</summary>
    None,

    /// <summary>Additive (linear) trend.</summary>
    Additive,

    /// <summary>Additive trend damped by φ each step (Gardner and McKenzie 1985).</summary>
    Damped,
}

/// <summary>The seasonality of a Holt-Winters model.</summary>
public enum EtsSeason
{
    /// <summary>No seasonality.</summary>
    None,

    /// <summary>A seasonal offset added to the level.</summary>
    Additive,

    /// <summary>A seasonal factor multiplying the level (positive series only).</summary>
    Multiplicative,
}

/// <summary>
/// Holt-Winters exponential smoothing, the baseline forecasters are measured against: level, optional (damped) trend and
/// optional additive or multiplicative seasonality, smoothing parameters fitted by least squares on the one-step errors
/// (Nelder-Mead over α, β, γ, φ in their admissible ranges), initial states from a decomposition of the first seasons. <see cref="Fit(ReadOnlySpan{double}, int)"/>
/// tries every form the series allows and keeps the one with the lowest AIC, as statsmodels' users pick among additive,
/// multiplicative and damped models.
/// </summary>
public sealed class ExponentialSmoothing
{
    private readonly double[] _seasonal;
    private readonly double _level, _trend;

    private ExponentialSmoothing(EtsTrend trend, EtsSeason season, int period, double alpha, double beta, double gamma, double phi,
        double level, double trendState, double[] seasonal, double sse, int n)
    {
        Trend = trend;
        Season = season;
        Period = period;
        Alpha = alpha;
        Beta = beta;
        Gamma = gamma;
        Phi = phi;
        _level = level;
        _trend = trendState;
        _seasonal = seasonal;
        int k = 2 + (trend != EtsTrend.None ? 2 : 0) + (trend == EtsTrend.Damped ? 1 : 0) + (season != EtsSeason.None ? period : 0);
        Aic = (n * Math.Log(Math.Max(sse, 1e-300) / n)) + (2.0 * k);
        Sse = sse;
    }

    /// <summary>Trend form: none, additive or damped additive.</summary>
    public EtsTrend Trend { get; }

    /// <summary>Seasonal form: none, additive or multiplicative.</summary>
    public EtsSeason Season { get; }

    /// <summary>Seasonal period (0 without seasonality).</summary>
    public int Period { get; }

    /// <summary>Level smoothing parameter α.</summary>
    public double Alpha { get; }

    /// <summary>Trend smoothing parameter β (0 without a trend).</summary>
    public double Beta { get; }

    /// <summary>Seasonal smoothing parameter γ (0 without seasonality).</summary>
    public double Gamma { get; }

    /// <summary>Damping (1 for an undamped or absent trend).</summary>
    public double Phi { get; }

    /// <summary>Akaike's criterion from the one-step sum of squares: n·ln(SSE/n) + 2k, k counting parameters and initial states.</summary>
    public double Aic { get; }

    /// <summary>Sum of squared one-step errors over the fitted series.</summary>
    public double Sse { get; }

    /// <summary>e.g. "Holt-Winters (damped, multiplicative 12)".</summary>
    public string Name => $"Holt-Winters ({Trend switch { EtsTrend.None => "no trend", EtsTrend.Additive => "additive trend", _ => "damped trend" }}{(Season == EtsSeason.None ? "" : $", {(Season == EtsSeason.Additive ? "additive" : "multiplicative")} season {Period}")})";

    /// <summary>The fewest values a fit takes.</summary>
    public const int MinimumLength = 4;

    /// <summary>
    /// The best form by AIC: every trend × (no season, additive, and — for a positive series — multiplicative season of
    /// <paramref name="period"/>; none when the period is 0 or the series holds fewer than two seasons).
    /// </summary>
    public static ExponentialSmoothing Fit(ReadOnlySpan<double> series, int period)
    {
        ExponentialSmoothing? best = null;
        bool positive = true;
        foreach (double v in series)
        {
            positive &= v > 0;
        }

        bool seasonal = period >= 2 && series.Length >= 2 * period + 2;
        foreach (var trend in Enum.GetValues<EtsTrend>())
        {
            foreach (var season in Enum.GetValues<EtsSeason>())
            {
                if ((season != EtsSeason.None && !seasonal) || (season == EtsSeason.Multiplicative && !positive))
                {
                    continue;
                }

                var model = Fit(series, trend, season, season == EtsSeason.None ? 0 : period);
                if (best is null || model.Aic < best.Aic)
                {
                    best = model;
                }
            }
        }

        return best!;
    }

    /// <summary>One form, its parameters fitted.</summary>
    public static ExponentialSmoothing Fit(ReadOnlySpan<double> series, EtsTrend trend, EtsSeason season, int period)
    {
        if (series.Length < MinimumLength)
        {
            throw new ArgumentException($"series: expected at least {MinimumLength} values, got {series.Length}.", nameof(series));
        }

        if (season != EtsSeason.None && (period < 2 || series.Length < (2 * period) + 2))
        {
            throw new ArgumentException($"series: a season of {period} needs at least {(2 * period) + 2} values, got {series.Length}.", nameof(series));
        }

        var y = series.ToArray();
        var (level0, trend0, seasonal0) = Initial(y, trend, season, period);

        // Parameters in the unit cube, mapped into their admissible ranges: α ∈ (0, 1), β ∈ (0, α), γ ∈ (0, 1 − α),
        // φ ∈ [0.8, 0.98] (the range forecasters use; below 0.8 a damped trend is no trend).
        int dims = 1 + (trend != EtsTrend.None ? 1 : 0) + (season != EtsSeason.None ? 1 : 0) + (trend == EtsTrend.Damped ? 1 : 0);
        (double A, double B, double G, double P) Map(double[] u)
        {
            int i = 0;
            double a = 1e-4 + (0.9998 * Clamp(u[i++]));
            double b = trend != EtsTrend.None ? a * Clamp(u[i++]) : 0;
            double g = season != EtsSeason.None ? (1 - a) * Clamp(u[i++]) : 0;
            double p = trend == EtsTrend.Damped ? 0.8 + (0.18 * Clamp(u[i])) : 1;
            return (a, b, g, p);
        }

        double Objective(double[] u)
        {
            var (a, b, g, p) = Map(u);
            return Run(y, trend, season, period, a, b, g, p, level0, trend0, seasonal0, out _, out _, out _, null);
        }

        var start = Enumerable.Repeat(0.3, dims).ToArray();
        var bestU = NelderMead(Objective, start, 400);
        var (alpha, beta, gamma, phi) = Map(bestU);
        double sse = Run(y, trend, season, period, alpha, beta, gamma, phi, level0, trend0, seasonal0, out double level, out double trendState, out var seasonalState, null);
        return new ExponentialSmoothing(trend, season, period, alpha, beta, gamma, phi, level, trendState, seasonalState, sse, y.Length);
    }

    /// <summary>
    /// This model's parameters run over <paramref name="history"/> from initial states estimated on its first seasons:
    /// the one-step-ahead predictions of every value (<paramref name="fitted"/>) and the model positioned after its last
    /// value, ready to <see cref="Forecast"/> from there. History that extends the fitted series gives the rolling-origin
    /// forecasts a backtest needs without refitting.
    /// </summary>
    public ExponentialSmoothing Apply(ReadOnlySpan<double> history, out double[] fitted)
    {
        var y = history.ToArray();
        var (level0, trend0, seasonal0) = Initial(y, Trend, Season, Period);
        fitted = new double[y.Length];
        double sse = Run(y, Trend, Season, Period, Alpha, Beta, Gamma, Phi, level0, trend0, seasonal0, out double level, out double trendState, out var seasonal, fitted);
        return new ExponentialSmoothing(Trend, Season, Period, Alpha, Beta, Gamma, Phi, level, trendState, seasonal, sse, y.Length);
    }

    /// <summary>
    /// The h-step forecasts this model would have made from every point of <paramref name="history"/>: entry
    /// [t·steps + h − 1] is the forecast of value t + h made after seeing values 0..t (NaN where no forecast exists yet).
    /// What a network correcting the model's forecasts learns from (<see cref="NetworkMethod"/> with a residual).
    /// </summary>
    public double[] ForecastsAlong(ReadOnlySpan<double> history, int steps)
    {
        var y = history.ToArray();
        int n = y.Length;
        var (level, trend, seasonal0) = Initial(y, Trend, Season, Period);
        var seasonal = (double[])seasonal0.Clone();
        var forecasts = new double[n * steps];
        bool hasTrend = Trend != EtsTrend.None, mul = Season == EtsSeason.Multiplicative;
        double damped = Trend == EtsTrend.Damped ? Phi : 1;
        for (int t = 0; t < n; t++)
        {
            double b = hasTrend ? damped * trend : 0;
            double s = Season == EtsSeason.None ? (mul ? 1 : 0) : seasonal[t % Period];
            Update(y[t], t, Trend, Season, Period, Alpha, Beta, Gamma, b, s, ref level, ref trend, seasonal);

            // Forecasts from t: the state after value t, seasonal indices as they stand now.
            double damp = 0, phiPower = 1;
            for (int h = 1; h <= steps; h++)
            {
                phiPower *= Phi;
                damp += Trend == EtsTrend.Damped ? phiPower : 1;
                double trendPart = hasTrend ? damp * trend : 0;
                double sh = Season == EtsSeason.None ? 0 : seasonal[(t + h) % Period];
                forecasts[(t * steps) + h - 1] = mul ? (level + trendPart) * sh : level + trendPart + sh;
            }
        }

        return forecasts;
    }

    /// <summary>A model with given parameters (as <see cref="Save"/> wrote them), positioned after <paramref name="history"/>.</summary>
    public static ExponentialSmoothing FromParameters(ReadOnlySpan<double> parameters, ReadOnlySpan<double> history)
    {
        if (parameters.Length != 7 || !Enum.IsDefined((EtsTrend)(int)parameters[0]) || !Enum.IsDefined((EtsSeason)(int)parameters[1])
            || parameters[2] is < 0 or > 100_000 || (parameters[1] != 0 && parameters[2] < 2))
        {
            throw new InvalidDataException("Holt-Winters parameters: expected trend, season, period, α, β, γ, φ.");
        }

        var shell = new ExponentialSmoothing((EtsTrend)(int)parameters[0], (EtsSeason)(int)parameters[1], (int)parameters[2],
            parameters[3], parameters[4], parameters[5], parameters[6], 0, 0, [], 0, 1);
        return shell.Apply(history, out _);
    }

    /// <summary>trend, season, period, α, β, γ, φ: what <see cref="FromParameters"/> reads.</summary>
    public double[] Save() => [(int)Trend, (int)Season, Period, Alpha, Beta, Gamma, Phi];

    /// <summary>Forecasts for the <paramref name="steps"/> values after the fitted series.</summary>
    public double[] Forecast(int steps)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        var f = new double[steps];
        double damp = 0, phiPower = 1;
        for (int h = 1; h <= steps; h++)
        {
            phiPower *= Phi;
            damp += Trend == EtsTrend.Damped ? phiPower : 1;
            double trendPart = Trend == EtsTrend.None ? 0 : damp * _trend;
            double s = Season == EtsSeason.None ? 0 : _seasonal[(h - 1) % Period];
            f[h - 1] = Season == EtsSeason.Multiplicative ? (_level + trendPart) * s : _level + trendPart + s;
        }

        return f;
    }

    private static double Clamp(double u) => Math.Clamp(u, 0, 1);

    /// <summary>
    /// Initial states by the decomposition heuristic of Hyndman et al. (2008, §2.6.1): a centred moving average over the first
    /// seasons (at most five) gives the trend-cycle, the values against it averaged per position give the seasonal indices,
    /// and a line through the first ten deseasonalised values gives the level and trend before the first observation. Taking
    /// the indices from one season alone (the older heuristic) leaves them so noisy that the fit answers with a large γ, and
    /// a large γ carries each season's noise into every forecast.
    /// </summary>
    private static (double Level, double Trend, double[] Seasonal) Initial(double[] y, EtsTrend trend, EtsSeason season, int period)
    {
        bool mul = season == EtsSeason.Multiplicative;
        var s = new double[season == EtsSeason.None ? 0 : period];
        if (season != EtsSeason.None)
        {
            int cycles = Math.Clamp(y.Length / period, 2, 5);
            var sum = new double[period];
            var count = new int[period];
            int half = period / 2;
            for (int t = half; t + half < cycles * period; t++)
            {
                // A 2×m moving average for an even period (the ends weighted ½), a plain m-term one for an odd period.
                double ma = 0;
                for (int j = -half; j <= half; j++)
                {
                    ma += y[t + j] * (period % 2 == 0 && Math.Abs(j) == half ? 0.5 : 1);
                }

                ma /= period;
                sum[t % period] += mul ? y[t] / ma : y[t] - ma;
                count[t % period]++;
            }

            double mean = 0;
            for (int i = 0; i < period; i++)
            {
                s[i] = sum[i] / count[i];
                mean += s[i] / period;
            }

            for (int i = 0; i < period; i++)
            {
                s[i] = mul ? s[i] / mean : s[i] - mean;
            }
        }

        // A line through the first ten deseasonalised values (time 1..k, so the intercept is the state before the first).
        int k = Math.Min(10, y.Length);
        double st = 0, sy = 0, stt = 0, sty = 0;
        for (int t = 0; t < k; t++)
        {
            double v = season == EtsSeason.None ? y[t] : mul ? y[t] / s[t % period] : y[t] - s[t % period];
            double x = t + 1;
            st += x;
            sy += v;
            stt += x * x;
            sty += x * v;
        }

        double slope = ((k * sty) - (st * sy)) / ((k * stt) - (st * st));
        return trend == EtsTrend.None ? (sy / k, 0, s) : ((sy - (slope * st)) / k, slope, s);
    }

    /// <summary>
    /// The smoothing equations for observation <paramref name="y"/> at <paramref name="t"/>: the level, the trend and the
    /// season's index, from the damped trend <paramref name="b"/> and seasonal index <paramref name="s"/> before it.
    /// </summary>
    private static void Update(double y, int t, EtsTrend trend, EtsSeason season, int period, double alpha, double beta, double gamma,
        double b, double s, ref double level, ref double trendState, double[] seasonal)
    {
        bool mul = season == EtsSeason.Multiplicative;
        double previous = level;
        level = mul ? (alpha * (y / s)) + ((1 - alpha) * (previous + b)) : (alpha * (y - s)) + ((1 - alpha) * (previous + b));
        if (trend != EtsTrend.None)
        {
            trendState = (beta * (level - previous)) + ((1 - beta) * b);
        }

        if (season != EtsSeason.None)
        {
            seasonal[t % period] = mul ? (gamma * (y / (previous + b))) + ((1 - gamma) * s) : (gamma * (y - previous - b)) + ((1 - gamma) * s);
        }
    }

    /// <summary>
    /// The recursion over the series; returns the one-step SSE and the final states (seasonal rotated to start at the next
    /// step), and writes each one-step prediction into <paramref name="fitted"/> when given.
    /// </summary>
    private static double Run(double[] y, EtsTrend trend, EtsSeason season, int period, double alpha, double beta, double gamma, double phi,
        double level0, double trend0, double[] seasonal0, out double level, out double trendState, out double[] seasonal, double[]? fitted)
    {
        level = level0;
        trendState = trend0;
        seasonal = (double[])seasonal0.Clone();
        double sse = 0, damped = trend == EtsTrend.Damped ? phi : 1;
        bool hasTrend = trend != EtsTrend.None, mul = season == EtsSeason.Multiplicative;
        for (int t = 0; t < y.Length; t++)
        {
            double b = hasTrend ? damped * trendState : 0;
            double s = season == EtsSeason.None ? (mul ? 1 : 0) : seasonal[t % period];
            double prediction = mul ? (level + b) * s : level + b + s;
            if (fitted is not null)
            {
                fitted[t] = prediction;
            }

            double e = y[t] - prediction;
            sse += e * e;
            if (!double.IsFinite(sse))
            {
                return double.MaxValue;
            }

            Update(y[t], t, trend, season, period, alpha, beta, gamma, b, s, ref level, ref trendState, seasonal);
        }

        if (season != EtsSeason.None)
        {
            var rotated = new double[period];
            for (int i = 0; i < period; i++)
            {
                rotated[i] = seasonal[(y.Length + i) % period];
            }

            seasonal = rotated;
        }

        return sse;
    }

    /// <summary>Nelder-Mead simplex minimisation from <paramref name="start"/>, a fixed number of iterations (deterministic).</summary>
    private static double[] NelderMead(Func<double[], double> f, double[] start, int iterations)
    {
        int n = start.Length;
        var points = new double[n + 1][];
        var values = new double[n + 1];
        for (int i = 0; i <= n; i++)
        {
            points[i] = (double[])start.Clone();
            if (i > 0)
            {
                points[i][i - 1] += 0.25;
            }

            values[i] = f(points[i]);
        }

        for (int it = 0; it < iterations; it++)
        {
            Array.Sort(values, points);
            var centroid = new double[n];
            for (int i = 0; i < n; i++)
            {
                for (int d = 0; d < n; d++)
                {
                    centroid[d] += points[i][d] / n;
                }
            }

            double[] Along(double t) => centroid.Select((c, d) => c + (t * (points[n][d] - c))).ToArray();
            var reflected = Along(-1);
            double fr = f(reflected);
            if (fr < values[0])
            {
                var expanded = Along(-2);
                double fe = f(expanded);
                (points[n], values[n]) = fe < fr ? (expanded, fe) : (reflected, fr);
            }
            else if (fr < values[n - 1])
            {
                (points[n], values[n]) = (reflected, fr);
            }
            else
            {
                var contracted = Along(fr < values[n] ? -0.5 : 0.5);
                double fc = f(contracted);
                if (fc < Math.Min(fr, values[n]))
                {
                    (points[n], values[n]) = (contracted, fc);
                }
                else
                {
                    for (int i = 1; i <= n; i++)
                    {
                        points[i] = points[i].Select((v, d) => points[0][d] + (0.5 * (v - points[0][d]))).ToArray();
                        values[i] = f(points[i]);
                    }
                }
            }
        }

        Array.Sort(values, points);
        return points[0];
    }
}
