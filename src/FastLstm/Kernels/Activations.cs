using System.Numerics;
using System.Runtime.CompilerServices;

namespace FastLstm.Kernels;

/// <summary>
/// The nonlinearities of the cells, written once over the vector width (<see cref="IVec{TSelf, T}"/>), each beside its
/// scalar twin with the same formula. The scalar twins are also what the naive reference uses, written with the BCL's
/// own functions.
/// </summary>
internal static class Activations<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    // σ(x) = 1 / (1 + e^-x): exact limits 0 and 1 at the extremes (e^-x overflows to +∞, 1/∞ = 0).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Sigmoid<TV>(TV x)
        where TV : unmanaged, IVec<TV, T>
        => TV.One / (TV.One + TV.Exp(-x));

    // tanh(x): for |x| < 0.625 the Cephes odd approximation x + x·x²·R(x²) (a polynomial for float, a rational
    // function for double), so the relative error stays at rounding level near 0; above, sign(x)·(1 − 2t / (1 + t))
    // with t = e^(−2|x|), which cannot overflow and rounds once where it matters: near saturation the backward pass
    // reads 1 − h² off h, so h must sit within half an ulp of 1 − 2t (the form −z / (z + 2) with z = t − 1 rounds
    // three times at 1's scale and put 2.5 ulps of error into a saturated gradient).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Tanh<TV>(TV x)
        where TV : unmanaged, IVec<TV, T>
    {
        var sign = x & TV.Create(-T.Zero);
        var y = x ^ sign;
        var t = TV.Exp(y * TV.Create(T.CreateTruncating(-2)));
        var large = TV.One - ((t + t) / (t + TV.One));
        var s = x * x;
        var small = TV.Fma(x * s, SmallTanhRatio(s), x);
        return TV.Select(TV.LessThan(y, TV.Create(T.CreateTruncating(0.625))), small, large ^ sign);
    }

    // R(s) with tanh(x) ≈ x + x·s·R(s), s = x², on |x| < 0.625 (Cephes tanhf / tanh coefficients).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV SmallTanhRatio<TV>(TV s)
        where TV : unmanaged, IVec<TV, T>
    {
        if (typeof(T) == typeof(float))
        {
            var p = C(-5.70498872745e-3);
            p = TV.Fma(p, s, C(2.06390887954e-2));
            p = TV.Fma(p, s, C(-5.37397155531e-2));
            p = TV.Fma(p, s, C(1.33314422036e-1));
            return TV.Fma(p, s, C(-3.33332819422e-1));
        }

        var num = TV.Fma(C(-9.64399179425052238628e-1), s, C(-9.92877231001918586564e1));
        num = TV.Fma(num, s, C(-1.61468768441708447952e3));
        var den = s + C(1.12811678491632931402e2);
        den = TV.Fma(den, s, C(2.23548839060100448583e3));
        den = TV.Fma(den, s, C(4.84406305325125486048e3));
        return num / den;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static TV C(double value) => TV.Create(T.CreateTruncating(value));
    }

    // relu(x) = max(x, 0); NaN propagates like the scalar twin.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Relu<TV>(TV x)
        where TV : unmanaged, IVec<TV, T>
        => TV.Select(TV.LessThan(x, TV.Zero), TV.Zero, x);

    public static T Sigmoid(T x) => T.One / (T.One + T.Exp(-x));

    public static T Tanh(T x) => T.Tanh(x);

    public static T Relu(T x) => x < T.Zero ? T.Zero : x;
}

/// <summary>An activation as an operator type (a struct type argument, so a loop over it compiles to straight-line code).</summary>
internal interface IActivation<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    static abstract T Invoke(T x);

    static abstract TV Invoke<TV>(TV x)
        where TV : unmanaged, IVec<TV, T>;
}

internal readonly struct SigmoidOp<T> : IActivation<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    public static T Invoke(T x) => Activations<T>.Sigmoid(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Invoke<TV>(TV x)
        where TV : unmanaged, IVec<TV, T>
        => Activations<T>.Sigmoid(x);
}

internal readonly struct TanhOp<T> : IActivation<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    public static T Invoke(T x) => Activations<T>.Tanh(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Invoke<TV>(TV x)
        where TV : unmanaged, IVec<TV, T>
        => Activations<T>.Tanh(x);
}

internal readonly struct ReluOp<T> : IActivation<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    public static T Invoke(T x) => Activations<T>.Relu(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Invoke<TV>(TV x)
        where TV : unmanaged, IVec<TV, T>
        => Activations<T>.Relu(x);
}

/// <summary>Width-generic building blocks the vector types themselves are made of.</summary>
internal static class VecMath
{
    // e^x in single precision throughout (the BCL's float Exp widens to double, twice the work): x = n·ln2 + r with
    // |r| ≤ ln2/2 (ln2 split in two so n·ln2_hi is exact), e^r by its Taylor series to r⁷ (truncation 5e-9, under
    // half an ulp), and 2^n applied in two halves so that overflow to +∞ and gradual underflow to 0 come out of
    // the multiplications themselves. x is clamped first only to keep n within the exponent range; NaN is passed through.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV ExpSingle<TV, T>(TV x)
        where TV : unmanaged, IVec<TV, T>
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        var xc = TV.Min(TV.Max(x, C(-104)), C(89));
        var n = TV.Round(xc * C(1.44269504089));
        var r = TV.FnmAdd(n, C(0.693145751953125), xc);
        r = TV.FnmAdd(n, C(1.428606765330187e-6), r);
        var p = C(1.0 / 5040);
        p = TV.Fma(p, r, C(1.0 / 720));
        p = TV.Fma(p, r, C(1.0 / 120));
        p = TV.Fma(p, r, C(1.0 / 24));
        p = TV.Fma(p, r, C(1.0 / 6));
        p = TV.Fma(p, r, C(0.5));
        p = TV.Fma(p, r, TV.One);
        p = TV.Fma(p, r, TV.One);
        var half = TV.Floor(n * C(0.5));
        var e = p * TV.Pow2(half) * TV.Pow2(n - half);
        return TV.Select(TV.Equals(x, x), e, x);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static TV C(double value) => TV.Create(T.CreateTruncating(value));
    }
}
