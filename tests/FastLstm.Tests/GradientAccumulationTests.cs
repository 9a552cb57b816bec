namespace FastLstm.Tests;

/// <summary>
/// Backward adds into the parameter gradients, like PyTorch's <c>.grad</c>: a second Backward of the same Forward
/// doubles every gradient, and <see cref="TrainingSession{T}.ZeroGradients"/> starts over. Hidden sizes 16 and 24 have
/// the engine's own layout (the weight-gradient GEMMs add straight into the gradients), 5 a padded one (through scratch).
/// </summary>
public class GradientAccumulationTests
{
    public static TheoryData<CellType, bool, int, int> Cases()
    {
        var data = new TheoryData<CellType, bool, int, int>();
        foreach (var cell in Enum.GetValues<CellType>())
        {
            foreach (int hidden in new[] { 5, 16 })
            {
                data.Add(cell, false, hidden, 1);
            }

            data.Add(cell, true, 24, 2);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void BackwardAddsIntoTheGradients(CellType cell, bool bidirectional, int hidden, int threads)
    {
        const int batch = 3, steps = 4;
        var spec = new RnnSpec(cell, 7, hidden, 2, bidirectional);
        var model = RnnModel<double>.CreateRandom(spec, 11);
        var rng = new Random(5);
        var x = TestData.Uniform<double>(rng, batch * steps * spec.InputSize);
        var dy = TestData.Uniform<double>(rng, batch * steps * spec.Directions * hidden);
        var y = new double[dy.Length];
        using var session = new TrainingSession<double>(model, batch, steps, threads);
        session.Forward(x, batch, steps, y);
        session.Backward(dy);
        var once = session.Gradients.ToArray();
        Assert.Contains(once, g => Math.Abs(g) > 1e-3);

        session.Backward(dy);
        var twice = session.Gradients.ToArray();
        for (int i = 0; i < once.Length; i++)
        {
            Assert.True(Math.Abs(twice[i] - (2 * once[i])) <= 1e-12 * (1 + Math.Abs(once[i])), $"gradient {i}: {twice[i]} after two Backward calls, 2 × {once[i]} expected");
        }

        session.ZeroGradients();
        session.Backward(dy);
        Assert.Equal(once, session.Gradients.ToArray());
    }
}
