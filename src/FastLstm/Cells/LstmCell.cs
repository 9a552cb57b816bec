using System.Numerics;
using System.Runtime.CompilerServices;
using FastLstm.Kernels;

namespace FastLstm.Cells;

/// <summary>
/// The LSTM: PyTorch's cell, and the ONNX LSTM operator in full (<see cref="LstmOptions"/>). Gate rows i, f, g, o;
/// activations f (gates, σ), g (candidate, tanh), h (output, tanh):
/// <c>i = f(a_i + p_i⊙c)</c>, <c>f = f(a_f + p_f⊙c)</c> (or 1 − i when coupled), <c>g = g(a_g)</c>,
/// <c>c' = f⊙c + i⊙g</c>, <c>o = f(a_o + p_o⊙c')</c>, <c>h' = o⊙h(c')</c>, every gate's input clipped to ±clip when a
/// clip is set; the peephole terms p exist only with peepholes.
/// <para>Saved for backward: the activations in place of the pre-activations and h(c') in Aux block 0; in the general
/// layout (a spec with options) blocks 1–4 hold the unclipped inputs of i, f, g, o where the backward reads them, and
/// block 5 is the backward's scratch for the slopes of a block-wise output activation. Prepared bias: the four ih + hh
/// sums, then p_i, p_f, p_o.</para>
/// </summary>
internal sealed class LstmCell(LstmOptions options, bool general) : Cell
{
    public static readonly LstmCell Standard = new(new LstmOptions(), general: false);

    private static readonly ExtraTensor[] PeepholeTensors =
        [new("weight_peephole_i", false), new("weight_peephole_f", false), new("weight_peephole_o", false)];

    private static readonly StateProduct[] PeepholeProducts = [new(0, 0, false), new(1, 1, false), new(2, 3, true)];

    public LstmOptions Options { get; } = options;

    public override int Gates => 4;

    public override int[]? OnnxGateBlocks => [0, 2, 3, 1];

    public override bool HasCellState => true;

    public override int AuxBlocks => general ? 6 : 1;

    public override int BiasBlocks => Options.Peepholes ? 7 : 4;

    public override IReadOnlyList<ExtraTensor> ExtraTensors => Options.Peepholes ? PeepholeTensors : [];

    public override IReadOnlyList<StateProduct> StateProducts => Options.Peepholes ? PeepholeProducts : [];

    public override int NaiveCacheLength(int hidden) => 9 * hidden;

