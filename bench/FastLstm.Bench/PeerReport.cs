using System.Globalization;
using System.Text;
using ScottPlot;

namespace FastLstm.Bench;

/// <summary>
/// <c>--peer-report RESULTS_DIR OUT_DIR</c>: merges the BenchmarkDotNet CSV reports of one bench/peers.sh session — the
/// peers at the widest width (PeerBenchmarks, TrainingPeerBenchmarks, PeakProbe, StepBenchmarks in RESULTS_DIR), FastLstm
/// forced to 256 bits (RESULTS_DIR/v256) and the baseline commit's engine (RESULTS_DIR/baseline) — into one markdown report
/// with ratios, % of the measured peak and each issue target met or missed, and a PNG of step latency against hidden size.
/// </summary>
public static class PeerReport
{
    public static void Run(string resultsDir, string outDir)
    {
        var peers = Rows(Path.Combine(resultsDir, "FastLstm.Bench.PeerBenchmarks-report.csv"));
        var training = Rows(Path.Combine(resultsDir, "FastLstm.Bench.TrainingPeerBenchmarks-report.csv"));
        var peak = Rows(Path.Combine(resultsDir, "FastLstm.Bench.PeakProbe-report.csv"));
        var steps = Rows(Path.Combine(resultsDir, "FastLstm.Bench.StepBenchmarks-report.csv"));
        var peakGflops = peak.ToDictionary(r => Int(r["Threads"]), r => PeakProbe.Flops * Int(r["Threads"]) / Seconds(r["Median"]) / 1e9);

        var md = new StringBuilder();
        md.AppendLine(CultureInfo.InvariantCulture, $"FastLstm at {Isa.Describe(Isa.Widest)}; FMA peak at that width measured in this run: {peakGflops[1]:F1} GFLOP/s on one core, {peakGflops[2]:F1} on both.");
        md.AppendLine("Ratios are FastLstm's time over the peer's (below 1: FastLstm is faster); % of peak uses the measured peak for the row's thread count.");
        md.AppendLine();
        md.AppendLine("| cell | case | threads | FastLstm | ONNX Runtime | libtorch | vs ONNX Runtime | vs libtorch | GFLOP/s | % of peak | allocated | target |");
        md.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        var best = peers.GroupBy(r => (Cell: r["Cell"], Size: r["Size"]))
            .ToDictionary(g => g.Key, g => g.Where(r => r["Method"] == "OnnxRuntime").Min(r => Seconds(r["Median"])));
        foreach (var group in peers.GroupBy(r => (Cell: r["Cell"], Size: r["Size"], Threads: Int(r["Threads"]))))
        {
            var fused = group.Single(r => r["Method"] == "Fused");
            double ours = Seconds(fused["Median"]);
            double ort = Seconds(group.Single(r => r["Method"] == "OnnxRuntime")["Median"]);
            double lt = Seconds(group.Single(r => r["Method"] == "Libtorch")["Median"]);
            double gflops = Flops(group.Key.Cell, group.Key.Size) / ours / 1e9;
            double pct = 100 * gflops / peakGflops[group.Key.Threads];
            string target = Target(group.Key.Size, group.Key.Threads, ours, ort, best[(group.Key.Cell, group.Key.Size)], pct);
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {group.Key.Cell} | {Case(group.Key.Size)} | {group.Key.Threads} | {Time(ours)} | {Time(ort)} | {Time(lt)} | {ours / ort:F2} | {ours / lt:F2} | {gflops:F1} | {pct:F0}% | {fused["Allocated"]} | {target} |");
        }

        md.AppendLine();
        md.AppendLine("Training step (zero gradients, forward, backpropagation through time with input gradients):");
        md.AppendLine();
        md.AppendLine("| cell | case | threads | FastLstm | libtorch | vs libtorch | GFLOP/s | % of peak | allocated | target ≤ 0.8 × libtorch |");
        md.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---|");
        foreach (var group in training.GroupBy(r => (Cell: r["Cell"], Size: r["Size"], Threads: Int(r["Threads"]))))
        {
            var fused = group.Single(r => r["Method"] == "Fused");
            double ours = Seconds(fused["Median"]);
            double lt = Seconds(group.Single(r => r["Method"] == "Libtorch")["Median"]);
            double gflops = 3 * Flops(group.Key.Cell, group.Key.Size) / ours / 1e9;
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {group.Key.Cell} | {group.Key.Size} | {group.Key.Threads} | {Time(ours)} | {Time(lt)} | {ours / lt:F2} | {gflops:F1} | {100 * gflops / peakGflops[group.Key.Threads]:F0}% | {fused["Allocated"]} | {(ours / lt <= 0.8 ? "met" : "**missed**")} |");
        }

        Narrow(md, resultsDir);
        Directory.CreateDirectory(outDir);
        File.WriteAllText(Path.Combine(outDir, "peers.md"), md.ToString());
        Console.Write(md);
        Chart(Path.Combine(outDir, "step-latency.png"), peers, steps);
    }

