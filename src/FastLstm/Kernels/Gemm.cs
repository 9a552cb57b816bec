using System.Numerics;
using System.Runtime.CompilerServices;

namespace FastLstm.Kernels;

/// <summary>An A operand: element (i, k) is <c>Ptr[i·Ld + k]</c>, or <c>Ptr[k·Ld + i]</c> when <see cref="Transposed"/>.</summary>
internal readonly unsafe struct MatA<T>(T* ptr, int ld, bool transposed = false)
    where T : unmanaged
{
    public readonly T* Ptr = ptr;
    public readonly int Ld = ld;
    public readonly bool Transposed = transposed;
}

/// <summary>
/// A B operand [K × N] packed once ahead (<see cref="Gemm{T}.PackB"/>): NR-wide panels of all K rows, each weight stored in
/// <see cref="Format"/> — T itself, bfloat16, or int8 with one scale per column (<see cref="Scales"/>, padded to whole
/// panels) that the kernels multiply into each result column.
/// </summary>
internal readonly unsafe struct PackedB<T>(byte* data, T* scales, int k, int nr, WeightFormat format)
    where T : unmanaged
{
    public readonly byte* Data = data;
    public readonly T* Scales = scales;
    public readonly int K = k;
    public readonly int NR = nr;
    public readonly WeightFormat Format = format;

    /// <summary>Depth of the GEMM's K blocks, which int8 panels follow with their column sums.</summary>
    public const int KBlock = 512;

    /// <summary>Bytes per column of a panel row (int8's rows hold k in quads: <see cref="Int8Panel{T}"/>).</summary>
    public static int BytesOf(WeightFormat format) => format switch { WeightFormat.BFloat16 => 2, WeightFormat.Int8 => 4, _ => sizeof(T) };

    /// <summary>Rows of each panel: K, or for int8 its quads of k and a row of sums per K block.</summary>
    public static int RowsOf(int k, WeightFormat format) => format == WeightFormat.Int8 ? ((k + 3) / 4) + ((k + KBlock - 1) / KBlock) : k;

    /// <summary>Rows of each panel before the K block that starts at k = <paramref name="pc"/> (a multiple of <see cref="KBlock"/>).</summary>
    public static int RowsBefore(int pc, WeightFormat format) => format == WeightFormat.Int8 ? (pc / 4) + (pc / KBlock) : pc;

    /// <summary>The panels from the one holding <paramref name="column"/> (a multiple of NR) on.</summary>
    public PackedB<T> FromColumn(int column) =>
        new(Data + ((long)(column / NR) * RowsOf(K, Format) * NR * BytesOf(Format)), Scales == null ? null : Scales + column, K, NR, Format);
}

/// <summary>
/// A B operand [K × N]: either packed once ahead (<see cref="PackedB{T}"/>) or a plain row-major T matrix (element (k, n)
/// at <c>Ptr[k·Ld + n]</c>) that the GEMM packs block by block.
/// </summary>
internal readonly unsafe struct MatB<T>
    where T : unmanaged
{
    public readonly T* Ptr;
    public readonly int Ld;
    public readonly PackedB<T> Panels;
    public readonly bool IsPacked;

    /// <summary>Panels are visited last to first (the result is the same; see <see cref="Gemm{T}.Multiply"/>).</summary>
    public readonly bool Reversed;

    private MatB(T* ptr, int ld, PackedB<T> panels, bool packed, bool reversed)
    {
        Ptr = ptr;
        Ld = ld;
        Panels = panels;
        IsPacked = packed;
        Reversed = reversed;
    }

    public WeightFormat Format => IsPacked ? Panels.Format : WeightFormat.Full;

    public static MatB<T> FromPacked(in PackedB<T> panels, bool reversed = false) => new(null, 0, panels, true, reversed);

    public static MatB<T> RowMajor(T* ptr, int ld) => new(ptr, ld, default, false, false);

    /// <summary>The columns from <paramref name="column"/> on (a multiple of NR when packed).</summary>
    public MatB<T> FromColumn(int column) => IsPacked ? FromPacked(Panels.FromColumn(column), Reversed) : RowMajor(Ptr + column, Ld);
}

/// <summary>
/// Per-caller scratch: a B block (KC × padded N), one edge tile (MR × NR) and, for int8 B, the quantized A block
/// (<see cref="Gemm{T}.QuantizedLength"/>).
/// </summary>
internal readonly unsafe struct GemmScratch<T>(T* b, T* edge, T* quantized = null)
    where T : unmanaged
{
    public readonly T* B = b;
    public readonly T* Edge = edge;
    public readonly T* Quantized = quantized;
}

