using System.Globalization;

namespace FastLstm.Training.Forecasting;

/// <summary>Which forecasting method a <see cref="Forecaster"/> uses; <see cref="Auto"/> lets the backtest choose.</summary>
public enum ForecastChoice
{
    /// <summary>
    /// The combination of the network and Holt-Winters, unless a method below beats it in the backtest by more than the
    /// backtest's noise (then the best of those).
    /// </summary>
    Auto,

    /// <summary>The best recurrent network (direct or recursive, any transform, or ES-RNN).</summary>
    Network,

    /// <summary>A network predicting every horizon step at once, the transform chosen by the backtest.</summary>
    Direct,

    /// <summary>A one-step network whose predictions are fed back, the transform chosen by the backtest.</summary>
    Recursive,

    /// <summary>ES-RNN: a network correcting Holt-Winters' forecasts.</summary>
    EsRnn,

    /// <summary>Holt-Winters alone, its form picked by AIC.</summary>
    HoltWinters,

    /// <summary>The mean of the best direct network's and Holt-Winters' forecasts.</summary>
    Combination,

    /// <summary>The last value.</summary>
    LastValue,

    /// <summary>The value one season before.</summary>
    SeasonalNaive,

    /// <summary>The line through the first and last values.</summary>
    Drift,

    /// <summary>A linear autoregression of the first differences.</summary>
    Autoregression,
}

/// <summary>The choices behind a forecaster; every one has a default a user can leave alone.</summary>
public sealed record ForecasterOptions
{
    /// <summary>Recurrent cell of the network candidates.</summary>
    public CellType Cell { get; init; } = CellType.Lstm;

    /// <summary>Hidden units per layer of the network candidates.</summary>
    public int Hidden { get; init; } = 32;

    /// <summary>Stacked recurrent layers of the network candidates.</summary>
    public int Layers { get; init; } = 1;

    /// <summary>Values a network window reads (0: two seasons, at least 24, at most 120).</summary>
    public int Lookback { get; init; }

    /// <summary>Steps the backtest scores and the networks predict at once (0: two seasons when there is a season, else 24).</summary>
    public int Horizon { get; init; }

    /// <summary>Seasonal period (−1: found from the autocorrelation; 0: none).</summary>
    public int Season { get; init; } = -1;

    /// <summary>Restricts the transforms tried: true only logs, false never (null: both, logs only for a positive series).</summary>
    public bool? Log { get; init; }

    /// <summary>
    /// Restricts the transforms tried to this first-difference order, 0 or 1 (null: both, or only 0 when an augmented
    /// Dickey-Fuller test on the fit part rejects a unit root).
    /// </summary>
    public int? Difference { get; init; }

    /// <summary>The method, or <see cref="ForecastChoice.Auto"/>.</summary>
    public ForecastChoice Method { get; init; } = ForecastChoice.Auto;

    /// <summary>Networks from different seeds averaged in the final model (0: as many as share about 10,000 training windows an epoch, 5 to 20).</summary>
    public int Ensemble { get; init; }

    /// <summary>Cores for training ensemble members side by side (each member on one, so results do not depend on it).</summary>
    public int Threads { get; init; } = 2;

    /// <summary>
    /// Share of the series the backtest's forecasts may cover: origins are consecutive, the last leaving exactly one horizon
    /// after it, as many as the share allows — but at least 12 where the series can spare them, at most <see cref="Origins"/>.
    /// </summary>
    public double BacktestFraction { get; init; } = 0.2;

    /// <summary>Most backtest origins.</summary>
    public int Origins { get; init; } = 24;

    /// <summary>Throws when a field is out of range, naming it.</summary>
    public void Validate()
    {
        Check(Hidden is >= 1 and <= 4096, nameof(Hidden), Hidden, "1..4096");
        Check(Layers is >= 1 and <= 16, nameof(Layers), Layers, "1..16");
        Check(Lookback is >= 0 and <= 10_000, nameof(Lookback), Lookback, "0 (auto) or 1..10000");
        Check(Horizon is >= 0 and <= 10_000, nameof(Horizon), Horizon, "0 (auto) or 1..10000");
        Check(Season is >= -1 and <= 100_000, nameof(Season), Season, "−1 (auto), 0 or a period");
        Check(Difference is null or 0 or 1, nameof(Difference), Difference!, "0, 1 or unset");
        Check(Enum.IsDefined(Method), nameof(Method), Method, "a ForecastChoice");
        Check(Ensemble is >= 0 and <= 64, nameof(Ensemble), Ensemble, "0 (auto) or 1..64");
        Check(Threads is >= 1 and <= 256, nameof(Threads), Threads, "1..256");
        Check(Origins is >= 1 and <= 1000, nameof(Origins), Origins, "1..1000");
        Check(BacktestFraction is > 0 and < 1, nameof(BacktestFraction), BacktestFraction, "in (0, 1)");

        static void Check(bool ok, string name, object value, string expected)
        {
            if (!ok)
            {
                throw new ArgumentOutOfRangeException(name, value, $"{name}: expected {expected}, got {value}.");
            }
        }
    }
}

