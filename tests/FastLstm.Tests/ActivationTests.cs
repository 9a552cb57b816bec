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

    /// <summary>
    /// Every ONNX activation through the general operator (<see cref="OnnxActivationOp{T}"/>): its block forms (what the
    /// kernels run: the kind decided once per block) and its per-vector forms against its scalar formulas, at every width,
    /// in float and double, over values either side of every corner (0, the thresholds) and far out.
    /// </summary>
    [Theory]
    [MemberData(nameof(TestData.WidthData), MemberType = typeof(TestData))]
    public void OnnxActivationsMatchTheirScalarFormulas(int bits)
    {
        switch (bits)
        {
            case 512: Onnx<float, V512<float>>(2e-6); Onnx<double, V512<double>>(1e-13); break;
            case 256: Onnx<float, V256<float>>(2e-6); Onnx<double, V256<double>>(1e-13); break;
            default: Onnx<float, V128<float>>(2e-6); Onnx<double, V128<double>>(1e-13); break;
        }
    }

    private static void Onnx<T, TV>(double tolerance)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TV : unmanaged, IVec<TV, T>
    {
        var rng = new Random(5);
        var values = new[] { 0.0, -0.0, 0.3, -0.3, 0.5, -0.5, 1, -1, 2.4, -2.6, 7, -7, 30, -30 }
            .Concat(Enumerable.Range(0, 66).Select(_ => (rng.NextDouble() * 12) - 6)).Select(T.CreateTruncating).ToArray();
        foreach (RnnActivationKind kind in Enum.GetValues<RnnActivationKind>())
        {
            var a = new RnnActivation(kind, 0.7, 0.4);
            var op = new OnnxActivationOp<T>(a);
            var y = new T[values.Length];
            var slope = new T[values.Length];
            var each = new T[values.Length];
            var eachSlope = new T[values.Length];
            fixed (T* x = values, py = y, ps = slope, pe = each, pes = eachSlope)
            {
                op.Apply<TV>(py, x, values.Length);
                op.Slopes<TV>(ps, x, py, values.Length);
                for (int j = 0; j < values.Length; j += TV.Count)
                {
                    TV.Store(op.Invoke(TV.Load(x + j)), pe + j);
                    TV.Store(op.Derivative(TV.Load(x + j), TV.Load(py + j)), pes + j);
                }
            }

            for (int j = 0; j < values.Length; j++)
            {
                T x = values[j];
                T expected = op.Invoke(x);
                Close(expected, y[j], x, $"{TV.Bits}-bit {a} (block)", tolerance);
                Close(expected, each[j], x, $"{TV.Bits}-bit {a} (vector)", tolerance);
                // From the same y the vectors were given, and against 1 rather than relative: slopes are O(1), and 1 − y²
                // near saturation (fused in the vector form, rounded twice in the scalar one) cancels to a few ulps of 1.
                T d = op.Derivative(x, y[j]);
                foreach (var (actual, form) in new[] { (slope[j], "block"), (eachSlope[j], "vector") })
                {
                    double e = double.CreateTruncating(d), v = double.CreateTruncating(actual);
                    Assert.True(Math.Abs(e - v) <= tolerance * Math.Max(1, Math.Abs(e)) || (double.IsNaN(e) && double.IsNaN(v)), $"{TV.Bits}-bit {a}' ({form})({x}) = {v:R}, expected {e:R}");
                }
            }
        }
    }

    /// <summary>
    /// Where tanh saturates, backward reads 1 − h² off the stored h, so h's error counts against 1 − |h|, not against h:
    /// it must stay within one float ulp (2⁻²⁴ there) of the exact value over 1.25 ≤ |x| ≤ 9, where 1 − h² &lt; 0.3 magnifies
    /// it. A form rounding three times at 1's scale reached 2.46 ulps (at 4.49) and put 3e-3 relative error into a
    /// saturated RNN's weight gradient; the form used now stays below 0.9.
    /// </summary>
    [Theory]
    [MemberData(nameof(TestData.WidthData), MemberType = typeof(TestData))]
    public void FloatTanhNearSaturationWithinOneUlpOfOne(int bits)
    {
        double worst = bits switch
        {
            512 => WorstTanhErrorNearOne<V512<float>>(),
            256 => WorstTanhErrorNearOne<V256<float>>(),
            _ => WorstTanhErrorNearOne<V128<float>>(),
        };
        Assert.True(worst <= 1.0, $"{bits}-bit tanh: {worst:F2} ulps of 1 from exact near saturation");
    }

    private static double WorstTanhErrorNearOne<TV>()
        where TV : unmanaged, IVec<TV, float>
    {
        const int n = 1 << 16;
        var x = new float[n];
        for (int i = 0; i < n; i++)
        {
            x[i] = (i % 2 == 0 ? 1 : -1) * (1.25f + (7.75f * i / n));
        }

        var h = new float[n];
        fixed (float* px = x, ph = h)
        {
            for (int i = 0; i < n; i += TV.Count)
            {
                TV.Store(Activations<float>.Tanh(TV.Load(px + i)), ph + i);
            }
        }

        double worst = 0;
        for (int i = 0; i < n; i++)
        {
            worst = Math.Max(worst, Math.Abs(h[i] - Math.Tanh(x[i])) / Math.ScaleB(1, -24));
        }

        return worst;
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
