using System.Numerics;
using FastLstm.Kernels;

namespace FastLstm.Tests;

/// <summary>Each vector activation, at every width this CPU accelerates, against its scalar twin over ordinary and special values.</summary>
public unsafe class ActivationTests
{
    private static readonly double[] Specials =
        [0.0, -0.0, 1e-30, -1e-30, 1e-8, -1e-8, 0.5, -0.5, 1, -1, 5, -5, 20, -20, 44, -44, 88, -88, 90, -90, 400, -400, 800, -800,
         double.PositiveInfinity, double.NegativeInfinity, double.NaN];

    [Theory]
    [MemberData(nameof(TestData.WidthData), MemberType = typeof(TestData))]
    public void FloatMatchesScalar(int bits)
    {
        switch (bits)
        {
            case 512: Check<float, V512<float>>(4e-7); break;
            case 256: Check<float, V256<float>>(4e-7); break;
            default: Check<float, V128<float>>(4e-7); break;
        }
    }

    [Theory]
    [MemberData(nameof(TestData.WidthData), MemberType = typeof(TestData))]
    public void DoubleMatchesScalar(int bits)
    {
        switch (bits)
        {
            case 512: Check<double, V512<double>>(2e-15); break;
            case 256: Check<double, V256<double>>(2e-15); break;
            default: Check<double, V128<double>>(2e-15); break;
        }
    }

    private static void Check<T, TV>(double tolerance)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TV : unmanaged, IVec<TV, T>
    {
        var rng = new Random(11);
        var small = Enumerable.Range(0, 64).Select(i => T.CreateTruncating((i % 2 == 0 ? 1 : -1) * Math.Pow(10, -i / 8.0)));
        var values = Specials.Select(T.CreateSaturating).Concat(small).Concat(TestData.Uniform<T>(rng, 512, 12)).ToArray();
        int w = TV.Count;
        var sig = new T[w];
        var tanh = new T[w];
        var relu = new T[w];
        for (int i = 0; i + w <= values.Length; i += w)
        {
            fixed (T* v = &values[i], ps = sig, pt = tanh, pr = relu)
            {
                var x = TV.Load(v);
                TV.Store(Activations<T>.Sigmoid(x), ps);
                TV.Store(Activations<T>.Tanh(x), pt);
                TV.Store(Activations<T>.Relu(x), pr);
            }

            for (int j = 0; j < w; j++)
            {
                T x = values[i + j];
                Close(Activations<T>.Sigmoid(x), sig[j], x, $"{TV.Bits}-bit sigmoid", tolerance);
                Close(Activations<T>.Tanh(x), tanh[j], x, $"{TV.Bits}-bit tanh", tolerance);
                Assert.Equal(Activations<T>.Relu(x), relu[j]);
            }
        }
    }

    // Relative error (a few ulps), also near 0 where tanh(x) ≈ x and σ(x) ≈ e^x are tiny; NaN and the infinite
    // limits must match exactly.
    private static void Close<T>(T expected, T actual, T x, string what, double tolerance)
        where T : IBinaryFloatingPointIeee754<T>
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
