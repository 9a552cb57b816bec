using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using FastLstm.Reference;
using Spectre.Console;

namespace FastLstm.Cli;

/// <summary>
/// <c>fastlstm bench</c>: a quick timing of the fused engine against the naive twin on one size (Stopwatch medians;
/// the published figures come from the BenchmarkDotNet project in bench/).
/// </summary>
internal static class BenchCommand
{
    public static Command Create(TextWriter output)
    {
        var cell = Options.Cell();
        var input = Options.Int("--input", 256, 1, 1 << 16, "Input features.");
        var hidden = Options.Int("--hidden", 256, 1, 1 << 14, "Hidden units.");
        var batch = Options.Int("--batch", 1, 1, 4096, "Sequences.");
        var steps = Options.Int("--steps", 100, 1, 1 << 16, "Timesteps.");
        var threads = Options.Int("--threads", 1, 1, 256, "Cores the fused session may use.");
        var weights = Options.Weights();
        var command = new Command("bench", "Time a forward pass of the fused engine against the naive twin.")
        {
            cell, input, hidden, batch, steps, threads, weights,
        };
        command.SetAction(p =>
        {
            var spec = new RnnSpec(p.Value(cell), p.GetValue(input), p.GetValue(hidden));
            int b = p.GetValue(batch), t = p.GetValue(steps);
            // Weights, packed copies, the input and output sequences and the naive twin's copies of both.
            double bytes = 4.0 * ((4 * spec.ParameterCount) + (3.0 * b * t * (spec.InputSize + (spec.GateCount * spec.HiddenSize))));
            MemoryBudget.Check($"--input {spec.InputSize} --hidden {spec.HiddenSize} --batch {b} --steps {t}", bytes);
            var model = RnnModel<float>.CreateRandom(spec, 1);
            var rng = new Random(2);
            var x = new float[b * t * spec.InputSize];
            foreach (ref var v in x.AsSpan())
            {
                v = (float)((rng.NextDouble() * 2) - 1);
            }

            var y = new float[b * t * spec.HiddenSize];
            var format = p.Value(weights);
            using var session = new InferenceSession<float>(model, b, t, p.GetValue(threads));
            var naive = new NaiveRnn<float>(model);
            double fused = Median(() => session.Forward(x, b, t, y), 1.0);
            double slow = Median(() => naive.Forward(x, b, t, y), 3.0);
            double flops = 2.0 * b * t * spec.GateCount * spec.HiddenSize * (spec.InputSize + spec.HiddenSize);
            var console = Output.Console(output);
            var table = new Table().AddColumns("engine", "time per forward", "GFLOP/s", "speed-up");
            table.AddRow("naive twin", Time(slow), (flops / slow / 1e9).ToString("F2", CultureInfo.InvariantCulture), "1.0×");
            table.AddRow("fused", Time(fused), (flops / fused / 1e9).ToString("F2", CultureInfo.InvariantCulture), (slow / fused).ToString("F1", CultureInfo.InvariantCulture) + "×");
            string difference = "";
            if (format != WeightFormat.Full)
            {
                var full = (float[])y.Clone();
                session.Forward(x, b, t, full);
                using var compressed = new InferenceSession<float>(model, b, t, p.GetValue(threads), format);
                double time = Median(() => compressed.Forward(x, b, t, y), 1.0);
                table.AddRow($"fused, {Options.FormatName(format)} weights", Time(time), (flops / time / 1e9).ToString("F2", CultureInfo.InvariantCulture), (slow / time).ToString("F1", CultureInfo.InvariantCulture) + "×");
                double largest = full.Max(MathF.Abs), diff = full.Zip(y, (u, v) => Math.Abs(u - v)).Max();
                difference = string.Create(CultureInfo.InvariantCulture, $"{Options.FormatName(format)} outputs differ from full ones by up to {diff:E2} ({diff / Math.Max(largest, 1e-30):P2} of the largest).");
            }
            console.MarkupLine(CultureInfo.InvariantCulture, $"{Options.CellName(spec.Cell)}: batch {b}, steps {t}, input {spec.InputSize}, hidden {spec.HiddenSize}, float, {p.GetValue(threads)} thread(s), {Isa.Describe(Isa.Bits)} vectors ({session.Kernel})");
            console.Write(table);
            if (difference.Length > 0)
            {
                output.WriteLine(difference);
            }

            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>Median seconds per call over rounds of at least 20 ms, for about <paramref name="budget"/> seconds (at least 3 calls).</summary>
    private static double Median(Action call, double budget)
    {
        call();
        var rounds = new List<double>();
        var total = Stopwatch.StartNew();
        while (rounds.Count < 3 || (total.Elapsed.TotalSeconds < budget && rounds.Count < 200))
        {
            int n = 0;
            var sw = Stopwatch.StartNew();
            do
            {
                call();
                n++;
            }
            while (sw.Elapsed.TotalMilliseconds < 20);
            rounds.Add(sw.Elapsed.TotalSeconds / n);
        }

        rounds.Sort();
        return rounds[rounds.Count / 2];
    }

    private static string Time(double seconds) => seconds switch
    {
        < 1e-3 => (seconds * 1e6).ToString("F1", CultureInfo.InvariantCulture) + " µs",
        < 1 => (seconds * 1e3).ToString("F2", CultureInfo.InvariantCulture) + " ms",
        _ => seconds.ToString("F2", CultureInfo.InvariantCulture) + " s",
    };
}
