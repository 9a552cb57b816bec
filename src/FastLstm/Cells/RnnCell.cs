using System.Numerics;
using FastLstm.Kernels;

namespace FastLstm.Cells;

/// <summary>
/// Elman RNN: <c>h' = act(W_ih x + b_ih + W_hh h + b_hh)</c>, act = tanh or ReLU. Backward needs only h',
/// which the driver keeps anyway: tanh' = 1 − h'², relu' = [h' &gt; 0].
/// </summary>
internal sealed class RnnCell : Cell
{
    public static readonly RnnCell WithTanh = new(relu: false);
    public static readonly RnnCell WithRelu = new(relu: true);

    private readonly bool _relu;

    private RnnCell(bool relu) => _relu = relu;

    public override int Gates => 1;

    public override int AuxBlocks => 0;

    public override int NaiveCacheLength(int hidden) => 2 * hidden;

    public override double NaiveKinkDistance<T>(ReadOnlySpan<T> cache)
    {
        if (!_relu)
        {
            return double.PositiveInfinity;
        }

        double min = double.PositiveInfinity;
        foreach (var z in cache[(cache.Length / 2)..])
        {
            min = Math.Min(min, Math.Abs(double.CreateTruncating(z)));
        }

        return min;
    }

    public override FusedCell<T> Fused<T, TV>() => _relu ? Kernels<T, TV>.ReluInstance : Kernels<T, TV>.TanhInstance;

    public override void NaiveForward<T>(in NaiveWeights<T> w, ReadOnlySpan<T> x, ReadOnlySpan<T> h, ReadOnlySpan<T> c, Span<T> hOut, Span<T> cOut, Span<T> cache)
    {
        for (int j = 0; j < w.HiddenSize; j++)
        {
            T pre = w.Bih[j] + Dot(w.Wih, j, x) + w.Bhh[j] + Dot(w.Whh, j, h);
            hOut[j] = _relu ? Relu(pre) : Tanh(pre);
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
            T y = cache[j];
            T da = dhOut[j] * (_relu ? (y > T.Zero ? T.One : T.Zero) : T.One - (y * y));
            AffineBackward(da, j, w.Wih, x, g.Wih, g.Bih, dx);
            AffineBackward(da, j, w.Whh, h, g.Whh, g.Bhh, dh);
        }
    }

    private sealed unsafe class Kernels<T, TV>(bool relu) : FusedCell<T, TV>
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TV : unmanaged, IVec<TV, T>
    {
        public static readonly Kernels<T, TV> TanhInstance = new(relu: false);
        public static readonly Kernels<T, TV> ReluInstance = new(relu: true);

        public override void PrepareBias(ReadOnlySpan<T> parameters, LayerTensors tensors, int h, int hp, Span<T> dst) =>
            SumBlocks(Of(parameters, tensors.BiasIh), Of(parameters, tensors.BiasHh), 1, h, hp, dst);

        public override void Forward1(in StepArgs<T> s)
        {
            for (int r = 0; r < s.Rows; r++)
            {
                T* gx = s.Gx + ((long)r * s.LdGx);
                T* gh = s.Gh + ((long)r * s.LdGh);
                T* h = s.H + ((long)r * s.Hp);
                if (relu)
                {
                    Activate<ReluOp<T>>(h, gx, gh, s.Bias, s.Width);
                }
                else
                {
                    Activate<TanhOp<T>>(h, gx, gh, s.Bias, s.Width);
                }
            }
        }

        public override void Backward1(in StepArgs<T> s)
        {
            int hp = s.Hp, w = TV.Count;
            var one = TV.One;
            for (int r = 0; r < s.Rows; r++)
            {
                T* h = s.H + ((long)r * hp);
                T* dh = s.DH + ((long)r * hp);
                T* dg = s.DGx + ((long)r * s.LdGx);
                for (int j = 0; j < s.Width; j += w)
                {
                    var hv = TV.Load(h + j);
                    var d = relu ? TV.Select(TV.GreaterThan(hv, TV.Zero), one, TV.Zero) : TV.FnmAdd(hv, hv, one);
                    TV.Store(TV.Load(dh + j) * d, dg + j);
                }
            }
        }
    }
}
