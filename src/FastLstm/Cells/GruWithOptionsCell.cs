using System.Numerics;
using FastLstm.Kernels;

namespace FastLstm.Cells;

/// <summary>
/// The ONNX GRU operator with linear_before_reset = 1 in full (<see cref="GruOptions"/>), PyTorch gate rows r, z, n:
/// <c>r = f(a_r)</c>, <c>z = f(a_z)</c>, <c>n = g(W_in x + b_in + r⊙(W_hn h + b_hn))</c>, <c>h' = (1−z)⊙n + z⊙h</c>,
/// every activation's input clipped to ±clip when a clip is set. Saved: r, z, n in place of the pre-activations;
/// <c>W_hn h + b_hn</c> and the three unclipped activation inputs in Aux. Prepared bias: as <see cref="GruCell"/>.
/// </summary>
internal sealed class GruWithOptionsCell(GruOptions options) : Cell
{
    public GruOptions Options { get; } = options;

    public override int Gates => 3;

    public override bool SeparateRecurrentGradient => true;

    public override bool HasDirectHiddenGradient => true;

    public override int AuxBlocks => 4;

    public override int BiasBlocks => 4;

    public override int NaiveCacheLength(int hidden) => 7 * hidden;

    public override double NaiveKinkDistance<T>(ReadOnlySpan<T> cache)
    {
        int n = cache.Length / 7;
        double distance = double.PositiveInfinity;
        for (int k = 0; k < 3 * n; k++)
        {
            var a = (k / n) == 2 ? Options.CandidateActivation : Options.GateActivation;
            distance = Math.Min(distance, OptionMath.Kink(Options.CellClip, a, double.CreateTruncating(cache[(4 * n) + k])));
        }

        return distance;
    }

    public override FusedCell<T> Fused<T, TV>() => new Kernels<T, TV>(Options);

    public override void NaiveForward<T>(in NaiveWeights<T> w, ReadOnlySpan<T> x, ReadOnlySpan<T> h, ReadOnlySpan<T> c, Span<T> hOut, Span<T> cOut, Span<T> cache)
    {
        int n = w.HiddenSize;
        var o = Options;
        for (int j = 0; j < n; j++)
        {
            T ar = w.Bih[j] + Dot(w.Wih, j, x) + w.Bhh[j] + Dot(w.Whh, j, h);
            T az = w.Bih[n + j] + Dot(w.Wih, n + j, x) + w.Bhh[n + j] + Dot(w.Whh, n + j, h);
            T r = OnnxActivations<T>.Apply(o.GateActivation, OptionMath.Clip(o.CellClip, ar));
            T z = OnnxActivations<T>.Apply(o.GateActivation, OptionMath.Clip(o.CellClip, az));
            T ghn = w.Bhh[(2 * n) + j] + Dot(w.Whh, (2 * n) + j, h);
            T an = w.Bih[(2 * n) + j] + Dot(w.Wih, (2 * n) + j, x) + (r * ghn);
            T nn = OnnxActivations<T>.Apply(o.CandidateActivation, OptionMath.Clip(o.CellClip, an));
            hOut[j] = ((T.One - z) * nn) + (z * h[j]);
            cache[j] = r;
            cache[n + j] = z;
            cache[(2 * n) + j] = nn;
            cache[(3 * n) + j] = ghn;
            cache[(4 * n) + j] = ar;
            cache[(5 * n) + j] = az;
            cache[(6 * n) + j] = an;
        }
    }

    public override void NaiveBackward<T>(in NaiveWeights<T> w, in NaiveGrads<T> g, ReadOnlySpan<T> x, ReadOnlySpan<T> h, ReadOnlySpan<T> c,
        ReadOnlySpan<T> cache, ReadOnlySpan<T> dhOut, ReadOnlySpan<T> dcOut, Span<T> dx, Span<T> dh, Span<T> dc)
    {
        int n = w.HiddenSize;
        var o = Options;
        dx.Clear();
        dh.Clear();
        for (int j = 0; j < n; j++)
        {
            T r = cache[j], z = cache[n + j], nn = cache[(2 * n) + j], ghn = cache[(3 * n) + j];
            T ar = cache[(4 * n) + j], az = cache[(5 * n) + j], an = cache[(6 * n) + j];
            dh[j] += dhOut[j] * z;
            T dan = dhOut[j] * (T.One - z) * Slope(o.CandidateActivation, an, nn);
            T dar = dan * ghn * Slope(o.GateActivation, ar, r);
            T daz = dhOut[j] * (h[j] - nn) * Slope(o.GateActivation, az, z);
            AffineBackward(dar, j, w.Wih, x, g.Wih, g.Bih, dx);
            AffineBackward(daz, n + j, w.Wih, x, g.Wih, g.Bih, dx);
            AffineBackward(dan, (2 * n) + j, w.Wih, x, g.Wih, g.Bih, dx);
            AffineBackward(dar, j, w.Whh, h, g.Whh, g.Bhh, dh);
            AffineBackward(daz, n + j, w.Whh, h, g.Whh, g.Bhh, dh);
            AffineBackward(dan * r, (2 * n) + j, w.Whh, h, g.Whh, g.Bhh, dh);
        }

        T Slope(in RnnActivation a, T raw, T y) =>
            OnnxActivations<T>.Derivative(a, OptionMath.Clip(Options.CellClip, raw), y) * OptionMath.Pass(Options.CellClip, raw);
    }

    private sealed unsafe class Kernels<T, TV>(GruOptions options) : OptionKernels<T, TV>(options.CellClip)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TV : unmanaged, IVec<TV, T>
    {
        private readonly RnnActivation _f = options.GateActivation, _g = options.CandidateActivation;

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
                Gates(_f, gx, gh, b, aux + hp, 2, hp, s.Width);

                for (int j = 0; j < s.Width; j += w)
                {
                    var ghn = TV.Load(gh + (2 * hp) + j) + TV.Load(b + (3 * hp) + j);
                    var raw = TV.Fma(TV.Load(gx + j), ghn, TV.Load(gx + (2 * hp) + j) + TV.Load(b + (2 * hp) + j));
                    TV.Store(ghn, aux + j);
                    TV.Store(raw, aux + (3 * hp) + j);
                    TV.Store(Clip(raw), gx + (2 * hp) + j);
                }

                Activate(_g, gx + (2 * hp), gx + (2 * hp), s.Width);
                for (int j = 0; j < s.Width; j += w)
                {
                    var n = TV.Load(gx + (2 * hp) + j);
                    TV.Store(TV.Fma(TV.Load(gx + hp + j), TV.Load(hpv + j) - n, n), h + j);
                }
            }
        }

        public override void Backward1(in StepArgs<T> s)
        {
            int hp = s.Hp, w = TV.Count;
            var one = TV.One;
            TV fa = Alpha(_f), fb = Beta(_f), ga = Alpha(_g), gb = Beta(_g);
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
                    var dan = dh * (one - z) * Slope(_g, ga, gb, TV.Load(aux + (3 * hp) + j), n);
                    var dar = dan * TV.Load(aux + j) * Slope(_f, fa, fb, TV.Load(aux + hp + j), rg);
                    var daz = dh * (TV.Load(hpv + j) - n) * Slope(_f, fa, fb, TV.Load(aux + (2 * hp) + j), z);
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
