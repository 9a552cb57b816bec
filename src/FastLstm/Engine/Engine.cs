using System.Numerics;
using System.Runtime.Intrinsics;
using FastLstm.Cells;
using FastLstm.Kernels;

namespace FastLstm.Engine;

/// <summary>
/// The one sequence driver: layers, directions, ragged batches, forward and backward, for every cell.
/// <para>Internal layout is time-major (row <c>t·B + p</c>) with the batch sorted by length, longest first,
/// so the sequences alive at step t are always the leading <c>active[t]</c> rows and each per-step GEMM is a
/// plain prefix. Hidden-sized rows are Hp wide (H rounded up to the vector width, padding lanes kept zero).</para>
/// <para>Per layer and direction, forward: one GEMM projects the inputs of all steps (<c>Gx = X·W_ihᵀ</c>);
/// per step one GEMM over the recurrent gates (<c>Gh = h_{t-1}·W_hhᵀ</c>), the cell's fused pass, and for
/// two-phase cells a second GEMM and pass. The state sequence S has T+1 blocks: the forward direction reads
/// block t and writes t+1, the reverse reads t+1 and writes t, so h_{t-1} of every step is one contiguous
/// matrix for the weight gradient. Backward per step: the fused gate-gradient pass and
/// <c>dh_{t-1} = dGh·W_hh</c>; weight gradients and ∂input are big GEMMs over all steps after the loop.</para>
/// Buffers are carved once from <see cref="Workspace{T}"/>; nothing here allocates after construction.
/// </summary>
internal sealed unsafe class Engine<T> : IDisposable
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private static readonly int[] SingleColumn = [0];

    private readonly RnnModel<T> _model;
    private readonly Cell<T> _cell;
    private readonly TwoPhaseCell<T>? _two;
    private readonly bool _training;
    private readonly int _layers, _dirs, _h, _hp, _gw, _g1w, _auxW, _maxB, _maxT;
    private readonly int[] _gateMap, _gateMap1, _hiddenMap, _phase2Map;
    private readonly int[][] _inputMap;
    private readonly Workspace<T> _ws;
    private readonly Weights[] _w;
    private readonly Tensors[] _t;
    private readonly Slot[] _slots;
    private readonly Grad[] _grads;
    private readonly nint[] _y;
    private readonly T* _xtm, _gh, _g2, _dm, _dy0, _dy1, _dxtm, _dw, _db, _h0, _c0, _dh0, _dc0;
    private readonly GemmScratch<T>[] _scratch;
    private readonly int[] _order, _len, _active;
    private readonly WorkerPool _pool;
    private readonly RowsJob _forwardRows, _backwardRows;
    private readonly UnitsJob _forwardUnits;
    private readonly SpinBarrier _barrier;
    private readonly GemmJob _gemm;
    private int _batch, _steps;

    // The layer and direction the row jobs work on, and the buffers they read.
    private int _layer, _dir, _k;
    private T* _dy, _x;

    public Engine(RnnModel<T> model, int maxBatch, int maxSteps, bool training, int threads)
    {
        _model = model;
        var spec = model.Spec;
        _cell = Cell<T>.For(spec.Cell);
        _two = _cell as TwoPhaseCell<T>;
        _training = training;
        _layers = spec.Layers;
        _dirs = spec.Directions;
        _h = spec.HiddenSize;
        _hp = RoundUp(_h, Vector256<T>.Count);
        _gw = _cell.Gates * _hp;
        _g1w = _cell.RecurrentGates * _hp;
        _auxW = _cell.AuxBlocks * _hp;
        _maxB = maxBatch;
        _maxT = maxSteps;

        _gateMap = GateMap(_cell.Gates, 0);
        _gateMap1 = GateMap(_cell.RecurrentGates, 0);
        _hiddenMap = GateMap(1, 0);
        _phase2Map = _two is null ? [] : GateMap(1, _two.Phase2Source.Block);
        _inputMap = new int[_layers][];
        for (int l = 0; l < _layers; l++)
        {
            _inputMap[l] = l == 0 ? Enumerable.Range(0, spec.InputSize).ToArray() : Concat(_dirs, GateMap(1, 0), _h);
        }

        _w = new Weights[_layers * _dirs];
        _t = new Tensors[_layers * _dirs];
        for (int l = 0; l < _layers; l++)
        {
            for (int d = 0; d < _dirs; d++)
            {
                var lay = model.Layout;
                _t[(l * _dirs) + d] = new Tensors(
                    lay.Get("weight_ih", l, d), lay.Get("weight_hh", l, d), lay.Get("bias_ih", l, d), lay.Get("bias_hh", l, d),
                    _two is null ? null : lay.Get(_two.Phase2Source.Weight, l, d), _two is null ? null : lay.Get(_two.Phase2Source.Bias, l, d));
            }
        }

        _slots = new Slot[training ? _layers * _dirs : _dirs];
        _grads = new Grad[training ? _dirs : 0];
        _y = new nint[training ? _layers : Math.Min(_layers, 2)];
        _order = new int[maxBatch];
        _len = new int[maxBatch];
        _active = new int[maxSteps + 1];
        _scratch = new GemmScratch<T>[Math.Max(1, threads)];

        var measure = new Workspace<T>.Carver(null);
        Carve(ref measure, out _, out _, out _, out _, out _, out _, out _, out _, out _, out _, out _, out _, out _);
        _ws = new Workspace<T>(measure.Used);
        var carver = new Workspace<T>.Carver(_ws.Base);
        Carve(ref carver, out _xtm, out _gh, out _g2, out _dm, out _dy0, out _dy1, out _dxtm, out _dw, out _db, out _h0, out _c0, out _dh0, out _dc0);
        _pool = new WorkerPool(threads);
        _forwardRows = new RowsJob(this, backward: false);
        _backwardRows = new RowsJob(this, backward: true);
        _gemm = new GemmJob(this);
        _forwardUnits = new UnitsJob(this);
        _barrier = new SpinBarrier(_pool.Count);
        LoadWeights();
    }

    /// <summary>Stops the worker threads.</summary>
    public void Dispose() => _pool.Dispose();

    public int Batch => _batch;

    public int Steps => _steps;

    /// <summary>Packs the model's current parameters into every layer's GEMM operands and biases.</summary>
    public void LoadWeights()
    {
        ReadOnlySpan<T> p = _model.Parameters;
        for (int l = 0; l < _layers; l++)
        {
            for (int d = 0; d < _dirs; d++)
            {
                ref var w = ref _w[(l * _dirs) + d];
                var t = _t[(l * _dirs) + d];
                var wih = Of(p, t.Wih);
                var whh = Of(p, t.Whh);
                int inSize = _model.Spec.LayerInputSize(l);
                Gemm<T>.PackB(w.WihT, wih, inSize, _inputMap[l], _gateMap, transposed: true);
                Gemm<T>.PackB(w.WhhT, whh, _h, _hiddenMap, _gateMap1, transposed: true);
                var bu = t.B2 is null ? default : Of(p, t.B2);
                _cell.PrepareBias(Of(p, t.Bih), Of(p, t.Bhh), bu, _h, _hp, new Span<T>(w.Bias, _cell.BiasBlocks * _hp));
                if (_training)
                {
                    Gemm<T>.PackB(w.Wih, wih, inSize, _gateMap, _inputMap[l], transposed: false);
                    Gemm<T>.PackB(w.Whh, whh, _h, _gateMap1, _hiddenMap, transposed: false);
                }

                if (t.W2 is not null)
                {
                    var w2 = Of(p, t.W2);
                    Gemm<T>.PackB(w.W2T, w2, _h, _hiddenMap, _phase2Map, transposed: true);
                    if (_training)
                    {
                        Gemm<T>.PackB(w.W2, w2, _h, _phase2Map, _hiddenMap, transposed: false);
                    }
                }
            }
        }

        static ReadOnlySpan<T> Of(ReadOnlySpan<T> all, ParameterLayout.Tensor t) => all.Slice(t.Offset, t.Length);
    }

    /// <summary>
    /// Runs all layers over <paramref name="steps"/> steps. Arguments are trusted (the sessions check them).
    /// h0/c0 are read before hN/cN are written for the same layer, so they may be the same memory.
    /// </summary>
    public void Forward(ReadOnlySpan<T> input, int batch, int steps, Span<T> output,
        ReadOnlySpan<T> h0, ReadOnlySpan<T> c0, Span<T> hN, Span<T> cN, ReadOnlySpan<int> lengths)
    {
        SetBatch(batch, steps, lengths);
        GatherInput(input);
        for (int l = 0; l < _layers; l++)
        {
            T* x = l == 0 ? _xtm : Y(l - 1);
            int k = _inputMap[l].Length;
            for (int d = 0; d < _dirs; d++)
            {
                ForwardDirection(l, d, x, k, h0, c0, hN, cN);
            }
        }

        if (!output.IsEmpty)
        {
            Scatter(Y(_layers - 1), _dirs * _hp, output, _dirs * _h, _hp, _h, _dirs);
        }
    }

    /// <summary>Backpropagates the last <see cref="Forward"/>; adds into <paramref name="grads"/> (the flat PyTorch layout).</summary>
    public void Backward(ReadOnlySpan<T> dOutput, Span<T> dInput, ReadOnlySpan<T> dhN, ReadOnlySpan<T> dcN,
        Span<T> dh0, Span<T> dc0, Span<T> grads)
    {
        T* dy = _dy0, below = _dy1;
        Gather(dOutput, _dirs * _h, dy, _dirs * _hp, _hp, _h, _dirs);
        for (int l = _layers - 1; l >= 0; l--)
        {
            T* x = l == 0 ? _xtm : Y(l - 1);
            T* dx = l == 0 ? _dxtm : below;
            int k = _inputMap[l].Length;
            for (int d = 0; d < _dirs; d++)
            {
                BackwardDirection(l, d, dy, x, k, dx, dhN, dcN, dh0, dc0, grads);
            }

            T* done = dy;
            dy = below;
            below = done;
        }

        if (!dInput.IsEmpty)
        {
            int i = _model.Spec.InputSize;
            Scatter(_dxtm, i, dInput, i, i, i, 1);
        }
    }

    private void ForwardDirection(int l, int d, T* x, int k, ReadOnlySpan<T> h0, ReadOnlySpan<T> c0, Span<T> hN, Span<T> cN)
    {
        ref readonly var w = ref _w[(l * _dirs) + d];
        ref readonly var sl = ref SlotOf(l, d);
        bool split = SplitByUnits();
        if (!split)
        {
            Multiply(_steps * _batch, _gw, k, new MatA<T>(x, k), MatB<T>.FromPacked(w.WihT), sl.Gx, _gw, false);
        }

        LoadState(h0, c0, l, d, 0, _batch, _h0, _c0);
        if (d == 0 || split)
        {
            // The forward direction starts every sequence from block 0; the reverse one, split (sequences all of
            // full length), from block T. Ragged reverse rows start later and get their state in the row loop.
            long start = d == 0 ? 0 : (long)_steps * _batch * _hp;
            Copy(_h0, sl.S + start, _batch * _hp);
            if (_cell.HasCellState)
            {
                Copy(_c0, sl.C + start, _batch * _hp);
            }
        }

        (_layer, _dir, _k) = (l, d, k);
        _x = x;
        if (split)
        {
            _pool.Run(_forwardUnits);
        }
        else
        {
            RunRows(_forwardRows);
        }

        StoreState(hN, cN, l, d, sl);
    }

    /// <summary>
    /// Sequences all of full length and threads to spare: each step is split over the cores instead of the batch — the
    /// recurrent product by column panels (each core keeps its share of W_hh in its own cache), the fused pass by
    /// hidden units. Better than a block of rows per core even for large batches, where no step needs a barrier:
    /// a half-height product runs less efficient tiles (8 rows: 67 against 84 GFLOP/s at 16) and both cores would
    /// stream all of W_hh (measured at 2 threads, B=16 T=50 H=512: 1.16 → 1.08 × ONNX Runtime's time). Worth it for
    /// sequences from 256 hidden units (at 128 and batch 1 the barriers cost more than the split saves); for a single
    /// streaming step, whose input projection is a weight-bound product too, from 128 (measured: 7.6 → 5.0 µs; at 64
    /// the synchronisation alone costs 2 µs, as much as the whole step on one core).
    /// </summary>
    private bool SplitByUnits() =>
        _pool.Count > 1 && _active[_steps - 1] == _batch
        && _hp / Vector256<T>.Count >= _pool.Count && Gemm<T>.Panels(_hp) >= _pool.Count && _hp >= (_steps == 1 ? 128 : 256);

    /// <summary>The forward loop of full-length sequences, this thread's share of every step; barriers between phases.</summary>
    private void ForwardUnits(int thread, int threads)
    {
        int l = _layer, d = _dir, steps = _steps, b = _batch, hp = _hp, stride = _dirs * hp, nr = Gemm<T>.NR, vw = Vector256<T>.Count;
        ref readonly var w = ref _w[(l * _dirs) + d];
        ref readonly var sl = ref SlotOf(l, d);
        ref readonly var scratch = ref _scratch[thread];
        bool rev = d == 1;
        int chunks = hp / vw, u0 = chunks * thread / threads * vw, u1 = chunks * (thread + 1) / threads * vw;
        (int j0, int j1) = Share(_g1w);
        (int k0, int k1) = Share(hp);
        (int g0, int g1) = Share(_gw);

        // The input projection too, by column panels: no separate dispatch, and the first step's barrier covers it.
        Gemm<T>.Multiply(steps * b, g1 - g0, _k, new MatA<T>(_x, _k), MatB<T>.FromPacked(w.WihT + ((long)(g0 / nr) * _k * nr)), sl.Gx + g0, _gw, false, scratch);
        T* y = Y(l) + (d * hp);
        for (int s = 0; s < steps; s++)
        {
            int t = rev ? steps - 1 - s : s;
            var a = StepAt(sl, w, t, rev ? t + 1 : t, rev ? t : t + 1, 0, b);
            Gemm<T>.Multiply(b, j1 - j0, hp, new MatA<T>(a.HPrev, hp), MatB<T>.FromPacked(w.WhhT + ((long)(j0 / nr) * hp * nr)), a.Gh + j0, _g1w, false, scratch);
            _barrier.SignalAndWait();
            var mine = Units(a, u0, u1);
            _cell.Forward1(mine);
            if (_two is not null)
            {
                _barrier.SignalAndWait();
                Gemm<T>.Multiply(b, k1 - k0, hp, new MatA<T>(a.Aux, _auxW), MatB<T>.FromPacked(w.W2T + ((long)(k0 / nr) * hp * nr)), a.G2 + k0, hp, false, scratch);
                _barrier.SignalAndWait();
                _two.Forward2(mine);
            }

            for (int p = 0; p < b; p++)
            {
                Copy(a.H + ((long)p * hp) + u0, y + ((((long)t * b) + p) * stride) + u0, u1 - u0);
            }

            _barrier.SignalAndWait();
        }

        (int, int) Share(int n)
        {
            int panels = Gemm<T>.Panels(n);
            return (panels * thread / threads * nr, Math.Min(n, panels * (thread + 1) / threads * nr));
        }
    }

    /// <summary>The step's arguments narrowed to hidden units [u0, u1).</summary>
    private static StepArgs<T> Units(StepArgs<T> a, int u0, int u1)
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
        return a;
    }

    /// <summary>
    /// The forward time loop over batch rows [r0, r1): rows are independent through time, so each thread runs its own
    /// block of rows over the whole sequence without synchronising with the others.
    /// </summary>
    private void ForwardRows(int r0, int r1, in GemmScratch<T> scratch)
    {
        int l = _layer, d = _dir, b = _batch, steps = _steps, hp = _hp, stride = _dirs * hp, rows = r1 - r0;
        ref readonly var w = ref _w[(l * _dirs) + d];
        ref readonly var sl = ref SlotOf(l, d);
        bool rev = d == 1;
        long block = (long)b * hp;
        T* y = Y(l) + (d * hp);
        for (int s = 0; s < steps; s++)
        {
            int t = rev ? steps - 1 - s : s;
            int nb = Live(t, r0, rows);
            int prev = rev ? t + 1 : t, cur = rev ? t : t + 1;
            if (rev)
            {
                // Sequences whose last step is t start here, from their initial state.
                int from = Live(t + 1, r0, rows);
                Copy(_h0 + ((long)(r0 + from) * hp), sl.S + (prev * block) + ((long)(r0 + from) * hp), (nb - from) * hp);
                if (_cell.HasCellState)
                {
                    Copy(_c0 + ((long)(r0 + from) * hp), sl.C + (prev * block) + ((long)(r0 + from) * hp), (nb - from) * hp);
                }
            }

            var a = StepAt(sl, w, t, prev, cur, r0, nb);
            T* yt = y + ((((long)t * b) + r0) * stride);
            if (nb > 0)
            {
                Gemm<T>.Multiply(nb, _g1w, hp, new MatA<T>(a.HPrev, hp), MatB<T>.FromPacked(w.WhhT), a.Gh, _g1w, false, scratch);
                _cell.Forward1(a);
                if (_two is not null)
                {
                    Gemm<T>.Multiply(nb, hp, hp, new MatA<T>(a.Aux, _auxW), MatB<T>.FromPacked(w.W2T), a.G2, hp, false, scratch);
                    _two.Forward2(a);
                }

                for (int p = 0; p < nb; p++)
                {
                    Copy(a.H + ((long)p * hp), yt + ((long)p * stride), hp);
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
                if (_training && _auxW > 0)
                {
                    new Span<T>(a.Aux + ((long)nb * _auxW), (rows - nb) * _auxW).Clear();
                }
            }
        }
    }

    private void BackwardDirection(int l, int d, T* dy, T* x, int k, T* dx, ReadOnlySpan<T> dhN, ReadOnlySpan<T> dcN,
        Span<T> dh0, Span<T> dc0, Span<T> grads)
    {
        ref readonly var w = ref _w[(l * _dirs) + d];
        ref readonly var sl = ref SlotOf(l, d);
        ref readonly var g = ref _grads[d];
        int b = _batch, hp = _hp, m = _steps * b;
        int ldgh = _cell.SeparateRecurrentGradient ? _g1w : _gw;
        LoadState(dhN, dcN, l, d, 0, b, g.DH, g.DC);
        (_layer, _dir) = (l, d);
        _dy = dy;
        RunRows(_backwardRows);
        StoreRows(dh0, dc0, l, d, 0, b, _dh0, _dc0);

        var names = _t[(l * _dirs) + d];
        int inSize = _model.Spec.LayerInputSize(l);
        Multiply(_gw, k, m, new MatA<T>(g.DGx, _gw, transposed: true), MatB<T>.RowMajor(x, k), _dw, k, false);
        ScatterAdd(_dw, k, _gateMap, _inputMap[l], grads, names.Wih, inSize);
        ColumnSums(g.DGx, m, _gw, _gw);
        ScatterAdd(_db, 1, _gateMap, SingleColumn, grads, names.Bih, 1);

        T* dgh = _cell.SeparateRecurrentGradient ? g.DGh : g.DGx;
        T* hPrev = sl.S + (d == 1 ? (long)b * hp : 0);
        Multiply(_g1w, hp, m, new MatA<T>(dgh, ldgh, transposed: true), MatB<T>.RowMajor(hPrev, hp), _dw, hp, false);
        ScatterAdd(_dw, hp, _gateMap1, _hiddenMap, grads, names.Whh, _h);
        ColumnSums(dgh, m, ldgh, _g1w);
        ScatterAdd(_db, 1, _gateMap1, SingleColumn, grads, names.Bhh, 1);

        if (names.W2 is not null && names.B2 is not null)
        {
            Multiply(hp, hp, m, new MatA<T>(g.DG2, hp, transposed: true), MatB<T>.RowMajor(sl.Aux, _auxW), _dw, hp, false);
            ScatterAdd(_dw, hp, _phase2Map, _hiddenMap, grads, names.W2, _h);
            ColumnSums(g.DG2, m, hp, hp);
            ScatterAdd(_db, 1, _phase2Map, SingleColumn, grads, names.B2, 1);
        }

        Multiply(m, k, _gw, new MatA<T>(g.DGx, _gw), MatB<T>.FromPacked(w.Wih), dx, k, d > 0);
    }

    /// <summary>The backward time loop over batch rows [r0, r1), independent of the other rows like the forward.</summary>
    private void BackwardRows(int r0, int r1, in GemmScratch<T> scratch)
    {
        int l = _layer, d = _dir, b = _batch, steps = _steps, hp = _hp, stride = _dirs * hp, rows = r1 - r0;
        ref readonly var w = ref _w[(l * _dirs) + d];
        ref readonly var sl = ref SlotOf(l, d);
        ref readonly var g = ref _grads[d];
        int ldgh = _cell.SeparateRecurrentGradient ? _g1w : _gw;
        bool rev = d == 1;
        T* dh = g.DH + ((long)r0 * hp), dc = g.DC + ((long)r0 * hp);
        for (int s = 0; s < steps; s++)
        {
            int t = rev ? s : steps - 1 - s;
            int nb = Live(t, r0, rows);
            T* dyt = _dy + ((((long)t * b) + r0) * stride) + (d * hp);
            for (int p = 0; p < nb; p++)
            {
                Add(dyt + ((long)p * stride), dh + ((long)p * hp), hp);
            }

            var a = StepAt(sl, w, t, rev ? t + 1 : t, rev ? t : t + 1, r0, nb);
            long row = ((long)t * b) + r0;
            a.DH = dh;
            a.DC = dc;
            a.DGx = g.DGx + (row * _gw);
            a.DGh = _cell.SeparateRecurrentGradient ? g.DGh + (row * _g1w) : a.DGx;
            a.DG2 = g.DG2 + (row * hp);
            a.DM = _dm + ((long)r0 * hp);
            if (nb > 0)
            {
                if (_two is not null)
                {
                    _two.Backward2(a);
                    Gemm<T>.Multiply(nb, hp, hp, new MatA<T>(a.DG2, hp), MatB<T>.FromPacked(w.W2), a.DM, hp, false, scratch);
                }

                _cell.Backward1(a);
                Gemm<T>.Multiply(nb, hp, _g1w, new MatA<T>(a.DGh, ldgh), MatB<T>.FromPacked(w.Whh), dh, hp, _cell.HasDirectHiddenGradient, scratch);
            }

            if (nb < rows)
            {
                new Span<T>(a.DGx + ((long)nb * _gw), (rows - nb) * _gw).Clear();
                if (_cell.SeparateRecurrentGradient)
                {
                    new Span<T>(a.DGh + ((long)nb * _g1w), (rows - nb) * _g1w).Clear();
                }

                if (_two is not null)
                {
                    new Span<T>(a.DG2 + ((long)nb * hp), (rows - nb) * hp).Clear();
                }
            }

            if (rev)
            {
                // Sequences whose last step is t end here: what flows into their initial state is final.
                int from = Live(t + 1, r0, rows);
                Copy(dh + ((long)from * hp), _dh0 + ((long)(r0 + from) * hp), (nb - from) * hp);
                Copy(dc + ((long)from * hp), _dc0 + ((long)(r0 + from) * hp), (nb - from) * hp);
            }
        }

        if (!rev)
        {
            Copy(dh, _dh0 + ((long)r0 * hp), rows * hp);
            Copy(dc, _dc0 + ((long)r0 * hp), rows * hp);
        }
    }

    /// <summary>Rows of [r0, r0 + rows) still inside their sequence at step t (a prefix: the batch is sorted by length).</summary>
    private int Live(int t, int r0, int rows) => Math.Clamp(_active[t] - r0, 0, rows);

    /// <summary>Splits the batch rows into one contiguous block per thread.</summary>
    private void RunRows(RowsJob job)
    {
        if (_pool.Count == 1 || _batch < 2)
        {
            job.Execute(0, 1);
        }
        else
        {
            _pool.Run(job);
        }
    }

    /// <summary>A GEMM over the session's threads: each takes a block of rows or columns (whichever is larger).</summary>
    private void Multiply(int m, int n, int k, in MatA<T> a, in MatB<T> b, T* c, int ldc, bool accumulate)
    {
        if (_pool.Count == 1 || (long)m * n * k < 1 << 18)
        {
            Gemm<T>.Multiply(m, n, k, a, b, c, ldc, accumulate, _scratch[0]);
            return;
        }

        _gemm.Set(m, n, k, a, b, c, ldc, accumulate);
        _pool.Run(_gemm);
    }

    private static void Copy(T* src, T* dst, long n)
    {
        if (n > 0)
        {
            new ReadOnlySpan<T>(src, (int)n).CopyTo(new Span<T>(dst, (int)n));
        }
    }

    private StepArgs<T> StepAt(in Slot sl, in Weights w, int t, int prev, int cur, int r0, int rows)
    {
        long block = (long)_batch * _hp, r = r0, row = ((long)t * _batch) + r0;
        return new StepArgs<T>
        {
            Rows = rows,
            Hp = _hp,
            Width = _hp,
            Gx = sl.Gx + (row * _gw),
            LdGx = _gw,
            Gh = _gh + (r * _g1w),
            LdGh = _g1w,
            G2 = _g2 + (r * _hp),
            Bias = w.Bias,
            HPrev = sl.S + (prev * block) + (r * _hp),
            H = sl.S + (cur * block) + (r * _hp),
            CPrev = sl.C + (prev * block) + (r * _hp),
            C = sl.C + (cur * block) + (r * _hp),
            Aux = _training ? sl.Aux + (row * _auxW) : sl.Aux + (r * _auxW),
            LdAux = _auxW,
        };
    }

    private void SetBatch(int batch, int steps, ReadOnlySpan<int> lengths)
    {
        _batch = batch;
        _steps = steps;
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

    private void GatherInput(ReadOnlySpan<T> input)
    {
        int i = _model.Spec.InputSize;
        Gather(input, i, _xtm, i, i, i, 1);
    }

    /// <summary>
    /// Batch-first user tensor [B, T, parts·width] → time-major internal rows of <paramref name="ldDst"/>, sorted
    /// batch, each part padded to <paramref name="partStride"/>; steps past a sequence's length become zero.
    /// </summary>
    private void Gather(ReadOnlySpan<T> src, int ldSrc, T* dst, int ldDst, int partStride, int width, int parts)
    {
        int b = _batch, steps = _steps;
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
    private void Scatter(T* src, int ldSrc, Span<T> dst, int ldDst, int partStride, int width, int parts)
    {
        int b = _batch, steps = _steps;
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

    /// <summary>Copies state rows [p0, p1) of layer l, direction d from the user's [L·D, B, H] tensors (zero when empty).</summary>
    private void LoadState(ReadOnlySpan<T> h, ReadOnlySpan<T> c, int l, int d, int p0, int p1, T* hDst, T* cDst)
    {
        LoadRows(h, l, d, p0, p1, hDst);
        if (_cell.HasCellState)
        {
            LoadRows(c, l, d, p0, p1, cDst);
        }
    }

    private void LoadRows(ReadOnlySpan<T> src, int l, int d, int p0, int p1, T* dst)
    {
        for (int p = p0; p < p1; p++)
        {
            var row = new Span<T>(dst + ((long)p * _hp), _hp);
            row.Clear();
            if (!src.IsEmpty)
            {
                src.Slice(StateOffset(l, d, _order[p]), _h).CopyTo(row);
            }
        }
    }

    private void StoreState(Span<T> hN, Span<T> cN, int l, int d, in Slot sl)
    {
        long block = (long)_batch * _hp;
        for (int p = 0; p < _batch; p++)
        {
            long at = (d == 1 ? 0 : _len[p] * block) + ((long)p * _hp);
            int o = StateOffset(l, d, _order[p]);
            if (!hN.IsEmpty)
            {
                new ReadOnlySpan<T>(sl.S + at, _h).CopyTo(hN.Slice(o, _h));
            }

            if (!cN.IsEmpty)
            {
                new ReadOnlySpan<T>(sl.C + at, _h).CopyTo(cN.Slice(o, _h));
            }
        }
    }

    private void StoreRows(Span<T> h, Span<T> c, int l, int d, int p0, int p1, T* hSrc, T* cSrc)
    {
        for (int p = p0; p < p1; p++)
        {
            int o = StateOffset(l, d, _order[p]);
            if (!h.IsEmpty)
            {
                new ReadOnlySpan<T>(hSrc + ((long)p * _hp), _h).CopyTo(h.Slice(o, _h));
            }

            if (!c.IsEmpty)
            {
                new ReadOnlySpan<T>(cSrc + ((long)p * _hp), _h).CopyTo(c.Slice(o, _h));
            }
        }
    }

    private int StateOffset(int l, int d, int b) => ((((l * _dirs) + d) * _batch) + b) * _h;

    private void ColumnSums(T* src, int rows, int ld, int cols)
    {
        var sum = new Span<T>(_db, cols);
        sum.Clear();
        for (int r = 0; r < rows; r++)
        {
            Add(src + ((long)r * ld), _db, cols);
        }
    }

    /// <summary>dst[i] += src[i] for a length that is a multiple of the vector width.</summary>
    private static void Add(T* src, T* dst, int n)
    {
        for (int j = 0; j < n; j += Vector256<T>.Count)
        {
            (Vector256.Load(dst + j) + Vector256.Load(src + j)).Store(dst + j);
        }
    }

    /// <summary>Adds an internal padded [rows × cols] result into a PyTorch tensor through the index maps.</summary>
    private static void ScatterAdd(T* src, int ld, int[] rowMap, int[] colMap, Span<T> grads, ParameterLayout.Tensor tensor, int tensorLd)
    {
        var dst = grads.Slice(tensor.Offset, tensor.Length);
        for (int r = 0; r < rowMap.Length; r++)
        {
            int row = rowMap[r];
            if (row < 0)
            {
                continue;
            }

            T* s = src + ((long)r * ld);
            for (int c = 0; c < colMap.Length; c++)
            {
                int col = colMap[c];
                if (col >= 0)
                {
                    dst[(row * tensorLd) + col] += s[c];
                }
            }
        }
    }

    private T* Y(int layer) => (T*)_y[_training ? layer : layer % 2];

    private ref Slot SlotOf(int l, int d) => ref _slots[_training ? (l * _dirs) + d : d];

    private int[] GateMap(int gates, int firstBlock)
    {
        var map = new int[gates * _hp];
        for (int n = 0; n < map.Length; n++)
        {
            int j = n % _hp;
            map[n] = j < _h ? ((firstBlock + (n / _hp)) * _h) + j : -1;
        }

        return map;
    }

    private static int[] Concat(int parts, int[] map, int width)
    {
        var all = new int[parts * map.Length];
        for (int q = 0; q < parts; q++)
        {
            for (int n = 0; n < map.Length; n++)
            {
                all[(q * map.Length) + n] = map[n] < 0 ? -1 : (q * width) + map[n];
            }
        }

        return all;
    }

    private static int RoundUp(int n, int m) => (n + m - 1) / m * m;

    private void Carve(ref Workspace<T>.Carver c, out T* xtm, out T* gh, out T* g2, out T* dm, out T* dy0, out T* dy1,
        out T* dxtm, out T* dw, out T* db, out T* h0, out T* c0, out T* dh0, out T* dc0)
    {
        long b = _maxB, steps = _maxT, hp = _hp, m = steps * b;
        int inSize = _model.Spec.InputSize, yWidth = _dirs * _hp;
        bool two = _two is not null, hasC = _cell.HasCellState;
        int maxK = Math.Max(inSize, _layers > 1 ? yWidth : 0);
        for (int l = 0; l < _layers; l++)
        {
            for (int d = 0; d < _dirs; d++)
            {
                int k = l == 0 ? inSize : yWidth;
                ref var w = ref _w[(l * _dirs) + d];
                w.WihT = c.Take(Gemm<T>.PackedLength(k, _gw));
                w.WhhT = c.Take(Gemm<T>.PackedLength(_hp, _g1w));
                w.Bias = c.Take(_cell.BiasBlocks * hp);
                w.W2T = two ? c.Take(Gemm<T>.PackedLength(_hp, _hp)) : null;
                w.Wih = _training ? c.Take(Gemm<T>.PackedLength(_gw, k)) : null;
                w.Whh = _training ? c.Take(Gemm<T>.PackedLength(_g1w, _hp)) : null;
                w.W2 = _training && two ? c.Take(Gemm<T>.PackedLength(_hp, _hp)) : null;
            }
        }

        for (int i = 0; i < _slots.Length; i++)
        {
            ref var s = ref _slots[i];
            s.Gx = c.Take(m * _gw);
            s.S = c.Take((steps + 1) * b * hp);
            s.C = hasC ? c.Take((steps + 1) * b * hp) : null;
            s.Aux = _auxW > 0 ? c.Take((_training ? m : b) * _auxW) : null;
        }

        for (int i = 0; i < _y.Length; i++)
        {
            _y[i] = (nint)c.Take(m * yWidth);
        }

        xtm = c.Take(m * inSize);
        gh = c.Take(b * _g1w);
        g2 = two ? c.Take(b * hp) : null;
        for (int i = 0; i < _grads.Length; i++)
        {
            ref var g = ref _grads[i];
            g.DGx = c.Take(m * _gw);
            g.DGh = _cell.SeparateRecurrentGradient ? c.Take(m * _g1w) : null;
            g.DG2 = two ? c.Take(m * hp) : null;
            g.DH = c.Take(b * hp);
            g.DC = c.Take(b * hp);
        }

        dm = _training && two ? c.Take(b * hp) : null;
        dy0 = _training ? c.Take(m * yWidth) : null;
        dy1 = _training ? c.Take(m * yWidth) : null;
        dxtm = _training ? c.Take(m * inSize) : null;
        dw = _training ? c.Take(Math.Max((long)_gw * maxK, (long)Math.Max(_g1w, _hp) * _hp)) : null;
        db = _training ? c.Take(_gw) : null;
        h0 = c.Take(b * hp);
        c0 = c.Take(b * hp);
        dh0 = _training ? c.Take(b * hp) : null;
        dc0 = _training ? c.Take(b * hp) : null;
        for (int i = 0; i < _scratch.Length; i++)
        {
            _scratch[i] = new GemmScratch<T>(
                c.Take(Gemm<T>.ScratchALength),
                _training ? c.Take(Gemm<T>.ScratchBLength(Math.Max(maxK, _hp))) : null,
                c.Take(Gemm<T>.EdgeLength));
        }
    }

    /// <summary>The forward or backward time loop, one contiguous block of batch rows per thread.</summary>
    private sealed class RowsJob(Engine<T> engine, bool backward) : IParallelJob
    {
        public void Execute(int thread, int threads)
        {
            int b = engine._batch, r0 = b * thread / threads, r1 = b * (thread + 1) / threads;
            if (r1 > r0)
            {
                if (backward)
                {
                    engine.BackwardRows(r0, r1, engine._scratch[thread]);
                }
                else
                {
                    engine.ForwardRows(r0, r1, engine._scratch[thread]);
                }
            }
        }
    }

    /// <summary>A forward loop with every step split over the threads (see <see cref="SplitByUnits"/>).</summary>
    private sealed class UnitsJob(Engine<T> engine) : IParallelJob
    {
        public void Execute(int thread, int threads) => engine.ForwardUnits(thread, threads);
    }

    /// <summary>One GEMM split over the threads by blocks of rows (whole micro-panels) or of columns (whole B panels).</summary>
    private sealed class GemmJob(Engine<T> engine) : IParallelJob
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
            if (_m >= _n)
            {
                int units = (_m + Gemm<T>.MR - 1) / Gemm<T>.MR;
                int i0 = units * thread / threads * Gemm<T>.MR, i1 = Math.Min(_m, units * (thread + 1) / threads * Gemm<T>.MR);
                if (i1 > i0)
                {
                    var a = _a.Transposed ? new MatA<T>(_a.Ptr + i0, _a.Ld, true) : new MatA<T>(_a.Ptr + ((long)i0 * _a.Ld), _a.Ld);
                    Gemm<T>.Multiply(i1 - i0, _n, _k, a, _b, _c + ((long)i0 * _ldc), _ldc, _accumulate, engine._scratch[thread]);
                }
            }
            else
            {
                int nr = Gemm<T>.NR, units = Gemm<T>.Panels(_n);
                int p0 = units * thread / threads, p1 = units * (thread + 1) / threads;
                int j0 = p0 * nr, j1 = Math.Min(_n, p1 * nr);
                if (j1 > j0)
                {
                    var b = _b.Packed ? MatB<T>.FromPacked(_b.Ptr + ((long)p0 * _k * nr)) : MatB<T>.RowMajor(_b.Ptr + j0, _b.Ld);
                    Gemm<T>.Multiply(_m, j1 - j0, _k, _a, b, _c + j0, _ldc, _accumulate, engine._scratch[thread]);
                }
            }
        }
    }

    /// <summary>Packed GEMM operands and prepared bias of one layer and direction.</summary>
    private struct Weights
    {
        public T* WihT, WhhT, W2T, Bias;
        public T* Wih, Whh, W2;
    }

    /// <summary>What one layer and direction computes in forward: gates, states, aux.</summary>
    private struct Slot
    {
        public T* Gx, S, C, Aux;
    }

    /// <summary>The PyTorch tensors of one layer and direction (W2/B2: the phase-2 matrix and bias, if any).</summary>
    private sealed record Tensors(ParameterLayout.Tensor Wih, ParameterLayout.Tensor Whh, ParameterLayout.Tensor Bih,
        ParameterLayout.Tensor Bhh, ParameterLayout.Tensor? W2, ParameterLayout.Tensor? B2);

    /// <summary>Backward buffers of one direction.</summary>
    private struct Grad
    {
        public T* DGx, DGh, DG2, DH, DC;
    }
}