/// <summary>
/// The GEMM contract: <c>C[M×N] = A[M×K]·B[K×N]</c>, or <c>C += A·B</c>, blocked in the BLIS style. One implementation
/// per vector width (<see cref="Gemm{T, TV}"/>); a session uses the one <see cref="For"/> picks, and its packed weights
/// are laid out for that kernel's panel width.
/// <para>Packed B: panels of <see cref="NR"/> columns; panel j is a K × NR row-major block at <c>j·K·NR</c>, the last one
/// zero-padded. A is read in place, row-major or transposed, <see cref="MR"/> rows at a time.</para>
/// <para>Exactly M × N elements of C are written, and with <c>accumulate</c> false C is never read. K = 0 clears (or keeps) C.</para>
/// </summary>
internal abstract unsafe class Gemm<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    /// <summary>Rows of the register tile.</summary>
    public const int MR = 6;

    /// <summary>The kernel's name, BLIS style: operation, width, precision, register tile.</summary>
    public abstract string Name { get; }

    /// <summary>Columns of the register tile and of a packed panel.</summary>
    public abstract int NR { get; }

    /// <summary>Lanes of the kernel's vectors (a panel row is NR / Lanes vectors).</summary>
    public abstract int Lanes { get; }

    /// <summary>Depth of a K block.</summary>
    public abstract int KC { get; }

    /// <summary>Rows of an A block (a multiple of <see cref="MR"/>): the A block (MC × KC) stays in L2 while B streams past.</summary>
    public abstract int MC { get; }

    public int Panels(int n) => (n + NR - 1) / NR;

    /// <summary>Elements of a packed B of K rows and N columns.</summary>
    public long PackedLength(int k, int n) => (long)Panels(n) * k * NR;

    /// <summary>Bytes of a packed B of K rows and N columns whose weights are stored in <paramref name="format"/>.</summary>
    public long PackedBytes(int k, int n, WeightFormat format) => PackedLength(PackedB<T>.RowsOf(k, format), n) * PackedB<T>.BytesOf(format);

    /// <summary>A full-precision packed B at <paramref name="data"/>, of K rows.</summary>
    public PackedB<T> Full(T* data, int k) => new((byte*)data, null, k, NR, WeightFormat.Full);

    /// <summary>Elements of the B block scratch for products with up to <paramref name="maxN"/> columns.</summary>
    public long ScratchBLength(int maxN) => (long)Panels(maxN) * KC * NR;

    public int EdgeLength => MR * NR;

    /// <summary>Elements (T) of the scratch an int8 product quantizes an A block into: MC rows of KC bytes, their scales and zero points.</summary>
    public int QuantizedLength => (MC * KC / 4) + (2 * MC);

    /// <summary>The kernel for vectors of <paramref name="bits"/> bits.</summary>
    public static Gemm<T> For(int bits) => bits switch
    {
        512 => Gemm<T, V512<T>>.Instance,
        256 => Gemm<T, V256<T>>.Instance,
        _ => Gemm<T, V128<T>>.Instance,
    };

    /// <summary>
    /// Packs B[k, n] = <paramref name="src"/>[kMap[k] · ld + nMap[n]] (or [nMap[n] · ld + kMap[k]] when
    /// <paramref name="transposed"/>) into <paramref name="dst"/>'s format; a negative map entry stands for a zero row or
    /// column. Int8 takes each column's scale from its largest magnitude (<see cref="WeightCodec"/>), or from
    /// <paramref name="grid"/> (a step per source column, <c>nMap</c>'s indices) where the column fits that grid.
    /// </summary>
    public void PackB(in PackedB<T> dst, ReadOnlySpan<T> src, int ld, ReadOnlySpan<int> kMap, ReadOnlySpan<int> nMap, bool transposed, ReadOnlySpan<T> grid = default)
    {
        switch (dst.Format)
        {
            case WeightFormat.BFloat16: Pack<BFloat16Panel<T>>(dst, src, ld, kMap, nMap, transposed, grid); break;
            case WeightFormat.Int8: Pack<Int8Panel<T>>(dst, src, ld, kMap, nMap, transposed, grid); break;
            default: Pack<FullPanel<T>>(dst, src, ld, kMap, nMap, transposed, grid); break;
        }
    }

    // Training repacks after every optimizer step: the format is a type argument, so the full-precision loop is a plain copy.
    private void Pack<TW>(in PackedB<T> dst, ReadOnlySpan<T> src, int ld, ReadOnlySpan<int> kMap, ReadOnlySpan<int> nMap, bool transposed, ReadOnlySpan<T> grid)
        where TW : struct, IPanelFormat<T>
    {
        int k = kMap.Length, n = nMap.Length, nr = NR, panels = Panels(n), lanes = Lanes;
        if (TW.Scaled)
        {
            new Span<T>(dst.Scales, panels * nr).Clear();
            for (int p = 0; p < k; p++)
            {
                for (int col = 0; col < panels * nr; col++)
                {
                    dst.Scales[col] = T.Max(dst.Scales[col], T.Abs(At(src, ld, kMap, nMap, transposed, p, col)));
                }
            }

            for (int col = 0; col < panels * nr; col++)
            {
                int source = col < n ? nMap[col] : -1;
                T step = grid.IsEmpty || source < 0 ? T.Zero : grid[source];
                dst.Scales[col] = T.CreateTruncating(WeightCodec.Int8Step(float.CreateTruncating(dst.Scales[col]), float.CreateTruncating(step)));
            }
        }

        long panelBytes = (long)PackedB<T>.RowsOf(k, dst.Format) * nr * TW.Bytes;
        int padded = (k + TW.KStep - 1) / TW.KStep * TW.KStep;
        for (int j = 0; j < panels; j++)
        {
            byte* panel = dst.Data + (j * panelBytes);
            for (int p = 0; p < padded; p++)
            {
                int row = p < k ? kMap[p] : -1;
                for (int c = 0; c < nr; c++)
                {
                    int col = (j * nr) + c, source = col < n ? nMap[col] : -1;
                    T v = row < 0 || source < 0 ? T.Zero : src[transposed ? (source * ld) + row : (row * ld) + source];
                    TW.Pack(panel, p, c, nr, lanes, v, TW.Scaled ? dst.Scales[col] : T.Zero);
                }
            }

            if (TW.Scaled)
            {
                ColumnSums(panel, padded, nr);
            }
        }
    }

    /// <summary>
    /// Writes each K block's row of column sums of an int8 panel (<see cref="Int8Panel{T}"/>) after the block's quads: the
    /// kernels subtract the activations' zero point times it. Exact as floats: at most 512 · 127.
    /// </summary>
    private static void ColumnSums(byte* panel, int padded, int nr)
    {
        for (int pc = 0; pc < padded; pc += PackedB<T>.KBlock)
        {
            int quads = Math.Min(PackedB<T>.KBlock, padded - pc) / 4;
            sbyte* block = (sbyte*)panel + ((long)PackedB<T>.RowsBefore(pc, WeightFormat.Int8) * 4 * nr);
            float* sums = (float*)(block + ((long)quads * 4 * nr));
            for (int c = 0; c < nr; c++)
            {
                int sum = 0;
                for (int q = 0; q < quads; q++)
                {
                    sbyte* w = block + ((long)q * 4 * nr) + (4 * c);
                    sum += w[0] + w[1] + w[2] + w[3];
                }

                sums[c] = sum;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static T At(ReadOnlySpan<T> src, int ld, ReadOnlySpan<int> kMap, ReadOnlySpan<int> nMap, bool transposed, int p, int col)
    {
        int row = kMap[p], source = col < nMap.Length ? nMap[col] : -1;
        return row < 0 || source < 0 ? T.Zero : src[transposed ? (source * ld) + row : (row * ld) + source];
    }

    /// <summary>
    /// C[M×N] = A·B (or += when <paramref name="accumulate"/>); with <paramref name="blocks"/> &gt; 1 (packed B only), the
    /// same for N columns at each of that many offsets <paramref name="blockStride"/> apart (a multiple of NR) in B and C
    /// — one call for a thread's units in every gate block, so an int8 product rounds A once.
    /// </summary>
    public abstract void Multiply(int m, int n, int k, in MatA<T> a, in MatB<T> b, T* c, int ldc, bool accumulate, in GemmScratch<T> s, int blocks = 1, int blockStride = 0);
}

/// <summary>The naive twin of <see cref="Gemm{T}.Multiply"/>: the triple loop, same operand conventions.</summary>
internal static unsafe class GemmNaive<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    /// <summary>C = A·B (or +=), with B row-major [K × N] at <paramref name="b"/> and leading dimension <paramref name="ldb"/>.</summary>
    public static void Multiply(int m, int n, int k, in MatA<T> a, T* b, int ldb, T* c, int ldc, bool accumulate)
    {
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                T sum = T.Zero;
                for (int p = 0; p < k; p++)
                {
                    T aip = a.Transposed ? a.Ptr[((long)p * a.Ld) + i] : a.Ptr[((long)i * a.Ld) + p];
                    sum += aip * b[((long)p * ldb) + j];
                }

                T* cij = c + ((long)i * ldc) + j;
                *cij = accumulate ? *cij + sum : sum;
            }
        }
    }
}
