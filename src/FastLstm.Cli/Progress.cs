using System.Globalization;
using Spectre.Console;

namespace FastLstm.Cli;

/// <summary>
/// Long work: a progress bar (epoch, loss, ETA) on a terminal, one plain line per epoch when output is redirected.
/// </summary>
internal static class Progress
{
    /// <summary>Runs <paramref name="work"/>, which reports (done, total, status) after each unit.</summary>
    public static T Run<T>(IAnsiConsole console, string title, int total, Func<Action<int, string>, T> work)
    {
        if (console.Profile.Capabilities.Interactive)
        {
            T result = default!;
            console.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .Start(ctx =>
                {
                    var task = ctx.AddTask(title, maxValue: total);
                    result = work((done, status) =>
                    {
                        task.Description = $"{title} {status}";
                        task.Value = done;
                    });
                    task.Value = task.MaxValue;
                });
            return result;
        }

        var clock = System.Diagnostics.Stopwatch.StartNew();
        return work((done, status) =>
        {
            double eta = done > 0 ? clock.Elapsed.TotalSeconds / done * (total - done) : 0;
            console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{title} {done}/{total}  {status}  eta {eta:F0}s"));
        });
    }
}
