using System.CommandLine;
using System.Globalization;
using FastLstm.Training;
using FastLstm.Training.Memory;
using ScottPlot;
using Spectre.Console;

namespace FastLstm.Cli;

/// <summary>
/// <c>fastlstm gradient-flow</c> and <c>fastlstm long-memory</c>: the source notes' claims — vanishing and exploding
/// gradients, and the LSTM's long memory — measured on the engine itself.
/// </summary>
internal static class MemoryCommands
{
    private static readonly CellType[] DefaultCells = [CellType.RnnTanh, CellType.RnnRelu, CellType.Gru, CellType.Lstm, CellType.SeedLstm];

    public static Command GradientFlowCommand(TextWriter output)
    {
        var cells = Options.CellList("--cell", DefaultCells, "Cells to compare, comma-separated.");
        var steps = Options.Int("--steps", 200, 2, 10_000, "Sequence length: lags 0..steps-1.");
        var hidden = Options.Int("--hidden", 64, 1, 1024, "Hidden units (random weights).");
        var input = Options.Int("--input", 8, 1, 1024, "Input features (random weights).");
        var sequences = Options.Int("--sequences", 16, 1, 1024, "Random sequences averaged over.");
        var seed = Options.Int("--seed", 1, 0, int.MaxValue, "Seed of the weights, inputs and probes.");
        var every = Options.Int("--every", 10, 1, 10_000, "Print every N-th lag.");
        var forget = Options.Double("--forget-bias", 0, -100, 100, "Forget-gate bias of lstm and seed-lstm (0: PyTorch's initialisation).");
        var model = new Option<string>("--model") { Description = "A FastLstm model file to measure instead of random weights (its network only)." };
        var plot = new Option<string>("--plot") { Description = "PNG to write.", DefaultValueFactory = _ => "gradient-flow.png" };
        var command = new Command("gradient-flow", "How far back gradients reach: ‖∂loss/∂x_t‖ for a loss on the last output, at every lag, per cell.")
        {
            cells, steps, hidden, input, sequences, seed, every, forget, model, plot,
        };
        command.SetAction(p =>
        {
            int t = p.GetValue(steps), s = p.GetValue(seed);
            string png = p.GetValue(plot)!;
            OutputPath.CheckWritable("--plot", png, p.GetValue(model));
            MemoryBudget.Check($"--hidden {p.GetValue(hidden)} --steps {t} --sequences {p.GetValue(sequences)}",
                MemoryBudget.Training(new RnnSpec(CellType.Lstm, p.GetValue(input), p.GetValue(hidden)), p.GetValue(sequences), t, elementSize: 8));
            var reports = new List<GradientFlowReport>();
            if (p.GetValue(model) is string file)
            {
                reports.Add(GradientFlow.Measure(ModelFile.Load<double>(file).Network, t, p.GetValue(sequences), s));
            }
            else
            {
                foreach (var cell in p.Value(cells))
                {
                    var m = RnnModel<double>.CreateRandom(new RnnSpec(cell, p.GetValue(input), p.GetValue(hidden)), s);
                    if (m.Spec.HasCellState && p.GetValue(forget) != 0)
                    {
                        // Gate rows i, f, …: the forget gate's biases are rows H..2H.
                        m.Parameter("bias_ih_l0").Slice(m.Spec.HiddenSize, m.Spec.HiddenSize).Fill(p.GetValue(forget));
                    }

                    reports.Add(GradientFlow.Measure(m, t, p.GetValue(sequences), s));
                }
            }

            var console = Output.Console(output);
            var table = new Table().AddColumn("lag T−1−t");
            foreach (var r in reports)
            {
                table.AddColumn(new TableColumn(Options.CellName(r.Cell)).RightAligned());
            }

            for (int lag = 0; lag < t; lag += p.GetValue(every))
            {
                table.AddRow([lag.ToString(CultureInfo.InvariantCulture), .. reports.Select(r => r.NormByLag[lag].ToString("E2", CultureInfo.InvariantCulture))]);
            }

            table.AddRow(["per-step factor (fit)", .. reports.Select(r => r.DecayRate.ToString("F3", CultureInfo.InvariantCulture))]);
            table.AddRow(["σ_max of ∂state_t/∂state_t−1", .. reports.Select(r => r.JacobianNorm is double j ? j.ToString("F3", CultureInfo.InvariantCulture) : "—")]);
            console.MarkupLine(CultureInfo.InvariantCulture, $"‖∂loss/∂x_t‖ (RMS over {p.GetValue(sequences)} sequences), loss = probe · y_T−1, {t} steps:");
            console.Write(table);

            var chart = new Plot();
            foreach (var r in reports)
            {
                var line = chart.Add.Scatter(Enumerable.Range(0, t).Select(i => (double)i).ToArray(), r.NormByLag.Select(v => Math.Log10(Math.Max(v, 1e-300))).ToArray());
                line.LegendText = Options.CellName(r.Cell);
                line.MarkerSize = 0;
                line.LineWidth = 2;
            }

            chart.Title("Gradient reaching back: ‖∂loss/∂x_t‖ against the lag");
            chart.XLabel("lag T − 1 − t (steps back from the output)");
            chart.YLabel("log10 ‖∂loss/∂x_t‖");
            chart.ShowLegend(Alignment.LowerLeft);
            Plots.Save(chart, png);
            console.WriteLine($"wrote {png}");
            return ExitCodes.Success;
        });
        return command;
    }

