using System.Numerics;

namespace FastLstm.Kernels;

/// <summary>
/// The vector operations every kernel is written against, once, for every width. Implemented by <see cref="V128{T}"/>,
/// <see cref="V256{T}"/> and <see cref="V512{T}"/>: single-field structs whose members are one intrinsic each, so a
/// kernel instantiated over one of them compiles to the same code as if it were written for that width by hand (the JIT
/// specialises generic code per struct type argument and inlines every member; no call survives in a loop).
/// <para>Masks (the results of comparisons) are vectors with every bit of a lane set or clear.</para>
/// </summary>
/// <typeparam name="TSelf">The implementing width.</typeparam>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
internal unsafe interface IVec<TSelf, T>
    where TSelf : unmanaged, IVec<TSelf, T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    /// <summary>Lanes per vector.</summary>
    static abstract int Count { get; }

    /// <summary>Width in bits: 128, 256 or 512.</summary>
    static abstract int Bits { get; }

    /// <summary>Whether this width runs in hardware vectors on this CPU (with FMA where the width has it).</summary>
    static abstract bool IsAccelerated { get; }

    /// <summary>Accumulator vectors per micro-kernel row: what the register file holds beside the operands.</summary>
    static abstract int TileVectors { get; }

    static abstract TSelf Zero { get; }

    static abstract TSelf One { get; }

    static abstract TSelf Load(T* p);

    static abstract void Store(TSelf v, T* p);

    /// <summary>
    /// 2·<see cref="Count"/> bfloat16 values, interleaved in 32-bit slots, widened to float lanes (float vectors only): the
    /// low halves to <paramref name="low"/>, the high halves to <paramref name="high"/>.
    /// </summary>
    static abstract void LoadBFloat16Pair(uint* p, out TSelf low, out TSelf high);

    /// <summary>
    /// <paramref name="acc"/> + in each int32 lane the sum of the four products of <paramref name="a"/>'s bytes, unsigned
    /// and at most 127, with <paramref name="b"/>'s, signed (integer bits in float vectors: <c>vpmaddubsw</c>, whose pair
    /// sums then stay below 2¹⁵, <c>vpmaddwd</c> against ones, <c>vpaddd</c>).
    /// </summary>
    static abstract TSelf MultiplyAddQuads(TSelf a, TSelf b, TSelf acc);

    /// <summary>The int32 lanes of <paramref name="x"/>'s bits as floats (float vectors only).</summary>
    static abstract TSelf Int32ToSingle(TSelf x);

    static abstract TSelf Create(T x);

    static abstract TSelf operator +(TSelf a, TSelf b);

    static abstract TSelf operator -(TSelf a, TSelf b);

    static abstract TSelf operator *(TSelf a, TSelf b);

    static abstract TSelf operator /(TSelf a, TSelf b);

    static abstract TSelf operator -(TSelf a);

    static abstract TSelf operator &(TSelf a, TSelf b);

    static abstract TSelf operator ^(TSelf a, TSelf b);

    /// <summary>a·b + c, fused where the CPU has FMA.</summary>
    static abstract TSelf Fma(TSelf a, TSelf b, TSelf c);

    /// <summary>c − a·b, fused where the CPU has FMA.</summary>
    static abstract TSelf FnmAdd(TSelf a, TSelf b, TSelf c);

    static abstract TSelf Min(TSelf a, TSelf b);

    static abstract TSelf Max(TSelf a, TSelf b);

    /// <summary>Round to nearest, ties to even.</summary>
    static abstract TSelf Round(TSelf x);

    static abstract TSelf Floor(TSelf x);

    /// <summary>2^n for integral n with a normal result (−126..127 for float, −1022..1023 for double), from its bits.</summary>
    static abstract TSelf Pow2(TSelf n);

    /// <summary>e^x: <see cref="VecMath.ExpSingle{TV, T}"/> for float, the BCL's vector exponential for double.</summary>
    static abstract TSelf Exp(TSelf x);

    /// <summary>The natural logarithm: the BCL's vector logarithm.</summary>
    static abstract TSelf Log(TSelf x);

    static abstract TSelf LessThan(TSelf a, TSelf b);

    static abstract TSelf GreaterThan(TSelf a, TSelf b);

    static abstract TSelf Equals(TSelf a, TSelf b);

    /// <summary>Lanes of a where the mask is set, else of b.</summary>
    static abstract TSelf Select(TSelf mask, TSelf a, TSelf b);
}
