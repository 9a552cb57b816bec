using System.Numerics;
using FastLstm.Kernels;

namespace FastLstm.Cells;

/// <summary>
/// Elman RNN, plain or with the ONNX RNN options (<see cref="SimpleRnnOptions"/>):
/// <c>h' = f(clip(W_ih x + b_ih + W_hh h + b_hh))</c>, f = the cell type's tanh or ReLU unless the options name another
/// activation. Backward needs only h' for tanh and ReLU (tanh' = 1 − h'², relu' = [h' &gt; 0]); in the general layout
/// Aux block 0 holds the unclipped input of f where the backward reads it.
/// </summary>
internal sealed class RnnCell(SimpleRnnOptions options, bool relu, bool general) : Cell
{
    public static readonly RnnCell WithTanh = new(new SimpleRnnOptions(), relu: false, general: false);
    public static readonly RnnCell WithRelu = new(new SimpleRnnOptions(), relu: true, general: false);

    private readonly RnnActivation _f = options.Activation ?? new RnnActivation(relu ? RnnActivationKind.Relu : RnnActivationKind.Tanh);

    public SimpleRnnOptions Options { get; } = options;

    public override int Gates => 1;

    public override int[]? OnnxGateBlocks => [0];

    public override int AuxBlocks => general ? 1 : 0;

    public override int NaiveCacheLength(int hidden) => 2 * hidden;

    public override double NaiveKinkDistance<T>(ReadOnlySpan<T> cache)
    {
        double distance = double.PositiveInfinity;
        foreach (var raw in cache[(cache.Length / 2)..])
        {
            distance = Math.Min(distance, OptionMath.Kink(Options.CellClip, _f, double.CreateTruncating(raw)));
        }

        return distance;
    }

    public override FusedCell<T> Fused<T, TV>() =>
        Operators<T>.Activation<FusedCell<T>, WithActivation<T, TV>>(_f, new(Options.CellClip));

    public override IEnumerable<(string Name, double[] Values)> OptionValues(RnnSpec spec, int direction)
    {
        var o = spec.SimpleRnnOptionsOf(direction);
        if (o.CellClip is { } clip)
        {
            yield return ("clip", [clip]);
        }

        if (o.Activation is { } a)
        {
            yield return ("activation", OptionValue.Of(a));
        }
    }

    public override RnnSpec WithOptionValues(RnnSpec spec, int direction, IEnumerable<(string Name, double[] Values)> values)
    {
        var o = new SimpleRnnOptions();
        foreach (var v in values)
        {
            o = v.Name switch
            {
                "clip" => o with { CellClip = OptionValue.Clip(v) },
                "activation" => o with { Activation = OptionValue.Activation(v) },
                _ => throw OptionValue.Unknown(v.Name, spec.Cell, ["clip", "activation"]),
            };
        }

        return o.IsStandard ? spec : direction == 0 ? spec with { SimpleRnnOptions = o } : spec with { ReverseSimpleRnnOptions = o };
    }

    public override void NaiveForward<T>(in NaiveWeights<T> w, ReadOnlySpan<T> x, ReadOnlySpan<T> h, ReadOnlySpan<T> c, Span<T> hOut, Span<T> cOut, Span<T> cache)
    {
        var f = new OnnxActivationOp<T>(_f);
        var clip = ClipOp<T>.Of(Options.CellClip);
        for (int j = 0; j < w.HiddenSize; j++)
        {
            T pre = w.Bih[j] + Dot(w.Wih, j, x) + w.Bhh[j] + Dot(w.Whh, j, h);
            hOut[j] = f.Invoke(clip.Apply(pre));
            cache[j] = hOut[j];
            cache[w.HiddenSize + j] = pre;
        }
    }

    public override void NaiveBackward<T>(in NaiveWeights<T> w, in NaiveGrads<T> g, ReadOnlySpan<T> x, ReadOnlySpan<T> h, ReadOnlySpan<T> c,
        ReadOnlySpan<T> cache, ReadOnlySpan<T> dhOut, ReadOnlySpan<T> dcOut, Span<T> dx, Span<T> dh, Span<T> dc)
    {
        var f = new OnnxActivationOp<T>(_f);
        var clip = ClipOp<T>.Of(Options.CellClip);
        dx.Clear();
        dh.Clear();
        for (int j = 0; j < w.HiddenSize; j++)
        {
            T y = cache[j], pre = cache[w.HiddenSize + j];
            T da = dhOut[j] * f.Derivative(clip.Apply(pre), y) * clip.Pass(pre);
            AffineBackward(da, j, w.Wih, x, g.Wih, g.Bih, dx);
            AffineBackward(da, j, w.Whh, h, g.Whh, g.Bhh, dh);
        }
    }

    private readonly struct WithActivation<T, TV>(double? cellClip) : IActivationVisitor<T, FusedCell<T>>
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TV : unmanaged, IVec<TV, T>
    {
        public FusedCell<T> Visit<TF>(TF f)
            where TF : struct, IActivation<T>
            => Operators<T>.Clip<FusedCell<T>, WithClip<T, TV, TF>>(cellClip, new(f));
    }

    private readonly struct WithClip<T, TV, TF>(TF f) : IClipVisitor<T, FusedCell<T>>
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TV : unmanaged, IVec<TV, T>
        where TF : struct, IActivation<T>
    {
        public FusedCell<T> Visit<TClip>(TClip clip)
            where TClip : struct, IClip<T>
            => new Kernels<T, TV, TF, TClip>(f, clip);
    }

    private sealed unsafe class Kernels<T, TV, TF, TClip>(TF fa, TClip clip) : FusedCell<T, TV>
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TV : unmanaged, IVec<TV, T>
        where TF : struct, IActivation<T>
        where TClip : struct, IClip<T>
    {
        public override void PrepareBias(ReadOnlySpan<T> parameters, LayerTensors tensors, int h, int hp, Span<T> dst) =>
            SumBlocks(Of(parameters, tensors.BiasIh), Of(parameters, tensors.BiasHh), 1, h, hp, dst);

        public override void Forward1(in StepArgs<T> s)
        {
            for (int r = 0; r < s.Rows; r++)
            {
                T* gx = s.Gx + ((long)r * s.LdGx);
                T* gh = s.Gh + ((long)r * s.LdGh);
                T* h = s.H + ((long)r * s.Hp);
                T* raw = s.Aux + ((long)r * s.LdAux);
                Gate(fa, clip, h, gx, gh, s.Bias, raw, s.Width);
            }
        }

        public override void Backward1(in StepArgs<T> s)
        {
            int hp = s.Hp, w = TV.Count;
            for (int r = 0; r < s.Rows; r++)
            {
                T* h = s.H + ((long)r * hp);
                T* raw = s.Aux + ((long)r * s.LdAux);
                T* dh = s.DH + ((long)r * hp);
                T* dg = s.DGx + ((long)r * s.LdGx);
                Slopes(fa, clip, dg, raw, h, s.Width);
                for (int j = 0; j < s.Width; j += w)
                {
                    TV.Store(TV.Load(dh + j) * Slope(fa, clip, dg, raw, TV.Load(h + j), j), dg + j);
                }
            }
        }
    }
}
