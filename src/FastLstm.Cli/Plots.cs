using FastLstm.Training;
using ScottPlot;

namespace FastLstm.Cli;

/// <summary>PNG charts of training and forecasts.</summary>
internal static class Plots
{
    public static void Loss(string path, string title, IReadOnlyList<(double Train, double Validation)> epochs)
    {
        var plot = new Plot();
        double[] x = Enumerable.Range(1, epochs.Count).Select(i => (double)i).ToArray();
        var train = plot.Add.Scatter(x, epochs.Select(e => e.Train).ToArray());
        train.LegendText = "training";
        if (epochs.Any(e => !double.IsNaN(e.Validation)))
        {
            var validation = plot.Add.Scatter(x, epochs.Select(e => e.Validation).ToArray());
            validation.LegendText = "validation";
        }

        plot.Title(title);
        plot.XLabel("epoch");
        plot.YLabel("loss");
        plot.ShowLegend();
        Save(plot, path);
    }

    /// <summary>History, then an optional held-out forecast over its end (from a backtest origin), then a forecast after it.</summary>
    public static void Series(string path, string title, double[] history, (int Start, double[] Values)? test, double[] forecast)
    {
        var plot = new Plot();
        Line(plot, 0, history, "history");
        if (test is (int start, double[] values))
        {
            Line(plot, start, values, "forecast from the last backtest origin");
        }

        if (forecast.Length > 0)
        {
            Line(plot, history.Length - 1, [history[^1], .. forecast], "forecast", 2);
        }

        plot.Title(title);
        plot.XLabel("time step");
        plot.ShowLegend();
        Save(plot, path);
    }

    /// <summary>History, then the forecast with its 80 % and 95 % prediction bands.</summary>
    public static void Forecast(string path, string title, double[] history, FastLstm.Training.Forecasting.ForecastResult forecast)
    {
        var plot = new Plot();
        double[] future = Enumerable.Range(history.Length, forecast.Values.Length).Select(i => (double)i).ToArray();
        var band95 = plot.Add.FillY(future, forecast.Lower95, forecast.Upper95);
        band95.LegendText = "95 % interval";
        band95.FillColor = Colors.Orange.WithAlpha(0.15);
        band95.LineWidth = 0;
        var band80 = plot.Add.FillY(future, forecast.Lower80, forecast.Upper80);
        band80.LegendText = "80 % interval";
        band80.FillColor = Colors.Orange.WithAlpha(0.3);
        band80.LineWidth = 0;
        Line(plot, 0, history, "history");
        Line(plot, history.Length - 1, [history[^1], .. forecast.Values], "forecast", 2);
        plot.Title(title);
        plot.XLabel("time step");
        plot.ShowLegend();
        Save(plot, path);
    }

    /// <summary>A line without markers from x = <paramref name="start"/>, one step per value.</summary>
    private static void Line(Plot plot, int start, double[] values, string legend, float width = 1)
    {
        var line = plot.Add.Scatter(Enumerable.Range(start, values.Length).Select(i => (double)i).ToArray(), values);
        line.LegendText = legend;
        line.MarkerSize = 0;
        line.LineWidth = width;
    }

    public static void Save(Plot plot, string path)
    {
        try
        {
            using var image = plot.GetImage(900, 500);
            SafeFile.Write(path, image.GetImageBytes(ImageFormat.Png));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or DirectoryNotFoundException)
        {
            throw new CliException($"{path}: cannot write the plot ({e.Message}).");
        }
    }
}
