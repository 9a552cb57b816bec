using System.Numerics;
using FastLstm.Kernels;

namespace FastLstm.Cells;

/// <summary>
/// The GRU with the reset applied after the recurrent product (PyTorch's cell, ONNX linear_before_reset = 1), plain or
/// with the ONNX GRU options (<see cref="GruOptions"/>). Gate rows r, z, n; activations f (gates, σ), g (candidate, tanh):
/// <c>r = f(a_r)</c>, <c>z = f(a_z)</c>, <c>n = g(W_in x + b_in + r⊙(W_hn h + b_hn))</c>, <c>h' = (1−z)⊙n + z⊙h</c>,
/// every activation's input clipped to ±clip when a clip is set.
/// <para>Saved: r, z, n in place of the pre-activations; <c>W_hn h + b_hn</c> in Aux block 0 and, in the general
/// layout, the unclipped inputs of r, z, n in blocks 1–3 where the backward reads them. Prepared bias blocks: b_r
/// (ih + hh), b_z (ih + hh), b_in, b_hn.</para>
/// </summary>
internal sealed class GruCell(GruOptions options, bool general) : GruCellBase(options, general)
{
    public static readonly GruCell Standard = new(new GruOptions(), general: false);

    public override int BiasBlocks => 4;

    public override int NaiveCacheLength(int hidden) => 7 * hidden;

    public override double NaiveKinkDistance<T>(ReadOnlySpan<T> cache) => GruCellBase.Kink(Options, cache, 4);

    public override FusedCell<T> Fused<T, TV>() => Fused<T, TV, Factory>(Options);

