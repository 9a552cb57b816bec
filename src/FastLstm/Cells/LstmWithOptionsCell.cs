using System.Numerics;
using FastLstm.Kernels;

namespace FastLstm.Cells;

/// <summary>
/// The ONNX LSTM operator in full (<see cref="LstmOptions"/>), PyTorch gate rows i, f, g, o, activations f (gates), g
/// (candidate), h (output):
/// <c>i = f(a_i + p_i⊙c)</c>, <c>f = f(a_f + p_f⊙c)</c> (or 1 − i when coupled), <c>g = g(a_g)</c>,
/// <c>c' = f⊙c + i⊙g</c>, <c>o = f(a_o + p_o⊙c')</c>, <c>h' = o⊙h(c')</c>, every pre-activation clipped to ±clip
/// when a clip is set. Saved for backward: the activations (in place of the pre-activations), h(c') and the four
/// unclipped pre-activations in Aux. Prepared bias: the four ih + hh sums, then p_i, p_f, p_o.
/// </summary>
internal sealed class LstmWithOptionsCell(LstmOptions options) : Cell
{
    private static readonly ExtraTensor[] PeepholeTensors =
        [new("weight_peephole_i", false), new("weight_peephole_f", false), new("weight_peephole_o", false)];

    private static readonly StateProduct[] PeepholeProducts = [new(0, 0, false), new(1, 1, false), new(2, 3, true)];

    public LstmOptions Options { get; } = options;

    public override int Gates => 4;

    public override bool HasCellState => true;

    public override int AuxBlocks => 5;

    public override int BiasBlocks => Options.Peepholes ? 7 : 4;

    public override IReadOnlyList<ExtraTensor> ExtraTensors => Options.Peepholes ? PeepholeTensors : [];

    public override IReadOnlyList<StateProduct> StateProducts => Options.Peepholes ? PeepholeProducts : [];

    public override int NaiveCacheLength(int hidden) => 9 * hidden;

    public override double NaiveKinkDistance<T>(ReadOnlySpan<T> cache)
    {
        // Finite differences are meaningless across a clip edge or a piecewise activation's corner.
        int n = cache.Length / 9;
        double distance = double.PositiveInfinity;
        for (int k = 0; k < 4 * n; k++)
        {
            var a = (k / n) == 2 ? Options.CellActivation : Options.GateActivation;
            distance = Math.Min(distance, OptionMath.Kink(Options.CellClip, a, double.CreateTruncating(cache[(5 * n) + k])));
        }

        for (int j = 0; j < n; j++)
        {
            distance = Math.Min(distance, OptionMath.Kink(null, Options.OutputActivation, double.CreateTruncating(cache[(4 * n) + j])));
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
            T ai = Pre(w, 0, j, x, h) + (o.Peepholes ? w.Extra(0)[j] * c[j] : T.Zero);
            T af = Pre(w, 1, j, x, h) + (o.Peepholes ? w.Extra(1)[j] * c[j] : T.Zero);
            T ag = Pre(w, 2, j, x, h);
            T i = OnnxActivations<T>.Apply(o.GateActivation, ClipT(ai));
            T f = o.CoupledInputForget ? T.One - i : OnnxActivations<T>.Apply(o.GateActivation, ClipT(af));
            T g = OnnxActivations<T>.Apply(o.CellActivation, ClipT(ag));
            cOut[j] = (f * c[j]) + (i * g);
            T ao = Pre(w, 3, j, x, h) + (o.Peepholes ? w.Extra(2)[j] * cOut[j] : T.Zero);
            T og = OnnxActivations<T>.Apply(o.GateActivation, ClipT(ao));
            hOut[j] = og * OnnxActivations<T>.Apply(o.OutputActivation, cOut[j]);
            cache[j] = i;
            cache[n + j] = f;
            cache[(2 * n) + j] = g;
            cache[(3 * n) + j] = og;
            cache[(4 * n) + j] = cOut[j];
            cache[(5 * n) + j] = ai;
            cache[(6 * n) + j] = af;
            cache[(7 * n) + j] = ag;
            cache[(8 * n) + j] = ao;
        }

        static T Pre(in NaiveWeights<T> w, int gate, int j, ReadOnlySpan<T> x, ReadOnlySpan<T> h)
        {
            int row = (gate * w.HiddenSize) + j;
            return w.Bih[row] + Dot(w.Wih, row, x) + w.Bhh[row] + Dot(w.Whh, row, h);
        }
    }

    private T ClipT<T>(T x)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        => OptionMath.Clip(Options.CellClip, x);

    private T Pass<T>(T raw)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        => OptionMath.Pass(Options.CellClip, raw);

