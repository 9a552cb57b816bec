using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace FastLstm.Kernels;

/// <summary>
/// Generic <see cref="Vector256{T}"/> operations the BCL offers only per element type. Each branch is on
/// <c>typeof(T)</c>, which the JIT folds, so a caller's instantiation compiles to the single instruction.
/// </summary>
internal static class Simd
{
    /// <summary>a·b + c, fused when the CPU has FMA.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Fma<T>(Vector256<T> a, Vector256<T> b, Vector256<T> c)
    {
        if (System.Runtime.Intrinsics.X86.Fma.IsSupported)
        {
            if (typeof(T) == typeof(float))
            {
                return System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(a.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>();
            }

            if (typeof(T) == typeof(double))
            {
                return System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(a.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>();
            }
        }

        return (a * b) + c;
    }

    /// <summary>c − a·b.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> FnmAdd<T>(Vector256<T> a, Vector256<T> b, Vector256<T> c)
    {
        if (System.Runtime.Intrinsics.X86.Fma.IsSupported)
        {
            if (typeof(T) == typeof(float))
            {
                return System.Runtime.Intrinsics.X86.Fma.MultiplyAddNegated(a.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>();
            }

            if (typeof(T) == typeof(double))
            {
                return System.Runtime.Intrinsics.X86.Fma.MultiplyAddNegated(a.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>();
            }
        }

        return c - (a * b);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Exp<T>(Vector256<T> x)
    {
        if (typeof(T) == typeof(float))
        {
            return ExpSingle(x.AsSingle()).As<float, T>();
        }

        return Vector256.Exp(x.AsDouble()).As<double, T>();
    }

    // e^x in single precision throughout (the BCL's float Exp widens to double, twice the work): x = n·ln2 + r with
    // |r| ≤ ln2/2 (ln2 split in two so n·ln2_hi is exact), e^r by its Taylor series to r⁷ (truncation 5e-9, under
    // half an ulp), and 2^n applied in two halves so that overflow to +∞ and gradual underflow to 0 come out of
    // the multiplications themselves. x is clamped first only to keep n within int range; NaN is passed through.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> ExpSingle(Vector256<float> x)
    {
        var xc = Vector256.Min(Vector256.Max(x, Vector256.Create(-104f)), Vector256.Create(89f));
        var n = Vector256.Round(xc * Vector256.Create(1.44269504089f));
        var r = FnmAdd(n, Vector256.Create(0.693145751953125f), xc);
        r = FnmAdd(n, Vector256.Create(1.428606765330187e-6f), r);
        var p = Vector256.Create(1f / 5040);
        p = Fma(p, r, Vector256.Create(1f / 720));
        p = Fma(p, r, Vector256.Create(1f / 120));
        p = Fma(p, r, Vector256.Create(1f / 24));
        p = Fma(p, r, Vector256.Create(1f / 6));
        p = Fma(p, r, Vector256.Create(0.5f));
        p = Fma(p, r, Vector256<float>.One);
        p = Fma(p, r, Vector256<float>.One);
        var k = Vector256.ConvertToInt32(n);
        var half = k >> 1;
        var s1 = ((half + Vector256.Create(127)) << 23).AsSingle();
        var s2 = ((k - half + Vector256.Create(127)) << 23).AsSingle();
        var e = p * s1 * s2;
        return Vector256.ConditionalSelect(Vector256.Equals(x, x), e, x);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Broadcast<T>(T value) => Vector256.Create(value);

    /// <summary>Whether every <see cref="Vector256{T}"/> operation here runs in hardware (AVX2 + FMA).</summary>
    public static bool Accelerated => Vector256.IsHardwareAccelerated && Avx2.IsSupported && System.Runtime.Intrinsics.X86.Fma.IsSupported;
}
