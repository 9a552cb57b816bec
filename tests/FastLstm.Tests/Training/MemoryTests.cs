using FastLstm.Training.Memory;

namespace FastLstm.Tests.Training;

/// <summary>
/// The measurements behind README's "Why LSTM": seeded, so a regression in the engine's backward (or in the experiments)
/// moves the numbers these pin — the shape, not exact values.
/// </summary>
public class MemoryTests
{
    [Fact]
    public void VanillaGradientsVanishWhileAnOpenForgetGateKeepsThem()
    {
        var rnn = RnnModel<double>.CreateRandom(new RnnSpec(CellType.RnnTanh, 4, 32), 1);
        var lstm = RnnModel<double>.CreateRandom(new RnnSpec(CellType.Lstm, 4, 32), 1);
        lstm.Parameter("bias_ih_l0").Slice(32, 32).Fill(3);
        var r = GradientFlow.Measure(rnn, 60, sequences: 8, seed: 2);
        var l = GradientFlow.Measure(lstm, 60, sequences: 8, seed: 2);
        Assert.True(r.Relative(50) < 1e-6, $"rnn-tanh kept {r.Relative(50):E2} of its gradient over 50 steps");
        Assert.True(l.Relative(50) > 0.1, $"lstm kept only {l.Relative(50):E2} of its gradient over 50 steps");
        Assert.True(l.NormByLag[50] / r.NormByLag[50] > 1e4, "at lag 50 the LSTM's gradient should dwarf the RNN's");
        Assert.InRange(r.DecayRate, 0.3, 0.8);
        Assert.InRange(l.DecayRate, 0.98, 1.02);
    }

    [Fact]
    public void JacobianNormIsExactForALinearRecurrence()
    {
        // h stays 0 (no input weights, no bias), so ∂h_t/∂h_{t-1} = diag(1 − 0²)·W_hh = 0.5·I: σ_max = 0.5.
        var model = new RnnModel<double>(new RnnSpec(CellType.RnnTanh, 3, 5));
        var whh = model.Parameter("weight_hh_l0");
        for (int i = 0; i < 5; i++)
        {
            whh[(i * 5) + i] = 0.5;
        }

        var report = GradientFlow.Measure(model, 10, sequences: 2, seed: 3);
        Assert.Equal(0.5, report.JacobianNorm!.Value, 6);
    }

    [Theory]
    [InlineData(MemoryTask.Adding)]
    [InlineData(MemoryTask.Recall)]
    public void TasksAreWhatTheySay(MemoryTask task)
    {
        const int steps = 40, count = 200;
        int f = LongMemory.Features(task);
        var x = new float[count * steps * f];
        var y = new float[count];
        LongMemory.Generate(task, steps, count, new Random(5), x, y);
        for (int s = 0; s < count; s++)
        {
            var seq = x.AsSpan(s * steps * f, steps * f).ToArray();
            if (task == MemoryTask.Adding)
            {
                var marked = Enumerable.Range(0, steps).Where(t => seq[(t * f) + 1] == 1).ToArray();
                Assert.Equal(2, marked.Length);
                Assert.True(marked[0] < steps / 10 && marked[1] < steps / 2, "markers in the first tenth and the first half");
                Assert.Equal(seq[marked[0] * f] + seq[marked[1] * f], y[s], 6);
            }
            else
            {
                Assert.Equal(1, seq[(int)y[s]]);
                Assert.Equal(1, seq[((steps - 1) * f) + 8]);
                Assert.Equal(2, seq.Sum());
            }
        }
    }

    [Fact]
    public void AGruLearnsTheShortAddingProblem()
    {
        var result = LongMemory.Run(CellType.Gru, MemoryTask.Adding, 10, new LongMemoryOptions { Hidden = 16, Iterations = 800, TestSequences = 200 });
        Assert.True(result.Ratio < 0.2, $"test MSE {result.TestLoss:F4} against the trivial {result.Baseline:F4}");
        Assert.InRange(result.Baseline, 0.12, 0.22);
    }

    [Fact]
    public void ClippingKeepsAnExplodingRnnFinite()
    {
        var options = new LongMemoryOptions { Hidden = 32, Iterations = 60, Sgd = true, LearningRate = 0.1, RecurrentScale = 3, TestSequences = 100, CurveEvery = 1 };
        var free = LongMemory.Run(CellType.RnnTanh, MemoryTask.Adding, 40, options with { Clip = 0 });
        var clipped = LongMemory.Run(CellType.RnnTanh, MemoryTask.Adding, 40, options with { Clip = 1 });
        Assert.True(free.Diverged, "the unclipped run should blow up");
        Assert.False(clipped.Diverged, "the clipped run should stay finite");
        Assert.True(clipped.GradientNorms.Max() > 10, "the gradient itself should still explode; only the steps are clipped");
    }
}
