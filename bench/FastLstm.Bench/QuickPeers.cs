using System.Diagnostics;

namespace FastLstm.Bench;

/// <summary>
/// <c>--quick [FILTER...]</c>: FastLstm, ONNX Runtime and libtorch on the peer cases whose name contains every filter
/// (e.g. <c>Lstm "B16 T50" thr2</c>, <c>Compressed "B1 T100"</c>), timed with a stopwatch, engine after engine, twice
/// over, keeping each engine's better median, so a comparison made while tuning is less skewed by what the machine does
/// in between. One engine at a time, each set up and cleaned up around its own turn: the others' idle threads would
/// otherwise spin on the cores it needs (that the engines agree is <c>--verify-peers</c>' check). Not a substitute for
/// bench/peers.sh.
/// </summary>
public static class QuickPeers
{
    public static void Run(string[] filters)
    {
        foreach (var cell in Enum.GetValues<PeerBenchmarks.PeerCell>())
        {
            foreach (int threads in new[] { 1, 2 })
            {
                foreach (var size in PeerBenchmarks.Cases())
                {
                    Case($"{cell} {size} thr{threads}", filters, () => new PeerBenchmarks { Cell = cell, Size = size, Threads = threads },
                        b => b.Cleanup(), [("FastLstm", b => b.SetupFused(), b => b.Fused()), ("ONNX Runtime", b => b.SetupOnnx(), b => b.OnnxRuntime()), ("libtorch", b => b.SetupTorch(), b => b.Libtorch())]);
                }

                foreach (var size in TrainingPeerBenchmarks.Cases())
                {
                    Case($"{cell} train {size} thr{threads}", filters, () => new TrainingPeerBenchmarks { Cell = cell, Size = size, Threads = threads },
                        b => b.Cleanup(), [("FastLstm", b => b.SetupFused(), b => b.Fused()), ("libtorch", b => b.SetupTorch(), b => b.Libtorch())]);
                }
            }
        }

        foreach (int threads in new[] { 1, 2 })
        {
            foreach (var size in CompressedWeightsBenchmarks.Cases())
            {
                Case($"Compressed {size} thr{threads}", filters, () => new CompressedWeightsBenchmarks { Size = size, Threads = threads }, b => b.Cleanup(),
                    [("Full", b => b.SetupFull(), b => b.Full()), ("BFloat16", b => b.SetupBFloat16(), b => b.BFloat16()), ("Int8", b => b.SetupInt8(), b => b.Int8()),
                     ("ONNX Runtime int8", b => b.SetupOnnxInt8(), b => b.OnnxRuntimeInt8())]);
            }
        }
    }

    private static void Case<TB>(string name, string[] filters, Func<TB> create, Action<TB> cleanup, (string Name, Action<TB> Setup, Action<TB> Call)[] engines)
    {
        if (!filters.All(f => name.Contains(f, StringComparison.OrdinalIgnoreCase)))
        {
            return;
        }

        var medians = engines.Select(_ => double.PositiveInfinity).ToArray();
        for (int pass = 0; pass < 2; pass++)
        {
            for (int e = 0; e < engines.Length; e++)
            {
                var b = create();
                engines[e].Setup(b);
                for (int i = 0; i < 5; i++)
                {
                    engines[e].Call(b);
                }

                var samples = new List<double>();
                var total = Stopwatch.StartNew();
                while (samples.Count < 9 || (total.Elapsed.TotalSeconds < 1 && samples.Count < 100))
                {
                    int n = 0;
                    var sw = Stopwatch.StartNew();
                    do
                    {
                        engines[e].Call(b);
                        n++;
                    }
                    while (sw.Elapsed.TotalMilliseconds < 10);
                    samples.Add(sw.Elapsed.TotalSeconds / n);
                }

                medians[e] = Math.Min(medians[e], samples.Order().ElementAt(samples.Count / 2));
                cleanup(b);
                Thread.Sleep(50);
            }
        }

        Console.WriteLine($"{name,-34} " + string.Join("  ", engines.Select((e, i) => $"{e.Name} {Time(medians[i])}" + (i > 0 ? $" ({medians[0] / medians[i]:F2}x)" : ""))));
    }

    private static string Time(double s) => s < 1e-3 ? $"{s * 1e6:F1} us" : $"{s * 1e3:F2} ms";
}
