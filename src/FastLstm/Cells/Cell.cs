using System.Numerics;
using System.Runtime.CompilerServices;
using FastLstm.Kernels;

namespace FastLstm.Cells;

/// <summary>
/// Everything about one cell type, in one place: its gates, its state, the tensors it adds to PyTorch's four, how its
/// step splits into GEMMs and pointwise passes, its naive twin (the equations as written) and its fused SIMD kernels
/// (<see cref="Fused{T, TV}"/>), forward and backward side by side. Everything else — parameter layout, model files,
/// the sequence driver, the naive runner — asks the descriptor instead of knowing cell types.
/// <para>The sequence driver runs per step: the recurrent GEMM over the first <see cref="RecurrentGates"/> gate blocks of
/// W_hh, then <see cref="FusedCell{T}.Forward1"/>; two-phase cells (<see cref="Phase2"/> set) then get a second GEMM with
/// a square [H, H] matrix and <see cref="FusedCell{T}.Forward2"/>. Backward runs the mirror image.</para>
/// </summary>
internal abstract class Cell
{
    /// <summary>Gate blocks in W_ih (G).</summary>
    public abstract int Gates { get; }

    /// <summary>
    /// For each PyTorch gate block, the block of the ONNX operator's W / R / B holding the same gate (ONNX stacks the LSTM's
    /// as i, o, f, c and the GRU's as z, r, h); null for a cell with no ONNX operator. ONNX import and export read it here.
    /// </summary>
    public virtual int[]? OnnxGateBlocks => null;

    /// <summary>Leading gate blocks of W_hh multiplied by h_{t-1} in the per-step GEMM (G1).</summary>
    public virtual int RecurrentGates => Gates;

    public virtual bool HasCellState => false;

    /// <summary>Tensors of each layer and direction beyond weight_ih, weight_hh, bias_ih, bias_hh, in PyTorch order.</summary>
    public virtual IReadOnlyList<ExtraTensor> ExtraTensors => [];

    /// <summary>For two-phase cells, the tensors holding the phase-2 matrix and bias and the gate block where it starts in them.</summary>
    public virtual (string Weight, string Bias, int Block)? Phase2 => null;

    /// <summary>
    /// Extra [H] tensors multiplied elementwise with a cell state and added to a gate's pre-activation (LSTM peepholes):
    /// their gradients are Σ over steps and rows of ∂L/∂(that pre-activation) ⊙ (that state), added after the loop.
    /// </summary>
    public virtual IReadOnlyList<StateProduct> StateProducts => [];

    /// <summary>Whether ∂L/∂(recurrent pre-activation) differs from ∂L/∂(input pre-activation).</summary>
    public virtual bool SeparateRecurrentGradient => false;

    /// <summary>Whether backward writes a direct term of ∂L/∂h_{t-1} that the recurrent GEMM then adds to.</summary>
    public virtual bool HasDirectHiddenGradient => false;

    /// <summary>
    /// Direction <paramref name="direction"/>'s options as named values, only those away from their defaults: what a model
    /// file stores (<see cref="OptionValue"/> says how each kind of value is written).
    /// </summary>
    public virtual IEnumerable<(string Name, double[] Values)> OptionValues(RnnSpec spec, int direction) => [];

    /// <summary>
    /// <paramref name="spec"/> with direction <paramref name="direction"/>'s options read from named values (the inverse of
    /// <see cref="OptionValues"/>). Throws <see cref="ArgumentException"/> naming a value that is unknown or malformed.
    /// </summary>
    public virtual RnnSpec WithOptionValues(RnnSpec spec, int direction, IEnumerable<(string Name, double[] Values)> values) =>
        values.FirstOrDefault() is { Name: not null } first ? throw OptionValue.Unknown(first.Name, spec.Cell, []) : spec;

    /// <summary>Hp-wide blocks per row in <see cref="StepArgs{T}.Aux"/>.</summary>
    public abstract int AuxBlocks { get; }

    /// <summary>Hp-wide blocks of the prepared bias.</summary>
    public virtual int BiasBlocks => Gates;

    /// <summary>Scalars per step a naive forward keeps for its backward.</summary>
    public abstract int NaiveCacheLength(int hidden);

    /// <summary>
    /// How close a naive step came to a point where the cell is not differentiable (ReLU at 0), from its cache;
    /// finite differences across such a point are meaningless. Smooth cells: +∞.
    /// </summary>
    public virtual double NaiveKinkDistance<T>(ReadOnlySpan<T> cache)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        => double.PositiveInfinity;

