namespace FastLstm.Tests;

public class ModelTests
{
    [Fact]
    public void NamesAndShapesFollowPyTorch()
    {
        var model = new RnnModel<float>(new RnnSpec(CellType.Lstm, 3, 5, 2, Bidirectional: true));
        string[] expected =
        [
            "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
            "weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse", "bias_hh_l0_reverse",
            "weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1",
            "weight_ih_l1_reverse", "weight_hh_l1_reverse", "bias_ih_l1_reverse", "bias_hh_l1_reverse",
        ];
        Assert.Equal(expected, model.ParameterNames);
        Assert.Equal([20, 3], model.ParameterShape("weight_ih_l0"));
        Assert.Equal([20, 5], model.ParameterShape("weight_hh_l0_reverse"));
        Assert.Equal([20, 10], model.ParameterShape("weight_ih_l1"));
        Assert.Equal([20], model.ParameterShape("bias_hh_l1_reverse"));
        Assert.Equal(2 * ((20 * 3) + (20 * 5) + 40) + 2 * ((20 * 10) + (20 * 5) + 40), model.Parameters.Length);
    }

    [Theory]
    [InlineData(CellType.Gru, 3)]
    [InlineData(CellType.GruResetBefore, 3)]
    [InlineData(CellType.RnnTanh, 1)]
    [InlineData(CellType.RnnRelu, 1)]
    public void GateCountsSetRowCounts(CellType cell, int gates)
    {
        var model = new RnnModel<double>(new RnnSpec(cell, 4, 6));
        Assert.Equal(["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"], model.ParameterNames);
        Assert.Equal([gates * 6, 4], model.ParameterShape("weight_ih_l0"));
    }

    [Fact]
    public void SeedLstmHasTheUseGateMatrix()
    {
        var model = new RnnModel<double>(new RnnSpec(CellType.SeedLstm, 4, 6));
        Assert.Equal(["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_use_l0", "bias_use_l0"], model.ParameterNames);
        Assert.Equal([6, 6], model.ParameterShape("weight_use_l0"));
        Assert.Equal([6], model.ParameterShape("bias_use_l0"));
    }

    [Fact]
    public void RandomInitIsPyTorchUniformAndSeeded()
    {
        var spec = new RnnSpec(CellType.Lstm, 3, 16, 2);
        var a = RnnModel<double>.CreateRandom(spec, 7);
        var b = RnnModel<double>.CreateRandom(spec, 7);
        var c = RnnModel<double>.CreateRandom(spec, 8);
        Assert.True(a.Parameters.SequenceEqual(b.Parameters));
        Assert.False(a.Parameters.SequenceEqual(c.Parameters));
        double bound = 1 / Math.Sqrt(16);
        double max = 0;
        foreach (double v in a.Parameters)
        {
            Assert.InRange(v, -bound, bound);
            max = Math.Max(max, Math.Abs(v));
        }

        Assert.True(max > 0.9 * bound, "values should fill the range");
    }

    [Fact]
    public void ParameterIsAViewAndSessionsSeeChangesAsDocumented()
    {
        var spec = new RnnSpec(CellType.Lstm, 2, 3);
        var model = RnnModel<float>.CreateRandom(spec, 1);
        float[] x = [0.5f, -1f];
        float[] Run(InferenceSession<float> s)
        {
            var y = new float[3];
            s.Forward(x, 1, 1, y);
            return y;
        }

        using var before = new InferenceSession<float>(model, 1, 1);
        var original = Run(before);
        long version = model.Version;
        float old = model.Data[(12 * 2) + (12 * 3) + 9];
        model.Parameter("bias_ih_l0")[9] += 1f; // the o gate of unit 0; bias_ih_l0 follows weight_ih [12, 2] and weight_hh [12, 3]
        Assert.Equal(old + 1f, model.Data[(12 * 2) + (12 * 3) + 9]);
        Assert.True(model.Version > version, "a writable view counts as a change");

        // A session created before the edit sees it at its next call, like one created after.
        var changed = Run(before);
        Assert.NotEqual(original[0], changed[0]);
        Assert.Equal(original[1], changed[1]);
        using var after = new InferenceSession<float>(model, 1, 1);
        Assert.Equal(changed, Run(after));

        // A view kept past a call and written later is seen once the model is told.
        var bias = model.Parameter("bias_ih_l0");
        Assert.Equal(changed, Run(before));
        bias[9] -= 1f;
        Assert.Equal(changed, Run(before));
        model.MarkChanged();
        Assert.Equal(original, Run(before));

        using var training = new TrainingSession<float>(model, 1, 1);
        var y = new float[3];
        training.Forward(x, 1, 1, y);
        Assert.Equal(original, y);
        model.Parameter("bias_ih_l0")[9] += 1f;
        training.Forward(x, 1, 1, y);
        Assert.Equal(changed, y);
    }
}
