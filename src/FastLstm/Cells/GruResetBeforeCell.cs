using System.Numerics;
using FastLstm.Kernels;

namespace FastLstm.Cells;

/// <summary>
/// Cho et al. 2014 GRU (ONNX linear_before_reset = 0), plain or with the ONNX GRU options (<see cref="GruOptions"/>).
/// Gate rows r, z, n; activations f (gates, σ), g (candidate, tanh):
/// <c>r = f(a_r)</c>, <c>z = f(a_z)</c>, <c>n = g(W_in x + b_in + W_hn (r⊙h) + b_hn)</c>, <c>h' = (1−z)⊙n + z⊙h</c>,
/// every activation's input clipped to ±clip when a clip is set.
/// <para>Two phases: the per-step GEMM covers the r and z rows of W_hh; the n rows multiply <c>m = r⊙h</c> (Aux block 0)
/// once r is known. In the general layout Aux blocks 1–3 hold the unclipped inputs of r, z, n where the backward reads
/// them. Prepared bias blocks: the ih + hh sums of r, z and n.</para>
/// </summary>
internal sealed class GruResetBeforeCell(GruOptions options, bool general) : GruCellBase(options, general)
{
    public static readonly GruResetBeforeCell Standard = new(new GruOptions(), general: false);

    public override int RecurrentGates => 2;

    public override (string Weight, string Bias, int Block)? Phase2 => ("weight_hh", "bias_hh", 2);

    public override int NaiveCacheLength(int hidden) => 6 * hidden;

    public override double NaiveKinkDistance<T>(ReadOnlySpan<T> cache) => GruCellBase.Kink(Options, cache, 3);

    public override FusedCell<T> Fused<T, TV>() => Fused<T, TV, Factory>(Options);

    public override void NaiveForward<T>(in NaiveWeights<T> w, ReadOnlySpan<T> x, ReadOnlySpan<T> h, ReadOnlySpan<T> c, Span<T> hOut, Span<T> cOut, Span<T> cache)
    {
        int n = w.HiddenSize;
        var (fa, ga, clip) = GruCellBase.Naive<T>(Options);
        var rh = new T[n];
        for (int j = 0; j < n; j++)
        {
            T ar = w.Bih[j] + Dot(w.Wih, j, x) + w.Bhh[j] + Dot(w.Whh, j, h);
            T az = w.Bih[n + j] + Dot(w.Wih, n + j, x) + w.Bhh[n + j] + Dot(w.Whh, n + j, h);
            cache[j] = fa.Invoke(clip.Apply(ar));
            cache[n + j] = fa.Invoke(clip.Apply(az));
            cache[(3 * n) + j] = ar;
            cache[(4 * n) + j] = az;
            rh[j] = cache[j] * h[j];
        }

        for (int j = 0; j < n; j++)
        {
            T an = w.Bih[(2 * n) + j] + Dot(w.Wih, (2 * n) + j, x) + w.Bhh[(2 * n) + j] + Dot(w.Whh, (2 * n) + j, rh);
            T nn = ga.Invoke(clip.Apply(an));
            T z = cache[n + j];
            hOut[j] = ((T.One - z) * nn) + (z * h[j]);
            cache[(2 * n) + j] = nn;
            cache[(5 * n) + j] = an;
        }
    }

    public override void NaiveBackward<T>(in NaiveWeights<T> w, in NaiveGrads<T> g, ReadOnlySpan<T> x, ReadOnlySpan<T> h, ReadOnlySpan<T> c,
        ReadOnlySpan<T> cache, ReadOnlySpan<T> dhOut, ReadOnlySpan<T> dcOut, Span<T> dx, Span<T> dh, Span<T> dc)
    {
        int n = w.HiddenSize;
        var (fa, ga, clip) = GruCellBase.Naive<T>(Options);
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
            T z = cache[n + j], nn = cache[(2 * n) + j], az = cache[(4 * n) + j], an = cache[(5 * n) + j];
            T dan = dhOut[j] * (T.One - z) * ga.Derivative(clip.Apply(an), nn) * clip.Pass(an);
            T daz = dhOut[j] * (h[j] - nn) * fa.Derivative(clip.Apply(az), z) * clip.Pass(az);
            dh[j] += dhOut[j] * z;
            AffineBackward(dan, (2 * n) + j, w.Wih, x, g.Wih, g.Bih, dx);
            AffineBackward(dan, (2 * n) + j, w.Whh, rh, g.Whh, g.Bhh, drh);
            AffineBackward(daz, n + j, w.Wih, x, g.Wih, g.Bih, dx);
            AffineBackward(daz, n + j, w.Whh, h, g.Whh, g.Bhh, dh);
        }