    /// <summary>One step of one sequence, the equations as written: plain loops over PyTorch-layout weights.</summary>
    public abstract void NaiveForward<T>(in NaiveWeights<T> w, ReadOnlySpan<T> x, ReadOnlySpan<T> h, ReadOnlySpan<T> c, Span<T> hOut, Span<T> cOut, Span<T> cache)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>;

    /// <summary>
    /// The naive backward of <see cref="NaiveForward"/>: from ∂L/∂h_t and ∂L/∂c_t, adds the weight gradients into
    /// <paramref name="g"/> and writes ∂L/∂x, ∂L/∂h_{t-1}, ∂L/∂c_{t-1}.
    /// </summary>
    public abstract void NaiveBackward<T>(in NaiveWeights<T> w, in NaiveGrads<T> g, ReadOnlySpan<T> x, ReadOnlySpan<T> h, ReadOnlySpan<T> c,
        ReadOnlySpan<T> cache, ReadOnlySpan<T> dhOut, ReadOnlySpan<T> dcOut, Span<T> dx, Span<T> dh, Span<T> dc)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>;

    /// <summary>The cell's fused kernels for element type T at the vector width TV.</summary>
    public abstract FusedCell<T> Fused<T, TV>()
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TV : unmanaged, IVec<TV, T>;

    /// <summary>The fused kernels at <paramref name="bits"/>-bit vectors.</summary>
    public FusedCell<T> Fused<T>(int bits)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        => bits switch
        {
            512 => Fused<T, V512<T>>(),
            256 => Fused<T, V256<T>>(),
            _ => Fused<T, V128<T>>(),
        };

    /// <summary>
    /// The cell direction <paramref name="direction"/> of a spec's layers uses, with that direction's options. When either
    /// direction has non-standard options, both get the general layout (room for what any options save), so the two
    /// directions share one set of structural facts: gates, blocks, caches.
    /// </summary>
    public static Cell For(RnnSpec spec, int direction = 0)
    {
        if (!spec.HasCellOptions)
        {
            return For(spec.Cell);
        }

        return spec.Cell switch
        {
            CellType.Lstm => new LstmCell(spec.LstmOptionsOf(direction), general: true),
            CellType.Gru => new GruCell(spec.GruOptionsOf(direction), general: true),
            CellType.GruResetBefore => new GruResetBeforeCell(spec.GruOptionsOf(direction), general: true),
            _ => new RnnCell(spec.SimpleRnnOptionsOf(direction), spec.Cell == CellType.RnnRelu, general: true),
        };
    }

    public static Cell For(CellType type) => type switch
    {
        CellType.Lstm => LstmCell.Standard,
        CellType.Gru => GruCell.Standard,
        CellType.GruResetBefore => GruResetBeforeCell.Standard,
        CellType.RnnTanh => RnnCell.WithTanh,
        CellType.RnnRelu => RnnCell.WithRelu,
        CellType.SeedLstm => SeedLstmCell.Instance,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, $"type: unknown cell {type}."),
    };

    protected static T Sigmoid<T>(T x)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        => Activations<T>.Sigmoid(x);

    protected static T Tanh<T>(T x)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        => Activations<T>.Tanh(x);

    /// <summary>Σ_k W[row, k] · v[k] for a row-major W with v.Length columns.</summary>
    protected static T Dot<T>(ReadOnlySpan<T> w, int row, ReadOnlySpan<T> v)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        T sum = T.Zero;
        int n = v.Length;
        for (int k = 0; k < n; k++)
        {
            sum += w[(row * n) + k] * v[k];
        }

        return sum;
    }

    /// <summary>
    /// The backward of <c>a = b + Σ_k W[row, k] v[k]</c> for one pre-activation gradient <paramref name="da"/>:
    /// adds into ∂W[row, :] and ∂b[row], and into ∂v.
    /// </summary>
    protected static void AffineBackward<T>(T da, int row, ReadOnlySpan<T> w, ReadOnlySpan<T> v, Span<T> dw, Span<T> db, Span<T> dv)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int n = v.Length;
        db[row] += da;
        for (int k = 0; k < n; k++)
        {
            dw[(row * n) + k] += da * v[k];
            dv[k] += da * w[(row * n) + k];
        }
    }
}

