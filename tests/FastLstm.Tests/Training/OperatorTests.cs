using FastLstm.Training;

namespace FastLstm.Tests.Training;

/// <summary>Activations, the dense head and the losses: each against its naive twin and against finite differences.</summary>
public class OperatorTests
{
    public static TheoryData<Activation> AllActivations() => [.. Enum.GetValues<Activation>()];

    [Theory]
    [MemberData(nameof(AllActivations))]
    public void ActivationsMatchTheirTwins(Activation activation)
    {
        var rng = new Random(1);
        foreach (int width in new[] { 1, 3, 8, 13 })
        {
            var x = TestData.Uniform<double>(rng, width * 5, 4);
            var y = new double[x.Length];
            var yn = new double[x.Length];
            Activations.Forward<double>(activation, x, y, width);
            Activations.NaiveForward<double>(activation, x, yn, width);
            Assert.True(TestData.RelativeError<double>(y, yn) < 1e-14, $"{activation} forward, width {width}");

            var dy = TestData.Uniform<double>(rng, x.Length);
            var dx = new double[x.Length];
            var dxn = new double[x.Length];
            Activations.Backward<double>(activation, y, dy, dx, width);
            Activations.NaiveBackward<double>(activation, yn, dy, dxn, width);
            Assert.True(TestData.RelativeError<double>(dx, dxn) < 1e-14, $"{activation} backward, width {width}");

            // In place: dx may be dy.
            var inPlace = (double[])dy.Clone();
            Activations.Backward<double>(activation, y, inPlace, inPlace, width);
            Assert.Equal(dx, inPlace);
        }
    }

    [Theory]
    [MemberData(nameof(AllActivations))]
    public void ActivationDerivativesMatchFiniteDifferences(Activation activation)
    {
        const int width = 5;
        var rng = new Random(2);
        var x = TestData.Uniform<double>(rng, width * 3, 2);
        var probe = TestData.Uniform<double>(rng, x.Length);
        var y = new double[x.Length];
        Activations.Forward<double>(activation, x, y, width);
        var dx = new double[x.Length];
        Activations.Backward<double>(activation, y, probe, dx, width);
        var numeric = FiniteDifferences(x, () =>
        {
            var yy = new double[x.Length];
            Activations.Forward<double>(activation, x, yy, width);
            return Dot(yy, probe);
        });
        Assert.True(TestData.RelativeError<double>(dx, numeric) < 1e-7, activation.ToString());
    }

    [Fact]
    public void SoftmaxIsStableForHugeLogits()
    {
        double[] x = [1e4, 1e4 - 1, -1e4, 1e308];
        var y = new double[4];
        Activations.Forward<double>(Activation.Softmax, x.AsSpan(0, 3), y.AsSpan(0, 3), 3);
        Assert.All(y.AsSpan(0, 3).ToArray(), v => Assert.True(double.IsFinite(v)));
        Assert.Equal(1.0, y[0] + y[1] + y[2], 1e-15);
        Assert.Equal(1 / (1 + Math.Exp(-1)), y[0], 1e-15);
    }

    [Theory]
    [InlineData(Activation.Linear)]
    [InlineData(Activation.Softmax)]
    [InlineData(Activation.Tanh)]
    public void DenseHeadMatchesTwinAndFiniteDifferences(Activation activation)
    {
        const int rows = 4, inputs = 11, outputs = 6;
        var head = DenseHead<double>.CreateRandom(inputs, outputs, activation, 3);
        var rng = new Random(4);
        var x = TestData.Uniform<double>(rng, rows * inputs);
        var probe = TestData.Uniform<double>(rng, rows * outputs);

        var logits = new double[rows * outputs];
        var naiveLogits = new double[rows * outputs];
        head.Affine(x, rows, logits);
        head.NaiveAffine(x, rows, naiveLogits);
        Assert.True(TestData.RelativeError<double>(logits, naiveLogits) < 1e-14);

        var dx = new double[x.Length];
        var dxNaive = new double[x.Length];
        head.AffineBackward(x, probe, rows, dx);
        var fastGrad = head.Gradients.ToArray();
        head.ZeroGradients();
        head.NaiveAffineBackward(x, probe, rows, dxNaive);
        Assert.True(TestData.RelativeError<double>(dx, dxNaive) < 1e-14);
        Assert.True(TestData.RelativeError<double>(fastGrad, head.Gradients) < 1e-14);

        // Full layer (affine + activation) against central differences, for W, b and the input.
        head.ZeroGradients();
        var y = new double[rows * outputs];
        head.Forward(x, rows, y);
        var dy = (double[])probe.Clone();
        head.Backward(x, y, dy, rows, dx);
        double Loss()
        {
            var yy = new double[rows * outputs];
            head.Forward(x, rows, yy);
            return Dot(yy, probe);
        }

        var parameters = head.Parameters.ToArray();
        var numericParameters = FiniteDifferences(parameters, () =>
        {
            parameters.CopyTo(head.Parameters);
            return Loss();
        });
        Assert.True(TestData.RelativeError<double>(head.Gradients, numericParameters) < 1e-7, "parameters");
        Assert.True(TestData.RelativeError<double>(dx, FiniteDifferences(x, Loss)) < 1e-7, "input");
    }

