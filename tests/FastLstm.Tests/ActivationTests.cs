using System.Runtime.Intrinsics;
using FastLstm.Kernels;

namespace FastLstm.Tests;

/// <summary>Each vector activation against its scalar twin, over ordinary and special values.</summary>
public class ActivationTests
{
    private static readonly double[] Specials =
        [0.0, -0.0, 1e-30, -1e-30, 1e-8, -1e-8, 0.5, -0.5, 1, -1, 5, -5, 20, -20, 44, -44, 88, -88, 90, -90, 400, -400, 800, -800,
         double.PositiveInfinity, double.NegativeInfinity, double.NaN];

    [Fact]
    public void FloatMatchesScalar() => Check<float>(4e-7);

    [Fact]
    public void DoubleMatchesScalar() => Check<double>(2e-15);

    // CI runs this project a second time with DOTNET_EnableAVX2=0 to test the 128-bit path; this makes sure that run
    // really left AVX2 and FMA off (and that the normal run, on CI's AVX2 machines, has them).
    [Fact]
    public void Avx2SwitchIsHonoured()
    {
        bool disabled = Environment.GetEnvironmentVariable("DOTNET_EnableAVX2") == "0";
        Assert.Equal(!disabled, Simd.Accelerated);
    }

    private static void Check<T>(double tolerance)
        where T : unmanaged, System.Numerics.IBinaryFloatingPointIeee754<T>
    {
        var rng = new Random(11);
        var small = Enumerable.Range(0, 64).Select(i => T.CreateTruncating((i % 2 == 0 ? 1 : -1) * Math.Pow(10, -i / 8.0)));
        var values = Specials.Select(T.CreateSaturating).Concat(small).Concat(TestData.Uniform<T>(rng, 512, 12)).ToArray();
        int w = Vector256<T>.Count;
        for (int i = 0; i + w <= values.Length; i += w)
        {
            var v = Vector256.Create(values.AsSpan(i, w));
            var sig = Activations.Sigmoid(v);
            var tanh = Activations.Tanh(v);
            var relu = Activations.Relu(v);
            for (int j = 0; j < w; j++)
            {
                T x = values[i + j];
                Close(Activations.Sigmoid(x), sig[j], x, "sigmoid", tolerance);
                Close(Activations.Tanh(x), tanh[j], x, "tanh", tolerance);
                Assert.Equal(Activations.Relu(x), relu[j]);
            }
        }
    }

    // Relative error (a few ulps), also near 0 where tanh(x) ≈ x and σ(x) ≈ e^x are tiny; NaN and the infinite
    // limits must match exactly.
    private static void Close<T>(T expected, T actual, T x, string what, double tolerance)
        where T : System.Numerics.IBinaryFloatingPointIeee754<T>
    {
        double e = double.CreateTruncating(expected), a = double.CreateTruncating(actual);
        if (double.IsNaN(e) || double.IsInfinity(e))
        {
            Assert.True(e.Equals(a), $"{what}({x}) = {a}, expected {e}");
            return;
        }

        Assert.True(Math.Abs(e - a) <= tolerance * Math.Abs(e) || (e == 0 && a == 0), $"{what}({x}) = {a:R}, expected {e:R}");
    }
}
