using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

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

    private MatB(T* ptr, int ld, bool packed)
    {
        Ptr = ptr;
        Ld = ld;
        Packed = packed;
    }

    public static MatB<T> FromPacked(T* packed) => new(packed, 0, true);

    public static MatB<T> RowMajor(T* ptr, int ld) => new(ptr, ld, false);
}

/// <summary>Per-caller scratch: an A block (MC × KC), a B block (KC × padded N) and one edge tile (MR × NR).</summary>
internal readonly unsafe struct GemmScratch<T>(T* a, T* b, T* edge)
    where T : unmanaged
{
    public readonly T* A = a;
    public readonly T* B = b;
    public readonly T* Edge = edge;
}

/// <summary>
/// <c>C[M×N] = A[M×K]·B[K×N]</c>, or <c>C += A·B</c>: a blocked GEMM in the BLIS style.
/// <para>Packed B: panels of <see cref="NR"/> columns; panel j is a K × NR row-major block at
/// <c>j·K·NR</c>, the last one zero-padded. A is packed per (MC × KC) block into micro-panels of
/// <see cref="MR"/> rows: element (i, k) of a micro-panel at <c>k·MR + i</c>, missing rows zero.</para>
/// <para>The register tile is MR × NR (6 × 16 floats, 6 × 8 doubles): 12 accumulators, two B loads and
/// six broadcasts per k. Exactly M × N elements of C are written: bottom-edge tiles run a kernel compiled for their
/// row count, right-edge tiles go through a scratch tile, so the hot loop has no edge branches. M = 1 takes a GEMV path that runs
/// four B panels at once, since one row gives a single panel only two independent accumulators.</para>
/// </summary>
internal static unsafe class Gemm<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    public const int MR = 6;
    public const int KC = 256;
    public const int MC = 96;

    public static int NR => 2 * Vector256<T>.Count;

    public static int Panels(int n) => (n + NR - 1) / NR;

    /// <summary>Elements of a packed B of K rows and N columns.</summary>
    public static long PackedLength(int k, int n) => (long)Panels(n) * k * NR;

    /// <summary>Elements of the B block scratch for products with up to <paramref name="maxN"/> columns.</summary>
    public static long ScratchBLength(int maxN) => (long)Panels(maxN) * KC * NR;

    public const int ScratchALength = MC * KC;

    public static int EdgeLength => MR * NR;

    /// <summary>
    /// Packs B[k, n] = <paramref name="src"/>[kMap[k] · ld + nMap[n]] (or [nMap[n] · ld + kMap[k]] when
    /// <paramref name="transposed"/>); a negative map entry stands for a zero row or column.
    /// </summary>
    public static void PackB(T* dst, ReadOnlySpan<T> src, int ld, ReadOnlySpan<int> kMap, ReadOnlySpan<int> nMap, bool transposed)
    {
        int k = kMap.Length, n = nMap.Length, nr = NR;
        for (int j = 0; j < Panels(n); j++)
        {
            T* panel = dst + ((long)j * k * nr);
            for (int p = 0; p < k; p++)
            {
                int row = kMap[p];
                for (int c = 0; c < nr; c++)
                {
                    int col = (j * nr) + c;
                    int source = col < n ? nMap[col] : -1;
                    panel[(p * nr) + c] = row < 0 || source < 0
                        ? T.Zero
                        : src[transposed ? (source * ld) + row : (row * ld) + source];
                }
            }
        }
    }

    /// <summary>C[M×N] = A·B (or += when <paramref name="accumulate"/>). K = 0 clears (or keeps) C.</summary>
    [SkipLocalsInit]
    public static void Multiply(int m, int n, int k, in MatA<T> a, in MatB<T> b, T* c, int ldc, bool accumulate, in GemmScratch<T> s)
    {
        if (m <= 0 || n <= 0)
        {
            return;
        }

        if (k <= 0)
        {
            if (!accumulate)
            {
                for (int i = 0; i < m; i++)
                {
                    new Span<T>(c + ((long)i * ldc), n).Clear();
                }
            }

            return;
        }

        int nr = NR;
        for (int pc = 0; pc < k; pc += KC)
        {
            int kc = Math.Min(KC, k - pc);
            bool acc = accumulate || pc > 0;
            T* bBase;
            long panelStride;
            if (b.Packed)
            {
                bBase = b.Ptr + ((long)pc * nr);
                panelStride = (long)k * nr;
            }
            else
            {
                PackBBlock(s.B, b, pc, kc, n);
                bBase = s.B;
                panelStride = (long)kc * nr;
            }

            if (m == 1 && !a.Transposed)
            {
                Gemv(kc, a.Ptr + pc, bBase, panelStride, n, c, acc, s.Edge);
                continue;
            }

            for (int ic = 0; ic < m; ic += MC)
            {
                int mc = Math.Min(MC, m - ic);
                PackABlock(s.A, a, ic, mc, pc, kc);
                Macro(mc, n, kc, s.A, bBase, panelStride, c + ((long)ic * ldc), ldc, acc, s.Edge);
            }
        }
    }

    private static void Macro(int mc, int n, int kc, T* aPacked, T* bBase, long panelStride, T* c, int ldc, bool acc, T* edge)
    {
        int nr = NR;
        for (int jr = 0, j = 0; jr < n; jr += nr, j++)
        {
            int nv = Math.Min(nr, n - jr);
            T* bp = bBase + (j * panelStride);
            for (int ir = 0; ir < mc; ir += MR)
            {
                int mv = Math.Min(MR, mc - ir);
                T* ap = aPacked + ((long)ir * kc);
                T* ct = c + ((long)ir * ldc) + jr;
                if (nv < nr)
                {
                    Micro<Rows6>(kc, ap, bp, edge, nr, false);
                    CopyOut(edge, nr, ct, ldc, mv, nv, acc);
                    continue;
                }

                // Bottom-edge tiles run a kernel with exactly their rows, straight into C.
                switch (mv)
                {
                    case 6: Micro<Rows6>(kc, ap, bp, ct, ldc, acc); break;
                    case 5: Micro<Rows5>(kc, ap, bp, ct, ldc, acc); break;
                    case 4: Micro<Rows4>(kc, ap, bp, ct, ldc, acc); break;
                    case 3: Micro<Rows3>(kc, ap, bp, ct, ldc, acc); break;
                    case 2: Micro<Rows2>(kc, ap, bp, ct, ldc, acc); break;
                    default: Micro<Rows1>(kc, ap, bp, ct, ldc, acc); break;
                }
            }
        }
    }

    private static void CopyOut(T* tile, int ldt, T* c, int ldc, int rows, int cols, bool acc)
    {
        for (int i = 0; i < rows; i++)
        {
            T* src = tile + (i * ldt);
            T* dst = c + ((long)i * ldc);
            for (int q = 0; q < cols; q++)
            {
                dst[q] = acc ? dst[q] + src[q] : src[q];
            }
        }
    }

    // The R × NR register tile (R ≤ MR): up to 12 accumulators stay in ymm registers for the whole k loop. R is a type
    // argument, so each instantiation is compiled with its row count as a constant and the unused rows vanish. No calls
    // in the loop: on Linux every vector register is caller-saved and a call would spill them. A panels are always MR
    // wide (missing rows zero), so a is advanced by MR whatever R is.
    private static void Micro<TRows>(int kc, T* a, T* b, T* c, int ldc, bool acc)
        where TRows : struct, IRowCount
    {
        int w = Vector256<T>.Count, rows = TRows.Count;
        Vector256<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<T> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector256.Load(b);
            var b1 = Vector256.Load(b + w);
            var a0 = Vector256.Create(a[0]);
            c00 = Simd.Fma(a0, b0, c00);
            c01 = Simd.Fma(a0, b1, c01);
            if (rows > 1)
            {
                var a1 = Vector256.Create(a[1]);
                c10 = Simd.Fma(a1, b0, c10);
                c11 = Simd.Fma(a1, b1, c11);
            }

            if (rows > 2)
            {
                var a2 = Vector256.Create(a[2]);
                c20 = Simd.Fma(a2, b0, c20);
                c21 = Simd.Fma(a2, b1, c21);
            }

            if (rows > 3)
            {
                var a3 = Vector256.Create(a[3]);
                c30 = Simd.Fma(a3, b0, c30);
                c31 = Simd.Fma(a3, b1, c31);
            }

            if (rows > 4)
            {
                var a4 = Vector256.Create(a[4]);
                c40 = Simd.Fma(a4, b0, c40);
                c41 = Simd.Fma(a4, b1, c41);
            }

            if (rows > 5)
            {
                var a5 = Vector256.Create(a[5]);
                c50 = Simd.Fma(a5, b0, c50);
                c51 = Simd.Fma(a5, b1, c51);
            }

            a += MR;
            b += 2 * w;
        }

        Store(c, w, c00, c01, acc);
        if (rows > 1)
        {
            Store(c + ldc, w, c10, c11, acc);
        }

        if (rows > 2)
        {
            Store(c + (2 * ldc), w, c20, c21, acc);
        }

        if (rows > 3)
        {
            Store(c + (3 * ldc), w, c30, c31, acc);
        }

        if (rows > 4)
        {
            Store(c + (4 * ldc), w, c40, c41, acc);
        }

        if (rows > 5)
        {
            Store(c + (5 * ldc), w, c50, c51, acc);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(T* c, int w, Vector256<T> v0, Vector256<T> v1, bool acc)
    {
        if (acc)
        {
            v0 += Vector256.Load(c);
            v1 += Vector256.Load(c + w);
        }

        v0.Store(c);
        v1.Store(c + w);
    }

    private static void Gemv(int kc, T* x, T* bBase, long panelStride, int n, T* c, bool acc, T* edge)
    {
        int nr = NR;
        int full = n / nr;
        int j = 0;
        for (; j + 4 <= full; j += 4)
        {
            Gemv4(kc, x, bBase + (j * panelStride), panelStride, c + (j * nr), acc);
        }

        for (; j < full; j++)
        {
            Gemv1(kc, x, bBase + (j * panelStride), c + (j * nr), acc);
        }

        if (j * nr < n)
        {
            Gemv1(kc, x, bBase + (j * panelStride), edge, false);
            CopyOut(edge, nr, c + (j * nr), 0, 1, n - (j * nr), acc);
        }
    }

    private static void Gemv4(int kc, T* x, T* p0, long stride, T* c, bool acc)
    {
        int w = Vector256<T>.Count;
        T* p1 = p0 + stride;
        T* p2 = p1 + stride;
        T* p3 = p2 + stride;
        Vector256<T> s00 = default, s01 = default, s10 = default, s11 = default;
        Vector256<T> s20 = default, s21 = default, s30 = default, s31 = default;
        for (int p = 0; p < kc; p++)
        {
            var xv = Vector256.Create(x[p]);
            s00 = Simd.Fma(xv, Vector256.Load(p0), s00);
            s01 = Simd.Fma(xv, Vector256.Load(p0 + w), s01);
            s10 = Simd.Fma(xv, Vector256.Load(p1), s10);
            s11 = Simd.Fma(xv, Vector256.Load(p1 + w), s11);
            s20 = Simd.Fma(xv, Vector256.Load(p2), s20);
            s21 = Simd.Fma(xv, Vector256.Load(p2 + w), s21);
            s30 = Simd.Fma(xv, Vector256.Load(p3), s30);
            s31 = Simd.Fma(xv, Vector256.Load(p3 + w), s31);
            p0 += 2 * w;
            p1 += 2 * w;
            p2 += 2 * w;
            p3 += 2 * w;
        }

        Store(c, w, s00, s01, acc);
        Store(c + (2 * w), w, s10, s11, acc);
        Store(c + (4 * w), w, s20, s21, acc);
        Store(c + (6 * w), w, s30, s31, acc);
    }

    private static void Gemv1(int kc, T* x, T* p0, T* c, bool acc)
    {
        int w = Vector256<T>.Count;
        Vector256<T> s0 = default, s1 = default;
        for (int p = 0; p < kc; p++)
        {
            var xv = Vector256.Create(x[p]);
            s0 = Simd.Fma(xv, Vector256.Load(p0), s0);
            s1 = Simd.Fma(xv, Vector256.Load(p0 + w), s1);
            p0 += 2 * w;
        }

        Store(c, w, s0, s1, acc);
    }

    private static void PackABlock(T* dst, in MatA<T> a, int ic, int mc, int pc, int kc)
    {
        for (int ir = 0; ir < mc; ir += MR)
        {
            T* panel = dst + ((long)ir * kc);
            int mv = Math.Min(MR, mc - ir);
            if (a.Transposed)
            {
                for (int p = 0; p < kc; p++)
                {
                    T* src = a.Ptr + ((long)(pc + p) * a.Ld) + ic + ir;
                    T* d = panel + (p * MR);
                    int i = 0;
                    for (; i < mv; i++)
                    {
                        d[i] = src[i];
                    }

                    for (; i < MR; i++)
                    {
                        d[i] = T.Zero;
                    }
                }
            }
            else
            {
                for (int i = 0; i < MR; i++)
                {
                    if (i < mv)
                    {
                        T* src = a.Ptr + ((long)(ic + ir + i) * a.Ld) + pc;
                        for (int p = 0; p < kc; p++)
                        {
                            panel[(p * MR) + i] = src[p];
                        }
                    }
                    else
                    {
                        for (int p = 0; p < kc; p++)
                        {
                            panel[(p * MR) + i] = T.Zero;
                        }
                    }
                }
            }
        }
    }

    private static void PackBBlock(T* dst, in MatB<T> b, int pc, int kc, int n)
    {
        int nr = NR;
        for (int jr = 0, j = 0; jr < n; jr += nr, j++)
        {
            int nv = Math.Min(nr, n - jr);
            T* panel = dst + ((long)j * kc * nr);
            for (int p = 0; p < kc; p++)
            {
                T* src = b.Ptr + ((long)(pc + p) * b.Ld) + jr;
                T* d = panel + (p * nr);
                int q = 0;
                for (; q < nv; q++)
                {
                    d[q] = src[q];
                }

                for (; q < nr; q++)
                {
                    d[q] = T.Zero;
                }
            }
        }
    }
}

/// <summary>A compile-time row count for the micro-kernel (a struct type argument, so each count gets its own code).</summary>
internal interface IRowCount
{
    static abstract int Count { get; }
}

internal struct Rows1 : IRowCount
{
    public static int Count => 1;
}

internal struct Rows2 : IRowCount
{
    public static int Count => 2;
}

internal struct Rows3 : IRowCount
{
    public static int Count => 3;
}

internal struct Rows4 : IRowCount
{
    public static int Count => 4;
}

internal struct Rows5 : IRowCount
{
    public static int Count => 5;
}

internal struct Rows6 : IRowCount
{
    public static int Count => 6;
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