        for (int j = 0; j < n; j++)
        {
            T r = cache[j], ar = cache[(3 * n) + j];
            dh[j] += drh[j] * r;
            T dar = drh[j] * h[j] * fa.Derivative(clip.Apply(ar), r) * clip.Pass(ar);
            AffineBackward(dar, j, w.Wih, x, g.Wih, g.Bih, dx);
            AffineBackward(dar, j, w.Whh, h, g.Whh, g.Bhh, dh);
        }
    }

    private readonly struct Factory : IKernels
    {
        public static FusedCell<T> Create<T, TV, TF, TG, TClip>(TF f, TG g, TClip clip)
            where T : unmanaged, IBinaryFloatingPointIeee754<T>
            where TV : unmanaged, IVec<TV, T>
            where TF : struct, IActivation<T>
            where TG : struct, IActivation<T>
            where TClip : struct, IClip<T>
            => new Kernels<T, TV, TF, TG, TClip>(f, g, clip);
    }

    private sealed unsafe class Kernels<T, TV, TF, TG, TClip>(TF fa, TG ga, TClip clip) : FusedCell<T, TV>
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TV : unmanaged, IVec<TV, T>
        where TF : struct, IActivation<T>
        where TG : struct, IActivation<T>
        where TClip : struct, IClip<T>
    {
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
                Gate(fa, clip, gx, gx, gh, b, m + hp, s.Width);
                Gate(fa, clip, gx + hp, gx + hp, gh + hp, b + hp, m + (2 * hp), s.Width);
                for (int j = 0; j < s.Width; j += w)
                {
                    TV.Store(TV.Load(gx + j) * TV.Load(hpv + j), m + j);
                }
            }
        }

        public override void Forward2(in StepArgs<T> s)
        {
            int hp = s.Hp;
            T* b = s.Bias + (2 * hp);
            for (int r = 0; r < s.Rows; r++)
            {
                T* gx = s.Gx + ((long)r * s.LdGx);
                T* g2 = s.G2 + ((long)r * hp);
                T* hpv = s.HPrev + ((long)r * hp);
                T* h = s.H + ((long)r * hp);
                T* aux = s.Aux + ((long)r * s.LdAux);
                Gate(ga, clip, gx + (2 * hp), gx + (2 * hp), g2, b, aux + (3 * hp), s.Width);
                GruCellBase.Blend<T, TV>(h, gx + hp, hpv, gx + (2 * hp), s.Width);
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
                T* raw = s.Aux + ((long)r * s.LdAux) + hp;
                T* dhp = s.DH + ((long)r * hp);
                T* dgx = s.DGx + ((long)r * s.LdGx);
                T* dgh = s.DGh + ((long)r * s.LdGh);
                T* dg2 = s.DG2 + ((long)r * hp);
                Slopes(fa, clip, dgx + hp, raw + hp, a + hp, s.Width);
                Slopes(ga, clip, dgx + (2 * hp), raw + (2 * hp), a + (2 * hp), s.Width);
                for (int j = 0; j < s.Width; j += w)
                {
                    var z = TV.Load(a + hp + j);
                    var n = TV.Load(a + (2 * hp) + j);
                    var dh = TV.Load(dhp + j);
                    var dan = dh * (one - z) * Slope(ga, clip, dgx + (2 * hp), raw + (2 * hp), n, j);
                    var daz = dh * (TV.Load(hpv + j) - n) * Slope(fa, clip, dgx + hp, raw + hp, z, j);
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
            for (int r = 0; r < s.Rows; r++)
            {
                T* a = s.Gx + ((long)r * s.LdGx);
                T* hpv = s.HPrev + ((long)r * hp);
                T* raw = s.Aux + ((long)r * s.LdAux) + hp;
                T* dm = s.DM + ((long)r * hp);
                T* dhp = s.DH + ((long)r * hp);
                T* dgx = s.DGx + ((long)r * s.LdGx);
                T* dgh = s.DGh + ((long)r * s.LdGh);
                Slopes(fa, clip, dgx, raw, a, s.Width);
                for (int j = 0; j < s.Width; j += w)
                {
                    var rg = TV.Load(a + j);
                    var dmv = TV.Load(dm + j);
                    var dar = dmv * TV.Load(hpv + j) * Slope(fa, clip, dgx, raw, rg, j);
                    TV.Store(dar, dgx + j);
                    TV.Store(dar, dgh + j);
                    TV.Store(TV.Fma(dmv, rg, TV.Load(dhp + j)), dhp + j);
                }
            }
        }
    }
}