    /// <summary>The issue's target for a row, and whether this run met it.</summary>
    private static string Target(string size, int threads, double ours, double ort, double ortBest, double pct)
    {
        var (b, t, h) = Parse(size);
        if (t == 1)
        {
            double limit = h <= 128 ? 0.25 : h == 256 ? 0.5 : 0.75;
            return Verdict(ours / ortBest <= limit, $"≤ {limit:F2} × ONNX Runtime's best: {ours / ortBest:F2}");
        }

        if (b == 1)
        {
            return Verdict(ours / ort <= 0.6, "≤ 0.6 × ONNX Runtime");
        }

        double peakTarget = threads == 1 ? 90 : 85;
        bool fast = ours / ort <= 0.9;
        return Verdict(fast && pct >= peakTarget, $"≥ {peakTarget:F0}% of peak{(pct >= peakTarget ? "" : " (missed)")}, ≤ 0.9 × ONNX Runtime{(fast ? "" : " (missed)")}");
    }

    private static string Verdict(bool met, string what) => met ? $"met: {what}" : $"**missed**: {what}";

    /// <summary>FastLstm forced to 256 bits against the baseline commit's engine, both measured in this session.</summary>
    private static void Narrow(StringBuilder md, string resultsDir)
    {
        string narrow = Path.Combine(resultsDir, "v256"), baseline = Path.Combine(resultsDir, "baseline");
        if (!Directory.Exists(narrow) || !Directory.Exists(baseline))
        {
            return;
        }

        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"Forced to 256 bits (FASTLSTM_ISA=256) against the baseline commit ({File.ReadAllText(Path.Combine(baseline, "commit")).Trim()}), same session:");
        md.AppendLine();
        md.AppendLine("| benchmark | cell | case | threads | FastLstm at 256 bits | baseline | ratio | not slower |");
        md.AppendLine("|---|---|---|---:|---:|---:|---:|---|");
        foreach (var kind in new[] { "PeerBenchmarks", "TrainingPeerBenchmarks" })
        {
            var ours = Rows(Path.Combine(narrow, $"FastLstm.Bench.{kind}-report.csv")).Where(r => r["Method"] == "Fused");
            var theirs = Rows(Path.Combine(baseline, $"FastLstm.Bench.{kind}-report.csv")).Where(r => r["Method"] == "Fused")
                .ToDictionary(r => (r["Cell"], r["Size"], r["Threads"]), r => Seconds(r["Median"]));
            foreach (var r in ours)
            {
                if (!theirs.TryGetValue((r["Cell"], r["Size"], r["Threads"]), out double old))
                {
                    continue;
                }

                double now = Seconds(r["Median"]);
                md.AppendLine(CultureInfo.InvariantCulture,
                    $"| {(kind == "PeerBenchmarks" ? "inference" : "training")} | {r["Cell"]} | {Case(r["Size"])} | {r["Threads"]} | {Time(now)} | {Time(old)} | {now / old:F2} | {(now <= old * 1.03 ? "yes" : "**no**")} |");
            }
        }
    }

    private static void Chart(string path, List<Dictionary<string, string>> peers, List<Dictionary<string, string>> steps)
    {
        int[] hidden = [64, 128, 256, 512];
        double Best(string method, int h) => peers.Where(r => r["Cell"] == "Lstm" && r["Size"] == $"B1 T1 H{h}" && r["Method"] == method).Min(r => Seconds(r["Median"]));
        var series = new (string Name, Func<int, double> Seconds)[]
        {
            ("FastLstm (best of 1 and 2 threads)", h => Best("Fused", h)),
            ("ONNX Runtime (best of 1 and 2 threads)", h => Best("OnnxRuntime", h)),
            ("libtorch 2.10 (best of 1 and 2 threads)", h => Best("Libtorch", h)),
            ("naive twin", h => Seconds(steps.Single(r => r["Cell"] == "Lstm" && r["Hidden"] == h.ToString(CultureInfo.InvariantCulture) && r["Method"] == "Naive")["Median"])),
        };
        var plot = new Plot();
        foreach (var (name, seconds) in series)
        {
            var line = plot.Add.Scatter(hidden.Select(h => Math.Log10(h)).ToArray(), hidden.Select(h => Math.Log10(seconds(h) * 1e6)).ToArray());
            line.LegendText = name;
        }

        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(hidden.Select(h => Math.Log10(h)).ToArray(), hidden.Select(h => h.ToString(CultureInfo.InvariantCulture)).ToArray());
        var ticks = new[] { 1.0, 10, 100, 1000, 10000, 100000 };
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks.Select(Math.Log10).ToArray(), ticks.Select(t => $"{t:G} µs").ToArray());
        plot.Title("LSTM streaming step, batch 1 (input = hidden): latency");
        plot.XLabel("hidden size");
        plot.YLabel("time per step (log)");
        plot.ShowLegend(Alignment.UpperLeft);
        plot.SavePng(path, 900, 550);
    }

    private static (int B, int T, int H) Parse(string size)
    {
        var parts = size.Split(' ').Select(p => Int(p[1..])).ToArray();
        return (parts[0], parts[1], parts[2]);
    }

    private static double Flops(string cell, string size)
    {
        var (b, t, h) = Parse(size);
        int gates = cell switch { "Lstm" => 4, "Gru" => 3, _ => 1 };
        return 2.0 * b * t * gates * h * (h + h);
    }

    private static int Int(string s) => int.Parse(s, CultureInfo.InvariantCulture);

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
