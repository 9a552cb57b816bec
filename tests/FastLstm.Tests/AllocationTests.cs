using FastLstm.Serving;

namespace FastLstm.Tests;

/// <summary>Runs alone: a GC started by another test's thread moves this thread's allocation counter.</summary>
[CollectionDefinition(nameof(AllocationTests), DisableParallelization = true)]
public class AllocationCollection;

/// <summary>After warm-up, Forward, Step and Backward allocate nothing, for float and double and every cell.</summary>
[Collection(nameof(AllocationTests))]
public class AllocationTests
{
    [Theory]
    [MemberData(nameof(TestData.Cells), MemberType = typeof(TestData))]
    public void FloatSessionsAllocateNothing(CellType cell, bool bidirectional) => Check<float>(cell, bidirectional);

    [Theory]
    [MemberData(nameof(TestData.Cells), MemberType = typeof(TestData))]
    public void DoubleSessionsAllocateNothing(CellType cell, bool bidirectional) => Check<double>(cell, bidirectional);

    [Theory]
    [MemberData(nameof(TestData.Cells), MemberType = typeof(TestData))]
    public void TwoThreadSessionsAllocateNothing(CellType cell, bool bidirectional) => Check<float>(cell, bidirectional, threads: 2);

    /// <summary>The general LSTM kernel (every option on, peepholes' gradients included) allocates nothing either.</summary>
    [Theory]
    [InlineData(false, 1)]
    [InlineData(true, 2)]
    public void LstmOptionsSessionsAllocateNothing(bool bidirectional, int threads) =>
        Check<float>(CellType.Lstm, bidirectional, threads, new LstmOptions
        {
            Peepholes = true,
            CellClip = 2,
            CoupledInputForget = true,
            OutputActivation = new RnnActivation(RnnActivationKind.Softplus),
        });

    /// <summary>A reverse direction with kernels of its own allocates nothing either.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void PerDirectionOptionsSessionsAllocateNothing(int threads) =>
        Check<float>(CellType.Lstm, true, threads, new LstmOptions { CellClip = 2 }, new LstmOptions { CellClip = 2, GateActivation = new RnnActivation(RnnActivationKind.HardSigmoid, 0.2, 0.5) });

    /// <summary>Sessions with compressed weights (one- and two-phase cells, one and two threads) allocate nothing either.</summary>
    [Theory]
    [InlineData(CellType.Lstm, WeightFormat.Int8, 1)]
    [InlineData(CellType.GruResetBefore, WeightFormat.BFloat16, 2)]
    [InlineData(CellType.SeedLstm, WeightFormat.Int8, 2)]
    public void CompressedSessionsAllocateNothing(CellType cell, WeightFormat weights, int threads) =>
        Check<float>(cell, false, threads, weights: weights);

    /// <summary>
    /// A stream batcher's steps allocate nothing once each stream has run one: blocking steps (run on the caller's thread
    /// when the engine is idle) and closed-loop StepAsync from many streams, batched on the batcher's thread, continuations
    /// included. Async loops cost a task each, once; the steps beyond a short run must add nothing.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void StreamBatcherStepsAllocateNothing(bool parallelBatches)
    {
        var model = RnnModel<float>.CreateRandom(new RnnSpec(CellType.Lstm, 7, 13, 2), 1);
        const int streams = 8;
        using var batcher = new StreamBatcher<float>(model, streams, maxBatch: 4, threads: 2, new StreamBatcherOptions { ParallelBatches = parallelBatches });
        var open = Enumerable.Range(0, streams).Select(_ => batcher.Open()).ToArray();
        var xs = Enumerable.Range(0, streams).Select(_ => new float[7]).ToArray();
        var ys = Enumerable.Range(0, streams).Select(_ => new float[13]).ToArray();
        void Blocking()
        {
            for (int i = 0; i < 20; i++)
            {
                open[0].Step(xs[0], ys[0]);
            }
        }

        void ClosedLoops(int steps) => Task.WaitAll(Enumerable.Range(0, streams).Select(s => Task.Run(async () =>
        {
            for (int i = 0; i < steps; i++)
            {
                await open[s].StepAsync(xs[s], ys[s]);
            }
        })).ToArray());

        for (int round = 0; round < 2; round++)
        {
            for (int i = 0; i < 3; i++)
            {
                Blocking();
            }

            ClosedLoops(200);
            Thread.Sleep(150);
        }

        Assert.Equal(0, AllocatedBy(Blocking, allThreads: true));
        long shortRuns = AllocatedBy(() => ClosedLoops(50), allThreads: true);
        long longRuns = AllocatedBy(() => ClosedLoops(550), allThreads: true);
        double perStep = (longRuns - shortRuns) / (500.0 * streams);
        Assert.True(perStep < 1, $"StepAsync allocated {perStep:F2} bytes a step ({shortRuns} B for 50 steps a stream, {longRuns} B for 550)");
    }

