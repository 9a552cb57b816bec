using System.Numerics;

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
/// A B operand [K × N]: either packed once ahead (<see cref="Gemm{T}.PackB"/>, covering all K) or a plain
/// row-major matrix (element (k, n) at <c>Ptr[k·Ld + n]</c>) that the GEMM packs block by block.
/// </summary>
internal readonly unsafe struct MatB<T>
    where T : unmanaged
{
    public readonly T* Ptr;
    public readonly int Ld;
    public readonly bool Packed;

    /// <summary>Panels are visited last to first (the result is the same; see <see cref="Gemm{T}.Multiply"/>).</summary>
    public readonly bool Reversed;

    private MatB(T* ptr, int ld, bool packed, bool reversed)
    {
        Ptr = ptr;
        Ld = ld;
        Packed = packed;
        Reversed = reversed;
    }

    public static MatB<T> FromPacked(T* packed, bool reversed = false) => new(packed, 0, true, reversed);

    public static MatB<T> RowMajor(T* ptr, int ld) => new(ptr, ld, false, false);
}

/// <summary>Per-caller scratch: a B block (KC × padded N) and one edge tile (MR × NR).</summary>
internal readonly unsafe struct GemmScratch<T>(T* b, T* edge)
    where T : unmanaged
{
    public readonly T* B = b;
    public readonly T* Edge = edge;
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

    /// <summary>Depth of a K block.</summary>
    public abstract int KC { get; }

    /// <summary>Rows of an A block (a multiple of <see cref="MR"/>): the A block (MC × KC) stays in L2 while B streams past.</summary>
    public abstract int MC { get; }

    public int Panels(int n) => (n + NR - 1) / NR;

    /// <summary>Elements of a packed B of K rows and N columns.</summary>
    public long PackedLength(int k, int n) => (long)Panels(n) * k * NR;

    /// <summary>Elements of the B block scratch for products with up to <paramref name="maxN"/> columns.</summary>
    public long ScratchBLength(int maxN) => (long)Panels(maxN) * KC * NR;

    public int EdgeLength => MR * NR;

    /// <summary>The kernel for vectors of <paramref name="bits"/> bits.</summary>
    public static Gemm<T> For(int bits) => bits switch
    {
        512 => Gemm<T, V512<T>>.Instance,
        256 => Gemm<T, V256<T>>.Instance,
        _ => Gemm<T, V128<T>>.Instance,
    };

    /// <summary>
    /// Packs B[k, n] = <paramref name="src"/>[kMap[k] · ld + nMap[n]] (or [nMap[n] · ld + kMap[k]] when
    /// <paramref name="transposed"/>); a negative map entry stands for a zero row or column.
    /// </summary>
    public void PackB(T* dst, ReadOnlySpan<T> src, int ld, ReadOnlySpan<int> kMap, ReadOnlySpan<int> nMap, bool transposed)
    {
        int k = kMap.Length, n = nMap.Length, nr = NR;
        for (int j = 0; j < Panels(n); j++)
        {
            T* panel = dst + ((long)j * k * nr);
            for (int p = 0; p < k; p++)
            {
                int row = kMap[p];
                T* d = panel + ((long)p * nr);
                for (int c = 0; c < nr; c++)
                {
                    int col = (j * nr) + c;
                    int source = col < n ? nMap[col] : -1;
                    d[c] = row < 0 || source < 0
                        ? T.Zero
                        : src[transposed ? (source * ld) + row : (row * ld) + source];
                }
            }
        }
    }

    /// <summary>C[M×N] = A·B (or += when <paramref name="accumulate"/>).</summary>
    public abstract void Multiply(int m, int n, int k, in MatA<T> a, in MatB<T> b, T* c, int ldc, bool accumulate, in GemmScratch<T> s);
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