/// <summary>What training found: the season and horizon used, every method's backtest score, and the choice.</summary>
/// <param name="Season">The seasonal period used (0: none).</param>
/// <param name="Horizon">Steps scored.</param>
/// <param name="Lookback">Network window length.</param>
/// <param name="Backtest">The origins and scale of the scores.</param>
/// <param name="Scores">Every method tried, best first.</param>
/// <param name="Chosen">The method the forecaster uses.</param>
/// <param name="LastOrigin">The chosen method's forecast from the last origin (the final horizon of the series).</param>
/// <param name="History">Epochs of the best network's backtest fit.</param>
public sealed record ForecastReport(int Season, int Horizon, int Lookback, Backtest Backtest, IReadOnlyList<BacktestScore> Scores, string Chosen,
    double[] LastOrigin, IReadOnlyList<EpochReport> History)
{
    /// <summary>
    /// The chosen method's backtest RMSE with its network's weights stored in each <see cref="WeightFormat"/>
    /// (<see cref="Forecaster.Weights"/>); empty when the choice runs no network.
    /// </summary>
    public IReadOnlyDictionary<WeightFormat, double> RmseByWeights { get; init; } = new Dictionary<WeightFormat, double>();
}

/// <summary>A forecast with its prediction intervals (normal, from the backtest's RMSE at each step).</summary>
public sealed record ForecastResult(double[] Values, double[] Lower80, double[] Upper80, double[] Lower95, double[] Upper95)
{
    private const double Z80 = 1.2815515655446004, Z95 = 1.959963984540054;

    /// <summary>
    /// <paramref name="values"/> with normal 80 % and 95 % intervals of standard deviation <paramref name="sigma"/>[h] at
    /// step h; beyond the steps it covers, the last one's grows like a random walk's (∝ √h).
    /// </summary>
    public static ForecastResult WithIntervals(double[] values, IReadOnlyList<double> sigma)
    {
        ArgumentNullException.ThrowIfNull(values);
        ArgumentNullException.ThrowIfNull(sigma);
        ArgumentOutOfRangeException.ThrowIfZero(sigma.Count);
        int steps = values.Length;
        var result = new ForecastResult(values, new double[steps], new double[steps], new double[steps], new double[steps]);
        for (int h = 0; h < steps; h++)
        {
            double s = h < sigma.Count ? sigma[h] : sigma[^1] * Math.Sqrt((h + 1.0) / sigma.Count);
            result.Lower80[h] = values[h] - (Z80 * s);
            result.Upper80[h] = values[h] + (Z80 * s);
            result.Lower95[h] = values[h] - (Z95 * s);
            result.Upper95[h] = values[h] + (Z95 * s);
        }

        return result;
    }
}

/// <summary>
/// Multi-step forecasting of a univariate series. <see cref="Train"/> finds the season (autocorrelation) and the horizon,
/// scores the baselines (last value, seasonal naive, drift, Holt-Winters, linear autoregression) and the recurrent
/// candidates (direct and recursive networks over several transforms, ES-RNN, a combination with Holt-Winters) by a
/// rolling-origin backtest on the series, picks the best, and refits it on the whole series — networks as an ensemble of
/// seeds. Forecasts come with prediction intervals from the backtest errors at each step.
/// </summary>
public sealed class Forecaster
{
    private const double Kind = 2;

    // Seeds of each network candidate in the backtest: a single seed's score varies enough to flip the choice.
    private const int BacktestMembers = 4;

    // Member-windows per epoch the automatic ensemble aims at: 20 members on a short series (cheap, and the spread between
    // seeds is widest there), 10 on one whose epochs draw 1,024 windows.
    private const int EnsembleWindows = 10_240;

    private readonly ForecastMethod _method;
    private readonly double[] _sigma;

    private Forecaster(ForecastMethod method, NetworkMethod network, HoltWintersMethod? holtWinters, ForecastChoice choice, int season, int horizon, double[] sigma)
    {
        _method = method;
        Network = network;
        HoltWinters = holtWinters;
        Choice = choice;
        Season = season;
        Horizon = horizon;
        _sigma = sigma;
    }

    /// <summary>The method used (its name as in the backtest table).</summary>
    public string Method => _method.Name;

    /// <summary>Which kind of method that is.</summary>
    public ForecastChoice Choice { get; }

    /// <summary>Seasonal period used (given or found; 0: none).</summary>
    public int Season { get; }

    /// <summary>Horizon the choice was backtested at.</summary>
    public int Horizon { get; }

    /// <summary>The best network candidate: refitted on the whole series when the choice is a network or the combination, else as the backtest fitted it.</summary>
    public NetworkMethod Network { get; }

