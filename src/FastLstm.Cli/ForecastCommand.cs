using System.CommandLine;
using System.Globalization;
using System.Text;
using FastLstm.Training;
using FastLstm.Training.Forecasting;
using Spectre.Console;

namespace FastLstm.Cli;

/// <summary><c>fastlstm forecast</c>: the next values of a column from a trained model, with 80 % and 95 % prediction intervals.</summary>
internal static class ForecastCommand
{
    public static Command Create(TextWriter output)
    {
        var model = new Option<string>("--model") { Description = "Model file written by 'fastlstm train', or an ONNX forecasting model (see --lookback, --normalize).", Required = true };
        var csv = new Option<string>("--csv") { Description = "CSV file with the history.", Required = true };
        var column = new Option<string>("--column") { Description = "Name of the numeric column.", Required = true };
        var steps = Options.Int("--steps", 12, 1, 1_000_000, "Values to forecast.");
        var outPath = new Option<string>("--out") { Description = "CSV to write (step,forecast,lower_80,upper_80,lower_95,upper_95).", DefaultValueFactory = _ => "forecast.csv" };
        var plot = new Option<string>("--plot") { Description = "PNG of history and forecast.", DefaultValueFactory = _ => "forecast.png" };
        var lookback = new Option<int?>("--lookback") { Description = "ONNX models with a free sequence length: values per window (what the model was trained on).", HelpName = "int" };
        var normalize = new Option<string?>("--normalize") { Description = "ONNX models: feed (x - MEAN) / SCALE and map predictions back; 'MEAN,SCALE' (a min-max scaler: MIN,MAX-MIN).", HelpName = "MEAN,SCALE" };
        var weights = Options.Weights();
        var command = new Command("forecast", "Forecast the next values of a CSV column with a model from 'fastlstm train' or an ONNX file.")
        {
            model, csv, column, steps, outPath, plot, lookback, normalize, weights,
        };
        command.SetAction(p =>
        {
            string modelPath = p.GetValue(model)!, name = p.GetValue(column)!, csvOut = p.GetValue(outPath)!, png = p.GetValue(plot)!;
            int k = p.GetValue(steps);
            if (!File.Exists(modelPath))
            {
                throw new CliException($"{modelPath}: file not found.");
            }

            string csvPath = p.GetValue(csv)!;
            OutputPath.CheckWritable("--out", csvOut, modelPath, csvPath);
            OutputPath.CheckWritable("--plot", png, modelPath, csvPath);
            var history = Csv.ReadColumn(csvPath, name);
            var (method, f) = InteropCommands.IsOnnx(modelPath)
                ? Imported(modelPath, history, k, p.GetValue(lookback), Scaling(p.GetValue(normalize)), p.Value(weights), output)
                : Trained(modelPath, name, history, k, p.GetValue(lookback), p.GetValue(normalize), p.Value(weights));
            for (int i = 0; i < k; i++)
            {
                if (!(double.IsFinite(f.Values[i]) && double.IsFinite(f.Lower95[i]) && double.IsFinite(f.Upper95[i])))
                {
                    throw new CliException(string.Create(CultureInfo.InvariantCulture,
                        $"{modelPath}: the forecast is not finite (step {i + 1}: {f.Values[i]:G4}, 95 % interval {f.Lower95[i]:G4} .. {f.Upper95[i]:G4}){(p.GetValue(normalize) is null ? "" : "; check --normalize")}; nothing written."));
                }
            }

            var sb = new StringBuilder("step,forecast,lower_80,upper_80,lower_95,upper_95\n");
            for (int i = 0; i < k; i++)
            {
                sb.Append(CultureInfo.InvariantCulture, $"{i + 1},{f.Values[i]:R},{f.Lower80[i]:R},{f.Upper80[i]:R},{f.Lower95[i]:R},{f.Upper95[i]:R}\n");
            }

            try
            {
                SafeFile.Write(csvOut, Encoding.UTF8.GetBytes(sb.ToString()));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CliException($"{csvOut}: cannot write the forecast ({e.Message}).");
            }

            int shown = Math.Min(history.Length, Math.Max(4 * k, 200));
            Plots.Forecast(png, $"{name}: {k}-step forecast ({method})", history[^shown..], f);
            var console = Output.Console(output);
            var table = new Table().AddColumns("step", "forecast", "80 % interval", "95 % interval");
            foreach (int i in Enumerable.Range(0, k).Take(10))
            {
                table.AddRow((i + 1).ToString(CultureInfo.InvariantCulture), F(f.Values[i]), $"{F(f.Lower80[i])} .. {F(f.Upper80[i])}", $"{F(f.Lower95[i])} .. {F(f.Upper95[i])}");
            }

            console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name}: last value {history[^1]:F3}; {k} steps ahead by {method}:"));
            console.Write(table);
            if (k > 10)
            {
                console.WriteLine($"… {k - 10} more in {csvOut}");
            }

            console.WriteLine($"wrote {csvOut}, {png}");
            return ExitCodes.Success;
        });
        return command;
    }

    private static (string Method, ForecastResult Result) Trained(string path, string column, double[] history, int steps, int? lookback, string? normalize, WeightFormat weights)
    {
        if (lookback is not null || normalize is not null)
        {
            throw new CliException($"{path}: --lookback and --normalize are for ONNX models; a model from 'fastlstm train' holds its window and scaling.");
        }

        Forecaster forecaster;
        try
        {
            forecaster = Forecaster.Load(path, history);
        }
        catch (ArgumentException e) when (e.ParamName == "history")
        {
            throw new CliException($"column '{column}': {e.Message.Replace(" (Parameter 'history')", "", StringComparison.Ordinal)}");
        }

        forecaster.Weights = weights;
        return (forecaster.Method, forecaster.Forecast(history, steps));
    }

    private static (string Method, ForecastResult Result) Imported(string path, double[] history, int steps, int? lookback, (double, double)? scaling, WeightFormat weights, TextWriter output)
    {
        using var imported = ImportedForecast.Open(path, lookback, scaling, weights);
        var result = imported.Forecast(history, steps, out int origins);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{path}: {imported.Name}; intervals from its errors over {origins} backtest origin{(origins == 1 ? "" : "s")} at the end of the history."));
        return (imported.Name, result);
    }

    /// <summary>--normalize MEAN,SCALE.</summary>
    private static (double, double)? Scaling(string? text)
    {
        if (text is null)
        {
            return null;
        }

        var parts = text.Split(',');
        if (parts.Length == 2 && double.TryParse(parts[0], NumberStyles.Float, CultureInfo.InvariantCulture, out double mean)
            && double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out double scale) && double.IsFinite(mean) && double.IsFinite(scale) && scale != 0)
        {
            return (mean, scale);
        }

        throw new CliException($"--normalize '{text}': expected MEAN,SCALE (two finite numbers, SCALE not 0), e.g. --normalize 5000,1200.");
    }

    private static string F(double v) => v.ToString("F3", CultureInfo.InvariantCulture);
}
