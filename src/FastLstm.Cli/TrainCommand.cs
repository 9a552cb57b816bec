using System.CommandLine;
using System.Globalization;
using FastLstm.Training;
using FastLstm.Training.Forecasting;
using Spectre.Console;

namespace FastLstm.Cli;

/// <summary>
/// <c>fastlstm train</c>: choose and fit a multi-step forecaster for one CSV column — season, transform and method found
/// by a rolling-origin backtest at the forecast horizon, the choice refitted on the whole column.
/// </summary>
internal static class TrainCommand
{
    private static readonly Dictionary<string, ForecastChoice> Methods = new(StringComparer.OrdinalIgnoreCase)
    {
        ["auto"] = ForecastChoice.Auto,
        ["network"] = ForecastChoice.Network,
        ["direct"] = ForecastChoice.Direct,
        ["recursive"] = ForecastChoice.Recursive,
        ["es-rnn"] = ForecastChoice.EsRnn,
        ["holt-winters"] = ForecastChoice.HoltWinters,
        ["combination"] = ForecastChoice.Combination,
        ["last-value"] = ForecastChoice.LastValue,
        ["seasonal-naive"] = ForecastChoice.SeasonalNaive,
        ["drift"] = ForecastChoice.Drift,
        ["autoregression"] = ForecastChoice.Autoregression,
    };

