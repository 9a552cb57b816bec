using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Vec = System.Runtime.Intrinsics.Vector512;

namespace FastLstm.Kernels;

/// <summary>
/// 512-bit vectors (AVX-512): 32 zmm registers, so a micro-kernel row holds four accumulators.
/// The three widths' files differ only in the vector type and these facts; keep them diffable.
/// </summary>
internal readonly unsafe struct V512<T> : IVec<V512<T>, T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    public readonly Vector512<T> V;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public V512(Vector512<T> v) => V = v;

    public static int Count => Vector512<T>.Count;

    public static int Bits => 512;

    public static bool IsAccelerated => Vector512.IsHardwareAccelerated && Avx512F.IsSupported && Avx512BW.IsSupported;

    public static int TileVectors => 4;

    public static V512<T> Zero => default;

    public static V512<T> One => new(Vector512<T>.One);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512<T> Load(T* p) => new(Vec.Load(p));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(V512<T> v, T* p) => v.V.Store(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadBFloat16Pair(uint* p, out V512<T> low, out V512<T> high)
    {
        var x = Vec.Load(p);
        low = new(Vec.ShiftLeft(x, 16).As<uint, T>());
        high = new((x & Vec.Create(0xFFFF0000u)).As<uint, T>());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512<T> MultiplyAddQuads(V512<T> a, V512<T> b, V512<T> acc) =>
        new(Avx512F.Add(acc.V.AsInt32(), Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(a.V.AsByte(), b.V.AsSByte()), Vec.Create((short)1))).As<int, T>());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512<T> Int32ToSingle(V512<T> x) => new(Vec.ConvertToSingle(x.V.AsInt32()).As<float, T>());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512<T> Create(T x) => new(Vec.Create(x));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512<T> operator +(V512<T> a, V512<T> b) => new(a.V + b.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512<T> operator -(V512<T> a, V512<T> b) => new(a.V - b.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512<T> operator *(V512<T> a, V512<T> b) => new(a.V * b.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512<T> operator /(V512<T> a, V512<T> b) => new(a.V / b.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512<T> operator -(V512<T> a) => new(-a.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512<T> operator &(V512<T> a, V512<T> b) => new(a.V & b.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512<T> operator ^(V512<T> a, V512<T> b) => new(a.V ^ b.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512<T> Fma(V512<T> a, V512<T> b, V512<T> c)
    {
        if (System.Runtime.Intrinsics.X86.Avx512F.IsSupported)
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
    public static V512<T> FnmAdd(V512<T> a, V512<T> b, V512<T> c) => Fma(-a, b, c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512<T> Min(V512<T> a, V512<T> b) => new(Vec.MinNative(a.V, b.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512<T> Max(V512<T> a, V512<T> b) => new(Vec.MaxNative(a.V, b.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512<T> Round(V512<T> x) => typeof(T) == typeof(float)
        ? new(Vec.Round(x.V.AsSingle()).As<float, T>())
        : new(Vec.Round(x.V.AsDouble()).As<double, T>());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512<T> Floor(V512<T> x) => typeof(T) == typeof(float)
        ? new(Vec.Floor(x.V.AsSingle()).As<float, T>())
        : new(Vec.Floor(x.V.AsDouble()).As<double, T>());

    // n + (2^m + bias) puts n + bias in the low mantissa bits (m = 23 or 52); shifted up they are the exponent field.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512<T> Pow2(V512<T> n) => typeof(T) == typeof(float)
        ? new(((n.V.AsSingle() + Vec.Create(8388608f + 127f)).AsInt32() << 23).As<int, T>())
        : new(((n.V.AsDouble() + Vec.Create(4503599627370496.0 + 1023.0)).AsInt64() << 52).As<long, T>());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512<T> Exp(V512<T> x) => typeof(T) == typeof(float)
        ? VecMath.ExpSingle<V512<T>, T>(x)
        : new V512<T>(Vec.Exp(x.V.AsDouble()).As<double, T>());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512<T> Log(V512<T> x) => typeof(T) == typeof(float)
        ? new(Vec.Log(x.V.AsSingle()).As<float, T>())
        : new(Vec.Log(x.V.AsDouble()).As<double, T>());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512<T> LessThan(V512<T> a, V512<T> b) => new(Vec.LessThan(a.V, b.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512<T> GreaterThan(V512<T> a, V512<T> b) => new(Vec.GreaterThan(a.V, b.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512<T> Equals(V512<T> a, V512<T> b) => new(Vec.Equals(a.V, b.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512<T> Select(V512<T> mask, V512<T> a, V512<T> b) => new(Vec.ConditionalSelect(mask.V, a.V, b.V));
}
