namespace FastLstm.Tests;

/// <summary>
/// Steps split over threads (recurrent product by panels, fused pass by hidden units), forward and backward, at batch 1
/// and for batches of full-length sequences, must give what one thread gives, with gate blocks of whole packed panels (each
/// thread owning its hidden units: 256) or not (260). The properties in props/ cover small sizes; steps split from 256
/// hidden units.
/// </summary>
public class ThreadingTests
{
    [Theory]
    [MemberData(nameof(TestData.Cells), MemberType = typeof(TestData))]
    public void SplitStepsMatchOneThread(CellType cell, bool bidirectional)
    {
        ForwardMatches(new RnnSpec(cell, 7, 260, 2, bidirectional));
        ForwardMatches(new RnnSpec(cell, 7, 256, 2, bidirectional));
    }

    private static void ForwardMatches(RnnSpec spec)
    {
        bool bidirectional = spec.Bidirectional;
        var model = RnnModel<double>.CreateRandom(spec, 3);
        const int steps = 5, batch = 3;
        var rng = new Random(4);
        var x = TestData.Uniform<double>(rng, batch * steps * spec.InputSize);
        int state = spec.Layers * spec.Directions * spec.HiddenSize;
        var h0 = TestData.Uniform<double>(rng, batch * state);
        var c0 = spec.HasCellState ? TestData.Uniform<double>(rng, batch * state) : [];

        // Batch 1 splits every step over the threads; a batch of full-length sequences too.
        foreach (int b in new[] { 1, batch })
        {
            (double[] Y, double[] H) Run(int threads)
            {
                var y = new double[b * steps * spec.OutputSize];
                var hN = new double[b * state];
                using var session = new InferenceSession<double>(model, b, steps, threads);
                session.Forward(x.AsSpan(0, b * steps * spec.InputSize), b, steps, y, h0.AsSpan(0, b * state), c0.AsSpan(0, spec.HasCellState ? b * state : 0), hN);
                return (y, hN);
            }

            var one = Run(1);
            foreach (int threads in new[] { 2, 3 })
            {
                var many = Run(threads);
                Assert.True(TestData.RelativeError<double>(many.Y, one.Y) < 1e-13, $"output, batch {b}, {threads} threads");
                Assert.True(TestData.RelativeError<double>(many.H, one.H) < 1e-13, $"hN, batch {b}, {threads} threads");
            }
        }

        if (!bidirectional)
        {
            var h = h0.AsSpan(0, state).ToArray();
            var c = c0.AsSpan(0, spec.HasCellState ? state : 0).ToArray();
            var expected = new double[state];
            using (var reference = new InferenceSession<double>(model, 1, steps))
            {
                reference.Forward(x.AsSpan(0, steps * spec.InputSize), 1, steps, new double[steps * spec.OutputSize], h, c, expected);
            }

            var y = new double[spec.HiddenSize];
            using var session = new InferenceSession<double>(model, 1, 1, threads: 2);
            for (int t = 0; t < steps; t++)
            {
                session.Step(x.AsSpan(t * spec.InputSize, spec.InputSize), 1, y, h, c);
            }

            Assert.True(TestData.RelativeError<double>(h, expected) < 1e-13, "Step with 2 threads");
        }
    }

    [Theory]
    [MemberData(nameof(TestData.Cells), MemberType = typeof(TestData))]
    public void SplitBackwardMatchesOneThread(CellType cell, bool bidirectional)
    {
        BackwardMatches(new RnnSpec(cell, 7, 260, 2, bidirectional));
        BackwardMatches(new RnnSpec(cell, 7, 256, 2, bidirectional));
    }

    private static void BackwardMatches(RnnSpec spec)
    {
        var model = RnnModel<double>.CreateRandom(spec, 5);
        const int steps = 4;
        var rng = new Random(6);
        foreach (int b in new[] { 1, 3 })
        {
            var x = TestData.Uniform<double>(rng, b * steps * spec.InputSize);
            var dy = TestData.Uniform<double>(rng, b * steps * spec.OutputSize);
            int state = spec.Layers * spec.Directions * b * spec.HiddenSize;
            var dhN = TestData.Uniform<double>(rng, state);
            var dcN = spec.HasCellState ? TestData.Uniform<double>(rng, state) : [];

            double[][] Run(int threads)
            {
                using var session = new TrainingSession<double>(model, b, steps, threads);
                var dx = new double[x.Length];
                var dh0 = new double[state];
                var dc0 = new double[dcN.Length];
                session.Forward(x, b, steps, new double[dy.Length]);
                session.Backward(dy, dx, dhN, dcN, dh0, dc0);
                return [session.Gradients.ToArray(), dx, dh0, dc0];
            }

            var one = Run(1);
            foreach (int threads in new[] { 2, 3 })
            {
                var many = Run(threads);
                string[] names = ["gradients", "dInput", "dh0", "dc0"];
                for (int i = 0; i < names.Length; i++)
                {
                    Assert.True(TestData.RelativeError<double>(many[i], one[i]) < 1e-12, $"{names[i]}, batch {b}, {threads} threads");
                }
            }
        }
    }
}
