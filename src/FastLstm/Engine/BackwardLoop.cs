using System.Numerics;
using System.Numerics.Tensors;
using FastLstm.Cells;
using FastLstm.Kernels;

namespace FastLstm.Engine;

/// <summary>
/// Backpropagation through time of one layer and direction, the mirror of <see cref="ForwardLoop{T}"/>. Per step: the
/// cell's fused gate-gradient pass and <c>dh_{t-1} = dG·W_hh</c> (two-phase cells first their phase-2 pass and product);
/// after the loop, the weight gradients and ∂input as big GEMMs over all steps, scattered into the PyTorch layout.
/// </summary>
internal sealed unsafe class BackwardLoop<T> : ITimeLoop<T, BackwardContext<T>>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly Plan<T> _plan;
    private readonly ForwardBuffers<T> _forward;
    private readonly BackwardBuffers<T> _buffers;
    private readonly PackedWeights<T> _weights;
    private readonly BatchLayout<T> _layout;
    private readonly Scheduler<T> _scheduler;
    private readonly TimeLoop<T, BackwardContext<T>> _loop;

    public BackwardLoop(Plan<T> plan, ForwardBuffers<T> forward, BackwardBuffers<T> buffers, PackedWeights<T> weights, BatchLayout<T> layout, Scheduler<T> scheduler)
    {
        (_plan, _forward, _buffers, _weights, _layout, _scheduler) = (plan, forward, buffers, weights, layout, scheduler);
        _loop = new TimeLoop<T, BackwardContext<T>>(this, scheduler, layout, forward.Scratch);
    }

    /// <summary>
    /// Layer l, direction d: from ∂L/∂output dy [T·B, D·Hp] (and dhN, dcN), adds the parameter gradients into
    /// <paramref name="grads"/>, writes ∂L/∂input into dx [T·B, k] (adding for the reverse direction) and ∂L/∂(initial state).
    /// </summary>
    public void Run(int l, int d, T* dy, T* x, int k, T* dx, ReadOnlySpan<T> dhN, ReadOnlySpan<T> dcN, Span<T> dh0, Span<T> dc0, Span<T> grads)
    {
        var plan = _plan;
        ref readonly var w = ref _weights[l, d];
        ref readonly var sl = ref _forward[l, d];
        ref readonly var g = ref _buffers[d];
        int b = _layout.Batch, hp = plan.Hp, m = _layout.Steps * b;
        bool separate = plan.Descriptor.SeparateRecurrentGradient;
        int ldgh = separate ? plan.LdG1 : plan.LdG;
        _layout.LoadState(dhN, l, d, g.DH);
        _layout.LoadState(plan.Descriptor.HasCellState ? dcN : default, l, d, g.DC);

        bool split = _scheduler.SplitSteps(_layout, hp, plan.G1w);
        _loop.Run(new BackwardContext<T>(l, d, dy), split);
        if (split)
        {
            StepPointers<T>.Copy(g.DH, _buffers.DH0, (long)b * hp);
            StepPointers<T>.Copy(g.DC, _buffers.DC0, (long)b * hp);
        }

        _layout.StoreState(_buffers.DH0, l, d, dh0);
        if (plan.Descriptor.HasCellState)
        {
            _layout.StoreState(_buffers.DC0, l, d, dc0);
        }

        var t = plan.Parameters.Of(l, d);
        int inSize = plan.Spec.LayerInputSize(l);
        T* db = _buffers.DB;
        T* dgh = separate ? g.DGh : g.DGx;
        T* hPrev = sl.S + (d == 1 ? (long)b * hp : 0);
        fixed (T* gp = grads)
        {
            AddWeightGradient(plan.Gw, k, m, new MatA<T>(g.DGx, plan.LdG, transposed: true), MatB<T>.RowMajor(x, k), plan.InputGradientDirect[l],
                gp, grads, t.WeightIh, plan.GateMap, plan.InputRuns[l], inSize);
            AddWeightGradient(plan.G1w, hp, m, new MatA<T>(dgh, ldgh, transposed: true), MatB<T>.RowMajor(hPrev, hp), plan.HiddenGradientDirect,
                gp, grads, t.WeightHh, plan.RecurrentMap, plan.HiddenRuns, plan.H);
            if (plan.Descriptor.Phase2 is { } p2)
            {
                AddWeightGradient(hp, hp, m, new MatA<T>(g.DG2, hp, transposed: true), MatB<T>.RowMajor(sl.Aux, plan.AuxW), false,
                    gp, grads, t.Named(p2.Weight, plan.Descriptor), plan.Phase2Map, plan.HiddenRuns, plan.H);
                GradientSink<T>.AddColumnSums(g.DG2, m, hp, plan.Phase2Map, db, grads, t.Named(p2.Bias, plan.Descriptor));
            }
        }

        GradientSink<T>.ColumnSums(g.DGx, m, plan.LdG, plan.Gw, db);
        GradientSink<T>.AddSums(db, plan.GateMap, grads, t.BiasIh);
        if (separate)
        {
            GradientSink<T>.ColumnSums(dgh, m, ldgh, plan.G1w, db);
        }

        // Otherwise the recurrent gates' gradients are the first G1w columns of the input gates' ones, summed just above.
        GradientSink<T>.AddSums(db, plan.RecurrentMap, grads, t.BiasHh);

        // An index loop: foreach over the interface would allocate an enumerator on every call.
        var products = plan.Descriptor.StateProducts;
        for (int p = 0; p < products.Count; p++)
        {
            AddStateProduct(products[p], sl.C, g.DGx, d == 1, grads.Slice(t.Extra[products[p].Extra].Offset, plan.H));
        }

        _scheduler.Multiply(m, k, plan.Gw, new MatA<T>(g.DGx, plan.LdG), MatB<T>.FromPacked(w.Wih), dx, k, d > 0);
    }

    /// <summary>
    /// A weight gradient [rows × cols] = Aᵀ·B over all steps, added into its PyTorch tensor: by the GEMM itself when the
    /// tensor has the engine's layout (<paramref name="direct"/>), else computed into scratch and moved through the maps.
    /// </summary>
    private void AddWeightGradient(int rows, int cols, int m, in MatA<T> a, in MatB<T> b, bool direct, T* grads, Span<T> gradSpan,
        ParameterLayout.Tensor tensor, int[] rowMap, MapRuns colMap, int tensorLd)
    {
        if (direct)
        {
            _scheduler.Multiply(rows, cols, m, a, b, grads + tensor.Offset, cols, true);
            return;
        }

        _scheduler.Multiply(rows, cols, m, a, b, _buffers.DW, cols, false);
        GradientSink<T>.Add(_buffers.DW, cols, rowMap, colMap, gradSpan, tensor, tensorLd);
    }

    /// <summary>
    /// ∂L/∂p += Σ over steps and rows of ∂L/∂(gate pre-activation) ⊙ state, for a tensor p multiplied with the state
    /// before (or after) each step. Finished rows have zero gradients, so every row may be summed.
    /// </summary>
    private void AddStateProduct(StateProduct product, T* states, T* dgx, bool reverse, Span<T> grad)
    {
        int b = _layout.Batch, hp = _plan.Hp, h = _plan.H;
        for (int step = 0; step < _layout.Steps; step++)
        {
            // States are kept in time order: the one before step t is slot t going forwards, slot t + 1 going backwards.
            int slot = product.NewState != reverse ? step + 1 : step;
            for (int r = 0; r < b; r++)
            {
                var dg = new ReadOnlySpan<T>(dgx + ((((long)step * b) + r) * _plan.LdG) + ((long)product.Gate * hp), h);
                var c = new ReadOnlySpan<T>(states + ((((long)slot * b) + r) * hp), h);
                TensorPrimitives.MultiplyAdd(dg, c, grad, grad);
            }
        }
    }

    /// <summary>The step's pointers, forward and backward, for rows [r0, r0 + rows).</summary>
    private StepArgs<T> At(in BackwardContext<T> ctx, int t, int r0, int rows, T* dh, T* dc)
    {
        var plan = _plan;
        int b = _layout.Batch;
        bool rev = ctx.Direction == 1;
        ref readonly var g = ref _buffers[ctx.Direction];
        var a = StepPointers<T>.At(plan, _forward[ctx.Layer, ctx.Direction], _weights[ctx.Layer, ctx.Direction], _forward, b, t, rev ? t + 1 : t, rev ? t : t + 1, r0, rows);
        long row = ((long)t * b) + r0;
        a.DH = dh;
        a.DC = dc;
        a.DGx = g.DGx + (row * plan.LdG);
        a.DGh = plan.Descriptor.SeparateRecurrentGradient ? g.DGh + (row * plan.LdG1) : a.DGx;
        a.DG2 = g.DG2 + (row * plan.Hp);
        a.DM = _buffers.DM + ((long)r0 * plan.Hp);
        return a;
    }

    public void Rows(in BackwardContext<T> ctx, int r0, int r1, in GemmScratch<T> scratch)
    {
        var plan = _plan;
        var cell = plan.Kernels(ctx.Direction);
        var gemm = plan.Gemm;
        var layout = _layout;
        int d = ctx.Direction, b = layout.Batch, steps = layout.Steps, hp = plan.Hp, stride = plan.YWidth, rows = r1 - r0;
        ref readonly var w = ref _weights[ctx.Layer, d];
        ref readonly var g = ref _buffers[d];
        bool separate = plan.Descriptor.SeparateRecurrentGradient, two = plan.TwoPhase, rev = d == 1;
        int ldgh = separate ? plan.LdG1 : plan.LdG;
        T* dh = g.DH + ((long)r0 * hp), dc = g.DC + ((long)r0 * hp);
        for (int s = 0; s < steps; s++)
        {
            int t = rev ? s : steps - 1 - s;
            int nb = layout.Live(t, r0, rows);
            T* dyt = ctx.DY + ((((long)t * b) + r0) * stride) + (d * hp);
            for (int p = 0; p < nb; p++)
            {
                AddRow(dyt + ((long)p * stride), dh + ((long)p * hp), hp);
            }

            var a = At(ctx, t, r0, nb, dh, dc);
            if (nb > 0)
            {
                if (two)
                {
                    cell.Backward2(a);
                    gemm.Multiply(nb, hp, hp, new MatA<T>(a.DG2, hp), MatB<T>.FromPacked(w.W2), a.DM, hp, false, scratch);
                }

                cell.Backward1(a);
                gemm.Multiply(nb, hp, plan.G1w, new MatA<T>(a.DGh, ldgh), MatB<T>.FromPacked(w.Whh), dh, hp, plan.Descriptor.HasDirectHiddenGradient, scratch);
            }

            if (nb < rows)
            {
                new Span<T>(a.DGx + ((long)nb * plan.LdG), (rows - nb) * plan.LdG).Clear();
                if (separate)
                {
                    new Span<T>(a.DGh + ((long)nb * plan.LdG1), (rows - nb) * plan.LdG1).Clear();
                }

                if (two)
                {
                    new Span<T>(a.DG2 + ((long)nb * hp), (rows - nb) * hp).Clear();
                }
            }

            if (rev)
            {
                // Sequences whose last step is t end here: what flows into their initial state is final.
                int from = layout.Live(t + 1, r0, rows);
                StepPointers<T>.Copy(dh + ((long)from * hp), _buffers.DH0 + ((long)(r0 + from) * hp), (long)(nb - from) * hp);
                StepPointers<T>.Copy(dc + ((long)from * hp), _buffers.DC0 + ((long)(r0 + from) * hp), (long)(nb - from) * hp);
            }
        }

        if (!rev)
        {
            StepPointers<T>.Copy(dh, _buffers.DH0 + ((long)r0 * hp), (long)rows * hp);
            StepPointers<T>.Copy(dc, _buffers.DC0 + ((long)r0 * hp), (long)rows * hp);
        }
    }

    /// <summary>
    /// Full-length sequences, this thread's share of every step: hidden units of the passes, column panels of the products.
    /// When those are the same units (gate blocks of whole panels, see <see cref="Scheduler{T}.OwnsUnits"/>), what a
    /// product writes is read by its own thread's next pass, and only the products, which read every unit's gate
    /// gradients, wait for the passes.
    /// </summary>
    public void Split(in BackwardContext<T> ctx, int thread, int threads)
    {
        var plan = _plan;
        var cell = plan.Kernels(ctx.Direction);
        var gemm = plan.Gemm;
        var pool = _scheduler.Pool;
        int d = ctx.Direction, b = _layout.Batch, steps = _layout.Steps, hp = plan.Hp, stride = plan.YWidth, nr = gemm.NR;
        ref readonly var w = ref _weights[ctx.Layer, d];
        ref readonly var g = ref _buffers[d];
        ref readonly var scratch = ref _forward.Scratch[thread];
        bool two = plan.TwoPhase, rev = d == 1;
        int ldgh = plan.Descriptor.SeparateRecurrentGradient ? plan.LdG1 : plan.LdG;
        bool owned = _scheduler.OwnsUnits(hp);
        var (k0, k1) = _scheduler.Panels(hp, thread, threads);
        var (u0, u1) = owned ? (k0, k1) : Scheduler<T>.Units(hp, thread, threads);
        for (int s = 0; s < steps; s++)
        {
            int t = rev ? s : steps - 1 - s;
            T* dyt = ctx.DY + ((long)t * b * stride) + (d * hp) + u0;
            for (int p = 0; p < b; p++)
            {
                AddRow(dyt + ((long)p * stride), g.DH + ((long)p * hp) + u0, u1 - u0);
            }

            var a = At(ctx, t, 0, b, g.DH, g.DC);
            var mine = StepPointers<T>.Units(a, u0, u1);
            if (two)
            {
                cell.Backward2(mine);
                pool.Barrier();
                gemm.Multiply(b, k1 - k0, hp, new MatA<T>(a.DG2, hp), MatB<T>.FromPacked(w.W2.FromColumn(k0)), a.DM + k0, hp, false, scratch);
                if (!owned)
                {
                    pool.Barrier();
                }
            }

            cell.Backward1(mine);
            pool.Barrier();
            gemm.Multiply(b, k1 - k0, plan.G1w, new MatA<T>(a.DGh, ldgh), MatB<T>.FromPacked(w.Whh.FromColumn(k0)), g.DH + k0, hp, plan.Descriptor.HasDirectHiddenGradient, scratch);
            if (!owned && s < steps - 1)
            {
                pool.Barrier();
            }
        }
    }

    /// <summary>dst[i] += src[i] over one row.</summary>
    private static void AddRow(T* src, T* dst, int n) =>
        TensorPrimitives.Add(new ReadOnlySpan<T>(dst, n), new ReadOnlySpan<T>(src, n), new Span<T>(dst, n));
}

/// <summary>The layer and direction a backward time loop runs, and ∂L/∂(its output) [T·B, D·Hp].</summary>
internal readonly unsafe struct BackwardContext<T>(int layer, int direction, T* dy)
    where T : unmanaged
{
    public readonly int Layer = layer;
    public readonly int Direction = direction;
    public readonly T* DY = dy;
}
