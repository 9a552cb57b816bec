using System.Globalization;
using System.Text;
using ScottPlot;

namespace FastLstm.Bench;

/// <summary>
/// <c>--peer-report RESULTS_DIR OUT_DIR TORCH_CSV...</c>: merges BenchmarkDotNet's CSV reports (PeerBenchmarks,
/// TrainingPeerBenchmarks, PeakProbe, StepBenchmarks) and libtorch's rows (torch_peer.py) from one session into one
/// markdown table with ratios and % of the measured FMA peak, and a PNG of step latency against hidden size.
/// </summary>
public static class PeerReport
{
    public static void Run(string resultsDir, string outDir, string[] torchFiles)
    {
        var peers = Rows(Path.Combine(resultsDir, "FastLstm.Bench.PeerBenchmarks-report.csv"));
        var training = Rows(Path.Combine(resultsDir, "FastLstm.Bench.TrainingPeerBenchmarks-report.csv"));
        var peak = Rows(Path.Combine(resultsDir, "FastLstm.Bench.PeakProbe-report.csv"));
        var steps = Rows(Path.Combine(resultsDir, "FastLstm.Bench.StepBenchmarks-report.csv"));
        var torch = torchFiles.SelectMany(File.ReadAllLines).Select(l => l.Split(',')).Where(c => c.Length == 8)
            .ToDictionary(c => (c[1], $"B{c[2]} T{c[3]} H{c[4]}", int.Parse(c[5], CultureInfo.InvariantCulture), c[6] == "train"), c => double.Parse(c[7], CultureInfo.InvariantCulture));
        var peakGflops = peak.ToDictionary(r => int.Parse(r["Threads"], CultureInfo.InvariantCulture),
            r => PeakProbe.Flops * int.Parse(r["Threads"], CultureInfo.InvariantCulture) / Seconds(r["Median"]) / 1e9);

        var md = new StringBuilder();
        md.AppendLine(CultureInfo.InvariantCulture, $"FMA peak measured in this run: {peakGflops[1]:F1} GFLOP/s on one core, {peakGflops[2]:F1} on both.");
        md.AppendLine();
        md.AppendLine("| cell | case | threads | FastLstm | ONNX Runtime | libtorch | FastLstm / ONNX Runtime | FastLstm / libtorch | FastLstm GFLOP/s | % of peak |");
        md.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var group in peers.GroupBy(r => (Cell: r["Cell"], Size: r["Size"], Threads: int.Parse(r["Threads"], CultureInfo.InvariantCulture))))
        {
            double ours = Seconds(group.Single(r => r["Method"] == "Fused")["Median"]);
            double ort = Seconds(group.Single(r => r["Method"] == "OnnxRuntime")["Median"]);
            double lt = torch.GetValueOrDefault((group.Key.Cell, group.Key.Size, group.Key.Threads, false), double.NaN);
            double flops = Flops(group.Key.Cell, group.Key.Size);
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {group.Key.Cell} | {Case(group.Key.Size)} | {group.Key.Threads} | {Time(ours)} | {Time(ort)} | {Time(lt)} | {ours / ort:F2} | {ours / lt:F2} | {flops / ours / 1e9:F1} | {100 * flops / ours / 1e9 / peakGflops[group.Key.Threads]:F0}% |");
        }

        md.AppendLine();
        md.AppendLine("Training step (forward + backpropagation through time, input gradients included):");
        md.AppendLine();
        md.AppendLine("| cell | case | threads | FastLstm | libtorch | FastLstm / libtorch | FastLstm GFLOP/s | % of peak |");
        md.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|");
        foreach (var r in training)
        {
            int threads = int.Parse(r["Threads"], CultureInfo.InvariantCulture);
            double ours = Seconds(r["Median"]);
            double lt = torch.GetValueOrDefault((r["Cell"], r["Size"], threads, true), double.NaN);
            double flops = 3 * Flops(r["Cell"], r["Size"]);
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {r["Cell"]} | {r["Size"]} | {threads} | {Time(ours)} | {Time(lt)} | {ours / lt:F2} | {flops / ours / 1e9:F1} | {100 * flops / ours / 1e9 / peakGflops[threads]:F0}% |");
        }

