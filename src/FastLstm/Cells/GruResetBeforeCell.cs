using System.Numerics;
using FastLstm.Kernels;

namespace FastLstm.Cells;

/// <summary>
/// Cho et al. 2014 GRU (ONNX linear_before_reset=0), gate rows r, z, n:
/// <c>r=σ(·) z=σ(·)</c>, <c>n = tanh(W_in x + b_in + W_hn (r⊙h) + b_hn)</c>, <c>h' = (1−z)⊙n + z⊙h</c>.
/// Two phases: the per-step GEMM covers the r and z rows of W_hh; the n rows multiply <c>m = r⊙h</c>
/// (saved in Aux) once r is known. Prepared bias blocks: the ih + hh sums of r, z and n.
/// </summary>
internal sealed class GruResetBeforeCell : Cell
{
    public static readonly GruResetBeforeCell Instance = new();

    public override int Gates => 3;

    public override int RecurrentGates => 2;

    public override bool SeparateRecurrentGradient => true;

    public override bool HasDirectHiddenGradient => true;

    public override int AuxBlocks => 1;

    public override (string Weight, string Bias, int Block)? Phase2 => ("weight_hh", "bias_hh", 2);

    public override int NaiveCacheLength(int hidden) => 3 * hidden;

    public override FusedCell<T> Fused<T, TV>() => Kernels<T, TV>.Instance;

    public override void NaiveForward<T>(in NaiveWeights<T> w, ReadOnlySpan<T> x, ReadOnlySpan<T> h, ReadOnlySpan<T> c, Span<T> hOut, Span<T> cOut, Span<T> cache)
    {
        int n = w.HiddenSize;
        var rh = new T[n];
        for (int j = 0; j < n; j++)
        {
            cache[j] = Sigmoid(w.Bih[j] + Dot(w.Wih, j, x) + w.Bhh[j] + Dot(w.Whh, j, h));
            cache[n + j] = Sigmoid(w.Bih[n + j] + Dot(w.Wih, n + j, x) + w.Bhh[n + j] + Dot(w.Whh, n + j, h));
            rh[j] = cache[j] * h[j];
        }

        for (int j = 0; j < n; j++)
        {
            T nn = Tanh(w.Bih[(2 * n) + j] + Dot(w.Wih, (2 * n) + j, x) + w.Bhh[(2 * n) + j] + Dot(w.Whh, (2 * n) + j, rh));
            T z = cache[n + j];
            hOut[j] = ((T.One - z) * nn) + (z * h[j]);
            cache[(2 * n) + j] = nn;
        }
    }

    public override void NaiveBackward<T>(in NaiveWeights<T> w, in NaiveGrads<T> g, ReadOnlySpan<T> x, ReadOnlySpan<T> h, ReadOnlySpan<T> c,
        ReadOnlySpan<T> cache, ReadOnlySpan<T> dhOut, ReadOnlySpan<T> dcOut, Span<T> dx, Span<T> dh, Span<T> dc)
    {
        int n = w.HiddenSize;
        dx.Clear();
        dh.Clear();
        var rh = new T[n];
        var drh = new T[n];
        for (int j = 0; j < n; j++)
        {
            rh[j] = cache[j] * h[j];
        }

        for (int j = 0; j < n; j++)
        {
            T z = cache[n + j], nn = cache[(2 * n) + j];
            T dan = dhOut[j] * (T.One - z) * (T.One - (nn * nn));
            T daz = dhOut[j] * (h[j] - nn) * z * (T.One - z);
            dh[j] += dhOut[j] * z;
            AffineBackward(dan, (2 * n) + j, w.Wih, x, g.Wih, g.Bih, dx);
            AffineBackward(dan, (2 * n) + j, w.Whh, rh, g.Whh, g.Bhh, drh);
            AffineBackward(daz, n + j, w.Wih, x, g.Wih, g.Bih, dx);
            AffineBackward(daz, n + j, w.Whh, h, g.Whh, g.Bhh, dh);
        }

        for (int j = 0; j < n; j++)
        {
            T r = cache[j];
            dh[j] += drh[j] * r;
            T dar = drh[j] * h[j] * r * (T.One - r);
            AffineBackward(dar, j, w.Wih, x, g.Wih, g.Bih, dx);
            AffineBackward(dar, j, w.Whh, h, g.Whh, g.Bhh, dh);
        }
    }

