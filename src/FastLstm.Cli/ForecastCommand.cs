using System.CommandLine;
using System.Globalization;
using System.Text;
using FastLstm.Training.Forecasting;
using Spectre.Console;

namespace FastLstm.Cli;

/// <summary><c>fastlstm forecast</c>: one-to-many, seeded with the column's latest values, each prediction fed back.</summary>
internal static class ForecastCommand
{
    public static Command Create(TextWriter output)
    {
        var model = new Option<string>("--model") { Description = "Model file written by 'fastlstm train'.", Required = true };
        var csv = new Option<string>("--csv") { Description = "CSV file with the history.", Required = true };
        var column = new Option<string>("--column") { Description = "Name of the numeric column.", Required = true };
        var steps = Options.Int("--steps", 12, 1, 1_000_000, "Values to forecast.");
        var outPath = new Option<string>("--out") { Description = "CSV to write (step,forecast).", DefaultValueFactory = _ => "forecast.csv" };
        var plot = new Option<string>("--plot") { Description = "PNG of history and forecast.", DefaultValueFactory = _ => "forecast.png" };
        var command = new Command("forecast", "Forecast the next values of a CSV column with a trained model.") { model, csv, column, steps, outPath, plot };
        command.SetAction(p =>
        {
            string modelPath = p.GetValue(model)!, name = p.GetValue(column)!, csvOut = p.GetValue(outPath)!, png = p.GetValue(plot)!;
            int k = p.GetValue(steps);
            if (!File.Exists(modelPath))
            {
                throw new CliException($"{modelPath}: file not found.");
            }

            var forecaster = Forecaster.Load(modelPath);
            var history = Csv.ReadColumn(p.GetValue(csv)!, name);
            if (history.Length < forecaster.MinimumHistory)
            {
                throw new CliException($"column '{name}' has {history.Length} values; the model needs at least {forecaster.MinimumHistory} (window {forecaster.Lookback} + {forecaster.Transform.Lag} for differencing).");
            }

            if (forecaster.Transform.Log && history.Any(v => v <= 0))
            {
                throw new CliException($"column '{name}' has values ≤ 0, but the model works on logarithms.");
            }

            var forecast = forecaster.Forecast(history, k);
            var sb = new StringBuilder("step,forecast\n");
            for (int i = 0; i < forecast.Length; i++)
            {
                sb.Append(CultureInfo.InvariantCulture, $"{i + 1},{forecast[i]:R}\n");
            }

            try
            {
                File.WriteAllText(csvOut, sb.ToString());
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CliException($"{csvOut}: cannot write the forecast ({e.Message}).");
            }

            int shown = Math.Min(history.Length, Math.Max(4 * k, 200));
            Plots.Series(png, $"{name}: {k}-step forecast ({Options.CellName(forecaster.Spec.Cell)})", history[^shown..], null, forecast);
            var console = Output.Console(output);
            var table = new Table().AddColumns("step", "forecast");
            foreach (int i in Enumerable.Range(0, forecast.Length).Take(10))
            {
                table.AddRow((i + 1).ToString(CultureInfo.InvariantCulture), forecast[i].ToString("F3", CultureInfo.InvariantCulture));
            }

            console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name}: last value {history[^1]:F3}; {k} steps ahead:"));
            console.Write(table);
            if (forecast.Length > 10)
            {
                console.WriteLine($"… {forecast.Length - 10} more in {csvOut}");
            }

            console.WriteLine($"wrote {csvOut}, {png}");
            return ExitCodes.Success;
        });
        return command;
    }
}