        Directory.CreateDirectory(outDir);
        File.WriteAllText(Path.Combine(outDir, "peers.md"), md.ToString());
        Console.Write(md);
        Chart(Path.Combine(outDir, "step-latency.png"), peers, steps, torch);
    }

    private static void Chart(string path, List<Dictionary<string, string>> peers, List<Dictionary<string, string>> steps,
        Dictionary<(string, string, int, bool), double> torch)
    {
        int[] hidden = [64, 128, 256, 512];
        double Pick(Func<int, double> f, int h) => f(h) * 1e6;
        double Best(string method, int h) => peers.Where(r => r["Cell"] == "Lstm" && r["Size"] == $"B1 T1 H{h}" && r["Method"] == method).Min(r => Seconds(r["Median"]));
        var series = new (string Name, Func<int, double> Micros)[]
        {
            ("FastLstm (best of 1 and 2 threads)", h => Best("Fused", h)),
            ("ONNX Runtime (best of 1 and 2 threads)", h => Best("OnnxRuntime", h)),
            ("libtorch (best of 1 and 2 threads)", h => Math.Min(torch.GetValueOrDefault(("Lstm", $"B1 T1 H{h}", 1, false), double.NaN), torch.GetValueOrDefault(("Lstm", $"B1 T1 H{h}", 2, false), double.NaN))),
            ("naive twin", h => Seconds(steps.Single(r => r["Cell"] == "Lstm" && r["Hidden"] == h.ToString(CultureInfo.InvariantCulture) && r["Method"] == "Naive")["Median"])),
        };
        var plot = new Plot();
        foreach (var (name, micros) in series)
        {
            var line = plot.Add.Scatter(hidden.Select(h => Math.Log10(h)).ToArray(), hidden.Select(h => Math.Log10(Pick(micros, h))).ToArray());
            line.LegendText = name;
        }

        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(hidden.Select(h => Math.Log10(h)).ToArray(), hidden.Select(h => h.ToString(CultureInfo.InvariantCulture)).ToArray());
        var ticks = new[] { 1.0, 10, 100, 1000, 10000 };
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks.Select(Math.Log10).ToArray(), ticks.Select(t => $"{t:G} µs").ToArray());
        plot.Title("LSTM streaming step, batch 1 (input = hidden): latency");
        plot.XLabel("hidden size");
        plot.YLabel("time per step (log)");
        plot.ShowLegend(Alignment.UpperLeft);
        plot.SavePng(path, 900, 550);
    }

    private static double Flops(string cell, string size)
    {
        var parts = size.Split(' ').Select(p => int.Parse(p[1..], CultureInfo.InvariantCulture)).ToArray();
        int gates = cell switch { "Lstm" => 4, "Gru" => 3, _ => 1 };
        return 2.0 * parts[0] * parts[1] * gates * parts[2] * (parts[2] + parts[2]);
    }

    private static string Case(string size) => size.Contains(" T1 ", StringComparison.Ordinal) ? $"step {size.Replace(" T1", "", StringComparison.Ordinal)}" : $"sequence {size}";

    private static string Time(double seconds) => double.IsNaN(seconds) ? "—" : seconds switch
    {
        < 1e-3 => (seconds * 1e6).ToString("F1", CultureInfo.InvariantCulture) + " µs",
        < 1 => (seconds * 1e3).ToString("F2", CultureInfo.InvariantCulture) + " ms",
        _ => seconds.ToString("F2", CultureInfo.InvariantCulture) + " s",
    };

    /// <summary>BenchmarkDotNet's CSV cells are like "2,460.9 us" or "48.54 ms".</summary>
    private static double Seconds(string cell)
    {
        var parts = cell.Trim('"').Split(' ');
        double value = double.Parse(parts[0].Replace(",", "", StringComparison.Ordinal), CultureInfo.InvariantCulture);
        return value * (parts.Length < 2 ? 1e-9 : parts[1] switch { "ns" => 1e-9, "us" or "μs" => 1e-6, "ms" => 1e-3, "s" => 1, _ => throw new FormatException($"unknown unit in '{cell}'") });
    }

    private static List<Dictionary<string, string>> Rows(string csv)
    {
        var lines = File.ReadAllLines(csv);
        var header = Split(lines[0]);
        return lines.Skip(1).Select(l => header.Zip(Split(l)).ToDictionary(p => p.First, p => p.Second)).ToList();
    }

    // BenchmarkDotNet quotes cells that contain commas.
    private static string[] Split(string line)
    {
        var cells = new List<string>();
        var sb = new StringBuilder();
        bool quoted = false;
        foreach (char ch in line)
        {
            if (ch == '"')
            {
                quoted = !quoted;
            }
            else if (ch == ',' && !quoted)
            {
                cells.Add(sb.ToString());
                sb.Clear();
            }
            else
            {
                sb.Append(ch);
            }
        }

        cells.Add(sb.ToString());
        return [.. cells];
    }
}