    /// <summary>
    /// How forecasts store the network's weights (<see cref="WeightFormat"/>): bfloat16 or int8 read fewer bytes per
    /// step. Only networks are affected; the intervals stay those of the full-precision backtest.
    /// </summary>
    public WeightFormat Weights
    {
        get => Network.Weights;
        set => Network.Weights = value;
    }

    /// <summary>Holt-Winters fitted on the whole series (when the season allowed one).</summary>
    public HoltWintersMethod? HoltWinters { get; }

    /// <summary>Values of history a forecast needs.</summary>
    public int MinimumHistory => MinimumHistoryOf(Network.Options, Season);

    private static int MinimumHistoryOf(NetworkForecastOptions o, int season) =>
        Math.Max(o.Lookback + (o.Residual ? 2 * o.Period : o.Transform.Lag) + 1, Math.Max(2, (2 * season) + 2));

    /// <summary>The largest magnitude (and the inverse of the smallest) of a series <see cref="Train"/> takes.</summary>
    public const double MaxMagnitude = 1e100;

    /// <summary>Trains and chooses; <paramref name="onProgress"/> hears (stage, detail) as the work goes.</summary>
    public static (Forecaster Forecaster, ForecastReport Report) Train(ReadOnlySpan<double> series, ForecasterOptions options, TrainingOptions training, Action<string>? onProgress = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(training);
        options.Validate();
        training.Validate();
        CheckSeries(series);
        double[] values = series.ToArray();
        var sizes = Sizes.Of(series, options);
        var candidates = new Candidates(values, sizes, options, onProgress);
        candidates.ScoreBaselines();
        candidates.ScoreNetworks(training);
        var chosen = candidates.Choose();
        var lastOrigin = candidates.Backtest.Forecasts(chosen.Method, series)[^1];
        var rmseByWeights = candidates.RmseByWeights(chosen);
        var (method, final, finalHw) = candidates.Refit(chosen, training);
        var forecaster = new Forecaster(method, final, finalHw, chosen.Choice, sizes.Season, sizes.Horizon, chosen.Score.RmseByStep);
        var ordered = candidates.Scores.OrderBy(s => s.Score.Rmse).Select(s => s.Score).ToList();
        return (forecaster, new ForecastReport(sizes.Season, sizes.Horizon, sizes.Lookback, candidates.Backtest, ordered, chosen.Score.Method, lastOrigin,
            candidates.BestNetwork.Method.Reports) { RmseByWeights = rmseByWeights });
    }

