using System.Numerics;

namespace FastLstm.Engine;

/// <summary>
/// The batch of the current call as the engine lays it out: time-major rows (<c>t·B + p</c>), sequences sorted by length,
/// longest first, so the sequences alive at step t are always the leading rows (<see cref="Live"/>) and every per-step
/// GEMM is a plain prefix. Moves the user's batch-first tensors in and out of that layout. Allocation-free.
/// </summary>
internal sealed unsafe class BatchLayout<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly int[] _order, _len, _active;
    private readonly int _h, _hp, _dirs;

    public BatchLayout(Plan<T> plan)
    {
        _order = new int[plan.MaxBatch];
        _len = new int[plan.MaxBatch];
        _active = new int[plan.MaxSteps + 1];
        _h = plan.H;
        _hp = plan.Hp;
        _dirs = plan.Dirs;
    }

    public int Batch { get; private set; }

    public int Steps { get; private set; }

    /// <summary>Whether every sequence of the batch runs all <see cref="Steps"/> steps.</summary>
    public bool FullLength => _active[Steps - 1] == Batch;

    /// <summary>Rows of [r0, r0 + rows) still inside their sequence at step t (a prefix: the batch is sorted by length).</summary>
    public int Live(int t, int r0, int rows) => Math.Clamp(_active[t] - r0, 0, rows);

    public void Set(int batch, int steps, ReadOnlySpan<int> lengths)
    {
        Batch = batch;
        Steps = steps;
        if (lengths.IsEmpty)
        {
            for (int p = 0; p < batch; p++)
            {
                _order[p] = p;
                _len[p] = steps;
            }
        }
        else
        {
            // Stable, longest first; O(steps · batch) and allocation-free.
            int p = 0;
            for (int n = steps; n >= 1; n--)
            {
                for (int b = 0; b < batch; b++)
                {
                    if (lengths[b] == n)
                    {
                        _order[p] = b;
                        _len[p++] = n;
                    }
                }
            }
        }

        for (int t = 0, p = batch; t <= steps; t++)
        {
            while (p > 0 && _len[p - 1] <= t)
            {
                p--;
            }

            _active[t] = p;
        }
    }

    /// <summary>
    /// Batch-first user tensor [B, T, parts·width] → time-major internal rows of <paramref name="ldDst"/>, sorted
    /// batch, each part padded to <paramref name="partStride"/>; steps past a sequence's length become zero.
    /// </summary>
    public void Gather(ReadOnlySpan<T> src, int ldSrc, T* dst, int ldDst, int partStride, int width, int parts)
    {
        int b = Batch, steps = Steps;
        for (int t = 0; t < steps; t++)
        {
            for (int p = 0; p < b; p++)
            {
                var row = new Span<T>(dst + ((((long)t * b) + p) * ldDst), ldDst);
                row.Clear();
                if (t < _len[p])
                {
                    var s = src.Slice(((_order[p] * steps) + t) * ldSrc, ldSrc);
                    for (int q = 0; q < parts; q++)
                    {
                        s.Slice(q * width, width).CopyTo(row.Slice(q * partStride));
                    }
                }
            }
        }
    }

    /// <summary>The inverse of <see cref="Gather"/>: internal time-major rows → the user's batch-first tensor.</summary>
    public void Scatter(T* src, int ldSrc, Span<T> dst, int ldDst, int partStride, int width, int parts)
    {
        int b = Batch, steps = Steps;
        for (int t = 0; t < steps; t++)
        {
            for (int p = 0; p < b; p++)
            {
                var row = new ReadOnlySpan<T>(src + ((((long)t * b) + p) * ldSrc), ldSrc);
                var d = dst.Slice(((_order[p] * steps) + t) * ldDst, ldDst);
                for (int q = 0; q < parts; q++)
                {
                    row.Slice(q * partStride, width).CopyTo(d.Slice(q * width));
                }
            }
        }
    }

    /// <summary>Rows [0, Batch) of layer l, direction d from a user state tensor [L·D, B, H] into Hp-wide rows (zeros when empty).</summary>
    public void LoadState(ReadOnlySpan<T> src, int l, int d, T* dst)
    {
        for (int p = 0; p < Batch; p++)
        {
            var row = new Span<T>(dst + ((long)p * _hp), _hp);
            row.Clear();
            if (!src.IsEmpty)
            {
                src.Slice(StateOffset(l, d, _order[p]), _h).CopyTo(row);
            }
        }
    }

    /// <summary>Hp-wide rows [0, Batch) back into a user state tensor [L·D, B, H] (nothing when it is empty).</summary>
    public void StoreState(T* src, int l, int d, Span<T> dst)
    {
        if (dst.IsEmpty)
        {
            return;
        }

        for (int p = 0; p < Batch; p++)
        {
            new ReadOnlySpan<T>(src + ((long)p * _hp), _h).CopyTo(dst.Slice(StateOffset(l, d, _order[p]), _h));
        }
    }

    /// <summary>
    /// Each sequence's final state from the state sequence S (T+1 blocks of B rows): block length(p) for the forward
    /// direction, block 0 for the reverse one.
    /// </summary>
    public void StoreFinal(T* states, int l, int d, Span<T> dst)
    {
        if (dst.IsEmpty)
        {
            return;
        }

        long block = (long)Batch * _hp;
        for (int p = 0; p < Batch; p++)
        {
            long at = (d == 1 ? 0 : _len[p] * block) + ((long)p * _hp);
            new ReadOnlySpan<T>(states + at, _h).CopyTo(dst.Slice(StateOffset(l, d, _order[p]), _h));
        }
    }

    private int StateOffset(int l, int d, int b) => ((((l * _dirs) + d) * Batch) + b) * _h;
}
