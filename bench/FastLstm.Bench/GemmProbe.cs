using System.Diagnostics;
using FastLstm.Kernels;

namespace FastLstm.Bench;

/// <summary>
/// <c>--gemm-probe</c>: GFLOP/s of the packed GEMM alone on the shapes the engine runs (input projection, per-step
/// recurrent product, batch-1 GEMV, weight gradient), for tuning the micro-kernels, at every width this CPU accelerates.
/// Stopwatch medians, one thread.
/// </summary>
public static unsafe class GemmProbe
{
    public static void Run()
    {
        foreach (int bits in new[] { 512, 256, 128 }.Where(b => b <= Isa.Widest))
        {
            Run(Gemm<float>.For(bits));
        }
    }

    private static void Run(Gemm<float> gemm)
    {
        (string Name, int M, int N, int K, bool Transposed)[] shapes =
        [
            ("input projection B16 T50 H512", 800, 2048, 512, false),
            ("recurrent step B16 H512", 16, 2048, 512, false),
            ("recurrent step B8 H512", 8, 2048, 512, false),
            ("recurrent step B1 H128", 1, 512, 128, false),
            ("recurrent step B1 H256", 1, 1024, 256, false),
            ("recurrent step B1 H512", 1, 2048, 512, false),
            ("weight gradient B16 T50 H512", 2048, 512, 800, true),
            ("train H256: input projection", 800, 1024, 256, false),
            ("train H256: recurrent step", 16, 1024, 256, false),
            ("train H256: backward step", 16, 256, 1024, false),
            ("train H256: dX", 800, 256, 1024, false),
            ("train H256: dW", 1024, 256, 800, true),
        ];
        foreach (var (name, m, n, k, transposed) in shapes)
        {
            // 64-byte aligned like the engine's workspace: a misaligned panel splits every other load across cache lines.
            float* pa = Aligned(m * k), pb = Aligned(k * n), pc = Aligned(m * n), pp = Aligned(gemm.PackedLength(k, n));
            float* psb = Aligned(gemm.ScratchBLength(n)), pse = Aligned(gemm.EdgeLength), pq = Aligned(gemm.QuantizedLength);
            new Span<float>(pa, m * k).Fill(0.5f);
            var b = new float[k * n];
            Array.Fill(b, 0.25f);
            b.CopyTo(new Span<float>(pb, k * n));
            float* scales = Aligned(gemm.Panels(n) * gemm.NR);
            // A row-major B (the weight gradient's) is always full precision; packed ones run in every format.
            foreach (var format in transposed ? [WeightFormat.Full] : Enum.GetValues<WeightFormat>())
            {
                var packed = new PackedB<float>((byte*)pp, scales, k, gemm.NR, format);
                gemm.PackB(packed, b, n, Enumerable.Range(0, k).ToArray(), Enumerable.Range(0, n).ToArray(), transposed: false);
                var scratch = new GemmScratch<float>(psb, pse, pq);
                var opA = transposed ? new MatA<float>(pa, m, transposed: true) : new MatA<float>(pa, k);
                var opB = transposed ? MatB<float>.RowMajor(pb, n) : MatB<float>.FromPacked(packed);
                double seconds = Median(gemm, m, n, k, opA, opB, pc, scratch);
                double bytes = gemm.PackedBytes(k, n, format);
                Console.WriteLine($"{gemm.Name,-16} {format,-8} {name,-32} M {m,5} N {n,5} K {k,5}: {2.0 * m * n * k / seconds / 1e9,6:F1} GFLOP/s, B read at {bytes / seconds / 1e9,5:F1} GB/s");
            }
        }
    }

    private static float* Aligned(long count) => (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)(count * sizeof(float)), 64);

    private static double Median(Gemm<float> gemm, int m, int n, int k, MatA<float> a, MatB<float> b, float* c, GemmScratch<float> scratch)
    {
        void call() => gemm.Multiply(m, n, k, a, b, c, n, false, scratch);
        for (int i = 0; i < 3; i++)
        {
            call();
        }

        var rounds = new List<double>();
        var total = Stopwatch.StartNew();
        while (rounds.Count < 7 || (total.Elapsed.TotalSeconds < 1 && rounds.Count < 500))
        {
            int calls = 0;
            var sw = Stopwatch.StartNew();
            do
            {
                call();
                calls++;
            }
            while (sw.Elapsed.TotalMilliseconds < 5);
            rounds.Add(sw.Elapsed.TotalSeconds / calls);
        }

        rounds.Sort();
        return rounds[rounds.Count / 2];
    }
}
