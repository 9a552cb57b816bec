using System.Diagnostics;
using FastLstm.Kernels;

namespace FastLstm.Bench;

/// <summary>
/// <c>--gemm-probe</c>: GFLOP/s of the packed GEMM alone on the shapes the engine runs (input projection, per-step
/// recurrent product, batch-1 GEMV, weight gradient), for tuning the micro-kernels, at every width this CPU accelerates,
/// after the instruction-level limits at that width: multiply-adds a second of the FMA and of int8's quad products with
/// every operand in registers. Stopwatch medians, one thread.
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
        int bits = gemm.Lanes * 32;
        double fma = Rate(n => Fmas(bits, n)), quads = Rate(n => Quads(bits, n));
        Console.WriteLine($"{gemm.Name,-16} in registers: FMA {fma / 1e9:F1} GMAC/s, int8 quad products ({Isa.DescribeInt8(bits)}) {quads / 1e9:F1} GMAC/s, {quads / fma:F2}×");
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

    private const long Iterations = 20_000_000;

    /// <summary>The best of five runs of <paramref name="run"/>, in multiply-adds a second.</summary>
    private static double Rate(Func<long, long> run)
    {
        run(Iterations / 10);
        double best = 0;
        for (int i = 0; i < 5; i++)
        {
            var sw = Stopwatch.StartNew();
            long macs = run(Iterations);
            best = Math.Max(best, macs / sw.Elapsed.TotalSeconds);
        }

        return best;
    }

    private static long Fmas(int bits, long n)
    {
        Sink += bits switch
        {
            512 => PeakProbe.Run<V512<float>>(n),
            256 => PeakProbe.Run<V256<float>>(n),
            _ => PeakProbe.Run<V128<float>>(n),
        };
        return n * PeakProbe.FmasPerIteration * bits / 32;
    }

    private static long Quads(int bits, long n) => bits switch
    {
        512 => Quads<V512<float>>(n),
        256 => Quads<V256<float>>(n),
        _ => Quads<V128<float>>(n),
    };

    // Six weight vectors against an activation that changes every iteration (an xor), so no product is loop-invariant;
    // the sums' only loop-carried dependence is a one-cycle integer add.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static long Quads<TV>(long n)
        where TV : unmanaged, IVec<TV, float>
    {
        var a = TV.Create(BitConverter.Int32BitsToSingle(0x05030201));
        var flip = TV.Create(BitConverter.Int32BitsToSingle(0x01010101));
        TV b0 = TV.Create(BitConverter.Int32BitsToSingle(0x7F01FF81)), b1 = b0 ^ flip, b2 = b1 ^ a, b3 = b2 ^ flip, b4 = b3 ^ a, b5 = b4 ^ flip;
        TV c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default;
        for (long i = 0; i < n; i++)
        {
            c0 = TV.MultiplyAddQuads(a, b0, c0);
            c1 = TV.MultiplyAddQuads(a, b1, c1);
            c2 = TV.MultiplyAddQuads(a, b2, c2);
            c3 = TV.MultiplyAddQuads(a, b3, c3);
            c4 = TV.MultiplyAddQuads(a, b4, c4);
            c5 = TV.MultiplyAddQuads(a, b5, c5);
            a ^= flip;
        }

        Keep(c0 ^ c1 ^ c2 ^ c3 ^ c4 ^ c5);
        return n * 6 * TV.Count * 4;
    }

    private static float Sink { get; set; }

    // The results are kept, so the loops are not optimised away.
    private static void Keep<TV>(TV v)
        where TV : unmanaged, IVec<TV, float>
    {
        float* s = stackalloc float[TV.Count];
        TV.Store(v, s);
        Sink += s[0];
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