    public static Command LongMemoryCommand(TextWriter output)
    {
        var task = new Option<string>("--task") { Description = "adding (Hochreiter & Schmidhuber's adding problem) or recall (delayed recall of the first symbol).", DefaultValueFactory = _ => "adding" };
        task.AcceptOnlyFromAmong("adding", "recall");
        var steps = Options.IntList("--steps", [10, 50, 100, 200], 2, 10_000, "Sequence lengths, comma-separated.");
        var cells = Options.CellList("--cell", DefaultCells, "Cells to train, comma-separated.");
        var hidden = Options.Int("--hidden", 64, 1, 1024, "Hidden units.");
        var iterations = Options.Int("--iterations", 1500, 1, 1_000_000, "Training steps per cell and length (the same budget for all).");
        var batch = Options.Int("--batch", 32, 1, 4096, "Sequences per step.");
        var lr = Options.Double("--lr", 2e-3, 1e-7, 10, "Learning rate (Adam; SGD with --sgd).");
        var clip = Options.Double("--clip", 1.0, 0, 1e6, "Gradient clipping by global norm (0: off).");
        var sgd = new Option<bool>("--sgd") { Description = "Plain SGD instead of Adam." };
        var scale = Options.Double("--recurrent-scale", 1.0, 1e-3, 1e3, "Multiply the initial recurrent weights.");
        var explode = new Option<bool>("--explode") { Description = "Exploding gradients: the first cell and length, recurrent weights ×3, SGD at 0.1 (or --lr), trained without and with --clip." };
        var forget = Options.Double("--forget-bias", 1.0, -100, 100, "Initial forget-gate bias of lstm and seed-lstm (0: PyTorch's initialisation).");
        var seed = Options.Int("--seed", 1, 0, int.MaxValue, "Seed of the weights and the data.");
        var plot = new Option<string>("--plot") { Description = "PNG to write.", DefaultValueFactory = _ => "long-memory.png" };
        var command = new Command("long-memory", "Train each cell on a long-memory task at several lengths with the same budget; score against the trivial predictor.")
        {
            task, steps, cells, hidden, iterations, batch, lr, clip, sgd, scale, explode, forget, seed, plot,
        };
        command.SetAction(p =>
        {
            var kind = p.GetValue(task) == "recall" ? MemoryTask.Recall : MemoryTask.Adding;
            MemoryBudget.Check($"--hidden {p.GetValue(hidden)} --batch {p.GetValue(batch)} --steps {p.Value(steps).Max()}",
                MemoryBudget.Training(new RnnSpec(CellType.Lstm, 2, p.GetValue(hidden)), p.GetValue(batch), p.Value(steps).Max()));
            var options = new LongMemoryOptions
            {
                Hidden = p.GetValue(hidden),
                Iterations = p.GetValue(iterations),
                BatchSize = p.GetValue(batch),
                LearningRate = p.GetValue(lr),
                Clip = p.GetValue(clip),
                Sgd = p.GetValue(sgd),
                RecurrentScale = p.GetValue(scale),
                ForgetBias = p.GetValue(forget),
                Seed = p.GetValue(seed),
            };
            var console = Output.Console(output);
            string png = p.GetValue(plot)!;
            OutputPath.CheckWritable("--plot", png);
            return p.GetValue(explode)
                ? Explode(console, kind, p.Value(cells)[0], p.Value(steps)[0], p.GetResult(lr) is { Implicit: false } ? options : options with { LearningRate = 0.1 }, p.GetValue(clip), png)
                : Compare(console, kind, p.Value(cells), p.Value(steps), options, png);
        });
        return command;
    }

