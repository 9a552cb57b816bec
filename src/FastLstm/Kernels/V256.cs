using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Vec = System.Runtime.Intrinsics.Vector256;

namespace FastLstm.Kernels;

/// <summary>
/// 256-bit vectors (AVX2 + FMA): a micro-kernel row holds two accumulators in the 16 ymm registers of AVX2, four in the
/// 32 of a CPU with AVX-512 (bench/results/code-figures.md).
/// The three widths' files differ only in the vector type and these facts; keep them diffable.
/// </summary>
internal readonly unsafe struct V256<T> : IVec<V256<T>, T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    public readonly Vector256<T> V;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public V256(Vector256<T> v) => V = v;

    public static int Count => Vector256<T>.Count;

    public static int Bits => 256;

    public static bool IsAccelerated => Vector256.IsHardwareAccelerated && System.Runtime.Intrinsics.X86.Avx2.IsSupported && System.Runtime.Intrinsics.X86.Fma.IsSupported;

    public static int TileVectors => System.Runtime.Intrinsics.X86.Avx512F.IsSupported ? 4 : 2;

    public static V256<T> Zero => default;

    public static V256<T> One => new(Vector256<T>.One);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256<T> Load(T* p) => new(Vec.Load(p));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(V256<T> v, T* p) => v.V.Store(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadBFloat16Pair(uint* p, out V256<T> low, out V256<T> high)
    {
        var x = Vec.Load(p);
        low = new(Vec.ShiftLeft(x, 16).As<uint, T>());
        high = new((x & Vec.Create(0xFFFF0000u)).As<uint, T>());
    }

    // AVX-VNNI's vpdpbusd makes the same exact sums in one instruction (CPUs with AVX-VNNI run it; GemmTests check it there).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256<T> MultiplyAddQuads(V256<T> a, V256<T> b, V256<T> acc) =>
        AvxVnni.IsSupported
            ? new(AvxVnni.MultiplyWideningAndAdd(acc.V.AsInt32(), a.V.AsByte(), b.V.AsSByte()).As<int, T>())
            : new(Avx2.Add(acc.V.AsInt32(), Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(a.V.AsByte(), b.V.AsSByte()), Vec.Create((short)1))).As<int, T>());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256<T> Int32ToSingle(V256<T> x) => new(Vec.ConvertToSingle(x.V.AsInt32()).As<float, T>());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256<T> Create(T x) => new(Vec.Create(x));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256<T> operator +(V256<T> a, V256<T> b) => new(a.V + b.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256<T> operator -(V256<T> a, V256<T> b) => new(a.V - b.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256<T> operator *(V256<T> a, V256<T> b) => new(a.V * b.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256<T> operator /(V256<T> a, V256<T> b) => new(a.V / b.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256<T> operator -(V256<T> a) => new(-a.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256<T> operator &(V256<T> a, V256<T> b) => new(a.V & b.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256<T> operator ^(V256<T> a, V256<T> b) => new(a.V ^ b.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256<T> Fma(V256<T> a, V256<T> b, V256<T> c)
    {
        if (System.Runtime.Intrinsics.X86.Fma.IsSupported)
        {
            if (typeof(T) == typeof(float))
            {
                return new(Vec.FusedMultiplyAdd(a.V.AsSingle(), b.V.AsSingle(), c.V.AsSingle()).As<float, T>());
            }

            return new(Vec.FusedMultiplyAdd(a.V.AsDouble(), b.V.AsDouble(), c.V.AsDouble()).As<double, T>());
        }

        return new((a.V * b.V) + c.V);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256<T> FnmAdd(V256<T> a, V256<T> b, V256<T> c) => Fma(-a, b, c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256<T> Min(V256<T> a, V256<T> b) => new(Vec.MinNative(a.V, b.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256<T> Max(V256<T> a, V256<T> b) => new(Vec.MaxNative(a.V, b.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256<T> Round(V256<T> x) => typeof(T) == typeof(float)
        ? new(Vec.Round(x.V.AsSingle()).As<float, T>())
        : new(Vec.Round(x.V.AsDouble()).As<double, T>());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256<T> Floor(V256<T> x) => typeof(T) == typeof(float)
        ? new(Vec.Floor(x.V.AsSingle()).As<float, T>())
        : new(Vec.Floor(x.V.AsDouble()).As<double, T>());

    // n + (2^m + bias) puts n + bias in the low mantissa bits (m = 23 or 52); shifted up they are the exponent field.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256<T> Pow2(V256<T> n) => typeof(T) == typeof(float)
        ? new(((n.V.AsSingle() + Vec.Create(8388608f + 127f)).AsInt32() << 23).As<int, T>())
        : new(((n.V.AsDouble() + Vec.Create(4503599627370496.0 + 1023.0)).AsInt64() << 52).As<long, T>());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256<T> Exp(V256<T> x) => typeof(T) == typeof(float)
        ? VecMath.ExpSingle<V256<T>, T>(x)
        : new V256<T>(Vec.Exp(x.V.AsDouble()).As<double, T>());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256<T> Log(V256<T> x) => typeof(T) == typeof(float)
        ? new(Vec.Log(x.V.AsSingle()).As<float, T>())
        : new(Vec.Log(x.V.AsDouble()).As<double, T>());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256<T> LessThan(V256<T> a, V256<T> b) => new(Vec.LessThan(a.V, b.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256<T> GreaterThan(V256<T> a, V256<T> b) => new(Vec.GreaterThan(a.V, b.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256<T> Equals(V256<T> a, V256<T> b) => new(Vec.Equals(a.V, b.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256<T> Select(V256<T> mask, V256<T> a, V256<T> b) => new(Vec.ConditionalSelect(mask.V, a.V, b.V));
}
