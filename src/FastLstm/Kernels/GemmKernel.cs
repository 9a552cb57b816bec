using System.Numerics;
using System.Runtime.CompilerServices;

namespace FastLstm.Kernels;

/// <summary>
/// <see cref="Gemm{T}"/> at one vector width, written once for every width. The register tile is MR × NR with
/// NR = <see cref="IVec{TSelf, T}.TileVectors"/> vectors: 6 × 4 (24 accumulators of the 32 registers) where the CPU has
/// AVX-512, 6 × 2 (12 of 16) otherwise; per k, NR / lanes B loads and six broadcasts of A. K is blocked by 512: a whole
/// recurrent product up to H = 512 in one pass, so C is written once (faster than a B micro-panel sized for L1, see
/// bench/results/code-figures.md). Bottom-edge tiles run a kernel
/// compiled for their row count, right-edge tiles whose width is a whole number of vectors one compiled for their vector
/// count, straight into C; only a ragged right edge goes through the scratch tile. M = 1 takes a GEMV path that runs two
/// or four panels at once, since one row gives a single panel too few independent accumulators.
/// </summary>
internal sealed unsafe class Gemm<T, TV> : Gemm<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
    where TV : unmanaged, IVec<TV, T>
{
    public static readonly Gemm<T, TV> Instance = new();

    private static int Vectors => TV.TileVectors;

    private static int Width => TV.TileVectors * TV.Count;

    private const int Depth = PackedB<T>.KBlock;

    private Gemm()
    {
    }

    public override string Name => $"{(typeof(T) == typeof(float) ? 's' : 'd')}gemm_v{TV.Bits}_{MR}x{Width}";

    public override int NR => Width;

    public override int Lanes => TV.Count;

    public override int KC => Depth;

    public override int MC => BlockRows;

    private const int BlockRows = 96;

    [SkipLocalsInit]
    public override void Multiply(int m, int n, int k, in MatA<T> a, in MatB<T> b, T* c, int ldc, bool accumulate, in GemmScratch<T> s, int blocks = 1, int blockStride = 0)
    {
        if (m <= 0 || n <= 0)
        {
            return;
        }

        if (k <= 0)
        {
            if (!accumulate)
            {
                for (int q = 0; q < blocks; q++)
                {
                    for (int i = 0; i < m; i++)
                    {
                        new Span<T>(c + ((long)i * ldc) + ((long)q * blockStride), n).Clear();
                    }
                }
            }

            return;
        }

        switch (b.Format)
        {
            case WeightFormat.BFloat16: Blocks<BFloat16Panel<T>>(m, n, k, a, b, c, ldc, accumulate, s, blocks, blockStride); break;
            case WeightFormat.Int8: Blocks<Int8Panel<T>>(m, n, k, a, b, c, ldc, accumulate, s, blocks, blockStride); break;
            default: Blocks<FullPanel<T>>(m, n, k, a, b, c, ldc, accumulate, s, blocks, blockStride); break;
        }
    }

    // The K blocks of a product whose B is stored as TW (a row-major B is always full precision, packed block by block).
    // For int8, each block of A's rows is first quantized to bytes (Quantize) and the kernels read that instead; int8 B
    // only serves inference's forward products, whose A is row-major.
    private static void Blocks<TW>(int m, int n, int k, in MatA<T> a, in MatB<T> b, T* c, int ldc, bool accumulate, in GemmScratch<T> s, int blocks, int blockStride)
        where TW : struct, IPanelFormat<T>
    {
        int nr = Width, kcMax = Depth, mcMax = BlockRows;
        T* scales = b.Panels.Scales;
        T* rowScales = s.Quantized + (mcMax * kcMax / 4);
        for (int pc = 0; pc < k; pc += kcMax)
        {
            int kc = Math.Min(kcMax, k - pc), steps = (kc + TW.KStep - 1) / TW.KStep;
            bool acc = accumulate || pc > 0;
            byte* bBase;
            long panelStride;
            if (b.IsPacked)
            {
                bBase = b.Panels.Data + ((long)PackedB<T>.RowsBefore(pc, b.Format) * nr * TW.Bytes);
                panelStride = (long)PackedB<T>.RowsOf(k, b.Format) * nr * TW.Bytes;
            }
            else
            {
                PackBBlock(s.B, b, pc, kc, n);
                bBase = (byte*)s.B;
                panelStride = (long)kc * nr * TW.Bytes;
            }

            if (m == 1 && !a.Transposed)
            {
                T* x = a.Ptr + pc;
                if (TW.Scaled)
                {
                    Quantize(x, a.Ld, 1, kc, s.Quantized, rowScales);
                    x = s.Quantized;
                }

                for (int q = 0; q < blocks; q++)
                {
                    long o = (long)(b.Reversed ? blocks - 1 - q : q) * blockStride;
                    Gemv<TW>(steps, x, bBase + (o / nr * panelStride), panelStride, scales + o, rowScales, n, c + o, acc, s.Edge, b.Reversed);
                }

                continue;
            }

            // Full precision takes blocks outside row blocks, so a B block stays in cache while A streams past; int8 takes
            // row blocks outside, so each block of A is rounded once (for every block it was a tenth of a batched
            // product), while a thread's share of B stays in L2.
            int rowBlocks = (m + mcMax - 1) / mcMax;
            for (int u = 0; u < blocks * rowBlocks; u++)
            {
                int q = TW.Scaled ? u % blocks : u / rowBlocks, ic = (TW.Scaled ? u / blocks : u % rowBlocks) * mcMax;
                long o = (long)(b.Reversed ? blocks - 1 - q : q) * blockStride;
                int mc = Math.Min(mcMax, m - ic);
                // A is read where it is, never packed: a tile broadcasts from six row streams (or, transposed, from
                // six neighbours of each column), which L1 and L2 serve as well as a packed panel; packing cost as much
                // as a step's small products and slowed the weight gradients (bench/results/code-figures.md).
                Panel panel;
                if (TW.Scaled)
                {
                    if (q == 0)
                    {
                        Quantize(a.Ptr + ((long)ic * a.Ld) + pc, a.Ld, mc, kc, s.Quantized, rowScales);
                    }

                    panel = new Panel(s.Quantized, steps, 1, steps);
                }
                else
                {
                    panel = a.Transposed
                        ? new Panel(a.Ptr + ((long)pc * a.Ld) + ic, 1, a.Ld, 1)
                        : new Panel(a.Ptr + ((long)ic * a.Ld) + pc, a.Ld, 1, a.Ld);
                }

                Macro<TW>(mc, n, steps, panel, bBase + (o / nr * panelStride), panelStride, scales + o, rowScales, c + ((long)ic * ldc) + o, ldc, acc, s.Edge, b.Reversed);
            }
        }
    }

    /// <summary>
    /// Rows [0, <paramref name="rows"/>) of a row-major A (values [0, kc) of each) as bytes at <paramref name="q"/> — ⌈kc / 4⌉
    /// quads (one T each) a row, the last padded — each value x as round(x / s) + z in [0, 127], with the row's step s in
    /// <paramref name="scales"/>[r] and its zero point z in <paramref name="scales"/>[MC + r]. The range spans the row's
    /// values and 0, so 0 is exact (a one-hot row is exact); seven bits keep <c>vpmaddubsw</c>'s pair sums, at most
    /// 2 · 127 · 127, below its 16-bit saturation with full-range int8 weights. A row with a NaN or an infinity gets a NaN
    /// step, so its results are NaN.
    /// </summary>
    private static void Quantize(T* a, int lda, int rows, int kc, T* q, T* scales)
    {
        int quads = (kc + 3) / 4, w = Vector<float>.Count;
        for (int r = 0; r < rows; r++)
        {
            var row = System.Runtime.InteropServices.MemoryMarshal.Cast<T, float>(new ReadOnlySpan<T>(a + ((long)r * lda), kc));
            var (min, max) = Range(row);
            bool finite = float.IsFinite(max - min);
            float inverse = max > min && finite ? 127f / (max - min) : 0, zero = finite ? MathF.Round(-min * inverse) : 0;
            var d = new Span<byte>(q + ((long)r * quads), 4 * quads);
            Vector<float> vi = new(inverse), vz = new(zero);
            Vector<int> top = new(127);
            int j = 0;
            for (; j + (4 * w) <= kc; j += 4 * w)
            {
                var v0 = Vector.Min(Vector.Max(Vector.ConvertToInt32(Vector.Round(Vector.FusedMultiplyAdd(new Vector<float>(row[j..]), vi, vz))), Vector<int>.Zero), top);
                var v1 = Vector.Min(Vector.Max(Vector.ConvertToInt32(Vector.Round(Vector.FusedMultiplyAdd(new Vector<float>(row[(j + w)..]), vi, vz))), Vector<int>.Zero), top);
                var v2 = Vector.Min(Vector.Max(Vector.ConvertToInt32(Vector.Round(Vector.FusedMultiplyAdd(new Vector<float>(row[(j + (2 * w))..]), vi, vz))), Vector<int>.Zero), top);
                var v3 = Vector.Min(Vector.Max(Vector.ConvertToInt32(Vector.Round(Vector.FusedMultiplyAdd(new Vector<float>(row[(j + (3 * w))..]), vi, vz))), Vector<int>.Zero), top);
                Vector.AsVectorByte(Vector.Narrow(Vector.Narrow(v0, v1), Vector.Narrow(v2, v3))).CopyTo(d[j..]);
            }

            for (; j < kc; j++)
            {
                d[j] = (byte)Math.Clamp(MathF.Round(MathF.FusedMultiplyAdd(row[j], inverse, zero)), 0, 127);
            }

            d[kc..].Clear();
            scales[r] = T.CreateTruncating(finite ? (max - min) / 127f : float.NaN);
            scales[BlockRows + r] = T.CreateTruncating(zero);
        }
    }

    /// <summary>
    /// The smallest and largest of a row and 0, in one pass of the plain vector min and max; NaN for both when the row
    /// holds a NaN or an infinity (a sum of x·0 over the row is NaN exactly then), which the plain instructions would drop.
    /// </summary>
    private static (float Min, float Max) Range(ReadOnlySpan<float> row)
    {
        int w = Vector<float>.Count, j = 0;
        Vector<float> lo = Vector<float>.Zero, hi = Vector<float>.Zero, bad = Vector<float>.Zero;
        for (; j + w <= row.Length; j += w)
        {
            var v = new Vector<float>(row[j..]);
            lo = Vector.MinNative(lo, v);
            hi = Vector.MaxNative(hi, v);
            bad = Vector.FusedMultiplyAdd(v, Vector<float>.Zero, bad);
        }

        float min = 0, max = 0, nan = Vector.Sum(bad);
        for (int i = 0; i < w; i++)
        {
            (min, max) = (MathF.Min(min, lo[i]), MathF.Max(max, hi[i]));
        }

        for (; j < row.Length; j++)
        {
            (min, max, nan) = (MathF.Min(min, row[j]), MathF.Max(max, row[j]), nan + (row[j] * 0));
        }

        return float.IsNaN(nan) ? (float.NaN, float.NaN) : (min, max);
    }

    private static void Macro<TW>(int mc, int n, int kc, Panel a, byte* bBase, long panelStride, T* scales, T* rowScales, T* c, int ldc, bool acc, T* edge, bool reversed)
        where TW : struct, IPanelFormat<T>
    {
        int nr = Width, w = TV.Count, panels = (n + nr - 1) / nr;
        for (int q = 0; q < panels; q++)
        {
            int j = reversed ? panels - 1 - q : q, jr = j * nr;
            int nv = Math.Min(nr, n - jr);
            byte* bp = bBase + (j * panelStride);
            T* sp = scales + jr;
            bool ragged = nv % w != 0;
            for (int ir = 0; ir < mc; ir += MR)
            {
                int mv = Math.Min(MR, mc - ir);
                var ap = a.Tile(ir);
                T* ct = c + ((long)ir * ldc) + jr;
                if (ragged || TW.Scaled)
                {
                    Rows<Count4, TW>(mv, kc, ap, bp, edge, nr, false);
                    if (TW.Scaled)
                    {
                        Finish(edge, nr, ct, ldc, mv, nv, acc, sp, rowScales + ir, Sums<TW>(bp, kc));
                    }
                    else
                    {
                        CopyOut(edge, nr, ct, ldc, mv, nv, acc);
                    }
                }
                else
                {
                    Tile<TW>(mv, nv / w, kc, ap, bp, ct, ldc, acc);
                }
            }
        }
    }

    /// <summary>A tile of <paramref name="rows"/> × <paramref name="vectors"/> vectors straight into C.</summary>
    private static void Tile<TW>(int rows, int vectors, int kc, Panel a, byte* b, T* c, int ldc, bool acc)
        where TW : struct, IPanelFormat<T>
    {
        switch (vectors)
        {
            case 1: Rows<Count1, TW>(rows, kc, a, b, c, ldc, acc); break;
            case 2: Rows<Count2, TW>(rows, kc, a, b, c, ldc, acc); break;
            case 3: Rows<Count3, TW>(rows, kc, a, b, c, ldc, acc); break;
            default: Rows<Count4, TW>(rows, kc, a, b, c, ldc, acc); break;
        }
    }

    private static void Rows<TCols, TW>(int rows, int kc, Panel a, byte* b, T* c, int ldc, bool acc)
        where TCols : struct, ICount
        where TW : struct, IPanelFormat<T>
    {
        switch (rows)
        {
            case 6: Micro<Count6, TCols, TW>(kc, a, b, c, ldc, acc); break;
            case 5: Micro<Count5, TCols, TW>(kc, a, b, c, ldc, acc); break;
            case 4: Micro<Count4, TCols, TW>(kc, a, b, c, ldc, acc); break;
            case 3: Micro<Count3, TCols, TW>(kc, a, b, c, ldc, acc); break;
            case 2: Micro<Count2, TCols, TW>(kc, a, b, c, ldc, acc); break;
            default: Micro<Count1, TCols, TW>(kc, a, b, c, ldc, acc); break;
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

    // The R × V-vector register tile (R ≤ MR, V ≤ TileVectors): up to 24 accumulators stay in registers for the whole k
    // loop. R and V are type arguments, so each instantiation is compiled with them as constants and the unused rows and
    // vectors vanish. No calls in the loop: on Linux every vector register is caller-saved and a call would spill them.
    // B panels are always NR wide, so b advances by NR whatever V is; A element (i, p) is a[i·Row + p·Step]: rows read in
    // place (Row lda, Step 1) or a transposed A's columns (Row 1, Step lda). Only the R rows asked for are read. B's
    // weights are stored as TW and widened as they are loaded; for int8, kc counts quads of k, each A element is a quad
    // of bytes (its broadcast copies the bits), and the int32 sums are stored as they are for Finish.
    private static void Micro<TRows, TCols, TW>(int kc, Panel panel, byte* b, T* c, int ldc, bool acc)
        where TRows : struct, ICount
        where TCols : struct, ICount
        where TW : struct, IPanelFormat<T>
    {
        int w = TV.Count * TW.Bytes, nr = Width * TW.Bytes, rows = TRows.Value, cols = Math.Min(TCols.Value, Vectors);
        T* a = panel.A;
        nint step = panel.Step, r1 = panel.Row, r2 = 2 * r1, r3 = 3 * r1, r4 = 4 * r1, r5 = 5 * r1;
        TV c00 = default, c01 = default, c02 = default, c03 = default;
        TV c10 = default, c11 = default, c12 = default, c13 = default;
        TV c20 = default, c21 = default, c22 = default, c23 = default;
        TV c30 = default, c31 = default, c32 = default, c33 = default;
        TV c40 = default, c41 = default, c42 = default, c43 = default;
        TV c50 = default, c51 = default, c52 = default, c53 = default;
        for (int p = 0; p < kc; p++)
        {
            TW.Load(b, cols > 1, out TV b0, out TV b1);
            TV b2 = default, b3 = default;
            if (cols > 2)
            {
                TW.Load(b + (2 * w), cols > 3, out b2, out b3);
            }
            var a0 = TV.Create(a[0]);
            c00 = TW.Madd(a0, b0, c00);
            if (cols > 1)
            {
                c01 = TW.Madd(a0, b1, c01);
            }

            if (cols > 2)
            {
                c02 = TW.Madd(a0, b2, c02);
            }

            if (cols > 3)
            {
                c03 = TW.Madd(a0, b3, c03);
            }

            if (rows > 1)
            {
                var a1 = TV.Create(a[r1]);
                c10 = TW.Madd(a1, b0, c10);
                if (cols > 1)
                {
                    c11 = TW.Madd(a1, b1, c11);
                }

                if (cols > 2)
                {
                    c12 = TW.Madd(a1, b2, c12);
                }

                if (cols > 3)
                {
                    c13 = TW.Madd(a1, b3, c13);
                }
            }

            if (rows > 2)
            {
                var a2 = TV.Create(a[r2]);
                c20 = TW.Madd(a2, b0, c20);
                if (cols > 1)
                {
                    c21 = TW.Madd(a2, b1, c21);
                }

                if (cols > 2)
                {
                    c22 = TW.Madd(a2, b2, c22);
                }

                if (cols > 3)
                {
                    c23 = TW.Madd(a2, b3, c23);
                }
            }

            if (rows > 3)
            {
                var a3 = TV.Create(a[r3]);
                c30 = TW.Madd(a3, b0, c30);
                if (cols > 1)
                {
                    c31 = TW.Madd(a3, b1, c31);
                }

                if (cols > 2)
                {
                    c32 = TW.Madd(a3, b2, c32);
                }

                if (cols > 3)
                {
                    c33 = TW.Madd(a3, b3, c33);
                }
            }

            if (rows > 4)
            {
                var a4 = TV.Create(a[r4]);
                c40 = TW.Madd(a4, b0, c40);
                if (cols > 1)
                {
                    c41 = TW.Madd(a4, b1, c41);
                }

                if (cols > 2)
                {
                    c42 = TW.Madd(a4, b2, c42);
                }

                if (cols > 3)
                {
                    c43 = TW.Madd(a4, b3, c43);
                }
            }

            if (rows > 5)
            {
                var a5 = TV.Create(a[r5]);
                c50 = TW.Madd(a5, b0, c50);
                if (cols > 1)
                {
                    c51 = TW.Madd(a5, b1, c51);
                }

                if (cols > 2)
                {
                    c52 = TW.Madd(a5, b2, c52);
                }

                if (cols > 3)
                {
                    c53 = TW.Madd(a5, b3, c53);
                }
            }

            a += step;
            b += nr;
        }

        Store(c, cols, acc, c00, c01, c02, c03);
        if (rows > 1)
        {
            Store(c + ldc, cols, acc, c10, c11, c12, c13);
        }

        if (rows > 2)
        {
            Store(c + (2 * ldc), cols, acc, c20, c21, c22, c23);
        }

        if (rows > 3)
        {
            Store(c + (3 * ldc), cols, acc, c30, c31, c32, c33);
        }

        if (rows > 4)
        {
            Store(c + (4 * ldc), cols, acc, c40, c41, c42, c43);
        }

        if (rows > 5)
        {
            Store(c + (5 * ldc), cols, acc, c50, c51, c52, c53);
        }
    }

    /// <summary>
    /// Stores the first <paramref name="cols"/> of four vectors at c, adding what is there when <paramref name="acc"/>
    /// (int8's int32 sums as they are, for <see cref="Finish"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(T* c, int cols, bool acc, TV v0, TV v1, TV v2, TV v3)
    {
        int w = TV.Count;
        if (acc)
        {
            v0 += TV.Load(c);
            v1 = cols > 1 ? v1 + TV.Load(c + w) : v1;
            v2 = cols > 2 ? v2 + TV.Load(c + (2 * w)) : v2;
            v3 = cols > 3 ? v3 + TV.Load(c + (3 * w)) : v3;
        }

        TV.Store(v0, c);
        if (cols > 1)
        {
            TV.Store(v1, c + w);
        }

        if (cols > 2)
        {
            TV.Store(v2, c + (2 * w));
        }

        if (cols > 3)
        {
            TV.Store(v3, c + (3 * w));
        }
    }

    /// <summary>
    /// int8's int32 sums in <paramref name="tile"/> (rows × cols, row stride ldt) into C as floats: less the row's zero
    /// point (<paramref name="rowScale"/>[MC + i]) times the block's column sums, times the row's and the columns'
    /// scales, added to what C holds when <paramref name="acc"/>. Converting before subtracting is exact: both stay below
    /// 2²⁴. Kept out of the micro-kernels: six rows of it in their epilogue made them too large for the JIT to inline
    /// their vector operations, which then ran as calls (a tenth of a batched int8 step in a profile of B16 T50 H512).
    /// </summary>
    private static void Finish(T* tile, int ldt, T* c, int ldc, int rows, int cols, bool acc, T* scale, T* rowScale, T* sums)
    {
        int w = TV.Count;
        for (int i = 0; i < rows; i++)
        {
            T* t = tile + ((long)i * ldt);
            T* ci = c + ((long)i * ldc);
            T r = rowScale[i], z = -rowScale[BlockRows + i];
            TV rv = TV.Create(r), zv = TV.Create(z);
            int j = 0;
            for (; j + w <= cols; j += w)
            {
                var v = TV.Fma(zv, TV.Load(sums + j), TV.Int32ToSingle(TV.Load(t + j))) * (TV.Load(scale + j) * rv);
                TV.Store(acc ? v + TV.Load(ci + j) : v, ci + j);
            }

            for (; j < cols; j++)
            {
                T v = (T.CreateTruncating(*(int*)(t + j)) + (z * sums[j])) * (scale[j] * r);
                ci[j] = acc ? ci[j] + v : v;
            }
        }
    }

    /// <summary>The column sums of an int8 panel's K block of <paramref name="steps"/> quads that starts at <paramref name="panel"/>.</summary>
    private static T* Sums<TW>(byte* panel, int steps)
        where TW : struct, IPanelFormat<T>
        => (T*)(panel + ((long)steps * Width * TW.Bytes));

    // One row of A against B, several panels at once so that there are accumulators enough to cover the FMA latency:
    // four panels (16 accumulators at four vectors a panel, 8 at two), then at four vectors two; the rest panel by panel,
    // a ragged last panel through the scratch tile. Reversed, the same groups run last to first.
    private static void Gemv<TW>(int kc, T* x, byte* bBase, long panelStride, T* scales, T* rowScale, int n, T* c, bool acc, T* edge, bool reversed)
        where TW : struct, IPanelFormat<T>
    {
        int nr = Width, full = n / nr, fours = full / 4, twos = Vectors == 4 ? (full - (4 * fours)) / 2 : 0;
        int ones = full - (4 * fours) - (2 * twos), runs = fours + twos + ones + (full * nr < n ? 1 : 0);
        for (int i = 0; i < runs; i++)
        {
            int r = reversed ? runs - 1 - i : i;
            int j, panels;
            if (r < fours)
            {
                (j, panels) = (4 * r, 4);
            }
            else if (r < fours + twos)
            {
                (j, panels) = ((4 * fours) + (2 * (r - fours)), 2);
            }
            else
            {
                (j, panels) = ((4 * fours) + (2 * twos) + (r - fours - twos), 1);
            }

            // int8 and a ragged last panel go through the scratch tile; whole float panels straight into C.
            byte* b = bBase + (j * panelStride);
            bool direct = !TW.Scaled && j < full;
            T* dst = direct ? c + (j * nr) : edge;
            switch (panels)
            {
                case 4: GemvPanels<Count4, TW>(kc, x, b, panelStride, dst, acc && direct); break;
                case 2: GemvPanels<Count2, TW>(kc, x, b, panelStride, dst, acc && direct); break;
                default: Micro<Count1, Count4, TW>(kc, new Panel(x, 0, 1, 0), b, dst, 0, acc && direct); break;
            }

            for (int q = 0; !direct && q < panels; q++)
            {
                int cols = Math.Min(nr, n - ((j + q) * nr));
                if (TW.Scaled)
                {
                    Finish(edge + (q * nr), 0, c + ((j + q) * nr), 0, 1, cols, acc, scales + ((j + q) * nr), rowScale, Sums<TW>(b + (q * panelStride), kc));
                }
                else
                {
                    CopyOut(edge + (q * nr), nr, c + ((j + q) * nr), 0, 1, cols, acc);
                }
            }
        }
    }

    /// <summary>
    /// TPanels consecutive whole panels of C (panel q at <c>p0 + q·stride</c>), all TileVectors vectors of each; four panels
    /// of four vectors only where the CPU has 32 registers. Four weight streams at once keep more of L2 busy than two
    /// (bench/results/code-figures.md).
    /// </summary>
    private static void GemvPanels<TPanels, TW>(int kc, T* x, byte* p0, long stride, T* c, bool acc)
        where TPanels : struct, ICount
        where TW : struct, IPanelFormat<T>
    {
        int w = TV.Count * TW.Bytes, nr = Width * TW.Bytes, panels = TPanels.Value;
        bool four = Vectors == 4;
        byte* p1 = p0 + stride;
        byte* p2 = p1 + stride;
        byte* p3 = p2 + stride;
        TV s00 = default, s01 = default, s02 = default, s03 = default, s10 = default, s11 = default, s12 = default, s13 = default;
        TV s20 = default, s21 = default, s22 = default, s23 = default, s30 = default, s31 = default, s32 = default, s33 = default;
        for (int p = 0; p < kc; p++)
        {
            var xv = TV.Create(x[p]);
            TW.Load(p0, true, out TV b00, out TV b01);
            TW.Load(p1, true, out TV b10, out TV b11);
            s00 = TW.Madd(xv, b00, s00);
            s01 = TW.Madd(xv, b01, s01);
            s10 = TW.Madd(xv, b10, s10);
            s11 = TW.Madd(xv, b11, s11);
            if (four)
            {
                TW.Load(p0 + (2 * w), true, out TV b02, out TV b03);
                TW.Load(p1 + (2 * w), true, out TV b12, out TV b13);
                s02 = TW.Madd(xv, b02, s02);
                s03 = TW.Madd(xv, b03, s03);
                s12 = TW.Madd(xv, b12, s12);
                s13 = TW.Madd(xv, b13, s13);
            }

            if (panels > 2)
            {
                TW.Load(p2, true, out TV b20, out TV b21);
                TW.Load(p3, true, out TV b30, out TV b31);
                s20 = TW.Madd(xv, b20, s20);
                s21 = TW.Madd(xv, b21, s21);
                s30 = TW.Madd(xv, b30, s30);
                s31 = TW.Madd(xv, b31, s31);
                if (four)
                {
                    TW.Load(p2 + (2 * w), true, out TV b22, out TV b23);
                    TW.Load(p3 + (2 * w), true, out TV b32, out TV b33);
                    s22 = TW.Madd(xv, b22, s22);
                    s23 = TW.Madd(xv, b23, s23);
                    s32 = TW.Madd(xv, b32, s32);
                    s33 = TW.Madd(xv, b33, s33);
                }
            }

            p0 += nr;
            p1 += nr;
            p2 += nr;
            p3 += nr;
        }

        int width = Width;
        Store(c, Vectors, acc, s00, s01, s02, s03);
        Store(c + width, Vectors, acc, s10, s11, s12, s13);
        if (panels > 2)
        {
            Store(c + (2 * width), Vectors, acc, s20, s21, s22, s23);
            Store(c + (3 * width), Vectors, acc, s30, s31, s32, s33);
        }
    }

    /// <summary>K rows [pc, pc + kc) of a row-major B into NR-wide panels, the last one zero-padded.</summary>
    private static void PackBBlock(T* dst, in MatB<T> b, int pc, int kc, int n)
    {
        int nr = Width;
        for (int jr = 0, j = 0; jr < n; jr += nr, j++)
        {
            int nv = Math.Min(nr, n - jr);
            T* panel = dst + ((long)j * kc * nr);
            for (int p = 0; p < kc; p++)
            {
                var d = new Span<T>(panel + (p * nr), nr);
                new ReadOnlySpan<T>(b.Ptr + ((long)(pc + p) * b.Ld) + jr, nv).CopyTo(d);
                d[nv..].Clear();
            }
        }
    }

    /// <summary>Where the micro-kernels read A: element (i, p) of the tile at row r0 is <c>A[(r0 + i)·Row... ]</c>, see <see cref="Tile"/>.</summary>
    private readonly struct Panel(T* a, nint row, nint step, nint tileStride)
    {
        public readonly T* A = a;
        public readonly nint Row = row;
        public readonly nint Step = step;

        /// <summary>The tile whose first row is r0 (a multiple of MR).</summary>
        public Panel Tile(int r0) => new(A + (r0 * tileStride), Row, Step, tileStride);
    }
}

/// <summary>A compile-time count for the micro-kernels (a struct type argument, so each count gets its own code).</summary>
internal interface ICount
{
    static abstract int Value { get; }
}

internal struct Count1 : ICount
{
    public static int Value => 1;
}

internal struct Count2 : ICount
{
    public static int Value => 2;
}

internal struct Count3 : ICount
{
    public static int Value => 3;
}

internal struct Count4 : ICount
{
    public static int Value => 4;
}

internal struct Count5 : ICount
{
    public static int Value => 5;
}

internal struct Count6 : ICount
{
    public static int Value => 6;
}
