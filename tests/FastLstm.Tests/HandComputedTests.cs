namespace FastLstm.Tests;

/// <summary>
/// One step of each cell with H = 1, I = 2, computed by hand from the equations in seed-equations.md.
/// x = [1, −2], h0 = 0.5, c0 = −0.3. With W_ih rows [0.1, 0.2], [−0.3, 0.4], [0.5, −0.6], [0.7, 0.8],
/// W_hh = [0.9, −1.0, 1.1, −1.2], b_ih = [0.01, 0.02, 0.03, 0.04], b_hh = [−0.05, 0.06, −0.07, 0.08],
/// the full pre-activations of rows 0..3 are
///   a0 = 0.1 − 0.4 + 0.01 + 0.45 − 0.05 = 0.11,   a1 = −0.3 − 0.8 + 0.02 − 0.5 + 0.06 = −1.52,
///   a2 = 0.5 + 1.2 + 0.03 + 0.55 − 0.07 = 2.21,    a3 = 0.7 − 1.6 + 0.04 − 0.6 + 0.08 = −1.38.
/// Both sessions (fused) and the naive twin must give the same numbers.
/// </summary>
public class HandComputedTests
{
    private static readonly double[] X = [1.0, -2.0];

    [Fact]
    public void LstmStep()
    {
        // i = σ(0.11), f = σ(−1.52), g = tanh(2.21), o = σ(−1.38); c' = f·(−0.3) + i·g; h' = o·tanh(c').
        double i = Sig(0.11), f = Sig(-1.52), g = Math.Tanh(2.21), o = Sig(-1.38);
        double c1 = (f * -0.3) + (i * g);
        Assert.Equal(0.46108936330293626, c1, 1e-15);
        Assert.Equal(0.086629181572558264, o * Math.Tanh(c1), 1e-15);
        Check(CellType.Lstm, 4, expectedH: 0.086629181572558264, expectedC: 0.46108936330293626);
    }

    [Fact]
    public void GruStep()
    {
        // r = σ(a0) = σ(0.11), z = σ(a1) = σ(−1.52); input part of n: 0.5·1 − 0.6·(−2) + 0.03 = 1.73;
        // hidden part W_hn h + b_hn = 1.1·0.5 − 0.07 = 0.48; n = tanh(1.73 + r·0.48); h' = (1 − z)·n + z·0.5.
        double r = Sig(0.11), z = Sig(-1.52), n = Math.Tanh(1.73 + (r * 0.48));
        Assert.Equal(0.87976182619976151, ((1 - z) * n) + (z * 0.5), 1e-15);
        Check(CellType.Gru, 3, expectedH: 0.87976182619976151);
    }

    [Fact]
    public void GruResetBeforeStep()
    {
        // As GruStep, but n = tanh(1.73 + 1.1·(r·0.5) − 0.07): the reset multiplies h before W_hn, not b_hn.
        double r = Sig(0.11), z = Sig(-1.52), n = Math.Tanh(1.73 + (1.1 * r * 0.5) - 0.07);
        Assert.Equal(0.87771677703331485, ((1 - z) * n) + (z * 0.5), 1e-15);
        Check(CellType.GruResetBefore, 3, expectedH: 0.87771677703331485);
    }

    [Fact]
    public void RnnTanhStep() => Check(CellType.RnnTanh, 1, expectedH: 0.10955847021442951); // tanh(0.11)

    [Fact]
    public void RnnReluStep() => Check(CellType.RnnRelu, 1, expectedH: 0.11); // relu(0.11)

    [Fact]
    public void RnnReluClampsNegative() => Check(CellType.RnnRelu, 1, expectedH: 0.0, biasIh0: -0.51); // relu(0.11 − 0.52) = 0