    public override void NaiveBackward<T>(in NaiveWeights<T> w, in NaiveGrads<T> g, ReadOnlySpan<T> x, ReadOnlySpan<T> h, ReadOnlySpan<T> c,
        ReadOnlySpan<T> cache, ReadOnlySpan<T> dhOut, ReadOnlySpan<T> dcOut, Span<T> dx, Span<T> dh, Span<T> dc)
    {
        int n = w.HiddenSize;
        var op = Options;
        dx.Clear();
        dh.Clear();
        for (int j = 0; j < n; j++)
        {
            T i = cache[j], f = cache[n + j], gg = cache[(2 * n) + j], o = cache[(3 * n) + j], cn = cache[(4 * n) + j];
            T ai = cache[(5 * n) + j], af = cache[(6 * n) + j], ag = cache[(7 * n) + j], ao = cache[(8 * n) + j];
            T hc = OnnxActivations<T>.Apply(op.OutputActivation, cn);
            T dao = dhOut[j] * hc * OnnxActivations<T>.Derivative(op.GateActivation, ClipT(ao), o) * Pass(ao);
            T dcj = dcOut[j] + (dhOut[j] * o * OnnxActivations<T>.Derivative(op.OutputActivation, cn, hc)) + (op.Peepholes ? dao * w.Extra(2)[j] : T.Zero);
            T dai, daf;
            if (op.CoupledInputForget)
            {
                dai = dcj * (gg - c[j]) * OnnxActivations<T>.Derivative(op.GateActivation, ClipT(ai), i) * Pass(ai);
                daf = T.Zero;
            }
            else
            {
                dai = dcj * gg * OnnxActivations<T>.Derivative(op.GateActivation, ClipT(ai), i) * Pass(ai);
                daf = dcj * c[j] * OnnxActivations<T>.Derivative(op.GateActivation, ClipT(af), f) * Pass(af);
            }

            T dag = dcj * i * OnnxActivations<T>.Derivative(op.CellActivation, ClipT(ag), gg) * Pass(ag);
            dc[j] = (dcj * f) + (op.Peepholes ? (dai * w.Extra(0)[j]) + (daf * w.Extra(1)[j]) : T.Zero);
            if (op.Peepholes)
            {
                g.Extra(0)[j] += dai * c[j];
                g.Extra(1)[j] += daf * c[j];
                g.Extra(2)[j] += dao * cn;
            }

            Span<T> da = [dai, daf, dag, dao];
            for (int gate = 0; gate < 4; gate++)
            {
                int row = (gate * n) + j;
                AffineBackward(da[gate], row, w.Wih, x, g.Wih, g.Bih, dx);
                AffineBackward(da[gate], row, w.Whh, h, g.Whh, g.Bhh, dh);
            }
        }
    }

    private sealed unsafe class Kernels<T, TV>(LstmOptions options) : OptionKernels<T, TV>(options.CellClip)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TV : unmanaged, IVec<TV, T>
    {
        private readonly bool _peepholes = options.Peepholes, _coupled = options.CoupledInputForget;
        private readonly RnnActivation _f = options.GateActivation, _g = options.CellActivation, _h = options.OutputActivation;

        public override void PrepareBias(ReadOnlySpan<T> parameters, LayerTensors tensors, int h, int hp, Span<T> dst)
        {
            SumBlocks(Of(parameters, tensors.BiasIh), Of(parameters, tensors.BiasHh), 4, h, hp, dst);
            for (int k = 0; k < tensors.Extra.Length; k++)
            {
                PadBlocks(Of(parameters, tensors.Extra[k]), 1, h, hp, dst[((4 + k) * hp)..]);
            }
        }

