using System.Numerics;
using FastLstm.Kernels;

namespace FastLstm.Cells;

/// <summary>
/// What the general cells (the ONNX options of LSTM, GRU and RNN) share: the clip of an activation's input and its
/// gradient mask, one activation applied to a block, scalar for the naive twins and over the vector width for the
/// fused kernels, and the distance to a point where finite differences are invalid.
/// </summary>
internal static class OptionMath
{
    public static T Clip<T>(double? clip, T x)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        => clip is { } c ? T.Clamp(x, T.CreateTruncating(-c), T.CreateTruncating(c)) : x;

    /// <summary>1 where the clip lets the input through (its gradient), 0 where it is clipped.</summary>
    public static T Pass<T>(double? clip, T raw)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        => clip is { } c && T.Abs(raw) > T.CreateTruncating(c) ? T.Zero : T.One;

    /// <summary>How close an unclipped input is to the clip's edge or to a corner of its (clipped) activation.</summary>
    public static double Kink(double? clip, in RnnActivation a, double raw)
    {
        double distance = clip is { } c ? Math.Abs(Math.Abs(raw) - c) : double.PositiveInfinity;
        double x = clip is { } limit ? Math.Clamp(raw, -limit, limit) : raw;
        return Math.Min(distance, a.Kind switch
        {
            RnnActivationKind.Relu or RnnActivationKind.LeakyRelu or RnnActivationKind.Elu => Math.Abs(x),
            RnnActivationKind.ThresholdedRelu => Math.Abs(x - a.Alpha),
            RnnActivationKind.HardSigmoid => Math.Min(Math.Abs((a.Alpha * x) + a.Beta), Math.Abs((a.Alpha * x) + a.Beta - 1)) / Math.Max(Math.Abs(a.Alpha), 1e-300),
            _ => double.PositiveInfinity,
        });
    }
}

/// <summary>The vector side of <see cref="OptionMath"/> for one clip value.</summary>
internal abstract unsafe class OptionKernels<T, TV>(double? clip) : FusedCell<T, TV>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
    where TV : unmanaged, IVec<TV, T>
{
    private readonly bool _clip = clip.HasValue;
    private readonly T _limit = T.CreateTruncating(clip ?? 0);

    protected TV Clip(TV x) => _clip ? TV.Max(TV.Create(-_limit), TV.Min(TV.Create(_limit), x)) : x;

    protected TV Pass(TV raw) => _clip ? TV.Select(TV.GreaterThan(TV.Max(raw, -raw), TV.Create(_limit)), TV.Zero, TV.One) : TV.One;

    protected static TV Alpha(in RnnActivation a) => TV.Create(T.CreateTruncating(a.Alpha));

    protected static TV Beta(in RnnActivation a) => TV.Create(T.CreateTruncating(a.Beta));

    /// <summary>
    /// dst[j] = act(src[j]) over n values: the standard activations through their operator types (a loop with no branch
    /// on the kind), Softplus (no vector form) element by element, the rest through the kind's vector formula.
    /// </summary>
    protected static void Activate(in RnnActivation a, T* dst, T* src, int n)
    {
        switch (a.Kind)
        {
            case RnnActivationKind.Sigmoid:
                Each<SigmoidOp<T>>(dst, src, n);
                return;
            case RnnActivationKind.Tanh:
                Each<TanhOp<T>>(dst, src, n);
                return;
            case RnnActivationKind.Relu:
                Each<ReluOp<T>>(dst, src, n);
                return;
        }

        if (!OnnxActivations<T>.Vectorised(a.Kind))
        {
            for (int j = 0; j < n; j++)
            {
                dst[j] = OnnxActivations<T>.Apply(a, src[j]);
            }

            return;
        }

        Formula(a.Kind, Alpha(a), Beta(a), dst, src, n);
    }

    // One loop per kind, the kind decided once per call rather than once per vector.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static void Formula(RnnActivationKind kind, TV alpha, TV beta, T* dst, T* src, int n)
    {
        switch (kind)
        {
            case RnnActivationKind.Affine:
                Loop(RnnActivationKind.Affine, alpha, beta, dst, src, n);
                break;
            case RnnActivationKind.LeakyRelu:
                Loop(RnnActivationKind.LeakyRelu, alpha, beta, dst, src, n);
                break;
            case RnnActivationKind.ThresholdedRelu:
                Loop(RnnActivationKind.ThresholdedRelu, alpha, beta, dst, src, n);
                break;
            case RnnActivationKind.ScaledTanh:
                Loop(RnnActivationKind.ScaledTanh, alpha, beta, dst, src, n);
                break;
            case RnnActivationKind.HardSigmoid:
                Loop(RnnActivationKind.HardSigmoid, alpha, beta, dst, src, n);
                break;
            case RnnActivationKind.Elu:
                Loop(RnnActivationKind.Elu, alpha, beta, dst, src, n);
                break;
            default:
                Loop(RnnActivationKind.Softsign, alpha, beta, dst, src, n);
                break;
        }
    }

    // Inlined with a constant kind at each call above, so the formula's switch folds away.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static void Loop(RnnActivationKind kind, TV alpha, TV beta, T* dst, T* src, int n)
    {
        for (int j = 0; j < n; j += TV.Count)
        {
            TV.Store(OnnxActivations<T>.Apply(kind, alpha, beta, TV.Load(src + j)), dst + j);
        }
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static void Each<TAct>(T* dst, T* src, int n)
        where TAct : struct, IActivation<T>
    {
        for (int j = 0; j < n; j += TV.Count)
        {
            TV.Store(TAct.Invoke(TV.Load(src + j)), dst + j);
        }
    }

    /// <summary>
    /// For <paramref name="gates"/> gate blocks (Hp apart): the activation input a = gx + gh + bias, kept unclipped in
    /// <paramref name="raw"/>, and act(clip(a)) written over gx — the first step of every general cell's forward.
    /// </summary>
    protected void Gates(in RnnActivation f, T* gx, T* gh, T* bias, T* raw, int gates, int hp, int width)
    {
        for (int gate = 0; gate < gates; gate++)
        {
            long at = gate * (long)hp;
            for (int j = 0; j < width; j += TV.Count)
            {
                var a = TV.Load(gx + at + j) + TV.Load(gh + at + j) + TV.Load(bias + at + j);
                TV.Store(a, raw + at + j);
                TV.Store(Clip(a), gx + at + j);
            }

            Activate(f, gx + at, gx + at, width);
        }
    }

    /// <summary>∂act/∂input at the clipped input, times the clip's mask.</summary>
    protected TV Slope(in RnnActivation a, TV alpha, TV beta, TV raw, TV y) =>
        OnnxActivations<T>.Derivative(a.Kind, alpha, beta, Clip(raw), y) * Pass(raw);
}
