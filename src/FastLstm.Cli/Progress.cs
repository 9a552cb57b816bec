using System.Globalization;
using Spectre.Console;

namespace FastLstm.Cli;

/// <summary>
/// Long work: a progress bar (epoch, loss, ETA) on a terminal; when output is redirected, one plain line per report with
/// the time so far (and the time to go once some units are done).
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

        // A log gets what is known: the stage and the time so far; a count and an estimate only once there is one.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        return work((done, status) =>
        {
            double elapsed = clock.Elapsed.TotalSeconds;
            string count = total > 1 ? $" {done}/{total}" : "";
            string eta = done > 0 && done < total ? string.Create(CultureInfo.InvariantCulture, $", about {elapsed / done * (total - done):F0} s to go") : "";
            console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{title}{count}: {status} ({elapsed:F1} s{eta})"));
        });
    }
}
