using System.Numerics;
using FastLstm.Cells;
using FastLstm.Kernels;

namespace FastLstm.Engine;

/// <summary>
/// A time loop of one layer and direction (<see cref="ForwardLoop{T}"/>, <see cref="BackwardLoop{T}"/>) in the two forms
/// <see cref="TimeLoop{T, TContext}"/> runs it in. <typeparamref name="TContext"/> is the call's arguments, immutable.
/// </summary>
internal interface ITimeLoop<T, TContext>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
    where TContext : struct
{
    /// <summary>The whole sequence for batch rows [r0, r1): rows are independent through time, so a thread runs its own
    /// block of rows without synchronising with the others.</summary>
    void Rows(in TContext context, int r0, int r1, in GemmScratch<T> scratch);

    /// <summary>This thread's share of every step, full-length sequences only (<see cref="Scheduler{T}.SplitSteps"/>).</summary>
    void Split(in TContext context, int thread, int threads);
}

/// <summary>
/// Runs a time loop the one way the call's shape asks for: every step split over the threads, the rows on the calling
/// thread alone (one thread, or one row), or blocks of rows over the worker pool. A job holds the call's context only
/// while the pool runs it.
/// </summary>
internal sealed class TimeLoop<T, TContext>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
    where TContext : struct
{
    private readonly ITimeLoop<T, TContext> _loop;
    private readonly Scheduler<T> _scheduler;
    private readonly BatchLayout<T> _layout;
    private readonly GemmScratch<T>[] _scratch;
    private readonly Job _rows;
    private readonly Job _split;

    public TimeLoop(ITimeLoop<T, TContext> loop, Scheduler<T> scheduler, BatchLayout<T> layout, GemmScratch<T>[] scratch)
    {
        (_loop, _scheduler, _layout, _scratch) = (loop, scheduler, layout, scratch);
        _rows = new Job(this, split: false);
        _split = new Job(this, split: true);
    }

    public void Run(in TContext context, bool split)
    {
        if (split)
        {
            _split.Run(context);
        }
        else if (_scheduler.Threads == 1 || _layout.Batch < 2)
        {
            _loop.Rows(context, 0, _layout.Batch, _scratch[0]);
        }
        else
        {
            _rows.Run(context);
        }
    }

    private sealed class Job(TimeLoop<T, TContext> owner, bool split) : IParallelJob
    {
        private TContext _context;

        public void Run(in TContext context)
        {
            _context = context;
            owner._scheduler.Pool.Run(this);
            _context = default;
        }

        public void Execute(int thread, int threads)
        {
            if (split)
            {
                owner._loop.Split(_context, thread, threads);
                return;
            }

            int b = owner._layout.Batch, r0 = b * thread / threads, r1 = b * (thread + 1) / threads;
            if (r1 > r0)
            {
                owner._loop.Rows(_context, r0, r1, owner._scratch[thread]);
            }
        }
    }
}

/// <summary>What both time loops build their steps from.</summary>
internal static unsafe class StepPointers<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    /// <summary>The step's forward pointers for rows [r0, r0 + rows): t the step, prev / cur the state blocks read and written.</summary>
    public static StepArgs<T> At(Plan<T> plan, in ForwardBuffers<T>.Slot sl, in PackedWeights<T>.Layer w, ForwardBuffers<T> buffers,
        int batch, int t, int prev, int cur, int r0, int rows)
    {
        long block = (long)batch * plan.Hp, r = r0, row = ((long)t * batch) + r0;
        return new StepArgs<T>
        {
            Rows = rows,
            Hp = plan.Hp,
            Width = plan.Hp,
            Gx = sl.Gx + (row * plan.LdG),
            LdGx = plan.LdG,
            Gh = buffers.Gh + (r * plan.LdG1),
            LdGh = plan.LdG1,
            G2 = buffers.G2 + (r * plan.Hp),
            Bias = w.Bias,
            HPrev = sl.S + (prev * block) + (r * plan.Hp),
            H = sl.S + (cur * block) + (r * plan.Hp),
            CPrev = sl.C + (prev * block) + (r * plan.Hp),
            C = sl.C + (cur * block) + (r * plan.Hp),
            Aux = plan.Training ? sl.Aux + (row * plan.AuxW) : sl.Aux + (r * plan.AuxW),
            LdAux = plan.AuxW,
        };
    }

    /// <summary>The step's arguments narrowed to hidden units [u0, u1).</summary>
    public static StepArgs<T> Units(StepArgs<T> a, int u0, int u1)
    {
        a.Width = u1 - u0;
        a.Gx += u0;
        a.Gh += u0;
        a.G2 += u0;
        a.Bias += u0;
        a.HPrev += u0;
        a.H += u0;
        a.CPrev += u0;
        a.C += u0;
        a.Aux += u0;
        a.DH += u0;
        a.DC += u0;
        a.DGx += u0;
        a.DGh += u0;
        a.DG2 += u0;
        a.DM += u0;
        return a;
    }

    public static void Copy(T* src, T* dst, long n)
    {
        if (n > 0)
        {
            new ReadOnlySpan<T>(src, (int)n).CopyTo(new Span<T>(dst, (int)n));
        }
    }
}
