using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using BenchmarkDotNet.Attributes;

namespace FastLstm.Bench;

/// <summary>
/// The machine's FMA peak, measured in the same run: twelve independent Vector256 accumulators per core (enough to
/// cover the FMA latency), the loop alone in its method so nothing spills. Each call does <see cref="Flops"/> per thread.
/// </summary>
public class PeakProbe
{
    public const long Iterations = 10_000_000;

    /// <summary>FLOPs per thread per call: 12 FMAs × 8 lanes × 2.</summary>
    public const long Flops = Iterations * 12 * 8 * 2;

    [Params(1, 2)]
    public int Threads { get; set; }

    [Benchmark]
    public float FmaPeak()
    {
        if (Threads == 1)
        {
            return Run(Iterations);
        }

        float other = 0;
        var worker = new Thread(() => other = Run(Iterations));
        worker.Start();
        float mine = Run(Iterations);
        worker.Join();
        return mine + other;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float Run(long n)
    {
        var a = Vector256.Create(0.999999f);
        var b = Vector256.Create(1e-7f);
        Vector256<float> c0 = a, c1 = b, c2 = a, c3 = b, c4 = a, c5 = b, c6 = a, c7 = b, c8 = a, c9 = b, c10 = a, c11 = b;
        for (long i = 0; i < n; i++)
        {
            c0 = System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(c0, a, b);
            c1 = System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(c1, a, b);
            c2 = System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(c2, a, b);
            c3 = System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(c3, a, b);
            c4 = System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(c4, a, b);
            c5 = System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(c5, a, b);
            c6 = System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(c6, a, b);
            c7 = System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(c7, a, b);
            c8 = System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(c8, a, b);
            c9 = System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(c9, a, b);
            c10 = System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(c10, a, b);
            c11 = System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(c11, a, b);
        }

        return Vector256.Sum(c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11);
    }
}