    /// <summary>Throws unless the series is finite, long enough and within <see cref="MaxMagnitude"/>.</summary>
    private static void CheckSeries(ReadOnlySpan<double> series)
    {
        for (int i = 0; i < series.Length; i++)
        {
            if (!double.IsFinite(series[i]))
            {
                throw new ArgumentException($"series[{i}] = {series[i]}: expected finite values.", nameof(series));
            }
        }

        if (series.Length < 16)
        {
            throw new ArgumentException($"series: {series.Length} values are too few to forecast from; need at least 16.", nameof(series));
        }

        double scale = 0;
        foreach (double v in series)
        {
            scale = Math.Max(scale, Math.Abs(v));
        }

        if (scale > MaxMagnitude || (scale > 0 && scale < 1 / MaxMagnitude))
        {
            // Squared errors and variances overflow above, and underflow to zero-width intervals below.
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"series: values up to {scale:G3} in magnitude; the forecaster works between 1e-100 and 1e100: rescale the series (divide by 1e{Math.Floor(Math.Log10(scale)):F0})."), nameof(series));
        }
    }

    /// <summary>The season, horizon and window the options ask for, cut to what the series can support.</summary>
    private sealed record Sizes(int Season, int Horizon, int Lookback, bool Positive)
    {
        public static Sizes Of(ReadOnlySpan<double> series, ForecasterOptions options)
        {
            int n = series.Length;
            int season = options.Season >= 0 ? options.Season : SeasonDetector.Find(series);
            if (season > 0 && n < (3 * season) + 8)
            {
                season = 0;
            }

            int horizon = options.Horizon > 0 ? options.Horizon : season > 0 ? 2 * season : 24;
            horizon = Math.Min(horizon, Math.Max(1, n / 4));
            // Two seasons; without a season a window the series can fill fifty times over, so a long series shows the network its
            // slow cycles (sunspots' eleven years) rather than two years of them.
            int lookback = options.Lookback > 0 ? options.Lookback : Math.Clamp(season > 0 ? 2 * season : n / 50, 24, 120);
            lookback = Math.Min(lookback, Math.Max(2, n / 4));
            bool positive = true;
            foreach (double v in series)
            {
                positive &= v > 0;
            }

            return new Sizes(season, horizon, lookback, positive);
        }

        /// <summary>The autoregression baseline's order.</summary>
        public int ArOrder => Math.Min(Lookback, 24);
    }

    /// <summary>The backtest and every candidate's score on it, gathered step by step.</summary>
    private sealed class Candidates
    {
        private readonly double[] _values;
        private readonly Sizes _sizes;
        private readonly ForecasterOptions _options;
        private readonly Action<string>? _onProgress;
        private readonly List<(BacktestScore Score, NetworkMethod Method, ForecastChoice Choice)> _networks = [];
        private bool _stationary;

        public Candidates(double[] values, Sizes sizes, ForecasterOptions options, Action<string>? onProgress)
        {
            (_values, _sizes, _options, _onProgress) = (values, sizes, options, onProgress);
            int n = values.Length, season = sizes.Season, horizon = sizes.Horizon;
            // A short series still gets a backtest, on fewer values (a candidate that cannot fit on them is left out).
            int minimumFit = Math.Max(sizes.Lookback + (2 * season) + horizon + 16, 3 * season);
            minimumFit = Math.Max(Math.Min(minimumFit, n - horizon - 2), Math.Min(n - horizon, 8));
            // Consecutive origins at the end of the series: tried against origins spread over the whole backtest share (whose fit
            // part is shorter), they chose better on the sample series' held-out values.
            int origins = Math.Min(options.Origins, Math.Max(12, (int)Math.Round(n * options.BacktestFraction) - horizon + 1));
            Backtest = Backtest.Plan(values, horizon, origins, minimumFit, season);
            HoltWinters = new HoltWintersMethod(season);
        }

        public Backtest Backtest { get; }

        public List<(BacktestScore Score, ForecastMethod Method, ForecastChoice Choice)> Scores { get; } = [];

        /// <summary>Holt-Winters as the backtest fitted it.</summary>
        public HoltWintersMethod HoltWinters { get; }

        public bool HasHoltWinters => Scores.Any(s => s.Choice == ForecastChoice.HoltWinters);

        public (BacktestScore Score, NetworkMethod Method, ForecastChoice Choice) BestNetwork => _networks.MinBy(s => s.Score.Rmse);

        /// <summary>The best direct network (the combination's half), or the best network when no direct one fitted.</summary>
        public (BacktestScore Score, NetworkMethod Method, ForecastChoice Choice) BestDirect =>
            _networks.Where(s => s.Choice == ForecastChoice.Direct).DefaultIfEmpty(BestNetwork).MinBy(s => s.Score.Rmse);

        /// <summary>Last value, seasonal naive, drift, Holt-Winters and the linear autoregression.</summary>
        public void ScoreBaselines()
        {
            Score(new LastValueMethod(), ForecastChoice.LastValue);
            if (_sizes.Season > 0)
            {
                Score(new SeasonalNaiveMethod(_sizes.Season), ForecastChoice.SeasonalNaive);
            }

            Score(new DriftMethod(), ForecastChoice.Drift);
            Score(HoltWinters, ForecastChoice.HoltWinters);
            Score(new AutoregressionMethod(_sizes.ArOrder), ForecastChoice.Autoregression);
        }

        /// <summary>
        /// The direct networks over each transform, a recursive form of the best, ES-RNN, and the combination of the best
        /// direct network with Holt-Winters. Throws when no network could be scored.
        /// </summary>
        public void ScoreNetworks(TrainingOptions training)
        {
            var net = new NetworkForecastOptions
            {
                Cell = _options.Cell,
                Hidden = _options.Hidden,
                Layers = _options.Layers,
                Lookback = _sizes.Lookback,
                Horizon = _sizes.Horizon,
                Period = _sizes.Season,
                Members = _options.Ensemble > 0 ? Math.Min(BacktestMembers, _options.Ensemble) : BacktestMembers,
                Threads = _options.Threads,
                Training = training,
            };
            // The epochs each network may stop at, halving from the most allowed; the backtest picks one along with the method.
            int[] checkpoints = [.. Enumerable.Range(0, 5).Select(j => Math.Max(1, (int)Math.Round(training.Epochs / Math.Pow(2, 4 - j)))).Distinct()];
            TrainingDivergedException? diverged = null;
            _stationary = UnitRoot.Stationary(_values.AsSpan(0, Backtest.FitLength));
            foreach (var transform in Transforms(_options, _sizes.Season, _sizes.Positive, _stationary))
            {
                diverged = ScoreNetwork(net with { Transform = transform }, ForecastChoice.Direct, checkpoints) ?? diverged;
            }

            if (_networks.Count > 0)
            {
                diverged = ScoreNetwork(BestNetwork.Method.Options with { Recursive = true }, ForecastChoice.Recursive, checkpoints) ?? diverged;
            }

            if (HasHoltWinters)
            {
                diverged = ScoreNetwork(net with { Residual = true }, ForecastChoice.EsRnn, checkpoints) ?? diverged;
            }

            if (_networks.Count == 0)
            {
                throw diverged ?? (Exception)new ArgumentException(
                    $"series: {_values.Length} values are too few for a network with a window of {_sizes.Lookback} and a horizon of {_sizes.Horizon}.", "series");
            }

            if (HasHoltWinters)
            {
                // The direct network rather than ES-RNN or a recursive one: ES-RNN already leans on Holt-Winters, and the mean of
                // two different views of the series is what makes a combination robust.
                var combination = new CombinationMethod(BestDirect.Method, HoltWinters);
                Scores.Add((Backtest.Score(combination, _values, fitted: true), combination, ForecastChoice.Combination));
            }
        }

        /// <summary>The candidate the options ask for (<see cref="ForecastChoice.Auto"/>: <see cref="Robust"/>).</summary>
        public (BacktestScore Score, ForecastMethod Method, ForecastChoice Choice) Choose()
        {
            var chosen = _options.Method switch
            {
                ForecastChoice.Auto => Robust(Scores, Backtest, randomWalk: _sizes.Season == 0 && !_stationary),
                ForecastChoice.Network => BestNetwork,
                _ => Scores.Where(s => s.Choice == _options.Method).DefaultIfEmpty().MinBy(s => s.Score?.Rmse ?? double.PositiveInfinity),
            };
            return chosen.Method is not null ? chosen
                : throw new ArgumentException($"method: {_options.Method} cannot be fitted to this series (too short, or no season for it).", "options");
        }

        /// <summary>The chosen method's backtest RMSE with its network in each weight format (none when it runs no network).</summary>
        public Dictionary<WeightFormat, double> RmseByWeights((BacktestScore Score, ForecastMethod Method, ForecastChoice Choice) chosen)
        {
            var network = chosen.Method as NetworkMethod ?? (chosen.Choice == ForecastChoice.Combination ? BestDirect.Method : null);
            var result = new Dictionary<WeightFormat, double>();
            if (network is not null)
            {
                foreach (var format in Enum.GetValues<WeightFormat>())
                {
                    network.Weights = format;
                    result[format] = Backtest.Score(chosen.Method, _values, fitted: true).Rmse;
                }

                network.Weights = WeightFormat.Full;
            }

            return result;
        }

        /// <summary>
        /// The chosen method fitted on the whole series, with the network and Holt-Winters the forecaster keeps. The best network
        /// is refitted as an ensemble, for as many epochs as its backtest fit kept, when the choice uses it; otherwise the
        /// backtest's network is what the model file keeps, and nothing is trained again.
        /// </summary>
        public (ForecastMethod Method, NetworkMethod Network, HoltWintersMethod? HoltWinters) Refit(
            (BacktestScore Score, ForecastMethod Method, ForecastChoice Choice) chosen, TrainingOptions training)
        {
            double[] series = _values;
            int n = series.Length, lookback = _sizes.Lookback;
            var network = chosen.Method as NetworkMethod ?? (chosen.Choice == ForecastChoice.Combination ? BestDirect.Method : BestNetwork.Method);
            var final = network;
            if (chosen.Choice is ForecastChoice.Direct or ForecastChoice.Recursive or ForecastChoice.EsRnn or ForecastChoice.Combination)
            {
                int ensemble = _options.Ensemble > 0 ? _options.Ensemble : Math.Clamp(EnsembleWindows / Math.Max(1, training.WindowsPerEpoch > 0 ? Math.Min(training.WindowsPerEpoch, n - lookback) : n - lookback), 5, 20);
                _onProgress?.Invoke($"refit on all {n} values: {network.Name}, {ensemble} seeds");
                final = new NetworkMethod(network.Options with { Members = ensemble, Threads = _options.Threads });
                final.Fit(series, Math.Max(1, network.BestEpoch));
            }

            HoltWintersMethod? finalHw = null;
            if (HasHoltWinters)
            {
                finalHw = new HoltWintersMethod(_sizes.Season);
                finalHw.Fit(series);
            }

            ForecastMethod method = chosen.Choice switch
            {
                ForecastChoice.Direct or ForecastChoice.Recursive or ForecastChoice.EsRnn => final,
                ForecastChoice.HoltWinters => finalHw!,
                ForecastChoice.Combination => new CombinationMethod(final, finalHw!),
                ForecastChoice.LastValue => new LastValueMethod(),
                ForecastChoice.SeasonalNaive => new SeasonalNaiveMethod(_sizes.Season),
                ForecastChoice.Drift => new DriftMethod(),
                _ => Fitted(new AutoregressionMethod(_sizes.ArOrder), series),
            };
            return (method, final, finalHw);
        }

        /// <summary>Scores a method the fit part is long enough for (a season of history, a long window); leaves out the others.</summary>
        private void Score(ForecastMethod method, ForecastChoice choice)
        {
            if (method.MinimumLength <= Backtest.FitLength)
            {
                _onProgress?.Invoke($"backtest: {method.Name}");
                Scores.Add((Backtest.Score(method, _values), method, choice));
            }
        }

        /// <summary>
        /// Fits a network to the last checkpoint and scores it at the checkpoint its backtest likes best; a network the fit part
        /// is too short for is left out, and one that diverges is left out and returned.
        /// </summary>
        private TrainingDivergedException? ScoreNetwork(NetworkForecastOptions o, ForecastChoice choice, int[] checkpoints)
        {
            var method = new NetworkMethod(o);
            if (method.MinimumLength > Backtest.FitLength)
            {
                return null;
            }

            _onProgress?.Invoke($"backtest: {method.Name}");
            try
            {
                method.FitCheckpoints(_values.AsSpan(0, Backtest.FitLength), checkpoints);
            }
            catch (TrainingDivergedException e)
            {
                _onProgress?.Invoke($"backtest: {method.Name} diverged; left out");
                return e;
            }

            BacktestScore? score = null;
            int at = 0;
            for (int j = 0; j < checkpoints.Length; j++)
            {
                method.UseCheckpoint(j);
                var s = Backtest.Score(method, _values, fitted: true);
                if (score is null || s.Rmse < score.Rmse)
                {
                    (score, at) = (s, j);
                }
            }

            method.UseCheckpoint(at);
            _networks.Add((score!, method, choice));
            Scores.Add((score!, method, choice));
            return null;
        }
    }

    /// <summary>
    /// The best method by backtest RMSE, unless it fails to beat the best naive forecast (last value, seasonal naive) by more
    /// than the backtest's noise: then that naive forecast. A random walk (a price) has nothing more to learn, and a choice
    /// made on noise is worse out of sample than the naive forecast it barely beat.
    /// </summary>
    private static (BacktestScore Score, ForecastMethod Method, ForecastChoice Choice) Simplest(
        List<(BacktestScore Score, ForecastMethod Method, ForecastChoice Choice)> scores, Backtest backtest)
    {
        var best = scores.MinBy(s => s.Score.Rmse);
        var naive = scores.Where(s => s.Choice is ForecastChoice.LastValue or ForecastChoice.SeasonalNaive).MinBy(s => s.Score.Rmse);
        return naive.Method is null || best.Choice == naive.Choice || backtest.Beats(best.Score, naive.Score) ? best : naive;
    }

    /// <summary>
    /// The combination of the network and Holt-Winters, unless another method beats it by more than the backtest's noise
    /// (then the best of those): a backtest of a few dozen overlapping forecasts cannot tell most candidates apart, and the
    /// mean of two methods that err differently is the choice least likely to be the worst out of sample (the M4 lesson).
    /// Without Holt-Winters (a short series), <see cref="Simplest"/>. For a <paramref name="randomWalk"/> (no season, and no
    /// unit root rejected: a price), the last value unless the choice beats it by more than the noise.
    /// </summary>
    private static (BacktestScore Score, ForecastMethod Method, ForecastChoice Choice) Robust(
        List<(BacktestScore Score, ForecastMethod Method, ForecastChoice Choice)> scores, Backtest backtest, bool randomWalk)
    {
        var combination = scores.FirstOrDefault(s => s.Choice == ForecastChoice.Combination);
        var better = scores.Where(s => combination.Method is not null && s.Choice != ForecastChoice.Combination && backtest.Beats(s.Score, combination.Score)).ToList();
        var chosen = combination.Method is null ? Simplest(scores, backtest) : better.Count == 0 ? combination : better.MinBy(s => s.Score.Rmse);
        var last = scores.FirstOrDefault(s => s.Choice == ForecastChoice.LastValue);
        return randomWalk && last.Method is not null && chosen.Choice != ForecastChoice.LastValue && !backtest.Beats(chosen.Score, last.Score) ? last : chosen;
    }

    /// <summary>The next <paramref name="steps"/> values after <paramref name="history"/>, with 80 % and 95 % intervals.</summary>
    public ForecastResult Forecast(ReadOnlySpan<double> history, int steps)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(steps, 1_000_000);
        if (history.Length < MinimumHistory)
        {
            throw new ArgumentException($"history: expected at least {MinimumHistory} values, got {history.Length}.", nameof(history));
        }

        for (int i = 0; i < history.Length; i++)
        {
            if (!double.IsFinite(history[i]) || (Network.Options.Transform.Log && Choice is ForecastChoice.Direct or ForecastChoice.Recursive && history[i] <= 0))
            {
                throw new ArgumentException($"history[{i}] = {history[i]}: expected a finite{(Network.Options.Transform.Log ? ", positive" : "")} value.", nameof(history));
            }
        }

        return ForecastResult.WithIntervals(_method.Forecast(history, steps), _sigma);
    }

    /// <summary>Saves the method, the network ensemble, Holt-Winters' parameters and the interval widths in one model file.</summary>
    public void Save(string path)
    {
        var o = Network.Options;
        var (mean, std, ets, positive) = Network.State;
        var members = Network.Members;
        var metadata = new Dictionary<string, double[]>
        {
            ["kind"] = [Kind],
            ["method"] = [(int)Choice],
            ["season"] = [Season, Horizon],
            ["network"] = [(int)o.Cell, o.Hidden, o.Layers, o.Lookback, o.Horizon, o.Recursive ? 1 : 0, o.Residual ? 1 : 0, o.Period,
                o.Transform.Log ? 1 : 0, o.Transform.Difference, o.Transform.Season, mean, std, positive ? 1 : 0, members.Count],
            ["sigma"] = _sigma,
        };
        if (ets is not null)
        {
            metadata["network.ets"] = ets.Save();
        }

        if (HoltWinters is not null)
        {
            metadata["hw"] = HoltWinters.Model.Save();
        }

        if (_method is AutoregressionMethod ar)
        {
            metadata["ar"] = ar.Weights;
        }

        for (int k = 1; k < members.Count; k++)
        {
            metadata[$"member{k}.network"] = members[k].Network.Parameters.ToArray().Select(v => (double)v).ToArray();
            metadata[$"member{k}.head"] = members[k].Head.Parameters.ToArray().Select(v => (double)v).ToArray();
        }

        ModelFile.Save(path, new SavedModel<float>(members[0].Network, members[0].Head, metadata));
    }

    /// <summary>
    /// What a forecaster's model file holds beyond its first network, one line each (for inspecting or converting it), or
    /// null when <paramref name="metadata"/> is not a forecaster's.
    /// </summary>
    public static IReadOnlyList<string>? Describe(IReadOnlyDictionary<string, double[]> metadata)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        if (!metadata.TryGetValue("kind", out var kind) || kind is not [Kind] || !metadata.TryGetValue("network", out var net) || net.Length != 15
            || !metadata.TryGetValue("method", out var method) || method.Length != 1 || !metadata.TryGetValue("season", out var season) || season.Length != 2
            || !Enum.IsDefined((CellType)(int)net[0]))
        {
            return null;
        }

        var o = OptionsOf(net);
        var choice = (ForecastChoice)(int)method[0];
        return
        [
            string.Create(CultureInfo.InvariantCulture, $"forecaster: method {choice}, horizon {season[1]}, season {(season[0] > 0 ? season[0].ToString(CultureInfo.InvariantCulture) : "none")}"),
            string.Create(CultureInfo.InvariantCulture, $"networks: {net[14]} averaged, each {new NetworkMethod(o).Name}, window {o.Lookback}; the series scaled by mean {net[11]:G6} and scale {net[12]:G6}"),
            metadata.ContainsKey("hw") ? $"Holt-Winters: saved{(choice == ForecastChoice.Combination ? ", half of the combination" : choice == ForecastChoice.HoltWinters ? ", the method" : "")}" : "Holt-Winters: none",
            .. metadata.ContainsKey("ar") ? ["linear autoregression: saved, the method"] : Array.Empty<string>(),
        ];
    }

    private static NetworkForecastOptions OptionsOf(double[] net) => new()
    {
        Cell = (CellType)(int)net[0],
        Hidden = (int)net[1],
        Layers = (int)net[2],
        Lookback = (int)net[3],
        Horizon = (int)net[4],
        Recursive = net[5] == 1,
        Residual = net[6] == 1,
        Period = (int)net[7],
        Transform = new SeriesTransform(net[8] == 1, (int)net[9], (int)net[10]),
    };

    /// <summary>Loads a forecaster saved by <see cref="Save"/>; <paramref name="history"/> positions its Holt-Winters models.</summary>
    /// <exception cref="InvalidDataException">Not a valid forecaster file.</exception>
    public static Forecaster Load(string path, ReadOnlySpan<double> history)
    {
        var saved = ModelFile.Load<float>(path);
        var m = saved.Metadata;
        if (!m.TryGetValue("kind", out var kind) || kind is not [Kind] || saved.Head is null || saved.Network.Spec.InputSize != 1)
        {
            throw new InvalidDataException(m.TryGetValue("kind", out var k) && k is [1]
                ? $"{path}: a time-series model from an earlier version of fastlstm (one-step, one network); train it again."
                : $"{path}: not a time-series model (train one with 'fastlstm train').");
        }

        try
        {
            var method = m["method"];
            var seasonAndHorizon = m["season"];
            var net = m["network"];
            var sigma = m["sigma"];
            if (method is not [>= 0 and <= 10] || seasonAndHorizon is not [>= 0 and <= 100_000, >= 1 and <= 10_000] || net.Length != 15
                || sigma.Length != (int)seasonAndHorizon[1] || sigma.Any(s => !(s >= 0) || !double.IsFinite(s)))
            {
                throw new InvalidDataException("the method, season, horizon or interval widths are invalid.");
            }

            var options = OptionsOf(net);
            int outputs = options.Recursive && !options.Residual ? 1 : options.Horizon;
            if (!Enum.IsDefined(options.Cell) || options.Lookback is < 1 or > 10_000 || options.Horizon is < 1 or > 10_000 || net[14] is < 1 or > 64
                || saved.Head.Outputs != outputs || saved.Network.Spec.HiddenSize != options.Hidden || !(net[12] > 0))
            {
                throw new InvalidDataException("the network's shape does not match its description.");
            }

            int minimum = MinimumHistoryOf(options, (int)seasonAndHorizon[0]);
            if (history.Length < minimum)
            {
                throw new ArgumentException($"too few rows for the model's window: the history has {history.Length} values, this model needs at least {minimum}.", nameof(history));
            }

            var members = new WindowRegressor<float>[(int)net[14]];
            members[0] = new WindowRegressor<float>(saved.Network, saved.Head, options.Lookback);
            for (int k = 1; k < members.Length; k++)
            {
                var network = new RnnModel<float>(saved.Network.Spec);
                var head = new DenseHead<float>(saved.Head.Inputs, saved.Head.Outputs, saved.Head.Activation);
                Copy(m[$"member{k}.network"], network.Parameters);
                Copy(m[$"member{k}.head"], head.Parameters);
                members[k] = new WindowRegressor<float>(network, head, options.Lookback);
            }

            var ets = m.TryGetValue("network.ets", out var e) ? ExponentialSmoothing.FromParameters(e, history) : null;
            var final = new NetworkMethod(options);
            final.Use(members, net[11], net[12], ets, net[13] == 1);
            HoltWintersMethod? hw = null;
            if (m.TryGetValue("hw", out var hwParameters))
            {
                hw = new HoltWintersMethod((int)seasonAndHorizon[0]);
                hw.Use(ExponentialSmoothing.FromParameters(hwParameters, history));
            }

            var choice = (ForecastChoice)(int)method[0];
            int season = (int)seasonAndHorizon[0];
            ForecastMethod used = choice switch
            {
                ForecastChoice.Direct or ForecastChoice.Recursive or ForecastChoice.EsRnn => final,
                ForecastChoice.HoltWinters => hw ?? throw new InvalidDataException("Holt-Winters is chosen but not saved."),
                ForecastChoice.Combination => new CombinationMethod(final, hw ?? throw new InvalidDataException("Holt-Winters is combined but not saved.")),
                ForecastChoice.LastValue => new LastValueMethod(),
                ForecastChoice.SeasonalNaive when season > 0 => new SeasonalNaiveMethod(season),
                ForecastChoice.Drift => new DriftMethod(),
                ForecastChoice.Autoregression => AutoregressionMethod.FromWeights(m["ar"]),
                _ => throw new InvalidDataException($"method {choice} cannot be loaded."),
            };
            return new Forecaster(used, final, hw, choice, season, (int)seasonAndHorizon[1], sigma);
        }
        catch (KeyNotFoundException e)
        {
            throw new InvalidDataException($"{path}: the forecaster's metadata is incomplete ({e.Message}).", e);
        }
        catch (ArgumentException e) when (e.ParamName != nameof(history))
        {
            throw new InvalidDataException($"{path}: the forecaster's metadata is invalid ({e.Message}).", e);
        }
        catch (InvalidDataException e) when (!e.Message.StartsWith(path, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
    }

    /// <summary>
    /// The transforms the network candidates try: the stationary forms the options and the series allow — no first
    /// difference of a series the unit-root test finds stationary (tried on the fit part only).
    /// </summary>
    private static IEnumerable<SeriesTransform> Transforms(ForecasterOptions options, int season, bool positive, bool stationary)
    {
        var logs = options.Log switch { true => new[] { true }, false => new[] { false }, _ => positive ? new[] { false, true } : new[] { false } };
        var differences = options.Difference is int d ? new[] { d } : stationary ? new[] { 0 } : new[] { 0, 1 };
        var seasons = season > 0 ? new[] { 0, season } : new[] { 0 };
        var all = from l in logs from dd in differences from s in seasons select new SeriesTransform(l, dd, s);

        // At most four: levels (or log levels), a first difference, a seasonal difference and, for a positive series, the
        // log of the seasonal one — the forms a demanding user would try first.
        return all.OrderBy(t => Rank(t, positive)).Take(4);

        static int Rank(SeriesTransform t, bool positive) =>
            (t.Difference, t.Season > 0, t.Log) switch
            {
                (1, false, false) => 0,
                (0, true, false) => 1,
                (0, true, true) => positive ? 2 : 9,
                (0, false, false) => 3,
                (1, false, true) => 4,
                (0, false, true) => 5,
                _ => 6,
            };
    }

    private static ForecastMethod Fitted(ForecastMethod method, ReadOnlySpan<double> series)
    {
        method.Fit(series);
        return method;
    }

    private static void Copy(double[] source, Span<float> target)
    {
        if (source.Length != target.Length)
        {
            throw new InvalidDataException($"an ensemble member holds {source.Length} values, expected {target.Length}.");
        }

        for (int i = 0; i < source.Length; i++)
        {
            if (!double.IsFinite(source[i]))
            {
                throw new InvalidDataException("an ensemble member holds a value that is not finite.");
            }

            target[i] = (float)source[i];
        }
    }
}
