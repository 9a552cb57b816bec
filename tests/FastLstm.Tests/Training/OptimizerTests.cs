using FastLstm.Training;

namespace FastLstm.Tests.Training;

public class OptimizerTests
{
    [Fact]
    public void AdamFirstStepIsLearningRateTimesSign()
    {
        // With bias correction, m̂ = g and v̂ = g², so the first update is lr · g / (|g| + ε).
        double[] p = [1, 1, 1, 1];
        double[] g = [0.5, -2, 1e-3, 0];
        new Adam<double>(4, 0.1).Step(p, g);
        Assert.Equal(0.9, p[0], 1e-6);
        Assert.Equal(1.1, p[1], 1e-6);
        Assert.Equal(0.9, p[2], 1e-4);
        Assert.Equal(1.0, p[3]);
    }

    [Fact]
    public void AdamMatchesTheFormulaOverSteps()
    {
        var rng = new Random(1);
        int n = 19;
        var p = TestData.Uniform<double>(rng, n);
        var expected = (double[])p.Clone();
        var m = new double[n];
        var v = new double[n];
        var adam = new Adam<double>(n, 0.01, 0.8, 0.95, 1e-6);
        for (int t = 1; t <= 5; t++)
        {
            var g = TestData.Uniform<double>(rng, n);
            adam.Step(p, g);
            for (int i = 0; i < n; i++)
            {
                m[i] = (0.8 * m[i]) + (0.2 * g[i]);
                v[i] = (0.95 * v[i]) + (0.05 * g[i] * g[i]);
                expected[i] -= 0.01 * (m[i] / (1 - Math.Pow(0.8, t))) / (Math.Sqrt(v[i] / (1 - Math.Pow(0.95, t))) + 1e-6);
            }
        }

        Assert.True(TestData.RelativeError<double>(p, expected) < 1e-12);
        Assert.Equal(5, adam.Steps);
    }

    [Fact]
    public void SgdMomentumByHand()
    {
        double[] p = [0];
        var sgd = new Sgd<double>(1, 0.1, 0.9);
        sgd.Step(p, [1]);   // v = 1,   p = −0.1
        sgd.Step(p, [1]);   // v = 1.9, p = −0.29
        Assert.Equal(-0.29, p[0], 1e-15);
    }

    [Fact]
    public void StepsAllocateNothing()
    {
        var p = new float[1000];
        var g = new float[1000];
        var adam = new Adam<float>(1000, 1e-3f);
        var sgd = new Sgd<float>(1000, 1e-3f, 0.9f);
        void Calls()
        {
            adam.Step(p, g);
            sgd.Step(p, g);
            GradientClipping.ByGlobalNorm(1f, g.AsSpan(0, 500), g.AsSpan(500));
            GradientClipping.ByValue(1f, g);
        }

        // Every call warmed up (a first call's JIT work is charged to this thread), then the least of three rounds:
        // an allocation in the code shows in each of them.
        for (int i = 0; i < 50; i++)
        {
            Calls();
        }

        long least = long.MaxValue;
        for (int attempt = 0; attempt < 3; attempt++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            Calls();
            least = Math.Min(least, GC.GetAllocatedBytesForCurrentThread() - before);
        }

        Assert.Equal(0, least);
    }

    [Fact]
    public void ClippingByGlobalNormScalesBothSpansTogether()
    {
        double[] a = [3, 0];
        double[] b = [0, 4];
        Assert.Equal(5, GradientClipping.ByGlobalNorm(1.0, a, b));
        Assert.Equal(0.6, a[0], 1e-15);
        Assert.Equal(0.8, b[1], 1e-15);
        Assert.Equal(0, a[1] + b[0]);
        Assert.Equal(1, GradientClipping.ByGlobalNorm(2.0, a, b), 1e-15);
        Assert.Equal(0.6, a[0], 1e-15);
    }

    [Fact]
    public void ClippingByValueClamps()
    {
        double[] g = [-5, -0.5, 0, 0.5, 5];
        GradientClipping.ByValue(1.0, g);
        Assert.Equal([-1, -0.5, 0, 0.5, 1], g);
    }

    [Fact]
    public void BadArgumentsAreNamed()
    {
        Assert.Equal("learningRate", Assert.Throws<ArgumentOutOfRangeException>(() => new Adam<float>(3, 0f)).ParamName);
        Assert.Equal("maxNorm", Assert.Throws<ArgumentOutOfRangeException>(() => GradientClipping.ByGlobalNorm(-1f, new float[2])).ParamName);
        Assert.Equal("parameters", Assert.Throws<ArgumentException>(() => new Adam<float>(3, 1f).Step(new float[2], new float[3])).ParamName);
        Assert.Equal("BatchSize", Assert.Throws<ArgumentOutOfRangeException>(() => new TrainingOptions { BatchSize = 0 }.Validate()).ParamName);
    }
}
