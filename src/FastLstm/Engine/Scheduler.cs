using System.Numerics;
using FastLstm.Kernels;

namespace FastLstm.Engine;

/// <summary>
/// How a session's threads share the work: whole GEMMs split by rows or columns, time loops split by batch rows (each
/// thread runs its own sequences through time, no synchronisation) or, for sequences all of full length, every step
/// split by hidden units and column panels with barriers between its phases.
/// </summary>
internal sealed unsafe class Scheduler<T> : IDisposable
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly Gemm<T> _kernel;
    private readonly GemmScratch<T>[] _scratch;
    private readonly GemmJob _gemm;

    public Scheduler(Plan<T> plan, GemmScratch<T>[] scratch)
    {
        _kernel = plan.Gemm;
        _scratch = scratch;
        Pool = new WorkerPool(plan.Threads);
        _gemm = new GemmJob(this);
    }

    public WorkerPool Pool { get; }

    public int Threads => Pool.Count;

    /// <summary>
    /// Whether to split each step over the threads instead of the batch: sequences all of full length and threads to
    /// spare. Better than a block of rows per core even for large batches, where no step needs a barrier: a half-height
    /// product runs less efficient tiles and both cores would stream all of W_hh. Worth it from 256 hidden units: below,
    /// the weights fit one core's L2 and the synchronisation costs more than the split saves, and unreliably so where the
    /// cost of waiting for the other core changes (bench/results/code-figures.md).
    /// </summary>
    public bool SplitSteps(BatchLayout<T> layout, int hp, int recurrentWidth)
    {
        int chunks = hp * sizeof(T) / 64;
        return Threads > 1 && layout.FullLength && chunks >= Threads && _kernel.Panels(recurrentWidth) >= Threads
            && _kernel.Panels(hp) >= Threads && hp >= 256;
    }

    /// <summary>
    /// Whether a split step can give each thread whole panels of hidden units in every gate block: gate blocks
    /// <paramref name="hp"/> apart are whole panels, and there are at least as many panels as threads.
    /// </summary>
    public bool OwnsUnits(int hp) => hp % _kernel.NR == 0 && _kernel.Panels(hp) >= Threads;

    /// <summary>Thread <paramref name="thread"/>'s share of <paramref name="n"/> columns, in whole packed panels.</summary>
    public (int Start, int End) Panels(int n, int thread, int threads)
    {
        int panels = _kernel.Panels(n), nr = _kernel.NR;
        return (panels * thread / threads * nr, Math.Min(n, panels * (thread + 1) / threads * nr));
    }

    /// <summary>Thread <paramref name="thread"/>'s share of <paramref name="hp"/> hidden units, in 64-byte chunks.</summary>
    public static (int Start, int End) Units(int hp, int thread, int threads)
    {
        int chunk = 64 / sizeof(T), chunks = hp / chunk;
        return (chunks * thread / threads * chunk, chunks * (thread + 1) / threads * chunk);
    }

    /// <summary>A GEMM over the session's threads: each takes a block of rows or columns (whichever is larger).</summary>
    public void Multiply(int m, int n, int k, in MatA<T> a, in MatB<T> b, T* c, int ldc, bool accumulate)
    {
        if (Threads == 1 || (long)m * n * k < 1 << 18)
        {
            _kernel.Multiply(m, n, k, a, b, c, ldc, accumulate, _scratch[0]);
            return;
        }

        _gemm.Set(m, n, k, a, b, c, ldc, accumulate);
        Pool.Run(_gemm);
    }

    public void Dispose() => Pool.Dispose();

    /// <summary>One GEMM split over the threads by blocks of rows (whole micro-panels) or of columns (whole B panels).</summary>
    private sealed class GemmJob(Scheduler<T> scheduler) : IParallelJob
    {
        private int _m, _n, _k, _ldc;
        private MatA<T> _a;
        private MatB<T> _b;
        private T* _c;
        private bool _accumulate;

        public void Set(int m, int n, int k, in MatA<T> a, in MatB<T> b, T* c, int ldc, bool accumulate)
        {
            (_m, _n, _k, _ldc, _accumulate) = (m, n, k, ldc, accumulate);
            (_a, _b) = (a, b);
            _c = c;
        }

        public void Execute(int thread, int threads)
        {
            var kernel = scheduler._kernel;
            var scratch = scheduler._scratch[thread];
            if (_m >= _n)
            {
                int mr = Gemm<T>.MR, units = (_m + mr - 1) / mr;
                int i0 = units * thread / threads * mr, i1 = Math.Min(_m, units * (thread + 1) / threads * mr);
                if (i1 > i0)
                {
                    var a = _a.Transposed ? new MatA<T>(_a.Ptr + i0, _a.Ld, true) : new MatA<T>(_a.Ptr + ((long)i0 * _a.Ld), _a.Ld);
                    kernel.Multiply(i1 - i0, _n, _k, a, _b, _c + ((long)i0 * _ldc), _ldc, _accumulate, scratch);
                }
            }
            else
            {
                var (j0, j1) = scheduler.Panels(_n, thread, threads);
                if (j1 > j0)
                {
                    var b = _b.FromColumn(j0);
                    kernel.Multiply(_m, j1 - j0, _k, _a, b, _c + j0, _ldc, _accumulate, scratch);
                }
            }
        }
    }
}