        public override void Forward1(in StepArgs<T> s)
        {
            int hp = s.Hp, w = TV.Count;
            T* b = s.Bias;
            for (int r = 0; r < s.Rows; r++)
            {
                T* gx = s.Gx + ((long)r * s.LdGx);
                T* gh = s.Gh + ((long)r * s.LdGh);
                T* cp = s.CPrev + ((long)r * hp);
                T* c = s.C + ((long)r * hp);
                T* h = s.H + ((long)r * hp);
                T* aux = s.Aux + ((long)r * s.LdAux);
                for (int gate = 0; gate < 3; gate++)
                {
                    long at = gate * (long)hp;
                    bool peep = _peepholes && gate < 2;
                    for (int j = 0; j < s.Width; j += w)
                    {
                        var raw = TV.Load(gx + at + j) + TV.Load(gh + at + j) + TV.Load(b + at + j);
                        if (peep)
                        {
                            raw = TV.Fma(TV.Load(b + ((4 + gate) * (long)hp) + j), TV.Load(cp + j), raw);
                        }

                        TV.Store(raw, aux + hp + at + j);
                        TV.Store(Clip(raw), gx + at + j);
                    }
                }

                Activate(_f, gx, gx, s.Width);
                if (_coupled)
                {
                    for (int j = 0; j < s.Width; j += w)
                    {
                        TV.Store(TV.One - TV.Load(gx + j), gx + hp + j);
                    }
                }
                else
                {
                    Activate(_f, gx + hp, gx + hp, s.Width);
                }

                Activate(_g, gx + (2 * hp), gx + (2 * hp), s.Width);
                T* go = gx + (3 * hp);
                for (int j = 0; j < s.Width; j += w)
                {
                    var cn = TV.Fma(TV.Load(gx + hp + j), TV.Load(cp + j), TV.Load(gx + j) * TV.Load(gx + (2 * hp) + j));
                    TV.Store(cn, c + j);
                    var raw = TV.Load(go + j) + TV.Load(gh + (3 * hp) + j) + TV.Load(b + (3 * hp) + j);
                    if (_peepholes)
                    {
                        raw = TV.Fma(TV.Load(b + (6 * hp) + j), cn, raw);
                    }

                    TV.Store(raw, aux + (4 * hp) + j);
                    TV.Store(Clip(raw), go + j);
                }

                Activate(_f, go, go, s.Width);
                Activate(_h, aux, c, s.Width);
                for (int j = 0; j < s.Width; j += w)
                {
                    TV.Store(TV.Load(go + j) * TV.Load(aux + j), h + j);
                }
            }
        }

        public override void Backward1(in StepArgs<T> s)
        {
            int hp = s.Hp, w = TV.Count;
            T* b = s.Bias;
            TV fa = Alpha(_f), fb = Beta(_f), ga = Alpha(_g), gb = Beta(_g), ha = Alpha(_h), hb = Beta(_h);
            var hk = _h.Kind;
            for (int r = 0; r < s.Rows; r++)
            {
                T* a = s.Gx + ((long)r * s.LdGx);
                T* cp = s.CPrev + ((long)r * hp);
                T* cnp = s.C + ((long)r * hp);
                T* aux = s.Aux + ((long)r * s.LdAux);
                T* dhp = s.DH + ((long)r * hp);
                T* dcp = s.DC + ((long)r * hp);
                T* dg = s.DGx + ((long)r * s.LdGx);
                for (int j = 0; j < s.Width; j += w)
                {
                    var i = TV.Load(a + j);
                    var f = TV.Load(a + hp + j);
                    var g = TV.Load(a + (2 * hp) + j);
                    var o = TV.Load(a + (3 * hp) + j);
                    var hc = TV.Load(aux + j);
                    var cn = TV.Load(cnp + j);
                    var c0 = TV.Load(cp + j);
                    var rawI = TV.Load(aux + hp + j);
                    var rawF = TV.Load(aux + (2 * hp) + j);
                    var rawG = TV.Load(aux + (3 * hp) + j);
                    var rawO = TV.Load(aux + (4 * hp) + j);
                    var dh = TV.Load(dhp + j);
                    var dao = dh * hc * Slope(_f, fa, fb, rawO, o);
                    var dc = TV.Fma(dh * o, OnnxActivations<T>.Derivative(hk, ha, hb, cn, hc), TV.Load(dcp + j));
                    if (_peepholes)
                    {
                        dc = TV.Fma(dao, TV.Load(b + (6 * hp) + j), dc);
                    }

                    var di = Slope(_f, fa, fb, rawI, i);
                    TV dai, daf;
                    if (_coupled)
                    {
                        dai = dc * (g - c0) * di;
                        daf = TV.Zero;
                    }
                    else
                    {
                        dai = dc * g * di;
                        daf = dc * c0 * Slope(_f, fa, fb, rawF, f);
                    }

                    var dag = dc * i * Slope(_g, ga, gb, rawG, g);
                    var dcPrev = dc * f;
                    if (_peepholes)
                    {
                        dcPrev = TV.Fma(dai, TV.Load(b + (4 * hp) + j), TV.Fma(daf, TV.Load(b + (5 * hp) + j), dcPrev));
                    }

                    TV.Store(dcPrev, dcp + j);
                    TV.Store(dai, dg + j);
                    TV.Store(daf, dg + hp + j);
                    TV.Store(dag, dg + (2 * hp) + j);
                    TV.Store(dao, dg + (3 * hp) + j);
                }
            }
        }
    }
}
