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

    /// <summary>History, then optional one-step test predictions over it, then a forecast after it.</summary>
    public static void Series(string path, string title, double[] history, (int Start, double[] Values)? test, double[] forecast)
    {
        var plot = new Plot();
        var h = plot.Add.Scatter(Enumerable.Range(0, history.Length).Select(i => (double)i).ToArray(), history);
        h.LegendText = "history";
        h.MarkerSize = 0;
        if (test is (int start, double[] values))
        {
            var t = plot.Add.Scatter(Enumerable.Range(start, values.Length).Select(i => (double)i).ToArray(), values);
            t.LegendText = "one-step predictions (test)";
            t.MarkerSize = 0;
        }

        if (forecast.Length > 0)
        {
            var f = plot.Add.Scatter(Enumerable.Range(history.Length - 1, forecast.Length + 1).Select(i => (double)i).ToArray(), [history[^1], .. forecast]);
            f.LegendText = "forecast";
            f.MarkerSize = 0;
            f.LineWidth = 2;
        }

        plot.Title(title);
        plot.XLabel("time step");
        plot.ShowLegend();
        Save(plot, path);
    }

    public static void Save(Plot plot, string path)
    {
        try
        {
            plot.SavePng(path, 900, 500);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or DirectoryNotFoundException)
        {
            throw new CliException($"{path}: cannot write the plot ({e.Message}).");
        }
    }
}