/// <summary>Extra tensor <paramref name="Extra"/> times the state before the step (or after it, <paramref name="NewState"/>) feeds gate block <paramref name="Gate"/>.</summary>
internal sealed record StateProduct(int Extra, int Gate, bool NewState);

/// <summary>A tensor a cell adds to each layer and direction: <c>{Kind}_l{K}[_reverse]</c>, shape [H, H] or [H].</summary>
internal sealed record ExtraTensor(string Kind, bool Square);

/// <summary>
/// A cell's fused SIMD kernels at one vector width: they read and write Hp-wide rows (<see cref="StepArgs{T}"/>) and have
/// no scalar tails, since Hp is a multiple of every width's lane count.
/// </summary>
internal abstract unsafe class FusedCell<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    /// <summary>Writes the bias the fused kernels read, from the PyTorch tensors, padded to Hp per block.</summary>
    public abstract void PrepareBias(ReadOnlySpan<T> parameters, LayerTensors tensors, int h, int hp, Span<T> dst);

    public abstract void Forward1(in StepArgs<T> s);

    public abstract void Backward1(in StepArgs<T> s);

    /// <summary>The pointwise pass after the phase-2 GEMM (two-phase cells only).</summary>
    public virtual void Forward2(in StepArgs<T> s) => throw new InvalidOperationException("a one-phase cell has no phase 2");

    /// <summary>The gradient of <see cref="Forward2"/> (two-phase cells only).</summary>
    public virtual void Backward2(in StepArgs<T> s) => throw new InvalidOperationException("a one-phase cell has no phase 2");

    /// <summary>The tensor <paramref name="t"/> of the flat parameters.</summary>
    protected static ReadOnlySpan<T> Of(ReadOnlySpan<T> parameters, ParameterLayout.Tensor t) => parameters.Slice(t.Offset, t.Length);

    /// <summary>dst[b·hp + j] = src[b·h + j] for each of <paramref name="blocks"/> blocks, padding zero.</summary>
    protected static void PadBlocks(ReadOnlySpan<T> src, int blocks, int h, int hp, Span<T> dst)
    {
        for (int b = 0; b < blocks; b++)
        {
            src.Slice(b * h, h).CopyTo(dst.Slice(b * hp, h));
            dst.Slice((b * hp) + h, hp - h).Clear();
        }
    }

    /// <summary>The GRU (linear_before_reset = 1) bias: b_r and b_z (ih + hh summed), then b_in and b_hn apart.</summary>
    protected static void PrepareGruBias(ReadOnlySpan<T> parameters, LayerTensors tensors, int h, int hp, Span<T> dst)
    {
        ReadOnlySpan<T> bih = Of(parameters, tensors.BiasIh), bhh = Of(parameters, tensors.BiasHh);
        SumBlocks(bih, bhh, 2, h, hp, dst);
        PadBlocks(bih.Slice(2 * h, h), 1, h, hp, dst[(2 * hp)..]);
        PadBlocks(bhh.Slice(2 * h, h), 1, h, hp, dst[(3 * hp)..]);
    }

    /// <summary>dst[b·hp + j] = x[b·h + j] + y[b·h + j] for each of <paramref name="blocks"/> blocks, padding zero.</summary>
    protected static void SumBlocks(ReadOnlySpan<T> x, ReadOnlySpan<T> y, int blocks, int h, int hp, Span<T> dst)
    {
        for (int b = 0; b < blocks; b++)
        {
            System.Numerics.Tensors.TensorPrimitives.Add(x.Slice(b * h, h), y.Slice(b * h, h), dst.Slice(b * hp, h));
            dst.Slice((b * hp) + h, hp - h).Clear();
        }
    }
}