    public static Command Create(TextWriter output)
    {
        var csv = new Option<string>("--csv") { Description = "CSV file with a header row.", Required = true };
        var column = new Option<string>("--column") { Description = "Name of the numeric column to forecast.", Required = true };
        var outPath = new Option<string>("--out") { Description = "Model file to write (also MODEL.loss.png and MODEL.test.png).", Required = true };
        var cell = Options.Cell();
        var hidden = Options.Int("--hidden", 32, 1, 4096, "Hidden units.");
        var layers = Options.Int("--layers", 1, 1, 16, "Stacked layers.");
        var lookback = Options.Int("--lookback", 0, 0, 10_000, "Past values in each window (0: two seasons, at least 24).");
        var horizon = Options.Int("--horizon", 0, 0, 10_000, "Steps the backtest scores and the networks predict at once (0: two seasons, else 24).");
        var epochs = Options.Int("--epochs", 100, 1, 100_000, "Most epochs per network; the backtest picks 1/16, 1/8, 1/4, 1/2 or all of them.");
        var batch = Options.Int("--batch", 32, 1, 4096, "Windows per step.");
        var lr = Options.Double("--lr", 1e-3, 1e-7, 10, "Adam learning rate.");
        var clip = Options.Double("--clip", 1.0, 0, 1e6, "Gradient clipping by global norm (0: off).");
        var seed = Options.Int("--seed", 1, 0, int.MaxValue, "Seed of the weights and the shuffling (ensemble member k: seed + 7919·k).");
        var testFraction = Options.Double("--test-fraction", 0.2, 0.01, 0.9, "Largest share of the column the backtest's origins may take.");
        var season = Options.Int("--season", -1, -1, 100_000, "Seasonal period (-1: found from the autocorrelation; 0: none).");
        var log = new Option<string>("--log") { Description = "Transforms tried: auto (log too when every value is positive), yes (only log), no (never).", DefaultValueFactory = _ => "auto" };
        log.AcceptOnlyFromAmong("auto", "yes", "no");
        var difference = new Option<string>("--difference") { Description = "First differences tried: auto (with and without), 1 (always), 0 (never).", DefaultValueFactory = _ => "auto" };
        difference.AcceptOnlyFromAmong("auto", "0", "1");
        var method = new Option<string>("--method") { Description = $"Forecasting method: {string.Join(", ", Methods.Keys)}; auto lets the backtest choose.", DefaultValueFactory = _ => "auto", HelpName = "name" };
        method.AcceptOnlyFromAmong([.. Methods.Keys]);
        var ensemble = Options.Int("--ensemble", 0, 0, 64, "Networks from different seeds averaged in the final model (0: as many as share about 10,000 training windows an epoch, 5 to 20).");
        var threads = Options.Int("--threads", 2, 1, 256, "Cores for training the ensemble (results do not depend on it).");
        var windows = Options.Int("--windows-per-epoch", 1024, 0, 100_000_000, "Most training windows an epoch draws, a fresh random subset each epoch (0: all).");
        var command = new Command("train", "Choose and fit a multi-step forecaster for a CSV column: season, transform and method by a rolling-origin backtest, then refit on all of it.")
        {
            csv, column, outPath, cell, hidden, layers, lookback, horizon, epochs, batch, lr, clip, seed, testFraction, season, log, difference, method, ensemble, threads, windows,
        };
        command.SetAction(p =>
        {
            string file = p.GetValue(csv)!, name = p.GetValue(column)!, model = p.GetValue(outPath)!;
            foreach (var written in new[] { model, model + ".loss.png", model + ".test.png" })
            {
                OutputPath.CheckWritable("--out", written, file);
            }

            int concurrent = Math.Min(p.GetValue(threads), p.GetValue(ensemble) > 0 ? p.GetValue(ensemble) : 20);
            MemoryBudget.Check($"--hidden {p.GetValue(hidden)} --layers {p.GetValue(layers)} ({concurrent} networks trained at once)",
                concurrent * MemoryBudget.Training(new RnnSpec(p.Value(cell), 1, p.GetValue(hidden), p.GetValue(layers)), p.GetValue(batch), p.GetValue(lookback) > 0 ? p.GetValue(lookback) : 120));
            var series = Csv.ReadColumn(file, name);
            if (p.GetValue(log) == "yes" && series.Any(v => v <= 0))
            {
                throw new CliException($"--log yes: column '{name}' has values ≤ 0, which have no logarithm.");
            }

            var options = new ForecasterOptions
            {
                Cell = p.Value(cell),
                Hidden = p.GetValue(hidden),
                Layers = p.GetValue(layers),
                Lookback = p.GetValue(lookback),
                Horizon = p.GetValue(horizon),
                Season = p.GetValue(season),
                Log = p.GetValue(log) switch { "yes" => true, "no" => false, _ => null },
                Difference = p.GetValue(difference) switch { "0" => 0, "1" => 1, _ => null },
                Method = Methods[p.GetValue(method)!],
                Ensemble = p.GetValue(ensemble),
                Threads = p.GetValue(threads),
                BacktestFraction = p.GetValue(testFraction),
            };
            var training = new TrainingOptions
            {
                Epochs = p.GetValue(epochs),
                BatchSize = p.GetValue(batch),
                LearningRate = p.GetValue(lr),
                Clip = p.GetValue(clip),
                Seed = p.GetValue(seed),
                WindowsPerEpoch = p.GetValue(windows),
            };

            var console = Output.Console(output);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            Forecaster forecaster;
            ForecastReport report;
            try
            {
                (forecaster, report) = Progress.Run(console, "train", 1, update =>
                    Forecaster.Train(series, options, training, stage => update(0, stage)));
            }
            catch (TrainingDivergedException e)
            {
                throw new CliException(string.Create(CultureInfo.InvariantCulture,
                    $"training diverged: no network reached a finite loss ({e.Message.TrimEnd('.')}); lower --lr (now {training.LearningRate:G}){(training.Clip == 0 ? " or turn gradient clipping on (--clip 1)" : $" or clip harder (--clip, now {training.Clip:G})")}."));
            }

            foreach (var (option, asked, used) in new[] { ("--horizon", p.GetValue(horizon), report.Horizon), ("--lookback", p.GetValue(lookback), report.Lookback), ("--season", p.GetValue(season), report.Season) })
            {
                if (asked > 0 && asked != used)
                {
                    console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"note: {option} {asked} is more than {series.Length} values allow; used {(used > 0 ? used.ToString(CultureInfo.InvariantCulture) : "none")}."));
                }
            }

            var b = report.Backtest;
            console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{name}: {series.Length} values; season {(report.Season > 0 ? report.Season.ToString(CultureInfo.InvariantCulture) : "none")}{(p.GetValue(season) < 0 ? " (found)" : "")}; horizon {report.Horizon}; window {report.Lookback}. Backtest: fitted on the first {b.FitLength} values, {report.Horizon}-step forecasts from {b.Origins.Count} origins ({b.Origins[0]}..{b.Origins[^1]})."));
            var table = new Table().AddColumns("method", "RMSE", "MAE", "MASE", "sMAPE %");
            foreach (var s in report.Scores)
            {
                bool chosen = s.Method == report.Chosen;
                table.AddRow((chosen ? "▶ " : "  ") + s.Method, F(s.Rmse), F(s.Mae), F(s.Mase), F(s.Smape));
            }

            console.Write(table);
            console.WriteLine($"chosen: {report.Chosen}; refitted on all {series.Length} values ({(forecaster.Choice is ForecastChoice.Direct or ForecastChoice.Recursive or ForecastChoice.EsRnn or ForecastChoice.Combination ? $"{forecaster.Network.Members.Count} networks averaged" : "no network in the forecast")}) in {clock.Elapsed.TotalSeconds:F1} s.");
            if (report.RmseByWeights.Count > 0)
            {
                console.WriteLine("backtest RMSE with the network's weights compressed (forecast --weights): " + string.Join(", ",
                    report.RmseByWeights.Select(r => string.Create(CultureInfo.InvariantCulture, $"{Options.FormatName(r.Key)} {r.Value:G5}"))) + ".");
            }

            forecaster.Save(model);
            if (report.History.Count > 0)
            {
                Plots.Loss(model + ".loss.png", $"{name}: {forecaster.Network.Name}, backtest fit (scaled MSE)", report.History.Select(h => (h.TrainLoss, h.ValidationLoss)).ToList());
            }

            Plots.Series(model + ".test.png", $"{name}: {report.Chosen}, forecast from the last backtest origin", series, (b.Origins[^1], report.LastOrigin), []);
            console.WriteLine($"wrote {model}, {model}.loss.png, {model}.test.png");
            return ExitCodes.Success;
        });
        return command;
    }

    private static string F(double v) => double.IsFinite(v) ? v.ToString("F3", CultureInfo.InvariantCulture) : "—";
}