    public override double NaiveKinkDistance<T>(ReadOnlySpan<T> cache)
    {
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

    public override FusedCell<T> Fused<T, TV>() =>
        Operators<T>.Activation<FusedCell<T>, WithGate<T, TV>>(Options.GateActivation, new(Options));

    public override IEnumerable<(string Name, double[] Values)> OptionValues(RnnSpec spec, int direction)
    {
        var o = spec.LstmOptionsOf(direction);
        var standard = new LstmOptions();
        if (o.Peepholes)
        {
            yield return ("peepholes", [1]);
        }

        if (o.CellClip is { } clip)
        {
            yield return ("clip", [clip]);
        }

        if (o.CoupledInputForget)
        {
            yield return ("coupled", [1]);
        }

        if (o.GateActivation != standard.GateActivation)
        {
            yield return ("gate_activation", OptionValue.Of(o.GateActivation));
        }

        if (o.CellActivation != standard.CellActivation)
        {
            yield return ("cell_activation", OptionValue.Of(o.CellActivation));
        }

        if (o.OutputActivation != standard.OutputActivation)
        {
            yield return ("output_activation", OptionValue.Of(o.OutputActivation));
        }
    }

    public override RnnSpec WithOptionValues(RnnSpec spec, int direction, IEnumerable<(string Name, double[] Values)> values)
    {
        var o = new LstmOptions();
        foreach (var v in values)
        {
            o = v.Name switch
            {
                "peepholes" => o with { Peepholes = OptionValue.Flag(v) },
                "clip" => o with { CellClip = OptionValue.Clip(v) },
                "coupled" => o with { CoupledInputForget = OptionValue.Flag(v) },
                "gate_activation" => o with { GateActivation = OptionValue.Activation(v) },
                "cell_activation" => o with { CellActivation = OptionValue.Activation(v) },
                "output_activation" => o with { OutputActivation = OptionValue.Activation(v) },
                _ => throw OptionValue.Unknown(v.Name, spec.Cell, ["peepholes", "clip", "coupled", "gate_activation", "cell_activation", "output_activation"]),
            };
        }

        return o.IsStandard ? spec : direction == 0 ? spec with { LstmOptions = o } : spec with { ReverseLstmOptions = o };
    }

    public override void NaiveForward<T>(in NaiveWeights<T> w, ReadOnlySpan<T> x, ReadOnlySpan<T> h, ReadOnlySpan<T> c, Span<T> hOut, Span<T> cOut, Span<T> cache)
    {
        int n = w.HiddenSize;
        var o = Options;
        var (fa, ga, ha, clip) = Naive<T>();
        for (int j = 0; j < n; j++)
        {
            T ai = Pre(w, 0, j, x, h) + (o.Peepholes ? w.Extra(0)[j] * c[j] : T.Zero);
            T af = Pre(w, 1, j, x, h) + (o.Peepholes ? w.Extra(1)[j] * c[j] : T.Zero);
            T ag = Pre(w, 2, j, x, h);
            T i = fa.Invoke(clip.Apply(ai));
            T f = o.CoupledInputForget ? T.One - i : fa.Invoke(clip.Apply(af));
            T g = ga.Invoke(clip.Apply(ag));
            cOut[j] = (f * c[j]) + (i * g);
            T ao = Pre(w, 3, j, x, h) + (o.Peepholes ? w.Extra(2)[j] * cOut[j] : T.Zero);
            T og = fa.Invoke(clip.Apply(ao));
            hOut[j] = og * ha.Invoke(cOut[j]);
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

    public override void NaiveBackward<T>(in NaiveWeights<T> w, in NaiveGrads<T> g, ReadOnlySpan<T> x, ReadOnlySpan<T> h, ReadOnlySpan<T> c,
        ReadOnlySpan<T> cache, ReadOnlySpan<T> dhOut, ReadOnlySpan<T> dcOut, Span<T> dx, Span<T> dh, Span<T> dc)
    {
        int n = w.HiddenSize;
        var op = Options;
        var (fa, ga, ha, clip) = Naive<T>();
        dx.Clear();
        dh.Clear();
        for (int j = 0; j < n; j++)
        {
            T i = cache[j], f = cache[n + j], gg = cache[(2 * n) + j], o = cache[(3 * n) + j], cn = cache[(4 * n) + j];
            T ai = cache[(5 * n) + j], af = cache[(6 * n) + j], ag = cache[(7 * n) + j], ao = cache[(8 * n) + j];
            T hc = ha.Invoke(cn);
            T dao = dhOut[j] * hc * fa.Derivative(clip.Apply(ao), o) * clip.Pass(ao);
            T dcj = dcOut[j] + (dhOut[j] * o * ha.Derivative(cn, hc)) + (op.Peepholes ? dao * w.Extra(2)[j] : T.Zero);
            T di = fa.Derivative(clip.Apply(ai), i) * clip.Pass(ai);
            T dai = op.CoupledInputForget ? dcj * (gg - c[j]) * di : dcj * gg * di;
            T daf = op.CoupledInputForget ? T.Zero : dcj * c[j] * fa.Derivative(clip.Apply(af), f) * clip.Pass(af);
            T dag = dcj * i * ga.Derivative(clip.Apply(ag), gg) * clip.Pass(ag);
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

    private (OnnxActivationOp<T> F, OnnxActivationOp<T> G, OnnxActivationOp<T> H, ClipOp<T> Clip) Naive<T>()
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        => (new(Options.GateActivation), new(Options.CellActivation), new(Options.OutputActivation), ClipOp<T>.Of(Options.CellClip));

    private readonly struct WithGate<T, TV>(LstmOptions o) : IActivationVisitor<T, FusedCell<T>>
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TV : unmanaged, IVec<TV, T>
    {
        public FusedCell<T> Visit<TF>(TF f)
            where TF : struct, IActivation<T>
            => Operators<T>.Activation<FusedCell<T>, WithCandidate<T, TV, TF>>(o.CellActivation, new(o, f));
    }

    private readonly struct WithCandidate<T, TV, TF>(LstmOptions o, TF f) : IActivationVisitor<T, FusedCell<T>>
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TV : unmanaged, IVec<TV, T>
        where TF : struct, IActivation<T>
    {
        public FusedCell<T> Visit<TG>(TG g)
            where TG : struct, IActivation<T>
            => Operators<T>.Activation<FusedCell<T>, WithOutput<T, TV, TF, TG>>(o.OutputActivation, new(o, f, g));
    }

    private readonly struct WithOutput<T, TV, TF, TG>(LstmOptions o, TF f, TG g) : IActivationVisitor<T, FusedCell<T>>
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TV : unmanaged, IVec<TV, T>
        where TF : struct, IActivation<T>
        where TG : struct, IActivation<T>
    {
        public FusedCell<T> Visit<TH>(TH h)
            where TH : struct, IActivation<T>
            => Operators<T>.Clip<FusedCell<T>, WithClip<T, TV, TF, TG, TH>>(o.CellClip, new(o, f, g, h));
    }

    private readonly struct WithClip<T, TV, TF, TG, TH>(LstmOptions o, TF f, TG g, TH h) : IClipVisitor<T, FusedCell<T>>
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TV : unmanaged, IVec<TV, T>
        where TF : struct, IActivation<T>
        where TG : struct, IActivation<T>
        where TH : struct, IActivation<T>
    {
        public FusedCell<T> Visit<TClip>(TClip clip)
            where TClip : struct, IClip<T>
            => (o.Peepholes, o.CoupledInputForget) switch
            {
                (false, false) => new Kernels<T, TV, TF, TG, TH, TClip, No, No>(f, g, h, clip),
                (true, false) => new Kernels<T, TV, TF, TG, TH, TClip, Yes, No>(f, g, h, clip),
                (false, true) => new Kernels<T, TV, TF, TG, TH, TClip, No, Yes>(f, g, h, clip),
                _ => new Kernels<T, TV, TF, TG, TH, TClip, Yes, Yes>(f, g, h, clip),
            };
    }

    private sealed unsafe class Kernels<T, TV, TF, TG, TH, TClip, TPeep, TCoupled>(TF fa, TG ga, TH ha, TClip clip) : FusedCell<T, TV>
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TV : unmanaged, IVec<TV, T>
        where TF : struct, IActivation<T>
        where TG : struct, IActivation<T>
        where TH : struct, IActivation<T>
        where TClip : struct, IClip<T>
        where TPeep : struct, IFlag
        where TCoupled : struct, IFlag
    {
        // With peepholes the output gate reads c', and a block-wise output activation runs a block at a time: then h(c')
        // and h' follow the state update in passes of their own instead of inside it.
        private static bool OutputInline
        {
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            get => !TPeep.On && !TH.Blockwise;
        }

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
            int hp = s.Hp, w = TV.Count, n = s.Width;
            T* b = s.Bias;
            for (int r = 0; r < s.Rows; r++)
            {
                T* gx = s.Gx + ((long)r * s.LdGx);
                T* gh = s.Gh + ((long)r * s.LdGh);
                T* cp = s.CPrev + ((long)r * hp);
                T* c = s.C + ((long)r * hp);
                T* h = s.H + ((long)r * hp);
                T* tc = s.Aux + ((long)r * s.LdAux);
                T* raw = tc + hp;
                if (TPeep.On)
                {
                    AddProduct(gx, b + (4 * hp), cp, n);
                    AddProduct(gx + hp, b + (5 * hp), cp, n);
                }

                Gate(fa, clip, gx, gx, gh, b, raw, n);
                if (TCoupled.On)
                {
                    for (int j = 0; j < n; j += w)
                    {
                        TV.Store(TV.One - TV.Load(gx + j), gx + hp + j);
                    }
                }
                else
                {
                    Gate(fa, clip, gx + hp, gx + hp, gh + hp, b + hp, raw + hp, n);
                }

                Gate(ga, clip, gx + (2 * hp), gx + (2 * hp), gh + (2 * hp), b + (2 * hp), raw + (2 * hp), n);
                T* go = gx + (3 * hp);
                if (!TPeep.On)
                {
                    Gate(fa, clip, go, go, gh + (3 * hp), b + (3 * hp), raw + (3 * hp), n);
                }

                for (int j = 0; j < n; j += w)
                {
                    var cn = TV.Fma(TV.Load(gx + hp + j), TV.Load(cp + j), TV.Load(gx + j) * TV.Load(gx + (2 * hp) + j));
                    TV.Store(cn, c + j);
                    if (OutputInline)
                    {
                        var t = ha.Invoke(cn);
                        TV.Store(t, tc + j);
                        TV.Store(TV.Load(go + j) * t, h + j);
                    }
                }

                if (OutputInline)
                {
                    continue;
                }

                if (TPeep.On)
                {
                    AddProduct(go, b + (6 * hp), c, n);
                    Gate(fa, clip, go, go, gh + (3 * hp), b + (3 * hp), raw + (3 * hp), n);
                }

                ha.Apply<TV>(tc, c, n);
                for (int j = 0; j < n; j += w)
                {
                    TV.Store(TV.Load(go + j) * TV.Load(tc + j), h + j);
                }
            }
        }

        public override void Backward1(in StepArgs<T> s)
        {
            int hp = s.Hp, w = TV.Count, n = s.Width;
            T* b = s.Bias;
            for (int r = 0; r < s.Rows; r++)
            {
                T* a = s.Gx + ((long)r * s.LdGx);
                T* cp = s.CPrev + ((long)r * hp);
                T* cnp = s.C + ((long)r * hp);
                T* tc = s.Aux + ((long)r * s.LdAux);
                T* raw = tc + hp;
                T* hs = tc + (5 * hp);
                T* dhp = s.DH + ((long)r * hp);
                T* dcp = s.DC + ((long)r * hp);
                T* dg = s.DGx + ((long)r * s.LdGx);
                Slopes(fa, clip, dg, raw, a, n);
                Slopes(fa, clip, dg + hp, raw + hp, a + hp, TCoupled.On ? 0 : n);
                Slopes(ga, clip, dg + (2 * hp), raw + (2 * hp), a + (2 * hp), n);
                Slopes(fa, clip, dg + (3 * hp), raw + (3 * hp), a + (3 * hp), n);
                if (TH.Blockwise)
                {
                    ha.Slopes<TV>(hs, cnp, tc, n);
                }

                for (int j = 0; j < n; j += w)
                {
                    var i = TV.Load(a + j);
                    var f = TV.Load(a + hp + j);
                    var g = TV.Load(a + (2 * hp) + j);
                    var o = TV.Load(a + (3 * hp) + j);
                    var t = TV.Load(tc + j);
                    var dh = TV.Load(dhp + j);
                    var dao = dh * t * Slope(fa, clip, dg + (3 * hp), raw + (3 * hp), o, j);
                    var sh = TH.Blockwise ? TV.Load(hs + j) : ha.Derivative(TH.SlopeFromOutput ? t : TV.Load(cnp + j), t);
                    var dc = TV.Fma(dh * o, sh, TV.Load(dcp + j));
                    if (TPeep.On)
                    {
                        dc = TV.Fma(dao, TV.Load(b + (6 * hp) + j), dc);
                    }

                    var c0 = TV.Load(cp + j);
                    var si = Slope(fa, clip, dg, raw, i, j);
                    var dai = TCoupled.On ? dc * (g - c0) * si : dc * g * si;
                    var daf = TCoupled.On ? TV.Zero : dc * c0 * Slope(fa, clip, dg + hp, raw + hp, f, j);
                    var dag = dc * i * Slope(ga, clip, dg + (2 * hp), raw + (2 * hp), g, j);
                    var dcPrev = dc * f;
                    if (TPeep.On)
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