/// <summary>
/// The base of a cell's kernels at one vector width: the loops that apply a gate's activation to a whole block and the
/// slopes its backward reads. Every exponential costs some thirty vector operations, each an inlined call to the JIT; a
/// loop that evaluates four gates' activations and the state update at once exceeds the JIT's inlining budget and keeps
/// calls (and spills) in the loop, so the cells apply each gate's activation in its own loop (<see cref="Gate"/>) and
/// keep at most one transcendental in a combining loop.
/// </summary>
internal abstract unsafe class FusedCell<T, TV> : FusedCell<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
    where TV : unmanaged, IVec<TV, T>
{
    /// <summary>Whether a gate's backward reads its unclipped input (a clip's mask, or a derivative of the input).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    protected static bool KeepsInput<TAct, TClip>()
        where TAct : struct, IActivation<T>
        where TClip : struct, IClip<T>
        => TClip.On || !TAct.SlopeFromOutput;

    /// <summary>
    /// dst[j] = act(clip(a[j] + b[j] + c[j])) for j &lt; n (a multiple of the lane count); dst may be a. The unclipped sum
    /// goes to <paramref name="raw"/> when the backward reads it (<see cref="KeepsInput{TAct, TClip}"/>). One pass for the
    /// activations that run inline; for a block-wise one, the sums first and then its block.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    protected static void Gate<TAct, TClip>(TAct act, TClip clip, T* dst, T* a, T* b, T* c, T* raw, int n)
        where TAct : struct, IActivation<T>
        where TClip : struct, IClip<T>
    {
        bool keep = KeepsInput<TAct, TClip>();
        for (int j = 0; j < n; j += TV.Count)
        {
            var x = TV.Load(a + j) + TV.Load(b + j) + TV.Load(c + j);
            if (keep)
            {
                TV.Store(x, raw + j);
            }

            TV.Store(TAct.Blockwise ? clip.Apply(x) : act.Invoke(clip.Apply(x)), dst + j);
        }

        if (TAct.Blockwise)
        {
            act.Apply<TV>(dst, dst, n);
        }
    }

    /// <summary>dst[j] = act(a[j] + c[j]) for j &lt; n; dst may be a.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    protected static void Activate<TAct>(TAct act, T* dst, T* a, T* c, int n)
        where TAct : struct, IActivation<T>
    {
        for (int j = 0; j < n; j += TV.Count)
        {
            TV.Store(act.Invoke(TV.Load(a + j) + TV.Load(c + j)), dst + j);
        }
    }

    /// <summary>dst[j] += p[j]·s[j] for j &lt; n: a peephole's term in a gate's pre-activation.</summary>
    protected static void AddProduct(T* dst, T* p, T* s, int n)
    {
        for (int j = 0; j < n; j += TV.Count)
        {
            TV.Store(TV.Fma(TV.Load(p + j), TV.Load(s + j), TV.Load(dst + j)), dst + j);
        }
    }

    /// <summary>
    /// For a block-wise activation, the slopes of one gate block — act' at the clipped input times the clip's mask — into
    /// <paramref name="dst"/> ahead of the loop that reads them through <see cref="Slope{TAct, TClip}"/>; nothing for the
    /// others, which <see cref="Slope{TAct, TClip}"/> computes inline. <paramref name="y"/> holds the activations.
    /// </summary>
    protected static void Slopes<TAct, TClip>(TAct act, TClip clip, T* dst, T* raw, T* y, int n)
        where TAct : struct, IActivation<T>
        where TClip : struct, IClip<T>
    {
        if (!TAct.Blockwise)
        {
            return;
        }

        if (!TClip.On)
        {
            act.Slopes<TV>(dst, raw, y, n);
            return;
        }

        for (int j = 0; j < n; j += TV.Count)
        {
            TV.Store(clip.Apply(TV.Load(raw + j)), dst + j);
        }

        act.Slopes<TV>(dst, dst, y, n);
        for (int j = 0; j < n; j += TV.Count)
        {
            TV.Store(TV.Load(dst + j) * clip.Pass(TV.Load(raw + j)), dst + j);
        }
    }

    /// <summary>
    /// The slope of one gate at lanes j: read from <paramref name="slopes"/> for a block-wise activation
    /// (<see cref="Slopes{TAct, TClip}"/>), else act' from the activation <paramref name="y"/> and, where a clip or the
    /// derivative needs it, the unclipped input in <paramref name="raw"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    protected static TV Slope<TAct, TClip>(TAct act, TClip clip, T* slopes, T* raw, TV y, int j)
        where TAct : struct, IActivation<T>
        where TClip : struct, IClip<T>
    {
        if (TAct.Blockwise)
        {
            return TV.Load(slopes + j);
        }

        if (!KeepsInput<TAct, TClip>())
        {
            return act.Derivative(y, y);
        }

        var x = TV.Load(raw + j);
        return act.Derivative(clip.Apply(x), y) * clip.Pass(x);
    }
}

