using System.CommandLine;
using System.Globalization;
using FastLstm.Training;
using FastLstm.Training.Forecasting;
using Spectre.Console;

namespace FastLstm.Cli;

/// <summary><c>fastlstm train</c>: fit a many-to-one forecaster on one CSV column and score it against baselines.</summary>
internal static class TrainCommand
{
    public static Command Create(TextWriter output)
    {
        var csv = new Option<string>("--csv") { Description = "CSV file with a header row.", Required = true };
        var column = new Option<string>("--column") { Description = "Name of the numeric column to forecast.", Required = true };
        var outPath = new Option<string>("--out") { Description = "Model file to write (also MODEL.loss.png and MODEL.test.png).", Required = true };
        var cell = Options.Cell();
        var hidden = Options.Int("--hidden", 64, 1, 4096, "Hidden units.");
        var layers = Options.Int("--layers", 1, 1, 16, "Stacked layers.");
        var lookback = Options.Int("--lookback", 24, 1, 10_000, "Past values in each window.");
        var epochs = Options.Int("--epochs", 100, 1, 100_000, "Most epochs (early stopping may end sooner).");
        var batch = Options.Int("--batch", 32, 1, 4096, "Windows per step.");
        var lr = Options.Double("--lr", 1e-3, 1e-7, 10, "Adam learning rate.");
        var clip = Options.Double("--clip", 1.0, 0, 1e6, "Gradient clipping by global norm (0: off).");
        var seed = Options.Int("--seed", 1, 0, int.MaxValue, "Seed of the weights and the shuffling.");
        var testFraction = Options.Double("--test-fraction", 0.2, 0.01, 0.9, "Latest fraction held out for the test.");
        var season = Options.Int("--season", 0, 0, 100_000, "Seasonal period: adds the seasonal-naive baseline and a seasonal difference (0: none).");
        var log = new Option<string>("--log") { Description = "Model log values: auto (when every value is positive), yes, no.", DefaultValueFactory = _ => "auto" };
        log.AcceptOnlyFromAmong("auto", "yes", "no");
        var difference = Options.Int("--difference", 1, 0, 1, "1: model the change from the previous value (trend and level); 0: the value itself.");
        var patience = Options.Int("--patience", 15, 1, 100_000, "Epochs without a better validation loss before stopping.");
        var command = new Command("train", "Train a forecaster on a CSV column (a window of values predicts the next one) and compare it with baselines.")
        {
            csv, column, outPath, cell, hidden, layers, lookback, epochs, batch, lr, clip, seed, testFraction, season, log, difference, patience,
        };
        command.SetAction(p =>
        {
            string file = p.GetValue(csv)!, name = p.GetValue(column)!, model = p.GetValue(outPath)!;
            var series = Csv.ReadColumn(file, name);
            bool useLog = p.GetValue(log) switch
            {
                "yes" => true,
                "no" => false,
                _ => series.Length > 0 && series.All(v => v > 0),
            };
            if (useLog && series.Any(v => v <= 0))
            {
                throw new CliException($"--log yes: column '{name}' has values ≤ 0, which have no logarithm.");
            }

            var options = new ForecasterOptions
            {
                Cell = p.GetValue(cell),
                Hidden = p.GetValue(hidden),
                Layers = p.GetValue(layers),
                Lookback = p.GetValue(lookback),
                TestFraction = p.GetValue(testFraction),
                Season = p.GetValue(season),
                Transform = new SeriesTransform(useLog, p.GetValue(difference), p.GetValue(season)),
            };
            var training = new TrainingOptions
            {
                Epochs = p.GetValue(epochs),
                BatchSize = p.GetValue(batch),
                LearningRate = p.GetValue(lr),
                Clip = p.GetValue(clip),
                Seed = p.GetValue(seed),
                Patience = p.GetValue(patience),
            };

            var console = Output.Console(output);
            int testCount = (int)Math.Round(series.Length * options.TestFraction);
            console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{name}: {series.Length} values; training on the first {series.Length - testCount}, testing one-step-ahead on the last {testCount}. Modelled: {Describe(options.Transform)}; {Options.CellName(options.Cell)}, hidden {options.Hidden}, layers {options.Layers}, lookback {options.Lookback}."));
            var (forecaster, evaluation, history) = Progress.Run(console, "epoch", training.Epochs, report =>
                Forecaster.Train(series, options, training, r => report(r.Epoch, string.Create(CultureInfo.InvariantCulture,
                    $"train {r.TrainLoss:F4}  validation {r.ValidationLoss:F4}{(r.IsBest ? " *" : "")}"))));
            var best = history.Where(h => h.IsBest).Last();
            console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{history.Count} epochs in {history[^1].Elapsed.TotalSeconds:F1} s; kept epoch {best.Epoch} (validation loss {best.ValidationLoss:F4})."));

            var table = new Table().AddColumns("method", "test RMSE", "test MAE", "RMSE vs last value");
            double lastRmse = evaluation.Scores.First(s => s.Method == "last value").Rmse;
            foreach (var s in evaluation.Scores)
            {
                table.AddRow(s.Method, s.Rmse.ToString("F3", CultureInfo.InvariantCulture), s.Mae.ToString("F3", CultureInfo.InvariantCulture),
                    (s.Rmse / lastRmse).ToString("F3", CultureInfo.InvariantCulture));
            }

            console.Write(table);
            forecaster.Save(model);
            Plots.Loss(model + ".loss.png", $"{name}: training and validation loss (scaled MSE)", history.Select(h => (h.TrainLoss, h.ValidationLoss)).ToList());
            Plots.Series(model + ".test.png", $"{name}: held-out one-step predictions ({Options.CellName(options.Cell)})", series, (evaluation.TestStart, evaluation.Predictions), []);
            console.WriteLine($"wrote {model}, {model}.loss.png, {model}.test.png");
            return ExitCodes.Success;
        });
        return command;
    }

    private static string Describe(SeriesTransform t)
    {
        var parts = new List<string>();
        if (t.Log)
        {
            parts.Add("log");
        }

        if (t.Difference == 1)
        {
            parts.Add("change from the previous value");
        }

        if (t.Season > 0)
        {
            parts.Add($"seasonal difference ({t.Season})");
        }

        return parts.Count == 0 ? "the values themselves" : string.Join(", ", parts);
    }
}
