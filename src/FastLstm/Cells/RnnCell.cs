using System.Numerics;
using System.Runtime.Intrinsics;
using static FastLstm.Kernels.Activations;

namespace FastLstm.Cells;

/// <summary>
/// Elman RNN: <c>h' = act(W_ih x + b_ih + W_hh h + b_hh)</c>, act = tanh or ReLU. Backward needs only h',
/// which the driver keeps anyway: tanh' = 1 − h'², relu' = [h' &gt; 0].
/// </summary>
internal sealed unsafe class RnnCell<T> : Cell<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    public static readonly RnnCell<T> Tanh = new(relu: false);
    public static readonly RnnCell<T> Relu = new(relu: true);

    private readonly bool _relu;

    private RnnCell(bool relu) => _relu = relu;

    public override int Gates => 1;

    public override int AuxBlocks => 0;

    public override int NaiveCacheLength(int hidden) => 2 * hidden;

    public override double NaiveKinkDistance(ReadOnlySpan<T> cache)
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

    public override void PrepareBias(ReadOnlySpan<T> bih, ReadOnlySpan<T> bhh, ReadOnlySpan<T> bu, int h, int hp, Span<T> dst)
    {
        dst.Clear();
        for (int j = 0; j < h; j++)
        {
            dst[j] = bih[j] + bhh[j];
        }
    }

    public override void Forward1(in StepArgs<T> s)
    {
        int hp = s.Hp, w = Vector256<T>.Count;
        T* b = s.Bias;
        for (int r = 0; r < s.Rows; r++)
        {
            T* gx = s.Gx + ((long)r * s.LdGx);
            T* gh = s.Gh + ((long)r * s.LdGh);
            T* h = s.H + ((long)r * hp);
            for (int j = 0; j < s.Width; j += w)
            {
                var pre = Vector256.Load(gx + j) + Vector256.Load(gh + j) + Vector256.Load(b + j);
                (_relu ? Relu(pre) : Tanh(pre)).Store(h + j);
            }
        }
    }

    public override void Backward1(in StepArgs<T> s)
    {
        int hp = s.Hp, w = Vector256<T>.Count;
        var one = Vector256<T>.One;
        for (int r = 0; r < s.Rows; r++)
        {
            T* h = s.H + ((long)r * hp);
            T* dh = s.DH + ((long)r * hp);
            T* dg = s.DGx + ((long)r * s.LdGx);
            for (int j = 0; j < s.Width; j += w)
            {
                var hv = Vector256.Load(h + j);
                var d = _relu
                    ? Vector256.ConditionalSelect(Vector256.GreaterThan(hv, Vector256<T>.Zero), one, Vector256<T>.Zero)
                    : Kernels.Simd.FnmAdd(hv, hv, one);
                (Vector256.Load(dh + j) * d).Store(dg + j);
            }
        }
    }

    public override void NaiveForward(in NaiveWeights<T> w, ReadOnlySpan<T> x, ReadOnlySpan<T> h, ReadOnlySpan<T> c, Span<T> hOut, Span<T> cOut, Span<T> cache)
    {
        for (int j = 0; j < w.HiddenSize; j++)
        {
            T pre = w.Bih[j] + Dot(w.Wih, j, x) + w.Bhh[j] + Dot(w.Whh, j, h);
            hOut[j] = _relu ? Relu(pre) : Tanh(pre);
            cache[j] = hOut[j];
            cache[w.HiddenSize + j] = pre;
        }
    }

    public override void NaiveBackward(in NaiveWeights<T> w, in NaiveGrads<T> g, ReadOnlySpan<T> x, ReadOnlySpan<T> h, ReadOnlySpan<T> c,
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
}