    public override void NaiveForward<T>(in NaiveWeights<T> w, ReadOnlySpan<T> x, ReadOnlySpan<T> h, ReadOnlySpan<T> c, Span<T> hOut, Span<T> cOut, Span<T> cache)
    {
        int n = w.HiddenSize;
        var (fa, ga, clip) = GruCellBase.Naive<T>(Options);
        for (int j = 0; j < n; j++)
        {
            T ar = w.Bih[j] + Dot(w.Wih, j, x) + w.Bhh[j] + Dot(w.Whh, j, h);
            T az = w.Bih[n + j] + Dot(w.Wih, n + j, x) + w.Bhh[n + j] + Dot(w.Whh, n + j, h);
            T r = fa.Invoke(clip.Apply(ar));
            T z = fa.Invoke(clip.Apply(az));
            T ghn = w.Bhh[(2 * n) + j] + Dot(w.Whh, (2 * n) + j, h);
            T an = w.Bih[(2 * n) + j] + Dot(w.Wih, (2 * n) + j, x) + (r * ghn);
            T nn = ga.Invoke(clip.Apply(an));
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
        var (fa, ga, clip) = GruCellBase.Naive<T>(Options);
        dx.Clear();
        dh.Clear();
        for (int j = 0; j < n; j++)
        {
            T r = cache[j], z = cache[n + j], nn = cache[(2 * n) + j], ghn = cache[(3 * n) + j];
            T ar = cache[(4 * n) + j], az = cache[(5 * n) + j], an = cache[(6 * n) + j];
            dh[j] += dhOut[j] * z;
            T dan = dhOut[j] * (T.One - z) * ga.Derivative(clip.Apply(an), nn) * clip.Pass(an);
            T dar = dan * ghn * fa.Derivative(clip.Apply(ar), r) * clip.Pass(ar);
            T daz = dhOut[j] * (h[j] - nn) * fa.Derivative(clip.Apply(az), z) * clip.Pass(az);
            AffineBackward(dar, j, w.Wih, x, g.Wih, g.Bih, dx);
            AffineBackward(daz, n + j, w.Wih, x, g.Wih, g.Bih, dx);
            AffineBackward(dan, (2 * n) + j, w.Wih, x, g.Wih, g.Bih, dx);
            AffineBackward(dar, j, w.Whh, h, g.Whh, g.Bhh, dh);
            AffineBackward(daz, n + j, w.Whh, h, g.Whh, g.Bhh, dh);
            AffineBackward(dan * r, (2 * n) + j, w.Whh, h, g.Whh, g.Bhh, dh);
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
            PrepareGruBias(parameters, tensors, h, hp, dst);

        public override void Forward1(in StepArgs<T> s)
        {
            int hp = s.Hp, w = TV.Count, width = s.Width;
            bool keep = KeepsInput<TG, TClip>();
            T* b = s.Bias;
            for (int r = 0; r < s.Rows; r++)
            {
                T* gx = s.Gx + ((long)r * s.LdGx);
                T* gh = s.Gh + ((long)r * s.LdGh);
                T* hpv = s.HPrev + ((long)r * hp);
                T* h = s.H + ((long)r * hp);
                T* aux = s.Aux + ((long)r * s.LdAux);
                T* raw = aux + hp;
                Gate(fa, clip, gx, gx, gh, b, raw, width);
                Gate(fa, clip, gx + hp, gx + hp, gh + hp, b + hp, raw + hp, width);
                for (int j = 0; j < width; j += w)
                {
                    var ghn = TV.Load(gh + (2 * hp) + j) + TV.Load(b + (3 * hp) + j);
                    var an = TV.Fma(TV.Load(gx + j), ghn, TV.Load(gx + (2 * hp) + j) + TV.Load(b + (2 * hp) + j));
                    TV.Store(ghn, aux + j);
                    if (keep)
                    {
                        TV.Store(an, raw + (2 * hp) + j);
                    }

                    if (TG.Blockwise)
                    {
                        TV.Store(clip.Apply(an), gx + (2 * hp) + j);
                    }
                    else
                    {
                        var n = ga.Invoke(clip.Apply(an));
                        TV.Store(n, gx + (2 * hp) + j);
                        TV.Store(TV.Fma(TV.Load(gx + hp + j), TV.Load(hpv + j) - n, n), h + j);
                    }
                }

                if (TG.Blockwise)
                {
                    ga.Apply<TV>(gx + (2 * hp), gx + (2 * hp), width);
                    GruCellBase.Blend<T, TV>(h, gx + hp, hpv, gx + (2 * hp), width);
                }
            }
        }

        public override void Backward1(in StepArgs<T> s)
        {
            int hp = s.Hp, w = TV.Count, width = s.Width;
            var one = TV.One;
            for (int r = 0; r < s.Rows; r++)
            {
                T* a = s.Gx + ((long)r * s.LdGx);
                T* hpv = s.HPrev + ((long)r * hp);
                T* aux = s.Aux + ((long)r * s.LdAux);
                T* raw = aux + hp;
                T* dhp = s.DH + ((long)r * hp);
                T* dgx = s.DGx + ((long)r * s.LdGx);
                T* dgh = s.DGh + ((long)r * s.LdGh);
                Slopes(fa, clip, dgx, raw, a, width);
                Slopes(fa, clip, dgx + hp, raw + hp, a + hp, width);
                Slopes(ga, clip, dgx + (2 * hp), raw + (2 * hp), a + (2 * hp), width);
                for (int j = 0; j < width; j += w)
                {
                    var rg = TV.Load(a + j);
                    var z = TV.Load(a + hp + j);
                    var n = TV.Load(a + (2 * hp) + j);
                    var dh = TV.Load(dhp + j);
                    var dan = dh * (one - z) * Slope(ga, clip, dgx + (2 * hp), raw + (2 * hp), n, j);
                    var dar = dan * TV.Load(aux + j) * Slope(fa, clip, dgx, raw, rg, j);
                    var daz = dh * (TV.Load(hpv + j) - n) * Slope(fa, clip, dgx + hp, raw + hp, z, j);
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

/// <summary>
/// What the two GRU cells share: the options, three gates whose recurrent gradient differs from the input one, the layout
/// of the saved unclipped inputs, the options' named values, and the dispatch from options to kernels.
/// </summary>
internal abstract class GruCellBase(GruOptions options, bool general) : Cell
{
    public GruOptions Options { get; } = options;

    public override int Gates => 3;

    public override int[]? OnnxGateBlocks => [1, 0, 2];

    public override bool SeparateRecurrentGradient => true;

    public override bool HasDirectHiddenGradient => true;

    public override int AuxBlocks => general ? 4 : 1;

    public override IEnumerable<(string Name, double[] Values)> OptionValues(RnnSpec spec, int direction)
    {
        var o = spec.GruOptionsOf(direction);
        var standard = new GruOptions();
        if (o.CellClip is { } clip)
        {
            yield return ("clip", [clip]);
        }

        if (o.GateActivation != standard.GateActivation)
        {
            yield return ("gate_activation", OptionValue.Of(o.GateActivation));
        }

        if (o.CandidateActivation != standard.CandidateActivation)
        {
            yield return ("candidate_activation", OptionValue.Of(o.CandidateActivation));
        }
    }

    public override RnnSpec WithOptionValues(RnnSpec spec, int direction, IEnumerable<(string Name, double[] Values)> values)
    {
        var o = new GruOptions();
        foreach (var v in values)
        {
            o = v.Name switch
            {
                "clip" => o with { CellClip = OptionValue.Clip(v) },
                "gate_activation" => o with { GateActivation = OptionValue.Activation(v) },
                "candidate_activation" => o with { CandidateActivation = OptionValue.Activation(v) },
                _ => throw OptionValue.Unknown(v.Name, spec.Cell, ["clip", "gate_activation", "candidate_activation"]),
            };
        }

        return o.IsStandard ? spec : direction == 0 ? spec with { GruOptions = o } : spec with { ReverseGruOptions = o };
    }

    /// <summary>Makes one GRU cell's kernels once its options are operator structs.</summary>
    public interface IKernels
    {
        static abstract FusedCell<T> Create<T, TV, TF, TG, TClip>(TF f, TG g, TClip clip)
            where T : unmanaged, IBinaryFloatingPointIeee754<T>
            where TV : unmanaged, IVec<TV, T>
            where TF : struct, IActivation<T>
            where TG : struct, IActivation<T>
            where TClip : struct, IClip<T>;
    }

    /// <summary>The kernels <typeparamref name="TKernels"/> makes for the options' activations and clip.</summary>
    public static FusedCell<T> Fused<T, TV, TKernels>(GruOptions o)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TV : unmanaged, IVec<TV, T>
        where TKernels : struct, IKernels
        => Operators<T>.Activation<FusedCell<T>, WithGate<T, TV, TKernels>>(o.GateActivation, new(o));

    /// <summary>The naive twins' activations and clip.</summary>
    public static (OnnxActivationOp<T> F, OnnxActivationOp<T> G, ClipOp<T> Clip) Naive<T>(GruOptions o)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        => (new(o.GateActivation), new(o.CandidateActivation), ClipOp<T>.Of(o.CellClip));

    /// <summary>The kink distance of a naive cache holding the unclipped inputs of r, z, n from block <paramref name="first"/>.</summary>
    public static double Kink<T>(GruOptions o, ReadOnlySpan<T> cache, int first)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int n = cache.Length / (first + 3);
        double distance = double.PositiveInfinity;
        for (int k = 0; k < 3 * n; k++)
        {
            var a = (k / n) == 2 ? o.CandidateActivation : o.GateActivation;
            distance = Math.Min(distance, OptionMath.Kink(o.CellClip, a, double.CreateTruncating(cache[(first * n) + k])));
        }

        return distance;
    }

    /// <summary>h[j] = (1 − z[j])·n[j] + z[j]·hPrev[j] for j &lt; width.</summary>
    public static unsafe void Blend<T, TV>(T* h, T* z, T* hPrev, T* n, int width)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TV : unmanaged, IVec<TV, T>
    {
        for (int j = 0; j < width; j += TV.Count)
        {
            var nv = TV.Load(n + j);
            TV.Store(TV.Fma(TV.Load(z + j), TV.Load(hPrev + j) - nv, nv), h + j);
        }
    }

    private readonly struct WithGate<T, TV, TKernels>(GruOptions o) : IActivationVisitor<T, FusedCell<T>>
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TV : unmanaged, IVec<TV, T>
        where TKernels : struct, IKernels
    {
        public FusedCell<T> Visit<TF>(TF f)
            where TF : struct, IActivation<T>
            => Operators<T>.Activation<FusedCell<T>, WithCandidate<T, TV, TKernels, TF>>(o.CandidateActivation, new(o, f));
    }

    private readonly struct WithCandidate<T, TV, TKernels, TF>(GruOptions o, TF f) : IActivationVisitor<T, FusedCell<T>>
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TV : unmanaged, IVec<TV, T>
        where TKernels : struct, IKernels
        where TF : struct, IActivation<T>
    {
        public FusedCell<T> Visit<TG>(TG g)
            where TG : struct, IActivation<T>
            => Operators<T>.Clip<FusedCell<T>, WithClip<T, TV, TKernels, TF, TG>>(o.CellClip, new(f, g));
    }

    private readonly struct WithClip<T, TV, TKernels, TF, TG>(TF f, TG g) : IClipVisitor<T, FusedCell<T>>
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TV : unmanaged, IVec<TV, T>
        where TKernels : struct, IKernels
        where TF : struct, IActivation<T>
        where TG : struct, IActivation<T>
    {
        public FusedCell<T> Visit<TClip>(TClip clip)
            where TClip : struct, IClip<T>
            => TKernels.Create<T, TV, TF, TG, TClip>(f, g, clip);
    }
}
