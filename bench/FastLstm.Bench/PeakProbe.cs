using System.Runtime.CompilerServices;
using BenchmarkDotNet.Attributes;
using FastLstm.Kernels;

namespace FastLstm.Bench;

/// <summary>
/// The machine's FMA peak at the widest vector width it accelerates (the width FastLstm runs at), measured in the same
/// run: twelve independent accumulators per core (enough to cover the FMA latency), the loop alone in its method so
/// nothing spills. Each call does <see cref="Flops"/> per thread.
/// </summary>
public class PeakProbe
{
    public const long Iterations = 10_000_000;

    [Params(1, 2)]
    public int Threads { get; set; }

    /// <summary>The width probed: the widest this CPU accelerates.</summary>
    public static int Bits => Isa.Widest;

    /// <summary>FLOPs per thread per call: 12 FMAs × lanes × 2.</summary>
    public static long Flops => Iterations * 12 * (Bits / 32) * 2;

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

    /// <summary>FMAs per iteration of <see cref="Run{TV}"/>, each of <c>TV.Count</c> lanes.</summary>
    public const int FmasPerIteration = 12;

    private static float Run(long n) => Bits switch
    {
        512 => Run<V512<float>>(n),
        256 => Run<V256<float>>(n),
        _ => Run<V128<float>>(n),
    };

    /// <summary><paramref name="n"/> iterations of <see cref="FmasPerIteration"/> independent FMAs at the width of <typeparamref name="TV"/> (also <c>--gemm-probe</c>'s limit).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static unsafe float Run<TV>(long n)
        where TV : unmanaged, IVec<TV, float>
    {
        var a = TV.Create(0.999999f);
        var b = TV.Create(1e-7f);
        TV c0 = a, c1 = b, c2 = a, c3 = b, c4 = a, c5 = b, c6 = a, c7 = b, c8 = a, c9 = b, c10 = a, c11 = b;
        for (long i = 0; i < n; i++)
        {
            c0 = TV.Fma(c0, a, b);
            c1 = TV.Fma(c1, a, b);
            c2 = TV.Fma(c2, a, b);
            c3 = TV.Fma(c3, a, b);
            c4 = TV.Fma(c4, a, b);
            c5 = TV.Fma(c5, a, b);
            c6 = TV.Fma(c6, a, b);
            c7 = TV.Fma(c7, a, b);
            c8 = TV.Fma(c8, a, b);
            c9 = TV.Fma(c9, a, b);
            c10 = TV.Fma(c10, a, b);
            c11 = TV.Fma(c11, a, b);
        }

        float sum = 0;
        float* lanes = stackalloc float[TV.Count];
        TV.Store(c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11, lanes);
        for (int i = 0; i < TV.Count; i++)
        {
            sum += lanes[i];
        }

        return sum;
    }
}
