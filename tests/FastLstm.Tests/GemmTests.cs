using FastLstm.Kernels;

namespace FastLstm.Tests;

/// <summary>
/// The blocked GEMM against its naive twin at every vector width this CPU accelerates, over shapes that cross every tile
/// and block edge of every width's kernel: rows around MR = 6 and MC = 96; columns around whole vectors, the 16- to
/// 64-column panels, ragged edges and the GEMV's groups of four and two panels, in either panel order; depths around each kernel's KC (128, 512 and 1024).
/// </summary>
public unsafe class GemmTests
{
    public static TheoryData<int, int, int> Shapes()
    {
        var data = new TheoryData<int, int, int>();
        foreach (int m in new[] { 1, 2, 5, 6, 7, 13, 97 })
        {
            foreach (int n in new[] { 1, 7, 16, 17, 48, 64, 65, 129, 300, 400 })
            {
                foreach (int k in new[] { 1, 3, 16, 127, 129, 255, 513, 600, 1025 })
                {
                    data.Add(m, n, k);
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void FloatMatchesNaive(int m, int n, int k) => Check<float>(m, n, k, 1e-5);

    [Theory]
    [MemberData(nameof(Shapes))]
    public void DoubleMatchesNaive(int m, int n, int k) => Check<double>(m, n, k, 1e-13);

    private static void Check<T>(int m, int n, int k, double tolerance)
        where T : unmanaged, System.Numerics.IBinaryFloatingPointIeee754<T>
    {
        foreach (int bits in TestData.Widths())
        {
            Check(Gemm<T>.For(bits), m, n, k, tolerance);
        }
    }

    private static void Check<T>(Gemm<T> gemm, int m, int n, int k, double tolerance)
        where T : unmanaged, System.Numerics.IBinaryFloatingPointIeee754<T>
    {
        var rng = new Random((m * 1000003) + (n * 1009) + k);
        var a = TestData.Uniform<T>(rng, m * k);
        var at = new T[k * m];
        for (int i = 0; i < m; i++)
        {
            for (int p = 0; p < k; p++)
            {
                at[(p * m) + i] = a[(i * k) + p];
            }
        }

        var b = TestData.Uniform<T>(rng, k * n);
        var c0 = TestData.Uniform<T>(rng, m * n);
        var packed = new T[gemm.PackedLength(k, n)];
        var scratchB = new T[gemm.ScratchBLength(n)];
        var edge = new T[gemm.EdgeLength];
        int[] kMap = Enumerable.Range(0, k).ToArray(), nMap = Enumerable.Range(0, n).ToArray();

        fixed (T* pa = a, pat = at, pb = b, pp = packed, sb = scratchB, se = edge)
        {
            var full = gemm.Full(pp, k);
            gemm.PackB(full, b, n, kMap, nMap, transposed: false);
            var scratch = new GemmScratch<T>(sb, se);
            foreach (bool accumulate in new[] { false, true })
            {
                var expected = (T[])c0.Clone();
                fixed (T* pe = expected)
                {
                    GemmNaive<T>.Multiply(m, n, k, new MatA<T>(pa, k), pb, n, pe, n, accumulate);
                }

                var operands = new (string Name, MatA<T> A, MatB<T> B)[]
                {
                    ("packed B", new MatA<T>(pa, k), MatB<T>.FromPacked(full)),
                    ("row-major B", new MatA<T>(pa, k), MatB<T>.RowMajor(pb, n)),
                    ("transposed A", new MatA<T>(pat, m, transposed: true), MatB<T>.FromPacked(full)),
                    ("packed B, panels last to first", new MatA<T>(pa, k), MatB<T>.FromPacked(full, reversed: true)),
                    ("transposed A, panels last to first", new MatA<T>(pat, m, transposed: true), MatB<T>.FromPacked(full, reversed: true)),
                };
                var results = new List<T[]>();
                foreach (var (name, opA, opB) in operands)
                {
                    var actual = (T[])c0.Clone();
                    fixed (T* pc = actual)
                    {
                        gemm.Multiply(m, n, k, opA, opB, pc, n, accumulate, scratch);
                    }

                    double err = TestData.RelativeError<T>(actual, expected);
                    Assert.True(err <= tolerance, $"{gemm.Name}, {name}, accumulate={accumulate}: relative error {err:E2}");
                    results.Add(actual);
                }

                // The order of the panels changes which columns are computed first, never how: the same bits.
                Assert.Equal(results[0], results[3]);
                Assert.Equal(results[2], results[4]);
            }
        }
    }

    public static TheoryData<WeightFormat, int, int, int> CompressedShapes()
    {
        var data = new TheoryData<WeightFormat, int, int, int>();
        foreach (var format in new[] { WeightFormat.BFloat16, WeightFormat.Int8 })
        {
            foreach (var (m, n, k) in new[] { (1, 7, 3), (1, 17, 129), (1, 400, 513), (1, 129, 1025), (2, 65, 16), (6, 48, 600), (7, 300, 127), (97, 129, 255) })
            {
                data.Add(format, m, n, k);
            }
        }

        return data;
    }

    /// <summary>
    /// A B packed as bfloat16 or int8 gives the product with the ideally rounded weights — bfloat16 to nearest even; int8
    /// per column, the largest magnitude at 127 — up to float rounding, at every width, in every path (GEMV, tiles, edges,
    /// K blocks, accumulate). Int8 products also round A to 7 bits around a zero point per row and K block, and so does
    /// the reference here. The rounding is computed here independently of the packer's.
    /// </summary>
    [Theory]
    [MemberData(nameof(CompressedShapes))]
    public void CompressedMatchesTheRoundedWeights(WeightFormat format, int m, int n, int k)
    {
        var rng = new Random((m * 1000003) + (n * 1009) + k);
        var a = TestData.Uniform<float>(rng, m * k);
        var b = TestData.Uniform<float>(rng, k * n);
        var c0 = TestData.Uniform<float>(rng, m * n);
        var rounded = Rounded(b, k, n, format);
        foreach (int bits in TestData.Widths())
        {
            var gemm = Gemm<float>.For(bits);
            var aRounded = format == WeightFormat.Int8 ? Quantized(a, m, k, gemm.KC) : a;
            var data = new byte[gemm.PackedBytes(k, n, format)];
            var scales = new float[gemm.Panels(n) * gemm.NR];
            var edge = new float[gemm.EdgeLength];
            var quantized = new float[gemm.QuantizedLength];
            fixed (float* pa = a, par = aRounded, pr = rounded, ps = scales, se = edge, pq = quantized)
            fixed (byte* pd = data)
            {
                var packed = new PackedB<float>(pd, format == WeightFormat.Int8 ? ps : null, k, gemm.NR, format);
                gemm.PackB(packed, b, n, Enumerable.Range(0, k).ToArray(), Enumerable.Range(0, n).ToArray(), transposed: false);
                foreach (bool accumulate in new[] { false, true })
                {
                    var expected = (float[])c0.Clone();
                    var actual = (float[])c0.Clone();
                    fixed (float* pe = expected, pc = actual)
                    {
                        GemmNaive<float>.Multiply(m, n, k, new MatA<float>(par, k), pr, n, pe, n, accumulate);
                        gemm.Multiply(m, n, k, new MatA<float>(pa, k), MatB<float>.FromPacked(packed), pc, n, accumulate, new GemmScratch<float>(null, se, pq));
                    }

                    double err = TestData.RelativeError<float>(actual, expected);
                    Assert.True(err <= 1e-5, $"{gemm.Name} {format}, accumulate={accumulate}: relative error {err:E2}");
                }
            }
        }
    }

    /// <summary>
    /// A [m, k] with each row's values in each K block of <paramref name="kc"/> rounded to 7-bit levels around a zero
    /// point: the range [min(0, min), max(0, max)] in 127 steps, 0 on a level.
    /// </summary>
    private static float[] Quantized(float[] a, int m, int k, int kc)
    {
        var r = new float[a.Length];
        for (int i = 0; i < m; i++)
        {
            for (int p0 = 0; p0 < k; p0 += kc)
            {
                var block = a.AsSpan((i * k) + p0, Math.Min(kc, k - p0));
                float min = 0, max = 0;
                foreach (float v in block)
                {
                    min = Math.Min(min, v);
                    max = Math.Max(max, v);
                }

                float inverse = 127f / (max - min), zero = MathF.Round(-min * inverse), step = (max - min) / 127f;
                for (int p = 0; p < block.Length; p++)
                {
                    float level = Math.Clamp(MathF.Round(MathF.FusedMultiplyAdd(block[p], inverse, zero)), 0, 127);
                    r[(i * k) + p0 + p] = (float)((level - zero) * (double)step);
                }
            }
        }

        return r;
    }

    /// <summary>B [k, n] with each weight rounded as <paramref name="format"/> stores it.</summary>
    private static float[] Rounded(float[] b, int k, int n, WeightFormat format)
    {
        var r = new float[b.Length];
        for (int j = 0; j < n; j++)
        {
            float max = 0;
            for (int p = 0; p < k; p++)
            {
                max = Math.Max(max, Math.Abs(b[(p * n) + j]));
            }

            float scale = max / 127f;
            for (int p = 0; p < k; p++)
            {
                float x = b[(p * n) + j];
                r[(p * n) + j] = format == WeightFormat.Int8
                    ? (float)(Math.Round(x / scale, MidpointRounding.ToEven) * scale)
                    : x == 0 ? 0 : (float)(Math.Round(x / Math.ScaleB(1.0, Math.ILogB(x) - 7), MidpointRounding.ToEven) * Math.ScaleB(1.0, Math.ILogB(x) - 7));
            }
        }

        return r;
    }

    [Theory]
    [MemberData(nameof(TestData.WidthData), MemberType = typeof(TestData))]
    public void WritesExactlyMTimesN(int bits)
    {
        // C is a window inside a larger matrix: nothing outside the M × N window may change.
        const int m = 7, n = 19, k = 5, ldc = 40, rows = 10;
        var rng = new Random(3);
        var a = TestData.Uniform<float>(rng, m * k);
        var b = TestData.Uniform<float>(rng, k * n);
        var c = Enumerable.Repeat(float.NaN, rows * ldc).ToArray();
        var gemm = Gemm<float>.For(bits);
        var packed = new float[gemm.PackedLength(k, n)];
        var edge = new float[gemm.EdgeLength];
        fixed (float* pa = a, pc = c, pp = packed, se = edge)
        {
            var full = gemm.Full(pp, k);
            gemm.PackB(full, b, n, Enumerable.Range(0, k).ToArray(), Enumerable.Range(0, n).ToArray(), transposed: false);
            gemm.Multiply(m, n, k, new MatA<float>(pa, k), MatB<float>.FromPacked(full), pc + ldc + 3, ldc, false, new GemmScratch<float>(null, se));
        }

        for (int r = 0; r < rows; r++)
        {
            for (int q = 0; q < ldc; q++)
            {
                bool inside = r >= 1 && r < 1 + m && q >= 3 && q < 3 + n;
                Assert.Equal(inside, !float.IsNaN(c[(r * ldc) + q]));
            }
        }
    }
}