    [Fact]
    public void SeedLstmStep()
    {
        // Gate rows i, f, N, V: i = σ(0.11), f = σ(−1.52), N = tanh(2.21), V = σ(−1.38).
        // forget m = LTM·f = −0.3·f; remember LTM' = m + N·i; use U = tanh(0.3·m − 0.2) with W_u = 0.3, b_u = −0.2;
        // STM' = U·V. The use gate reads m, not LTM'.
        double i = Sig(0.11), f = Sig(-1.52), n = Math.Tanh(2.21), v = Sig(-1.38);
        double m = -0.3 * f, ltm = m + (n * i), u = Math.Tanh((0.3 * m) - 0.2);
        Assert.Equal(0.46108936330293626, ltm, 1e-15);
        Assert.Equal(-0.04278415726657956, u * v, 1e-15);
        Check(CellType.SeedLstm, 4, expectedH: -0.04278415726657956, expectedC: 0.46108936330293626);
    }

    private static double Sig(double a) => 1 / (1 + Math.Exp(-a));

    private static void Check(CellType cell, int gates, double expectedH, double? expectedC = null, double biasIh0 = 0.01)
    {
        var spec = new RnnSpec(cell, 2, 1);
        var model = new RnnModel<double>(spec);
        double[] wih = [0.1, 0.2, -0.3, 0.4, 0.5, -0.6, 0.7, 0.8];
        double[] whh = [0.9, -1.0, 1.1, -1.2];
        double[] bih = [biasIh0, 0.02, 0.03, 0.04];
        double[] bhh = [-0.05, 0.06, -0.07, 0.08];
        wih.AsSpan(0, 2 * gates).CopyTo(model.Parameter("weight_ih_l0"));
        whh.AsSpan(0, gates).CopyTo(model.Parameter("weight_hh_l0"));
        bih.AsSpan(0, gates).CopyTo(model.Parameter("bias_ih_l0"));
        bhh.AsSpan(0, gates).CopyTo(model.Parameter("bias_hh_l0"));
        if (cell == CellType.SeedLstm)
        {
            model.Parameter("weight_use_l0")[0] = 0.3;
            model.Parameter("bias_use_l0")[0] = -0.2;
        }

        double[] h0 = [0.5];
        double[] c0 = spec.HasCellState ? [-0.3] : [];
        var runs = new List<(string Name, double H, double C)>();

        using (var inference = new InferenceSession<double>(model, 1, 1))
        {
            var output = new double[1];
            var hN = new double[1];
            var cN = new double[c0.Length];
            inference.Forward(X, 1, 1, output, h0, c0, hN, cN);
            runs.Add(("Forward", output[0], cN.Length > 0 ? cN[0] : double.NaN));
            Assert.Equal(output[0], hN[0]);

            double[] h = [0.5];
            double[] c = (double[])c0.Clone();
            inference.Step(X, 1, output, h, c);
            runs.Add(("Step", h[0], c.Length > 0 ? c[0] : double.NaN));
        }

        using (var training = new TrainingSession<double>(model, 1, 1))
        {
            var output = new double[1];
            var cN = new double[c0.Length];
            training.Forward(X, 1, 1, output, h0, c0, default, cN);
            runs.Add(("TrainingSession", output[0], cN.Length > 0 ? cN[0] : double.NaN));
        }

        var naive = new Reference.NaiveRnn<double>(model);
        var naiveOut = new double[1];
        var naiveC = new double[c0.Length];
        naive.Forward(X, 1, 1, naiveOut, h0, c0, default, naiveC);
        runs.Add(("NaiveRnn", naiveOut[0], naiveC.Length > 0 ? naiveC[0] : double.NaN));

        foreach (var (name, h, c) in runs)
        {
            Assert.True(Math.Abs(h - expectedH) <= 1e-15, $"{name}: h = {h:R}, expected {expectedH:R}");
            if (expectedC is double ec)
            {
                Assert.True(Math.Abs(c - ec) <= 1e-15, $"{name}: c = {c:R}, expected {ec:R}");
            }
        }
    }
}
