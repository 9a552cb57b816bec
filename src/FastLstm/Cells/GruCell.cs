using System.Numerics;
using FastLstm.Kernels;

namespace FastLstm.Cells;

/// <summary>
/// PyTorch GRU (ONNX linear_before_reset=1), gate rows r, z, n:
/// <c>r=σ(·) z=σ(·)</c>, <c>n = tanh(W_in x + b_in + r⊙(W_hn h + b_hn))</c>, <c>h' = (1−z)⊙n + z⊙h</c>.
/// Saved: r, z, n in place of the pre-activations; <c>W_hn h + b_hn</c> in Aux.
/// Prepared bias blocks: b_r (ih + hh), b_z (ih + hh), b_in, b_hn.
/// </summary>
internal sealed class GruCell : Cell
{
    public static readonly GruCell Instance = new();

    public override int Gates => 3;

    public override bool SeparateRecurrentGradient => true;

    public override bool HasDirectHiddenGradient => true;

    public override int AuxBlocks => 1;

    public override int BiasBlocks => 4;

    public override int NaiveCacheLength(int hidden) => 4 * hidden;

    public override FusedCell<T> Fused<T, TV>() => Kernels<T, TV>.Instance;

    public override void NaiveForward<T>(in NaiveWeights<T> w, ReadOnlySpan<T> x, ReadOnlySpan<T> h, ReadOnlySpan<T> c, Span<T> hOut, Span<T> cOut, Span<T> cache)
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

    public override void NaiveBackward<T>(in NaiveWeights<T> w, in NaiveGrads<T> g, ReadOnlySpan<T> x, ReadOnlySpan<T> h, ReadOnlySpan<T> c,
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

    private sealed unsafe class Kernels<T, TV> : FusedCell<T, TV>
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TV : unmanaged, IVec<TV, T>
    {
        public static readonly Kernels<T, TV> Instance = new();

        public override void PrepareBias(ReadOnlySpan<T> parameters, LayerTensors tensors, int h, int hp, Span<T> dst) =>
            PrepareGruBias(parameters, tensors, h, hp, dst);

        public override void Forward1(in StepArgs<T> s)
        {
            int hp = s.Hp, w = TV.Count;
            T* b = s.Bias;
            for (int r = 0; r < s.Rows; r++)
            {
                T* gx = s.Gx + ((long)r * s.LdGx);
                T* gh = s.Gh + ((long)r * s.LdGh);
                T* hpv = s.HPrev + ((long)r * hp);
                T* h = s.H + ((long)r * hp);
                T* aux = s.Aux + ((long)r * s.LdAux);
                Activate<SigmoidOp<T>>(gx, gx, gh, b, s.Width);
                Activate<SigmoidOp<T>>(gx + hp, gx + hp, gh + hp, b + hp, s.Width);
                for (int j = 0; j < s.Width; j += w)
                {
                    var ghn = TV.Load(gh + (2 * hp) + j) + TV.Load(b + (3 * hp) + j);
                    var n = Tanh(TV.Fma(TV.Load(gx + j), ghn, TV.Load(gx + (2 * hp) + j) + TV.Load(b + (2 * hp) + j)));
                    TV.Store(n, gx + (2 * hp) + j);
                    TV.Store(ghn, aux + j);
                    TV.Store(TV.Fma(TV.Load(gx + hp + j), TV.Load(hpv + j) - n, n), h + j);
                }
            }
        }

        public override void Backward1(in StepArgs<T> s)
        {
            int hp = s.Hp, w = TV.Count;
            var one = TV.One;
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
                    var rg = TV.Load(a + j);
                    var z = TV.Load(a + hp + j);
                    var n = TV.Load(a + (2 * hp) + j);
                    var dh = TV.Load(dhp + j);
                    var dan = dh * (one - z) * TV.FnmAdd(n, n, one);
                    var dar = dan * TV.Load(aux + j) * rg * (one - rg);
                    var daz = dh * (TV.Load(hpv + j) - n) * z * (one - z);
                    TV.Store(dar, dgx + j);
                    TV.Store(daz, dgx + hp + j);
                    TV.Store(dan, dgx + (2 * hp) + j);
                    TV.Store(dar, dgh + j);
                    TV.Store(daz, dgh + hp + j);
                    TV.Store(dan * rg, dgh + (2 * hp) + j);
                    TV.Store(dh * z, dhp + j);
                }
            }
        }
    }
}