    private static int Compare(IAnsiConsole console, MemoryTask task, CellType[] cells, int[] lengths, LongMemoryOptions options, string png)
    {
        int total = cells.Length * lengths.Length * options.Iterations;
        var results = Progress.Run(console, "long-memory", total, report =>
        {
            var all = new List<LongMemoryResult>();
            int done = 0;
            foreach (int t in lengths)
            {
                foreach (var cell in cells)
                {
                    all.Add(LongMemory.Run(cell, task, t, options, (it, loss) =>
                        report(done + it, string.Create(CultureInfo.InvariantCulture, $"{Options.CellName(cell)} T={t} loss {loss:F4}"))));
                    done += options.Iterations;
                }
            }

            return all;
        });

        string what = task == MemoryTask.Adding ? "test MSE" : "test cross-entropy (accuracy)";
        console.MarkupLine(CultureInfo.InvariantCulture, $"{task}: {what} after {options.Iterations} steps of {options.BatchSize}, hidden {options.Hidden}; trivial predictor: {results[0].Baseline:F4}. In brackets for adding: loss / trivial.");
        var table = new Table().AddColumn("cell");
        foreach (int t in lengths)
        {
            table.AddColumn(new TableColumn($"T = {t}").RightAligned());
        }

        foreach (var cell in cells)
        {
            table.AddRow([Options.CellName(cell), .. lengths.Select(t => Cell(results.Single(r => r.Cell == cell && r.Steps == t)))]);
        }

        table.AddRow(["trivial", .. lengths.Select(t => results.First(r => r.Steps == t).Baseline.ToString("F4", CultureInfo.InvariantCulture))]);
        console.Write(table);
        console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{results.Sum(r => r.Elapsed.TotalSeconds):F0} s of training"));

        var chart = new Plot();
        foreach (var cell in cells)
        {
            var line = chart.Add.Scatter(lengths.Select(t => (double)t).ToArray(), lengths.Select(t => results.Single(r => r.Cell == cell && r.Steps == t).Ratio).ToArray());
            line.LegendText = Options.CellName(cell);
            line.LineWidth = 2;
        }

        var trivial = chart.Add.HorizontalLine(1);
        trivial.LegendText = "trivial predictor";
        chart.Title($"{task}: held-out loss relative to the trivial predictor");
        chart.XLabel("sequence length T");
        chart.YLabel("test loss / trivial loss");
        chart.ShowLegend(Alignment.UpperLeft);
        Plots.Save(chart, png);
        console.WriteLine($"wrote {png}");
        return ExitCodes.Success;

        static string Cell(LongMemoryResult r) => r.Diverged
            ? "diverged"
            : r.Task == MemoryTask.Adding
                ? string.Create(CultureInfo.InvariantCulture, $"{r.TestLoss:F4} ({r.Ratio:F2})")
                : string.Create(CultureInfo.InvariantCulture, $"{r.TestLoss:F3} ({100 * r.Accuracy:F0}%)");
    }

    private static int Explode(IAnsiConsole console, MemoryTask task, CellType cell, int steps, LongMemoryOptions options, double clip, string png)
    {
        var runs = new[] { ("no clipping", 0.0), ($"clipped at norm {clip.ToString(CultureInfo.InvariantCulture)}", clip > 0 ? clip : 1.0) };
        var explodeOptions = options with { Sgd = true, RecurrentScale = options.RecurrentScale == 1.0 ? 3.0 : options.RecurrentScale, CurveEvery = 1 };
        var results = Progress.Run(console, "explode", 2 * options.Iterations, report =>
        {
            var all = new List<(string Name, LongMemoryResult Result)>();
            for (int i = 0; i < runs.Length; i++)
            {
                var (name, c) = runs[i];
                int offset = i * options.Iterations;
                all.Add((name, LongMemory.Run(cell, task, steps, explodeOptions with { Clip = c }, (it, loss) =>
                    report(offset + it, string.Create(CultureInfo.InvariantCulture, $"{name} loss {loss:G4}")))));
            }

            return all;
        });

        console.MarkupLine(CultureInfo.InvariantCulture, $"{Options.CellName(cell)}, {task}, T={steps}: recurrent weights ×{explodeOptions.RecurrentScale}, SGD at {options.LearningRate}, {options.Iterations} steps.");
        var table = new Table().AddColumns("run", "largest gradient norm", "largest training loss", "last training loss", "test loss", "finite");
        foreach (var (name, r) in results)
        {
            table.AddRow(name, r.GradientNorms.Max().ToString("G4", CultureInfo.InvariantCulture), Max(r.Curve).ToString("G4", CultureInfo.InvariantCulture),
                r.Curve[^1].ToString("G4", CultureInfo.InvariantCulture), r.TestLoss.ToString("G4", CultureInfo.InvariantCulture), r.Diverged ? "no" : "yes");
        }

        console.Write(table);
        var chart = new Plot();
        foreach (var (name, r) in results)
        {
            var line = chart.Add.Scatter(Enumerable.Range(1, r.Curve.Count).Select(i => (double)i).ToArray(),
                r.Curve.Select(l => double.IsFinite(l) && l > 0 ? Math.Log10(l) : double.NaN).ToArray());
            line.LegendText = name;
            line.MarkerSize = 0;
            line.LineWidth = 2;
        }

        chart.Title($"Exploding gradients: {Options.CellName(cell)}, recurrent weights ×{explodeOptions.RecurrentScale}, SGD at {explodeOptions.LearningRate}");
        chart.XLabel("training step");
        chart.YLabel("log10 training loss (gaps: not finite)");
        chart.ShowLegend(Alignment.UpperLeft);
        Plots.Save(chart, png);
        console.WriteLine($"wrote {png}");
        return ExitCodes.Success;

        static double Max(IReadOnlyList<double> values) => values.Any(double.IsNaN) ? double.NaN : values.Max();
    }
}
