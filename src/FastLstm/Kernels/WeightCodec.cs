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

    /// <summary>
    /// A row's int8 step: the row's own <see cref="Int8Scale"/>, or <paramref name="grid"/> (a step the row was read
    /// with, e.g. from an 8-bit file) where it is positive and the row's largest magnitude fits it (≤ 127.5 steps), so
    /// that the file's integers are packed again exactly.
    /// </summary>
    public static float Int8Step(float maxAbs, float grid) => grid > 0 && maxAbs <= grid * 127.5f ? grid : Int8Scale(maxAbs);

    public static sbyte ToInt8(float x, float scale) => scale == 0 ? (sbyte)0 : (sbyte)Math.Clamp(MathF.Round(x / scale), -127, 127);
}

/// <summary>
/// How a micro-kernel reads a packed B panel stored in one <see cref="WeightFormat"/> and multiplies it into its
/// accumulators: the float formats widen weights to T and use FMA; int8 multiplies in integers — A quantized to 7-bit
/// unsigned values around a zero point per row (<see cref="Gemm{T, TV}"/>), four k at once (<c>vpmaddubsw</c> then
/// <c>vpmaddwd</c>: thirty-two products per 256-bit pair where an FMA makes eight), its int32 sums turned into floats
/// after the micro-kernel (<c>Finish</c>). A type argument, so each format's kernels are compiled apart and the
/// full-precision ones stay as they were.
/// </summary>
internal unsafe interface IPanelFormat<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    /// <summary>Bytes per column of a panel row, a row holding <see cref="KStep"/> values of k.</summary>
    static abstract int Bytes { get; }

    /// <summary>Values of k per step of the micro-kernels: 1, or 4 for int8's quads.</summary>
    static abstract int KStep { get; }

    /// <summary>Whether the accumulators hold int32 sums that need converting and scaling (int8).</summary>
    static abstract bool Scaled { get; }

    /// <summary>acc + a·b: an FMA, or int8's quad products.</summary>
    static abstract TV Madd<TV>(TV a, TV b, TV acc)
        where TV : unmanaged, IVec<TV, T>;

    /// <summary>
    /// Stores B[p, c] of the panel at <paramref name="panel"/> (<paramref name="nr"/> columns, vectors of
    /// <paramref name="lanes"/>) in this format; int8 divides by the column's <paramref name="scale"/>.
    /// </summary>
    static abstract void Pack(byte* panel, int p, int c, int nr, int lanes, T v, T scale);

    /// <summary>
    /// The vectors of columns [0, Count) and [Count, 2·Count) of a panel row from <paramref name="p"/>; the second only
    /// when <paramref name="both"/> (a constant in each kernel).
    /// </summary>
    static abstract void Load<TV>(byte* p, bool both, out TV first, out TV second)
        where TV : unmanaged, IVec<TV, T>;
}

internal readonly unsafe struct FullPanel<T> : IPanelFormat<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    public static int Bytes => sizeof(T);

    public static int KStep => 1;

    public static bool Scaled => false;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Pack(byte* panel, int p, int c, int nr, int lanes, T v, T scale) => ((T*)panel)[((long)p * nr) + c] = v;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Madd<TV>(TV a, TV b, TV acc)
        where TV : unmanaged, IVec<TV, T>
        => TV.Fma(a, b, acc);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Load<TV>(byte* p, bool both, out TV first, out TV second)
        where TV : unmanaged, IVec<TV, T>
    {
        first = TV.Load((T*)p);
        second = both ? TV.Load((T*)p + TV.Count) : default;
    }
}

/// <summary>
/// bfloat16, each pair of vectors interleaved: the 32-bit slot j of a pair holds column j in its low half and column
/// Count + j in its high half, so one load and two bit operations widen both — a shift for the first, a mask for the
/// second — without a shuffle (the widening move, a shuffle, shares its port with the shifts and halves the rate).
/// </summary>
internal readonly unsafe struct BFloat16Panel<T> : IPanelFormat<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    public static int Bytes => 2;

    public static int KStep => 1;

    public static bool Scaled => false;

    public static void Pack(byte* panel, int p, int c, int nr, int lanes, T v, T scale) =>
        ((ushort*)panel)[((long)p * nr) + Slot(c, lanes)] = WeightCodec.ToBFloat16(float.CreateTruncating(v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Madd<TV>(TV a, TV b, TV acc)
        where TV : unmanaged, IVec<TV, T>
        => TV.Fma(a, b, acc);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Load<TV>(byte* p, bool both, out TV first, out TV second)
        where TV : unmanaged, IVec<TV, T>
        => TV.LoadBFloat16Pair((uint*)p, out first, out second);

    /// <summary>Where packing puts column <paramref name="c"/> of a panel row, in weights from the row's start.</summary>
    public static int Slot(int c, int lanes)
    {
        int pair = c / (2 * lanes), j = c % lanes, half = (c / lanes) % 2;
        return (((pair * lanes) + j) * 2) + half;
    }
}

/// <summary>
/// int8, k in quads: a panel row holds k … k + 3 of each column side by side (the four products <c>vpmaddubsw</c> and
/// <c>vpmaddwd</c> sum into one int32 lane), so a plain load gives Count columns; each K block of
/// <see cref="PackedB{T}.KBlock"/> ends in a row of the block's column sums as floats, for the activations' zero point.
/// </summary>
internal readonly unsafe struct Int8Panel<T> : IPanelFormat<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    public static int Bytes => 4;

    public static int KStep => 4;

    public static bool Scaled => true;

    /// <summary>The panel row holding k = <paramref name="p"/>: its quad's, after the sum rows of the blocks before it.</summary>
    public static long Row(int p) => (p / 4) + (p / PackedB<T>.KBlock);

    public static void Pack(byte* panel, int p, int c, int nr, int lanes, T v, T scale) =>
        ((sbyte*)panel)[(Row(p) * 4 * nr) + (4 * c) + (p % 4)] = WeightCodec.ToInt8(float.CreateTruncating(v), float.CreateTruncating(scale));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Madd<TV>(TV a, TV b, TV acc)
        where TV : unmanaged, IVec<TV, T>
        => TV.MultiplyAddQuads(a, b, acc);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Load<TV>(byte* p, bool both, out TV first, out TV second)
        where TV : unmanaged, IVec<TV, T>
    {
        first = TV.Load((T*)p);
        second = both ? TV.Load((T*)p + TV.Count) : default;
    }
}