    private sealed unsafe class Kernels<T, TV> : FusedCell<T, TV>
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TV : unmanaged, IVec<TV, T>
    {
        public static readonly Kernels<T, TV> Instance = new();

        public override void PrepareBias(ReadOnlySpan<T> parameters, LayerTensors tensors, int h, int hp, Span<T> dst) =>
            SumBlocks(Of(parameters, tensors.BiasIh), Of(parameters, tensors.BiasHh), 3, h, hp, dst);

        public override void Forward1(in StepArgs<T> s)
        {
            int hp = s.Hp, w = TV.Count;
            T* b = s.Bias;
            for (int r = 0; r < s.Rows; r++)
            {
                T* gx = s.Gx + ((long)r * s.LdGx);
                T* gh = s.Gh + ((long)r * s.LdGh);
                T* hpv = s.HPrev + ((long)r * hp);
                T* m = s.Aux + ((long)r * s.LdAux);
                Activate<SigmoidOp<T>>(gx, gx, gh, b, s.Width);
                Activate<SigmoidOp<T>>(gx + hp, gx + hp, gh + hp, b + hp, s.Width);
                for (int j = 0; j < s.Width; j += w)
                {
                    TV.Store(TV.Load(gx + j) * TV.Load(hpv + j), m + j);
                }
            }
        }

        public override void Forward2(in StepArgs<T> s)
        {
            int hp = s.Hp, w = TV.Count;
            T* b = s.Bias + (2 * hp);
            for (int r = 0; r < s.Rows; r++)
            {
                T* gx = s.Gx + ((long)r * s.LdGx);
                T* g2 = s.G2 + ((long)r * hp);
                T* hpv = s.HPrev + ((long)r * hp);
                T* h = s.H + ((long)r * hp);
                Activate<TanhOp<T>>(gx + (2 * hp), gx + (2 * hp), g2, b, s.Width);
                for (int j = 0; j < s.Width; j += w)
                {
                    var n = TV.Load(gx + (2 * hp) + j);
                    TV.Store(TV.Fma(TV.Load(gx + hp + j), TV.Load(hpv + j) - n, n), h + j);
                }
            }
        }

        public override void Backward2(in StepArgs<T> s)
        {
            int hp = s.Hp, w = TV.Count;
            var one = TV.One;
            for (int r = 0; r < s.Rows; r++)
            {
                T* a = s.Gx + ((long)r * s.LdGx);
                T* hpv = s.HPrev + ((long)r * hp);
                T* dhp = s.DH + ((long)r * hp);
                T* dgx = s.DGx + ((long)r * s.LdGx);
                T* dgh = s.DGh + ((long)r * s.LdGh);
                T* dg2 = s.DG2 + ((long)r * hp);
                for (int j = 0; j < s.Width; j += w)
                {
                    var z = TV.Load(a + hp + j);
                    var n = TV.Load(a + (2 * hp) + j);
                    var dh = TV.Load(dhp + j);
                    var dan = dh * (one - z) * TV.FnmAdd(n, n, one);
                    var daz = dh * (TV.Load(hpv + j) - n) * z * (one - z);
                    TV.Store(daz, dgx + hp + j);
                    TV.Store(dan, dgx + (2 * hp) + j);
                    TV.Store(daz, dgh + hp + j);
                    TV.Store(dan, dg2 + j);
                    TV.Store(dh * z, dhp + j);
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
                T* dm = s.DM + ((long)r * hp);
                T* dhp = s.DH + ((long)r * hp);
                T* dgx = s.DGx + ((long)r * s.LdGx);
                T* dgh = s.DGh + ((long)r * s.LdGh);
                for (int j = 0; j < s.Width; j += w)
                {
                    var rg = TV.Load(a + j);
                    var dmv = TV.Load(dm + j);
                    var dar = dmv * TV.Load(hpv + j) * rg * (one - rg);
                    TV.Store(dar, dgx + j);
                    TV.Store(dar, dgh + j);
                    TV.Store(TV.Fma(dmv, rg, TV.Load(dhp + j)), dhp + j);
                }
            }
        }
    }
}
