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
            gemm.PackB(pp, b, n, kMap, nMap, transposed: false);
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
                    ("packed B", new MatA<T>(pa, k), MatB<T>.FromPacked(pp)),
                    ("row-major B", new MatA<T>(pa, k), MatB<T>.RowMajor(pb, n)),
                    ("transposed A", new MatA<T>(pat, m, transposed: true), MatB<T>.FromPacked(pp)),
                    ("packed B, panels last to first", new MatA<T>(pa, k), MatB<T>.FromPacked(pp, reversed: true)),
                    ("transposed A, panels last to first", new MatA<T>(pat, m, transposed: true), MatB<T>.FromPacked(pp, reversed: true)),
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
            gemm.PackB(pp, b, n, Enumerable.Range(0, k).ToArray(), Enumerable.Range(0, n).ToArray(), transposed: false);
            gemm.Multiply(m, n, k, new MatA<float>(pa, k), MatB<float>.FromPacked(pp), pc + ldc + 3, ldc, false, new GemmScratch<float>(null, se));
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