    /// <summary>
    /// Bytes allocated by one call — by this thread, or by every thread (the session's workers included). Other threads
    /// of the process allocate now and then, and a collection started elsewhere moves the counters, so this is the least
    /// of five calls: an allocation in the session shows in every one of them.
    /// </summary>
    private static long AllocatedBy(Action call, bool allThreads = false)
    {
        long least = long.MaxValue;
        for (int attempt = 0; attempt < 5; attempt++)
        {
            long before = allThreads ? GC.GetTotalAllocatedBytes(precise: true) : GC.GetAllocatedBytesForCurrentThread();
            call();
            long after = allThreads ? GC.GetTotalAllocatedBytes(precise: true) : GC.GetAllocatedBytesForCurrentThread();
            least = Math.Min(least, after - before);
        }

        return least;
    }

    private static void Check<T>(CellType cell, bool bidirectional, int threads = 1, LstmOptions? options = null, LstmOptions? reverse = null, WeightFormat weights = WeightFormat.Full)
        where T : unmanaged, System.Numerics.IBinaryFloatingPointIeee754<T>
    {
        var spec = new RnnSpec(cell, 7, 13, 2, bidirectional) { LstmOptions = options, ReverseLstmOptions = reverse };
        var model = RnnModel<T>.CreateRandom(spec, 1);
        const int batch = 3, steps = 5;
        var rng = new Random(2);
        var x = TestData.Uniform<T>(rng, batch * steps * spec.InputSize);
        var y = new T[batch * steps * spec.OutputSize];
        int state = spec.Layers * spec.Directions * batch * spec.HiddenSize;
        var h = TestData.Uniform<T>(rng, state);
        var c = spec.HasCellState ? TestData.Uniform<T>(rng, state) : [];
        var hN = new T[state];
        var cN = new T[c.Length];
        var dx = new T[x.Length];
        int[] lengths = [5, 2, 4];

        using var inference = new InferenceSession<T>(model, batch, steps, threads, weights);
        using var training = new TrainingSession<T>(model, batch, steps, threads);
        var calls = new List<(string Name, Action Call)>
        {
            ("InferenceSession.Forward", () => inference.Forward(x, batch, steps, y, h, c, hN, cN, lengths)),
            ("TrainingSession.Forward", () => training.Forward(x, batch, steps, y, h, c, hN, cN, lengths)),
            ("TrainingSession.Backward", () => training.Backward(y, dx, hN, cN, hN, cN)),
        };
        if (!bidirectional)
        {
            var hs = h.AsSpan(0, spec.Layers * batch * spec.HiddenSize).ToArray();
            var cs = c.Length == 0 ? [] : c.AsSpan(0, spec.Layers * batch * spec.HiddenSize).ToArray();
            var ys = new T[batch * spec.HiddenSize];
            calls.Add(("InferenceSession.Step", () => inference.Step(x.AsSpan(0, batch * spec.InputSize), batch, ys, hs, cs)));
        }

        // Warm up past tiered compilation (30 calls, then the call-counting delay), so no JIT work lands in the measurement.
        for (int round = 0; round < 2; round++)
        {
            foreach (var (_, call) in calls)
            {
                for (int i = 0; i < 40; i++)
                {
                    call();
                }
            }

            Thread.Sleep(150);
        }

        foreach (var (name, call) in calls)
        {
            long allocated = AllocatedBy(call, allThreads: threads > 1);
            Assert.True(allocated == 0, $"{name} allocated {allocated} bytes");
        }
    }
}
