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

    // tanh(x): for |x| < 0.625 the Cephes odd approximation x + x·x²·R(x²) (a polynomial for float, a rational
    // function for double), so the relative error stays at rounding level near 0; above, sign(x)·(−z / (z + 2)) with
    // z = e^(−2|x|) − 1, which cannot overflow and loses nothing there since z ≤ −0.71.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Tanh<T>(Vector256<T> x)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        var sign = x & Vector256.Create(-T.Zero);
        var y = x ^ sign;
        var z = Simd.Exp(y * Vector256.Create(T.CreateTruncating(-2))) - Vector256<T>.One;
        var large = -z / (z + Vector256.Create(T.CreateTruncating(2)));
        var s = x * x;
        var small = Simd.Fma(x * s, SmallTanhRatio(s), x);
        return Vector256.ConditionalSelect(Vector256.LessThan(y, Vector256.Create(T.CreateTruncating(0.625))), small, large ^ sign);
    }

    // R(s) with tanh(x) ≈ x + x·s·R(s), s = x², on |x| < 0.625 (Cephes tanhf / tanh coefficients).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> SmallTanhRatio<T>(Vector256<T> s)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float))
        {
            var p = Vector256.Create(-5.70498872745e-3f);
            p = Simd.Fma(p, s.AsSingle(), Vector256.Create(2.06390887954e-2f));
            p = Simd.Fma(p, s.AsSingle(), Vector256.Create(-5.37397155531e-2f));
            p = Simd.Fma(p, s.AsSingle(), Vector256.Create(1.33314422036e-1f));
            p = Simd.Fma(p, s.AsSingle(), Vector256.Create(-3.33332819422e-1f));
            return p.As<float, T>();
        }

        var sd = s.AsDouble();
        var num = Simd.Fma(Vector256.Create(-9.64399179425052238628e-1), sd, Vector256.Create(-9.92877231001918586564e1));
        num = Simd.Fma(num, sd, Vector256.Create(-1.61468768441708447952e3));
        var den = sd + Vector256.Create(1.12811678491632931402e2);
        den = Simd.Fma(den, sd, Vector256.Create(2.23548839060100448583e3));
        den = Simd.Fma(den, sd, Vector256.Create(4.84406305325125486048e3));
        return (num / den).As<double, T>();
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
