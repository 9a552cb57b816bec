using System.CommandLine;
using System.Globalization;
using FastLstm.Verification;
using Spectre.Console;

namespace FastLstm.Cli;

/// <summary><c>fastlstm gradcheck</c>: the fused engine's gradients against central finite differences.</summary>
internal static class GradCheckCommand
{
    public static Command Create(TextWriter output)
    {
        var cell = Options.Cell();
        var input = Options.Int("--input", 3, 1, 4096, "Input features.");
        var hidden = Options.Int("--hidden", 5, 1, 4096, "Hidden units.");
        var layers = Options.Int("--layers", 1, 1, 16, "Stacked layers.");
        var bidirectional = new Option<bool>("--bidirectional") { Description = "Run each layer in both directions." };
        var batch = Options.Int("--batch", 2, 1, GradientCheck.MaxBatch, "Sequences.");
        var steps = Options.Int("--steps", 4, 1, 4096, "Timesteps.");
        var seed = Options.Int("--seed", 1, 0, int.MaxValue, "Seed of the weights, data and probes.");
        var tolerance = Options.Double("--tolerance", 1e-6, 0, 1, "Largest relative error that passes.");
        var command = new Command("gradcheck", "Check analytic gradients (double) against central finite differences, per tensor.")
        {
            cell, input, hidden, layers, bidirectional, batch, steps, seed, tolerance,
        };
        command.SetAction(p =>
        {
            var spec = new RnnSpec(p.Value(cell), p.GetValue(input), p.GetValue(hidden), p.GetValue(layers), p.GetValue(bidirectional));
            double tol = p.GetValue(tolerance);
            var report = GradientCheck.Run(spec, p.GetValue(batch), p.GetValue(steps), p.GetValue(seed));
            var console = Output.Console(output);
            var table = new Table().AddColumns("tensor", "max rel error", "worst", "analytic", "numeric", "");
            foreach (var t in report.Tensors)
            {
                table.AddRow(
                    t.Name,
                    t.MaxRelativeError.ToString("E2", CultureInfo.InvariantCulture),
                    t.WorstIndex.ToString(CultureInfo.InvariantCulture),
                    t.Analytic.ToString("E6", CultureInfo.InvariantCulture),
                    t.Numeric.ToString("E6", CultureInfo.InvariantCulture),
                    t.MaxRelativeError < tol ? "ok" : "[red]FAIL[/]");
            }

            console.Write(table);
            bool passed = report.Passed(tol);
            console.MarkupLine(CultureInfo.InvariantCulture, passed
                ? $"[green]passed[/]: {Options.CellName(spec.Cell)}, max relative error {report.MaxRelativeError:E2} < {tol:E0}"
                : $"[red]failed[/]: {Options.CellName(spec.Cell)}, max relative error {report.MaxRelativeError:E2} >= {tol:E0}");
            return passed ? ExitCodes.Success : ExitCodes.Failure;
        });
        return command;
    }
}
