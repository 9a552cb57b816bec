using System.Numerics;
using System.Runtime.CompilerServices;

namespace FastLstm.Kernels;

/// <summary>The rounding of one weight to each compressed <see cref="WeightFormat"/>: what packing stores.</summary>
internal static class WeightCodec
{
    /// <summary>The high half of the float's bits, rounded to nearest, ties to even; a NaN stays a (quiet) NaN.</summary>
    public static ushort ToBFloat16(float x)
    {
        uint bits = BitConverter.SingleToUInt32Bits(x);
        return float.IsNaN(x) ? (ushort)((bits >> 16) | 0x40) : (ushort)((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
    }

    public static float FromBFloat16(ushort b) => BitConverter.UInt32BitsToSingle((uint)b << 16);

    /// <summary>The scale that maps a row's largest magnitude to 127 (0 for a row of zeros).</summary>
    public static float Int8Scale(float maxAbs) => maxAbs / 127f;

    public static sbyte ToInt8(float x, float scale) => scale == 0 ? (sbyte)0 : (sbyte)Math.Clamp(MathF.Round(x / scale), -127, 127);
}

/// <summary>
/// How a micro-kernel reads a packed B panel stored in one <see cref="WeightFormat"/>: bytes per weight, a vector of
/// weights widened to T, and whether result columns are multiplied by the panel's scales. A type argument, so each
/// format's kernels are compiled apart and the full-precision ones stay as they were.
/// </summary>
internal unsafe interface IPanelFormat<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    static abstract int Bytes { get; }

    static abstract bool Scaled { get; }

    static abstract TV Load<TV>(byte* p)
        where TV : unmanaged, IVec<TV, T>;
}

internal readonly unsafe struct FullPanel<T> : IPanelFormat<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    public static int Bytes => sizeof(T);

    public static bool Scaled => false;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Load<TV>(byte* p)
        where TV : unmanaged, IVec<TV, T>
        => TV.Load((T*)p);
}

internal readonly unsafe struct BFloat16Panel<T> : IPanelFormat<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    public static int Bytes => 2;

    public static bool Scaled => false;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Load<TV>(byte* p)
        where TV : unmanaged, IVec<TV, T>
        => TV.LoadBFloat16((ushort*)p);
}

internal readonly unsafe struct Int8Panel<T> : IPanelFormat<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    public static int Bytes => 1;

    public static bool Scaled => true;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Load<TV>(byte* p)
        where TV : unmanaged, IVec<TV, T>
        => TV.LoadInt8((sbyte*)p);
}
