using System.Numerics;
using FastLstm.Cells;
using FastLstm.Kernels;

namespace FastLstm.Engine;

/// <summary>
/// The forward time loop of one layer and direction, for every cell: one GEMM projects the inputs of all steps
/// (<c>Gx = X·W_ihᵀ</c>); per step one GEMM over the recurrent gates (<c>Gh = h_{t-1}·W_hhᵀ</c>), the cell's fused pass,
/// and for two-phase cells a second GEMM and pass. The state sequence S has T+1 blocks: the forward direction reads block
/// t and writes t+1, the reverse reads t+1 and writes t, so h_{t-1} of every step is one contiguous matrix for backward.
/// </summary>
internal sealed unsafe class ForwardLoop<T> : ITimeLoop<T, ForwardContext<T>>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly Plan<T> _plan;
    private readonly ForwardBuffers<T> _buffers;
    private readonly PackedWeights<T> _weights;
    private readonly BatchLayout<T> _layout;
    private readonly Scheduler<T> _scheduler;
    private readonly TimeLoop<T, ForwardContext<T>> _loop;

    // Steps each layer and direction has run, over every call: on odd ones the weight panels are read last to first.
    private readonly long[] _visits;

    public ForwardLoop(Plan<T> plan, ForwardBuffers<T> buffers, PackedWeights<T> weights, BatchLayout<T> layout, Scheduler<T> scheduler)
    {
        (_plan, _buffers, _weights, _layout, _scheduler) = (plan, buffers, weights, layout, scheduler);
        _loop = new TimeLoop<T, ForwardContext<T>>(this, scheduler, layout, buffers.Scratch);
        _visits = new long[plan.Layers * plan.Dirs];
    }

    /// <summary>Runs layer <paramref name="l"/>, direction <paramref name="d"/> over its input x [T·B, k].</summary>
    public void Run(int l, int d, T* x, int k, ReadOnlySpan<T> h0, ReadOnlySpan<T> c0, Span<T> hN, Span<T> cN)
    {
        var plan = _plan;
        ref readonly var w = ref _weights[l, d];
        ref readonly var sl = ref _buffers[l, d];
        int b = _layout.Batch, steps = _layout.Steps;
        bool split = _scheduler.SplitSteps(_layout, plan.Hp, plan.G1w);
        long visit = _visits[(l * plan.Dirs) + d];
        _visits[(l * plan.Dirs) + d] = visit + steps;
        if (!split && !Deferred(steps, visit))
        {
            _scheduler.Multiply(steps * b, plan.Gw, k, new MatA<T>(x, k), MatB<T>.FromPacked(w.WihT), sl.Gx, plan.LdG, false);
        }

        _layout.LoadState(h0, l, d, _buffers.H0);
        if (plan.Descriptor.HasCellState)
        {
            _layout.LoadState(c0, l, d, _buffers.C0);
        }

        if (d == 0 || split)
        {
            // The forward direction starts every sequence from block 0; the reverse one, split (sequences all of
            // full length), from block T. Ragged reverse rows start later and get their state in the row loop.
            long start = d == 0 ? 0 : (long)steps * b * plan.Hp;
            StepPointers<T>.Copy(_buffers.H0, sl.S + start, (long)b * plan.Hp);
            if (plan.Descriptor.HasCellState)
            {
                StepPointers<T>.Copy(_buffers.C0, sl.C + start, (long)b * plan.Hp);
            }
        }

        _loop.Run(new ForwardContext<T>(l, d, x, k, visit), split);

        _layout.StoreFinal(sl.S, l, d, hN);
        if (plan.Descriptor.HasCellState)
        {
            _layout.StoreFinal(sl.C, l, d, cN);
        }
    }

    // Weights that almost fit in L2 are read as a serpentine: every other step takes the panels in the opposite order,
    // so it starts on the ones the previous step read last, which are still in L2; in one order throughout, each step
    // would evict the panels it needs next (least recently used first). A single step reverses the order of its two
    // products as well, recurrent product first. The products' results do not depend on the order
    // (bench/results/code-figures.md).
    private static bool Odd(long visit) => (visit & 1) == 1;

    private static bool Deferred(int steps, long visit) => steps == 1 && Odd(visit);

    public void Rows(in ForwardContext<T> ctx, int r0, int r1, in GemmScratch<T> scratch)
    {
        var plan = _plan;
        var cell = plan.Kernels(ctx.Direction);
        var gemm = plan.Gemm;
        var layout = _layout;
        int l = ctx.Layer, d = ctx.Direction, b = layout.Batch, steps = layout.Steps, hp = plan.Hp, stride = plan.YWidth, rows = r1 - r0;
        ref readonly var w = ref _weights[l, d];
        ref readonly var sl = ref _buffers[l, d];
        bool rev = d == 1, hasC = plan.Descriptor.HasCellState, two = plan.TwoPhase;
        long block = (long)b * hp;
        T* y = _buffers.Y(l) + (d * hp);
        for (int s = 0; s < steps; s++)
        {
            int t = rev ? steps - 1 - s : s;
            int nb = layout.Live(t, r0, rows);
            int prev = rev ? t + 1 : t, cur = rev ? t : t + 1;
            if (rev)
            {
                // Sequences whose last step is t start here, from their initial state.
                int from = layout.Live(t + 1, r0, rows);
                long at = (long)(r0 + from) * hp;
                StepPointers<T>.Copy(_buffers.H0 + at, sl.S + (prev * block) + at, (long)(nb - from) * hp);
                if (hasC)
                {
                    StepPointers<T>.Copy(_buffers.C0 + at, sl.C + (prev * block) + at, (long)(nb - from) * hp);
                }
            }

            var a = StepPointers<T>.At(plan, sl, w, _buffers, b, t, prev, cur, r0, nb);
            T* yt = y + ((((long)t * b) + r0) * stride);
            if (nb > 0)
            {
                gemm.Multiply(nb, plan.G1w, hp, new MatA<T>(a.HPrev, hp), MatB<T>.FromPacked(w.WhhT, Odd(ctx.Visit + s)), a.Gh, plan.LdG1, false, scratch);
                if (Deferred(steps, ctx.Visit))
                {
                    gemm.Multiply(nb, plan.Gw, ctx.K, new MatA<T>(ctx.X + ((long)r0 * ctx.K), ctx.K), MatB<T>.FromPacked(w.WihT, true), a.Gx, plan.LdG, false, scratch);
                }
                cell.Forward1(a);
                if (two)
                {
                    gemm.Multiply(nb, hp, hp, new MatA<T>(a.Aux, plan.AuxW), MatB<T>.FromPacked(w.W2T), a.G2, hp, false, scratch);
                    cell.Forward2(a);
                }

                for (int p = 0; p < nb; p++)
                {
                    StepPointers<T>.Copy(a.H + ((long)p * hp), yt + ((long)p * stride), hp);
                }
            }

            if (nb < rows)
            {
                // Finished sequences: their outputs are zero, and zeroed state rows keep stale values out of
                // the weight-gradient GEMMs that run over every row.
                for (int p = nb; p < rows; p++)
                {
                    new Span<T>(yt + ((long)p * stride), hp).Clear();
                }

                new Span<T>(a.H + ((long)nb * hp), (rows - nb) * hp).Clear();
                if (plan.Training && plan.AuxW > 0)
                {
                    new Span<T>(a.Aux + ((long)nb * plan.AuxW), (rows - nb) * plan.AuxW).Clear();
                }
            }
        }
    }

    /// <summary>
    /// Full-length sequences, this thread's share of every step. When gate blocks are whole packed panels, each thread
    /// owns whole panels of hidden units and computes every gate of them (the products gate by gate, then the pass), so a
    /// step needs one barrier, before the next step reads all of h (two-phase cells one more, before their second product
    /// reads all of its input). Otherwise the products are split by column panels and the passes by hidden units, with a
    /// barrier between them.
    /// </summary>
    public void Split(in ForwardContext<T> ctx, int thread, int threads)
    {
        var plan = _plan;
        var cell = plan.Kernels(ctx.Direction);
        var gemm = plan.Gemm;
        var pool = _scheduler.Pool;
        int l = ctx.Layer, d = ctx.Direction, steps = _layout.Steps, b = _layout.Batch, hp = plan.Hp, stride = plan.YWidth, nr = gemm.NR;
        ref readonly var w = ref _weights[l, d];
        ref readonly var sl = ref _buffers[l, d];
        ref readonly var scratch = ref _buffers.Scratch[thread];
        bool rev = d == 1, two = plan.TwoPhase, owned = _scheduler.OwnsUnits(hp);
        var (u0, u1) = owned ? _scheduler.Panels(hp, thread, threads) : Scheduler<T>.Units(hp, thread, threads);
        var (j0, j1) = _scheduler.Panels(plan.G1w, thread, threads);
        var (k0, k1) = _scheduler.Panels(hp, thread, threads);

        // The input projection too: no separate dispatch, and the barriers after it (or owning the units) cover it.
        bool deferred = Deferred(steps, ctx.Visit);
        if (!deferred)
        {
            Project(ctx, thread, threads, scratch, false);
        }

        T* y = _buffers.Y(l) + (d * hp);
        for (int s = 0; s < steps; s++)
        {
            int t = rev ? steps - 1 - s : s;
            var a = StepPointers<T>.At(plan, sl, w, _buffers, b, t, rev ? t + 1 : t, rev ? t : t + 1, 0, b);
            bool odd = Odd(ctx.Visit + s);
            if (owned)
            {
                OwnedGates(plan.G1w / hp, u0, u1, b, hp, new MatA<T>(a.HPrev, hp), w.WhhT, a.Gh, plan.LdG1, odd, scratch);
            }
            else
            {
                gemm.Multiply(b, j1 - j0, hp, new MatA<T>(a.HPrev, hp), MatB<T>.FromPacked(w.WhhT.FromColumn(j0), odd), a.Gh + j0, plan.LdG1, false, scratch);
            }

            if (deferred)
            {
                Project(ctx, thread, threads, scratch, true);
            }

            if (!owned)
            {
                pool.Barrier();
            }

            var mine = StepPointers<T>.Units(a, u0, u1);
            cell.Forward1(mine);
            if (two)
            {
                pool.Barrier();
                gemm.Multiply(b, k1 - k0, hp, new MatA<T>(a.Aux, plan.AuxW), MatB<T>.FromPacked(w.W2T.FromColumn(k0)), a.G2 + k0, hp, false, scratch);
                if (!owned)
                {
                    pool.Barrier();
                }

                cell.Forward2(mine);
            }

            for (int p = 0; p < b; p++)
            {
                StepPointers<T>.Copy(a.H + ((long)p * hp) + u0, y + ((((long)t * b) + p) * stride) + u0, u1 - u0);
            }

            // After the last step the pool's join is the barrier.
            if (s < steps - 1)
            {
                pool.Barrier();
            }
        }
    }

    /// <summary>
    /// This thread's share of the input projection of every step: its own hidden units in every gate block when it owns
    /// units, else its panels of all the gates. Panels go last to first when <paramref name="reversed"/>.
    /// </summary>
    private void Project(in ForwardContext<T> ctx, int thread, int threads, in GemmScratch<T> scratch, bool reversed)
    {
        var plan = _plan;
        var gemm = plan.Gemm;
        int hp = plan.Hp, nr = gemm.NR, k = ctx.K, m = _layout.Steps * _layout.Batch;
        ref readonly var w = ref _weights[ctx.Layer, ctx.Direction];
        ref readonly var sl = ref _buffers[ctx.Layer, ctx.Direction];
        if (_scheduler.OwnsUnits(hp))
        {
            var (u0, u1) = _scheduler.Panels(hp, thread, threads);
            OwnedGates(plan.Gw / hp, u0, u1, m, k, new MatA<T>(ctx.X, k), w.WihT, sl.Gx, plan.LdG, reversed, scratch);
        }
        else
        {
            var (g0, g1) = _scheduler.Panels(plan.Gw, thread, threads);
            gemm.Multiply(m, g1 - g0, k, new MatA<T>(ctx.X, k), MatB<T>.FromPacked(w.WihT.FromColumn(g0), reversed), sl.Gx + g0, plan.LdG, false, scratch);
        }
    }

    /// <summary>
    /// C = A·B over a thread's own hidden units [u0, u1) in each of <paramref name="gates"/> gate blocks (Hp columns
    /// apart in the packed B and in C), one product over the blocks; blocks and panels last to first when reversed.
    /// </summary>
    private void OwnedGates(int gates, int u0, int u1, int m, int k, in MatA<T> a, in PackedB<T> packed, T* c, int ldc, bool reversed, in GemmScratch<T> scratch) =>
        _plan.Gemm.Multiply(m, u1 - u0, k, a, MatB<T>.FromPacked(packed.FromColumn(u0), reversed), c + u0, ldc, false, scratch, gates, _plan.Hp);
}

/// <summary>The layer and direction a forward time loop runs, its input [T·B, K] and the steps run before it (<see cref="ForwardLoop{T}"/>'s serpentine).</summary>
internal readonly unsafe struct ForwardContext<T>(int layer, int direction, T* x, int k, long visit)
    where T : unmanaged
{
    public readonly long Visit = visit;
    public readonly int Layer = layer;
    public readonly int Direction = direction;
    public readonly T* X = x;
    public readonly int K = k;
}