    [Fact]
    public void LossesMatchTwinsAndFiniteDifferences()
    {
        var rng = new Random(5);
        var p = TestData.Uniform<double>(rng, 17, 3);
        var t = TestData.Uniform<double>(rng, 17, 3);
        var g = new double[17];
        var gn = new double[17];
        Assert.Equal(Loss.NaiveMeanSquaredError<double>(p, t, gn), Loss.MeanSquaredError<double>(p, t, g), 1e-14);
        Assert.True(TestData.RelativeError<double>(g, gn) < 1e-14);
        Assert.Equal(Loss.MeanSquaredError<double>(p, t, g), Loss.MeanSquaredError<double>(p, t, default), 1e-14);
        Assert.True(TestData.RelativeError<double>(g, FiniteDifferences(p, () => Loss.MeanSquaredError<double>(p, t, default))) < 1e-7);
        Assert.True(TestData.RelativeError<double>(
            Grad(() => Loss.MeanAbsoluteError<double>(p, t, g), g),
            FiniteDifferences(p, () => Loss.MeanAbsoluteError<double>(p, t, default))) < 1e-7);

        const int rows = 5, classes = 7;
        var logits = TestData.Uniform<double>(rng, rows * classes, 5);
        int[] targets = [0, 6, 3, 3, 1];
        var dl = new double[logits.Length];
        var dln = new double[logits.Length];
        Assert.Equal(Loss.NaiveSoftmaxCrossEntropy<double>(logits, targets, classes, dln), Loss.SoftmaxCrossEntropy<double>(logits, targets, classes, dl), 1e-13);
        Assert.True(TestData.RelativeError<double>(dl, dln) < 1e-13);
        Assert.True(TestData.RelativeError<double>(dl, FiniteDifferences(logits, () => Loss.SoftmaxCrossEntropy<double>(logits, targets, classes, default))) < 1e-7);
    }

    [Fact]
    public void CrossEntropyIsStableForHugeLogits()
    {
        // Row 1: the target has the largest logit by 1e6, loss 0. Row 2: the target trails the top by 3,
        // loss = 3 + ln(1 + e^-3).
        double[] logits = [1e6, 0, -1e6, 2e6 - 3, 2e6, 0];
        var g = new double[6];
        double loss = Loss.SoftmaxCrossEntropy<double>(logits, [0, 0], 3, g);
        Assert.Equal((3 + Math.Log(1 + Math.Exp(-3))) / 2, loss, 1e-9);
        Assert.All(g, v => Assert.True(double.IsFinite(v)));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Loss.SoftmaxCrossEntropy<double>(logits, [0, 9], 3, g));
        Assert.Contains("targets[1]", e.Message, StringComparison.Ordinal);
    }

    private static double[] Grad(Func<double> loss, double[] g)
    {
        loss();
        return g;
    }

    private static double Dot(double[] a, double[] b) => a.Zip(b, (x, y) => x * y).Sum();

    private static double[] FiniteDifferences(double[] x, Func<double> loss)
    {
        var g = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            double v = x[i];
            x[i] = v + 1e-6;
            double up = loss();
            x[i] = v - 1e-6;
            double down = loss();
            x[i] = v;
            g[i] = (up - down) / 2e-6;
        }

        loss();
        return g;
    }
}
