using System.Numerics;
using FastLstm.Kernels;

namespace FastLstm.Cells;

/// <summary>
/// The ONNX RNN operator in full (<see cref="SimpleRnnOptions"/>): <c>h' = f(clip(W_ih x + b_ih + W_hh h + b_hh))</c> with
/// f any ONNX activation (the cell type's tanh or ReLU when none is given). Saved: the unclipped input of f in Aux.
/// </summary>
internal sealed class SimpleRnnWithOptionsCell(SimpleRnnOptions options, bool relu) : Cell
{
    private readonly RnnActivation _f = options.Activation ?? new RnnActivation(relu ? RnnActivationKind.Relu : RnnActivationKind.Tanh);

    public SimpleRnnOptions Options { get; } = options;

    public override int Gates => 1;

    public override int AuxBlocks => 1;

    public override int NaiveCacheLength(int hidden) => 2 * hidden;

    public override double NaiveKinkDistance<T>(ReadOnlySpan<T> cache)
    {
        double distance = double.PositiveInfinity;
        foreach (var raw in cache[(cache.Length / 2)..])
        {
            distance = Math.Min(distance, OptionMath.Kink(Options.CellClip, _f, double.CreateTruncating(raw)));
        }

        return distance;
    }

    public override FusedCell<T> Fused<T, TV>() => new Kernels<T, TV>(Options.CellClip, _f);

    public override void NaiveForward<T>(in NaiveWeights<T> w, ReadOnlySpan<T> x, ReadOnlySpan<T> h, ReadOnlySpan<T> c, Span<T> hOut, Span<T> cOut, Span<T> cache)
    {
        for (int j = 0; j < w.HiddenSize; j++)
        {
            T pre = w.Bih[j] + Dot(w.Wih, j, x) + w.Bhh[j] + Dot(w.Whh, j, h);
            hOut[j] = OnnxActivations<T>.Apply(_f, OptionMath.Clip(Options.CellClip, pre));
            cache[j] = hOut[j];
            cache[w.HiddenSize + j] = pre;
        }
    }

    public override void NaiveBackward<T>(in NaiveWeights<T> w, in NaiveGrads<T> g, ReadOnlySpan<T> x, ReadOnlySpan<T> h, ReadOnlySpan<T> c,
        ReadOnlySpan<T> cache, ReadOnlySpan<T> dhOut, ReadOnlySpan<T> dcOut, Span<T> dx, Span<T> dh, Span<T> dc)
    {
        dx.Clear();
        dh.Clear();
        for (int j = 0; j < w.HiddenSize; j++)
        {
            T y = cache[j], pre = cache[w.HiddenSize + j];
            T da = dhOut[j] * OnnxActivations<T>.Derivative(_f, OptionMath.Clip(Options.CellClip, pre), y) * OptionMath.Pass(Options.CellClip, pre);
            AffineBackward(da, j, w.Wih, x, g.Wih, g.Bih, dx);
            AffineBackward(da, j, w.Whh, h, g.Whh, g.Bhh, dh);
        }
    }

    private sealed unsafe class Kernels<T, TV>(double? clip, RnnActivation f) : OptionKernels<T, TV>(clip)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TV : unmanaged, IVec<TV, T>
    {
        public override void PrepareBias(ReadOnlySpan<T> parameters, LayerTensors tensors, int h, int hp, Span<T> dst) =>
            SumBlocks(Of(parameters, tensors.BiasIh), Of(parameters, tensors.BiasHh), 1, h, hp, dst);

        public override void Forward1(in StepArgs<T> s)
        {
            int w = TV.Count;
            for (int r = 0; r < s.Rows; r++)
            {
                T* gx = s.Gx + ((long)r * s.LdGx);
                T* gh = s.Gh + ((long)r * s.LdGh);
                T* h = s.H + ((long)r * s.Hp);
                T* aux = s.Aux + ((long)r * s.LdAux);
                for (int j = 0; j < s.Width; j += w)
                {
                    var raw = TV.Load(gx + j) + TV.Load(gh + j) + TV.Load(s.Bias + j);
                    TV.Store(raw, aux + j);
                    TV.Store(Clip(raw), h + j);
                }

                Activate(f, h, h, s.Width);
            }
        }

        public override void Backward1(in StepArgs<T> s)
        {
            int hp = s.Hp, w = TV.Count;
            TV alpha = Alpha(f), beta = Beta(f);
            for (int r = 0; r < s.Rows; r++)
            {
                T* h = s.H + ((long)r * hp);
                T* aux = s.Aux + ((long)r * s.LdAux);
                T* dh = s.DH + ((long)r * hp);
                T* dg = s.DGx + ((long)r * s.LdGx);
                for (int j = 0; j < s.Width; j += w)
                {
                    TV.Store(TV.Load(dh + j) * Slope(f, alpha, beta, TV.Load(aux + j), TV.Load(h + j)), dg + j);
                }
            }
        }
    }
}
