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

    /// <summary>dst[j] = act(src[j]) over n values (Softplus, which has no vector form, element by element).</summary>
    protected static void Activate(in RnnActivation a, T* dst, T* src, int n)
    {
        if (!OnnxActivations<T>.Vectorised(a.Kind))
        {
            for (int j = 0; j < n; j++)
            {
                dst[j] = OnnxActivations<T>.Apply(a, src[j]);
            }

            return;
        }

        TV alpha = Alpha(a), beta = Beta(a);
        var kind = a.Kind;
        for (int j = 0; j < n; j += TV.Count)
        {
            TV.Store(OnnxActivations<T>.Apply(kind, alpha, beta, TV.Load(src + j)), dst + j);
        }
    }

    /// <summary>∂act/∂input at the clipped input, times the clip's mask.</summary>
    protected TV Slope(in RnnActivation a, TV alpha, TV beta, TV raw, TV y) =>
        OnnxActivations<T>.Derivative(a.Kind, alpha, beta, Clip(raw), y) * Pass(raw);
}
