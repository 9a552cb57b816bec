using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Vec = System.Runtime.Intrinsics.Vector128;

namespace FastLstm.Kernels;

/// <summary>
/// 128-bit vectors (SSE, or AdvSimd on Arm): 16 registers, two accumulators per micro-kernel row. What a CPU without AVX2 runs.
/// The three widths' files differ only in the vector type and these facts; keep them diffable.
/// </summary>
internal readonly unsafe struct V128<T> : IVec<V128<T>, T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    public readonly Vector128<T> V;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public V128(Vector128<T> v) => V = v;

    public static int Count => Vector128<T>.Count;

    public static int Bits => 128;

    public static bool IsAccelerated => Vector128.IsHardwareAccelerated;

    public static int TileVectors => 2;

    public static V128<T> Zero => default;

    public static V128<T> One => new(Vector128<T>.One);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128<T> Load(T* p) => new(Vec.Load(p));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(V128<T> v, T* p) => v.V.Store(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadBFloat16Pair(uint* p, out V128<T> low, out V128<T> high)
    {
        var x = Vec.Load(p);
        low = new(Vec.ShiftLeft(x, 16).As<uint, T>());
        high = new((x & Vec.Create(0xFFFF0000u)).As<uint, T>());
    }

    // Portable where SSSE3 is missing: the 128-bit width is the fallback, not the fast path. Exact either way, since
    // a's bytes are at most 127 and vpmaddubsw's pair sums cannot saturate.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128<T> MultiplyAddQuads(V128<T> a, V128<T> b, V128<T> acc)
    {
        if (Ssse3.IsSupported)
        {
            return new(Sse2.Add(acc.V.AsInt32(), Sse2.MultiplyAddAdjacent(Ssse3.MultiplyAddAdjacent(a.V.AsByte(), b.V.AsSByte()), Vec.Create((short)1))).As<int, T>());
        }

        Vector128<int> x = a.V.AsInt32(), y = b.V.AsInt32(), sum = acc.V.AsInt32();
        for (int shift = 0; shift < 32; shift += 8)
        {
            sum += (Vec.ShiftRightLogical(x, shift) & Vec.Create(0xFF)) * Vec.ShiftRightArithmetic(Vec.ShiftLeft(y, 24 - shift), 24);
        }

        return new(sum.As<int, T>());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128<T> Int32ToSingle(V128<T> x) => new(Vec.ConvertToSingle(x.V.AsInt32()).As<float, T>());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128<T> Create(T x) => new(Vec.Create(x));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128<T> operator +(V128<T> a, V128<T> b) => new(a.V + b.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128<T> operator -(V128<T> a, V128<T> b) => new(a.V - b.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128<T> operator *(V128<T> a, V128<T> b) => new(a.V * b.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128<T> operator /(V128<T> a, V128<T> b) => new(a.V / b.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128<T> operator -(V128<T> a) => new(-a.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128<T> operator &(V128<T> a, V128<T> b) => new(a.V & b.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128<T> operator ^(V128<T> a, V128<T> b) => new(a.V ^ b.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128<T> Fma(V128<T> a, V128<T> b, V128<T> c)
    {
        if (System.Runtime.Intrinsics.X86.Fma.IsSupported || System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported)
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
    public static V128<T> FnmAdd(V128<T> a, V128<T> b, V128<T> c) => Fma(-a, b, c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128<T> Min(V128<T> a, V128<T> b) => new(Vec.MinNative(a.V, b.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128<T> Max(V128<T> a, V128<T> b) => new(Vec.MaxNative(a.V, b.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128<T> Round(V128<T> x) => typeof(T) == typeof(float)
        ? new(Vec.Round(x.V.AsSingle()).As<float, T>())
        : new(Vec.Round(x.V.AsDouble()).As<double, T>());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128<T> Floor(V128<T> x) => typeof(T) == typeof(float)
        ? new(Vec.Floor(x.V.AsSingle()).As<float, T>())
        : new(Vec.Floor(x.V.AsDouble()).As<double, T>());

    // n + (2^m + bias) puts n + bias in the low mantissa bits (m = 23 or 52); shifted up they are the exponent field.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128<T> Pow2(V128<T> n) => typeof(T) == typeof(float)
        ? new(((n.V.AsSingle() + Vec.Create(8388608f + 127f)).AsInt32() << 23).As<int, T>())
        : new(((n.V.AsDouble() + Vec.Create(4503599627370496.0 + 1023.0)).AsInt64() << 52).As<long, T>());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128<T> Exp(V128<T> x) => typeof(T) == typeof(float)
        ? VecMath.ExpSingle<V128<T>, T>(x)
        : new V128<T>(Vec.Exp(x.V.AsDouble()).As<double, T>());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128<T> Log(V128<T> x) => typeof(T) == typeof(float)
        ? new(Vec.Log(x.V.AsSingle()).As<float, T>())
        : new(Vec.Log(x.V.AsDouble()).As<double, T>());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128<T> LessThan(V128<T> a, V128<T> b) => new(Vec.LessThan(a.V, b.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128<T> GreaterThan(V128<T> a, V128<T> b) => new(Vec.GreaterThan(a.V, b.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128<T> Equals(V128<T> a, V128<T> b) => new(Vec.Equals(a.V, b.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128<T> Select(V128<T> mask, V128<T> a, V128<T> b) => new(Vec.ConditionalSelect(mask.V, a.V, b.V));
}
