using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace FastLstm.Kernels;

/// <summary>
/// The nonlinearities of the cells, as a vector routine and its scalar twin with the same formula.
/// The scalar twins are also what the naive reference uses, written with the BCL's own functions.
/// </summary>
internal static class Activations
{
    // σ(x) = 1 / (1 + e^-x): exact limits 0 and 1 at the extremes (e^-x overflows to +∞, 1/∞ = 0).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Sigmoid<T>(Vector256<T> x)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        => Vector256<T>.One / (Vector256<T>.One + Simd.Exp(-x));

    // tanh(x) = sign(x) · (−z / (z + 2)) with z = e^(−2|x|) − 1, the form TensorPrimitives uses: no overflow,
    // and the absolute error stays at rounding level everywhere (relative error grows only as |x| → 0).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Tanh<T>(Vector256<T> x)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        var sign = x & Vector256.Create(-T.Zero);
        var y = x ^ sign;
        var z = Simd.Exp(y * Vector256.Create(T.CreateTruncating(-2))) - Vector256<T>.One;
        var t = -z / (z + Vector256.Create(T.CreateTruncating(2)));
        return t ^ sign;
    }

    // relu(x) = max(x, 0); NaN propagates like the scalar twin.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Relu<T>(Vector256<T> x)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        => Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256<T>.Zero), Vector256<T>.Zero, x);

    public static T Sigmoid<T>(T x)
        where T : IBinaryFloatingPointIeee754<T>
        => T.One / (T.One + T.Exp(-x));

    public static T Tanh<T>(T x)
        where T : IBinaryFloatingPointIeee754<T>
        => T.Tanh(x);

    public static T Relu<T>(T x)
        where T : IBinaryFloatingPointIeee754<T>
        => x < T.Zero ? T.Zero : x;
}
