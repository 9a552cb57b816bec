using System.Numerics;
using System.Runtime.Intrinsics;
using static FastLstm.Kernels.Activations;
using static FastLstm.Kernels.Simd;

namespace FastLstm.Cells;

/// <summary>
/// PyTorch GRU (ONNX linear_before_reset=1), gate rows r, z, n:
/// <c>r=σ(·) z=σ(·)</c>, <c>n = tanh(W_in x + b_in + r⊙(W_hn h + b_hn))</c>, <c>h' = (1−z)⊙n + z⊙h</c>.
/// Saved: r, z, n in place of the pre-activations; <c>W_hn h + b_hn</c> in Aux.
/// Prepared bias blocks: b_r (ih + hh), b_z (ih + hh), b_in, b_hn.
/// </summary>
internal sealed unsafe class GruCell<T> : Cell<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    public static readonly GruCell<T> Instance = new();

    public override int Gates => 3;

    public override bool SeparateRecurrentGradient => true;

    public override bool HasDirectHiddenGradient => true;

    public override int AuxBlocks => 1;

    public override int BiasBlocks => 4;

    public override int NaiveCacheLength(int hidden) => 4 * hidden;

    public override void PrepareBias(ReadOnlySpan<T> bih, ReadOnlySpan<T> bhh, ReadOnlySpan<T> bu, int h, int hp, Span<T> dst)
    {
        dst.Clear();
        for (int j = 0; j < h; j++)
        {
            dst[j] = bih[j] + bhh[j];
            dst[hp + j] = bih[h + j] + bhh[h + j];
            dst[(2 * hp) + j] = bih[(2 * h) + j];
            dst[(3 * hp) + j] = bhh[(2 * h) + j];
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
            T* hpv = s.HPrev + ((long)r * hp);
            T* h = s.H + ((long)r * hp);
            T* aux = s.Aux + ((long)r * s.LdAux);
            for (int j = 0; j < s.Width; j += w)
            {
                var rg = Sigmoid(Vector256.Load(gx + j) + Vector256.Load(gh + j) + Vector256.Load(b + j));
                var z = Sigmoid(Vector256.Load(gx + hp + j) + Vector256.Load(gh + hp + j) + Vector256.Load(b + hp + j));
                var ghn = Vector256.Load(gh + (2 * hp) + j) + Vector256.Load(b + (3 * hp) + j);
                var n = Tanh(Fma(rg, ghn, Vector256.Load(gx + (2 * hp) + j) + Vector256.Load(b + (2 * hp) + j)));
                rg.Store(gx + j);
                z.Store(gx + hp + j);
                n.Store(gx + (2 * hp) + j);
                ghn.Store(aux + j);
                Fma(z, Vector256.Load(hpv + j) - n, n).Store(h + j);
            }
        }
    }

    public override void Backward1(in StepArgs<T> s)
    {
        int hp = s.Hp, w = Vector256<T>.Count;
        var one = Vector256<T>.One;
        for (int r = 0; r < s.Rows; r++)
        {
            T* a = s.Gx + ((long)r * s.LdGx);
            T* hpv = s.HPrev + ((long)r * hp);
            T* aux = s.Aux + ((long)r * s.LdAux);
            T* dhp = s.DH + ((long)r * hp);
            T* dgx = s.DGx + ((long)r * s.LdGx);
            T* dgh = s.DGh + ((long)r * s.LdGh);
            for (int j = 0; j < s.Width; j += w)
            {
                var rg = Vector256.Load(a + j);
                var z = Vector256.Load(a + hp + j);
                var n = Vector256.Load(a + (2 * hp) + j);
                var dh = Vector256.Load(dhp + j);
                var dan = dh * (one - z) * FnmAdd(n, n, one);
                var dar = dan * Vector256.Load(aux + j) * rg * (one - rg);
                var daz = dh * (Vector256.Load(hpv + j) - n) * z * (one - z);
                dar.Store(dgx + j);
                daz.Store(dgx + hp + j);
                dan.Store(dgx + (2 * hp) + j);
                dar.Store(dgh + j);
                daz.Store(dgh + hp + j);
                (dan * rg).Store(dgh + (2 * hp) + j);
                (dh * z).Store(dhp + j);
            }
        }
    }

    public override void NaiveForward(in NaiveWeights<T> w, ReadOnlySpan<T> x, ReadOnlySpan<T> h, ReadOnlySpan<T> c, Span<T> hOut, Span<T> cOut, Span<T> cache)
    {
        int n = w.HiddenSize;
        for (int j = 0; j < n; j++)
        {
            T r = Sigmoid(w.Bih[j] + Dot(w.Wih, j, x) + w.Bhh[j] + Dot(w.Whh, j, h));
            T z = Sigmoid(w.Bih[n + j] + Dot(w.Wih, n + j, x) + w.Bhh[n + j] + Dot(w.Whh, n + j, h));
            T ghn = w.Bhh[(2 * n) + j] + Dot(w.Whh, (2 * n) + j, h);
            T nn = Tanh(w.Bih[(2 * n) + j] + Dot(w.Wih, (2 * n) + j, x) + (r * ghn));
            hOut[j] = ((T.One - z) * nn) + (z * h[j]);
            cache[j] = r;
            cache[n + j] = z;
            cache[(2 * n) + j] = nn;
            cache[(3 * n) + j] = ghn;
        }
    }

    public override void NaiveBackward(in NaiveWeights<T> w, in NaiveGrads<T> g, ReadOnlySpan<T> x, ReadOnlySpan<T> h, ReadOnlySpan<T> c,
        ReadOnlySpan<T> cache, ReadOnlySpan<T> dhOut, ReadOnlySpan<T> dcOut, Span<T> dx, Span<T> dh, Span<T> dc)
    {
        int n = w.HiddenSize;
        dx.Clear();
        dh.Clear();
        for (int j = 0; j < n; j++)
        {
            T r = cache[j], z = cache[n + j], nn = cache[(2 * n) + j], ghn = cache[(3 * n) + j];
            T dnn = dhOut[j] * (T.One - z);
            T dz = dhOut[j] * (h[j] - nn);
            dh[j] += dhOut[j] * z;
            T dan = dnn * (T.One - (nn * nn));
            T dar = dan * ghn * r * (T.One - r);
            T daz = dz * z * (T.One - z);
            AffineBackward(dar, j, w.Wih, x, g.Wih, g.Bih, dx);
            AffineBackward(daz, n + j, w.Wih, x, g.Wih, g.Bih, dx);
            AffineBackward(dan, (2 * n) + j, w.Wih, x, g.Wih, g.Bih, dx);
            AffineBackward(dar, j, w.Whh, h, g.Whh, g.Bhh, dh);
            AffineBackward(daz, n + j, w.Whh, h, g.Whh, g.Bhh, dh);
            AffineBackward(dan * r, (2 * n) + j, w.Whh, h, g.Whh, g.Bhh, dh);
        }
    }
}
