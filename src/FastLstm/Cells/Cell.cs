using System.Numerics;

namespace FastLstm.Cells;

/// <summary>
/// Pointers for one timestep of one direction, over <see cref="Rows"/> active batch rows. Every hidden-sized
/// row is <see cref="Hp"/> wide: the hidden size rounded up to the vector width, padding lanes zero, so the
/// fused kernels have no scalar tails. Gate blocks of a row are Hp apart, in the PyTorch gate order.
/// </summary>
internal unsafe struct StepArgs<T>
    where T : unmanaged
{
    public int Rows;

    /// <summary>Row stride of every hidden-sized array and stride between gate blocks.</summary>
    public int Hp;

    /// <summary>Hidden units to process from each pointer (≤ Hp, a multiple of the vector width): all of them, or one
    /// thread's share when a batch-1 step is split over cores.</summary>
    public int Width;

    /// <summary>[Rows, G·Hp], row stride <see cref="LdGx"/>: input projections in; gate activations out.</summary>
    public T* Gx;
    public int LdGx;

    /// <summary>[Rows, G1·Hp]: the recurrent GEMM's result (no bias).</summary>
    public T* Gh;
    public int LdGh;

    /// <summary>[Rows, Hp]: the phase-2 GEMM's result, for two-phase cells.</summary>
    public T* G2;

    /// <summary>The cell's prepared bias (<see cref="Cell{T}.PrepareBias"/>).</summary>
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
    /// (the same buffer when <see cref="Cell{T}.SeparateRecurrentGradient"/> is false).</summary>
    public T* DGx;
    public T* DGh;

    /// <summary>Out: ∂L/∂(phase-2 pre-activation) [Rows, Hp].</summary>
    public T* DG2;

    /// <summary>In: ∂L/∂(phase-2 GEMM input) [Rows, Hp], from the phase-2 backward GEMM.</summary>
    public T* DM;
}

/// <summary>The PyTorch-layout weights of one layer and direction, for the naive twins.</summary>
internal readonly ref struct NaiveWeights<T>
{
    public int InputSize { get; init; }
    public int HiddenSize { get; init; }
    public ReadOnlySpan<T> Wih { get; init; }
    public ReadOnlySpan<T> Whh { get; init; }
    public ReadOnlySpan<T> Bih { get; init; }
    public ReadOnlySpan<T> Bhh { get; init; }
    public ReadOnlySpan<T> Wu { get; init; }
    public ReadOnlySpan<T> Bu { get; init; }
}

/// <summary>Gradient tensors matching <see cref="NaiveWeights{T}"/>; the naive backward adds into them.</summary>
internal readonly ref struct NaiveGrads<T>
{
    public Span<T> Wih { get; init; }
    public Span<T> Whh { get; init; }
    public Span<T> Bih { get; init; }
    public Span<T> Bhh { get; init; }
    public Span<T> Wu { get; init; }
    public Span<T> Bu { get; init; }
}

/// <summary>
/// A recurrent cell: its layout, its fused SIMD kernels and its naive twin, forward and backward side by side.
/// The sequence driver runs per step: the recurrent GEMM over the first <see cref="RecurrentGates"/> gate blocks
/// of W_hh, then <see cref="Forward1"/>; two-phase cells (<see cref="TwoPhaseCell{T}"/>) then get a second
/// GEMM with a square [H, H] matrix and <see cref="TwoPhaseCell{T}.Forward2"/>. Backward runs the mirror image.
/// </summary>
internal abstract unsafe class Cell<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    /// <summary>Gate blocks in W_ih (G).</summary>
    public abstract int Gates { get; }

    /// <summary>Leading gate blocks of W_hh multiplied by h_{t-1} in the per-step GEMM (G1).</summary>
    public virtual int RecurrentGates => Gates;

    public virtual bool HasCellState => false;

    /// <summary>Whether ∂L/∂(recurrent pre-activation) differs from ∂L/∂(input pre-activation).</summary>
    public virtual bool SeparateRecurrentGradient => false;

    /// <summary>Whether backward writes a direct term of ∂L/∂h_{t-1} that the recurrent GEMM then adds to.</summary>
    public virtual bool HasDirectHiddenGradient => false;

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
    public virtual double NaiveKinkDistance(ReadOnlySpan<T> cache) => double.PositiveInfinity;

    /// <summary>Writes the bias the fused kernels read, from the PyTorch tensors, padded to Hp per block.</summary>
    public abstract void PrepareBias(ReadOnlySpan<T> bih, ReadOnlySpan<T> bhh, ReadOnlySpan<T> bu, int h, int hp, Span<T> dst);

    public abstract void Forward1(in StepArgs<T> s);

    public abstract void Backward1(in StepArgs<T> s);

    /// <summary>One step of one sequence, the equations as written: plain loops over PyTorch-layout weights.</summary>
    public abstract void NaiveForward(in NaiveWeights<T> w, ReadOnlySpan<T> x, ReadOnlySpan<T> h, ReadOnlySpan<T> c, Span<T> hOut, Span<T> cOut, Span<T> cache);

    /// <summary>
    /// The naive backward of <see cref="NaiveForward"/>: from ∂L/∂h_t and ∂L/∂c_t, adds the weight gradients into
    /// <paramref name="g"/> and writes ∂L/∂x, ∂L/∂h_{t-1}, ∂L/∂c_{t-1}.
    /// </summary>
    public abstract void NaiveBackward(in NaiveWeights<T> w, in NaiveGrads<T> g, ReadOnlySpan<T> x, ReadOnlySpan<T> h, ReadOnlySpan<T> c,
        ReadOnlySpan<T> cache, ReadOnlySpan<T> dhOut, ReadOnlySpan<T> dcOut, Span<T> dx, Span<T> dh, Span<T> dc);

    public static Cell<T> For(CellType type) => type switch
    {
        CellType.Lstm => LstmCell<T>.Instance,
        CellType.Gru => GruCell<T>.Instance,
        CellType.GruResetBefore => GruResetBeforeCell<T>.Instance,
        CellType.RnnTanh => RnnCell<T>.Tanh,
        CellType.RnnRelu => RnnCell<T>.Relu,
        CellType.SeedLstm => SeedLstmCell<T>.Instance,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, $"type: unknown cell {type}."),
    };

    /// <summary>dst[b·hp + j] = src[b·h + j] for each of <paramref name="blocks"/> blocks, padding zero.</summary>
    protected static void PadBlocks(ReadOnlySpan<T> src, int blocks, int h, int hp, Span<T> dst)
    {
        for (int b = 0; b < blocks; b++)
        {
            src.Slice(b * h, h).CopyTo(dst.Slice(b * hp, h));
            dst.Slice((b * hp) + h, hp - h).Clear();
        }
    }

    /// <summary>Σ_k W[row, k] · v[k] for a row-major W with v.Length columns.</summary>
    protected static T Dot(ReadOnlySpan<T> w, int row, ReadOnlySpan<T> v)
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
    protected static void AffineBackward(T da, int row, ReadOnlySpan<T> w, ReadOnlySpan<T> v, Span<T> dw, Span<T> db, Span<T> dv)
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

/// <summary>A cell whose step needs a second GEMM after its first pointwise pass (GruResetBefore, SeedLstm).</summary>
internal abstract class TwoPhaseCell<T> : Cell<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    /// <summary>The PyTorch tensors holding the phase-2 matrix and bias, and the gate block where it starts in them.</summary>
    public abstract (string Weight, string Bias, int Block) Phase2Source { get; }

    public abstract void Forward2(in StepArgs<T> s);

    public abstract void Backward2(in StepArgs<T> s);
}
