using FastLstm.Kernels;

namespace FastLstm.Tests;

/// <summary>The blocked GEMM against its naive twin, over shapes that cross every tile and block edge.</summary>
public unsafe class GemmTests
{
    public static TheoryData<int, int, int> Shapes()
    {
        var data = new TheoryData<int, int, int>();
        foreach (int m in new[] { 1, 2, 5, 6, 7, 13, 97 })
        {
            foreach (int n in new[] { 1, 7, 8, 16, 17, 33, 64, 65 })
            {
                foreach (int k in new[] { 1, 3, 16, 255, 256, 257, 600 })
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
        var packed = new T[Gemm<T>.PackedLength(k, n)];
        var scratchA = new T[Gemm<T>.ScratchALength];
        var scratchB = new T[Gemm<T>.ScratchBLength(n)];
        var edge = new T[Gemm<T>.EdgeLength];
        int[] kMap = Enumerable.Range(0, k).ToArray(), nMap = Enumerable.Range(0, n).ToArray();

        fixed (T* pa = a, pat = at, pb = b, pp = packed, sa = scratchA, sb = scratchB, se = edge)
        {
            Gemm<T>.PackB(pp, b, n, kMap, nMap, transposed: false);
            var scratch = new GemmScratch<T>(sa, sb, se);
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
                };
                foreach (var (name, opA, opB) in operands)
                {
                    var actual = (T[])c0.Clone();
                    fixed (T* pc = actual)
                    {
                        Gemm<T>.Multiply(m, n, k, opA, opB, pc, n, accumulate, scratch);
                    }

                    double err = TestData.RelativeError<T>(actual, expected);
                    Assert.True(err <= tolerance, $"{name}, accumulate={accumulate}: relative error {err:E2}");
                }
            }
        }
    }

    [Fact]
    public void WritesExactlyMTimesN()
    {
        // C is a window inside a larger matrix: nothing outside the M × N window may change.
        const int m = 7, n = 19, k = 5, ldc = 40, rows = 10;
        var rng = new Random(3);
        var a = TestData.Uniform<float>(rng, m * k);
        var b = TestData.Uniform<float>(rng, k * n);
        var c = Enumerable.Repeat(float.NaN, rows * ldc).ToArray();
        var packed = new float[Gemm<float>.PackedLength(k, n)];
        var scratchA = new float[Gemm<float>.ScratchALength];
        var edge = new float[Gemm<float>.EdgeLength];
        fixed (float* pa = a, pc = c, pp = packed, sa = scratchA, se = edge)
        {
            Gemm<float>.PackB(pp, b, n, Enumerable.Range(0, k).ToArray(), Enumerable.Range(0, n).ToArray(), transposed: false);
            Gemm<float>.Multiply(m, n, k, new MatA<float>(pa, k), MatB<float>.FromPacked(pp), pc + ldc + 3, ldc, false, new GemmScratch<float>(sa, null, se));
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