/// <summary>
/// Pointers for one timestep of one direction, over <see cref="Rows"/> active batch rows. Every hidden-sized
/// row is <see cref="Hp"/> wide: the hidden size rounded up to 64 bytes, padding lanes zero, so the
/// fused kernels have no scalar tails at any width. Gate blocks of a row are Hp apart, in the PyTorch gate order.
/// </summary>
internal unsafe struct StepArgs<T>
    where T : unmanaged
{
    public int Rows;

    /// <summary>Row stride of every hidden-sized array and stride between gate blocks.</summary>
    public int Hp;

    /// <summary>Hidden units to process from each pointer (≤ Hp, a multiple of 64 bytes): all of them, or one
    /// thread's share when a step is split over cores.</summary>
    public int Width;

    /// <summary>[Rows, G·Hp], row stride <see cref="LdGx"/>: input projections in; gate activations out.</summary>
    public T* Gx;
    public int LdGx;

    /// <summary>[Rows, G1·Hp]: the recurrent GEMM's result (no bias).</summary>
    public T* Gh;
    public int LdGh;

    /// <summary>[Rows, Hp]: the phase-2 GEMM's result, for two-phase cells.</summary>
    public T* G2;

    /// <summary>The cell's prepared bias (<see cref="FusedCell{T}.PrepareBias"/>).</summary>
    public T* Bias;

    /// <summary>[Rows, Hp]: h and c before and after the step.</summary>
    public T* HPrev;
    public T* CPrev;
    public T* H;
    public T* C;

    /// <summary>[Rows, AuxBlocks·Hp], stride <see cref="LdAux"/>: what backward needs besides gates and states;
    /// for two-phase cells block 0 is the phase-2 GEMM's input.</summary>
    public T* Aux;
    public int LdAux;

    /// <summary>In: ∂L/∂h_t. Out, for cells with a direct path: the direct part of ∂L/∂h_{t-1}.</summary>
    public T* DH;

    /// <summary>In: ∂L/∂c_t. Out: ∂L/∂c_{t-1}.</summary>
    public T* DC;

    /// <summary>Out: ∂L/∂(input pre-activations) [Rows, G·Hp] and ∂L/∂(recurrent pre-activations) [Rows, G1·Hp]
    /// (the same buffer when <see cref="Cell.SeparateRecurrentGradient"/> is false).</summary>
    public T* DGx;
    public T* DGh;

    /// <summary>Out: ∂L/∂(phase-2 pre-activation) [Rows, Hp].</summary>
    public T* DG2;

    /// <summary>In: ∂L/∂(phase-2 GEMM input) [Rows, Hp], from the phase-2 backward GEMM.</summary>
    public T* DM;
}

/// <summary>The PyTorch-layout tensors of one layer and direction, for the naive twins.</summary>
internal readonly ref struct NaiveWeights<T>
{
    private readonly ReadOnlySpan<T> _all;
    private readonly LayerTensors _tensors;

    public NaiveWeights(ReadOnlySpan<T> all, LayerTensors tensors, int inputSize, int hiddenSize)
    {
        _all = all;
        _tensors = tensors;
        InputSize = inputSize;
        HiddenSize = hiddenSize;
    }

    public int InputSize { get; }

    public int HiddenSize { get; }

    public ReadOnlySpan<T> Wih => Of(_tensors.WeightIh);

    public ReadOnlySpan<T> Whh => Of(_tensors.WeightHh);

    public ReadOnlySpan<T> Bih => Of(_tensors.BiasIh);

    public ReadOnlySpan<T> Bhh => Of(_tensors.BiasHh);

    /// <summary>The cell's extra tensor <paramref name="i"/> (<see cref="Cell.ExtraTensors"/>).</summary>
    public ReadOnlySpan<T> Extra(int i) => Of(_tensors.Extra[i]);

    private ReadOnlySpan<T> Of(ParameterLayout.Tensor t) => _all.Slice(t.Offset, t.Length);
}

/// <summary>Gradient tensors matching <see cref="NaiveWeights{T}"/>; the naive backward adds into them.</summary>
internal readonly ref struct NaiveGrads<T>
{
    private readonly Span<T> _all;
    private readonly LayerTensors _tensors;

    public NaiveGrads(Span<T> all, LayerTensors tensors)
    {
        _all = all;
        _tensors = tensors;
    }

    public Span<T> Wih => Of(_tensors.WeightIh);

    public Span<T> Whh => Of(_tensors.WeightHh);

    public Span<T> Bih => Of(_tensors.BiasIh);

    public Span<T> Bhh => Of(_tensors.BiasHh);

    public Span<T> Extra(int i) => Of(_tensors.Extra[i]);

    private Span<T> Of(ParameterLayout.Tensor t) => _all.Slice(t.Offset, t.Length);
}
