using System.Buffers;
using FastLstm.Serving;

namespace FastLstm.Tests.Serving;

/// <summary>
/// The batcher's promises: every stream's outputs are its sequence run alone through Forward, a stream's steps keep their
/// order, a cancelled or failed step leaves the state as it was, a failure ends exactly its batch, Dispose ends what waits,
/// and a full queue slows callers down instead of growing.
/// </summary>
public class StreamBatcherTests
{
    private const int Steps = 9;

    public static TheoryData<CellType> Cells() => new(Enum.GetValues<CellType>());

    /// <summary>
    /// Streams stepped concurrently from many tasks; small batches, and a queue delay so that steps wait for company instead
    /// of running alone as each finds the engine idle: most batches mix streams.
    /// </summary>
    [Theory]
    [MemberData(nameof(Cells))]
    public async Task EveryStreamMatchesItsSequenceRunAlone(CellType cell)
    {
        var model = RnnModel<float>.CreateRandom(new RnnSpec(cell, 5, 11, 2), 3);
        const int streams = 13;
        var inputs = Sequences(model.Spec, streams, seed: 4);
        using var batcher = new StreamBatcher<float>(model, streams, maxBatch: 4, threads: 2, new StreamBatcherOptions { MaxQueueDelay = TimeSpan.FromMilliseconds(20) });
        await AssertConcurrentStreamsMatch(batcher, inputs);

        Assert.True(batcher.Batches < streams * Steps, $"{batcher.Batches} batches for {streams * Steps} steps: no step shared a batch");
    }

    /// <summary>Callers resuming on the batcher's thread (each issuing its next step from there) get the same outputs.</summary>
    [Fact]
    public async Task SynchronousContinuationsGiveTheSameOutputs()
    {
        var model = RnnModel<float>.CreateRandom(new RnnSpec(CellType.Lstm, 4, 10, 2), 21);
        const int streams = 24;
        var inputs = Sequences(model.Spec, streams, seed: 22);
        using var batcher = new StreamBatcher<float>(model, streams, maxBatch: 8, threads: 2, new StreamBatcherOptions { AllowSynchronousContinuations = true });
        await AssertConcurrentStreamsMatch(batcher, inputs);
    }

    /// <summary>
    /// Batches running at once, one core each: every stream still matches its sequence run alone, and a stream's steps
    /// issued together from its own task (so several lanes could take them) still run in order. Steps queued behind a
    /// running batch run on the single-core lanes.
    /// </summary>
    [Theory]
    [InlineData(CellType.Lstm)]
    [InlineData(CellType.GruResetBefore)]
    public async Task ParallelBatchesKeepEveryStreamsOrderAndOutputs(CellType cell)
    {
        var model = RnnModel<float>.CreateRandom(new RnnSpec(cell, 4, 10, 2), 23);
        const int streams = 24;
        var inputs = Sequences(model.Spec, streams, seed: 24);
        using var batcher = new StreamBatcher<float>(model, streams, maxBatch: 4, threads: 2, new StreamBatcherOptions { ParallelBatches = true });
        // The first step runs alone on the whole engine; holding it until another step is queued makes the load below
        // certain, whatever the scheduler does, so later batches must run on the single-core lanes.
        var cores = new System.Collections.Concurrent.ConcurrentBag<int>();
        int held = 0;
        batcher.BatchStarting = (_, threads) =>
        {
            cores.Add(threads);
            if (threads > 1 && Interlocked.Exchange(ref held, 1) == 0)
            {
                SpinWait.SpinUntil(() => batcher.Queued > 0, TimeSpan.FromSeconds(10));
            }
        };
        int inputSize = model.Spec.InputSize, hidden = model.Spec.HiddenSize;
        var outputs = await Task.WhenAll(inputs.Select((x, s) => Task.Run(async () =>
        {
            using var stream = batcher.Open();
            var y = new float[Steps * hidden];
            var pending = new List<Task>();
            for (int t = 0; t < Steps; t++)
            {
                pending.Add(stream.StepAsync(x.AsMemory(t * inputSize, inputSize), y.AsMemory(t * hidden, hidden)).AsTask());
            }

            await Task.WhenAll(pending);
            return y;
        })));
        for (int s = 0; s < streams; s++)
        {
            AssertClose(Alone(model, inputs[s]), outputs[s]);
        }

        Assert.Equal(2, batcher.Threads);
        Assert.Contains(1, cores);
    }

    /// <summary>
    /// With parallel batches, a stream alone in the engine still gets every core for each step: its next step finds the
    /// engine free again.
    /// </summary>
    [Fact]
    public async Task ParallelBatchesGiveALoneStreamEveryCore()
    {
        var model = RnnModel<float>.CreateRandom(new RnnSpec(CellType.Lstm, 4, 10), 25);
        var x = Sequences(model.Spec, 1, seed: 26)[0];
        using var batcher = new StreamBatcher<float>(model, 2, maxBatch: 4, threads: 2, new StreamBatcherOptions { ParallelBatches = true });
        var cores = new System.Collections.Concurrent.ConcurrentQueue<(int Rows, int Cores)>();
        batcher.BatchStarting = (rows, threads) => cores.Enqueue((rows, threads));
        int inputSize = model.Spec.InputSize, hidden = model.Spec.HiddenSize;
        using var stream = batcher.Open();
        var y = new float[Steps * hidden];
        for (int t = 0; t < Steps; t++)
        {
            await stream.StepAsync(x.AsMemory(t * inputSize, inputSize), y.AsMemory(t * hidden, hidden));
        }

        AssertClose(Alone(model, x), y);
        Assert.Equal(Enumerable.Repeat((1, 2), Steps), cores);
    }

    /// <summary>The blocking Step from many threads, the engine at one thread.</summary>
    [Fact]
    public void BlockingStepsMatchTheSequencesRunAlone()
    {
        var model = RnnModel<float>.CreateRandom(new RnnSpec(CellType.Lstm, 4, 9), 5);
        const int streams = 6;
        var inputs = Sequences(model.Spec, streams, seed: 6);
        var outputs = new float[streams][];
        using var batcher = new StreamBatcher<float>(model, streams, maxBatch: 64);
        Parallel.For(0, streams, new ParallelOptions { MaxDegreeOfParallelism = streams }, s =>
        {
            using var stream = batcher.Open();
            int inputSize = model.Spec.InputSize, hidden = model.Spec.HiddenSize;
            outputs[s] = new float[Steps * hidden];
            for (int t = 0; t < Steps; t++)
            {
                stream.Step(inputs[s].AsSpan(t * inputSize, inputSize), outputs[s].AsSpan(t * hidden, hidden));
            }
        });
        for (int s = 0; s < streams; s++)
        {
            AssertClose(Alone(model, inputs[s]), outputs[s]);
        }
    }

    /// <summary>All of a stream's steps issued before any is awaited still run one after another, in order.</summary>
    [Fact]
    public async Task StepsIssuedTogetherRunInOrder()
    {
        var model = RnnModel<float>.CreateRandom(new RnnSpec(CellType.Gru, 3, 7, 2), 7);
        var inputs = Sequences(model.Spec, 3, seed: 8);
        using var batcher = new StreamBatcher<float>(model, 3, maxBatch: 2, options: new StreamBatcherOptions { QueueCapacity = 4 });
        var streams = inputs.Select(_ => batcher.Open()).ToArray();
        int inputSize = model.Spec.InputSize, hidden = model.Spec.HiddenSize;
        var outputs = inputs.Select(_ => new float[Steps * hidden]).ToArray();
        var pending = new List<Task>();
        for (int t = 0; t < Steps; t++)
        {
            for (int s = 0; s < streams.Length; s++)
            {
                pending.Add(streams[s].StepAsync(inputs[s].AsMemory(t * inputSize, inputSize), outputs[s].AsMemory(t * hidden, hidden)).AsTask());
            }
        }

        await Task.WhenAll(pending);
        for (int s = 0; s < streams.Length; s++)
        {
            AssertClose(Alone(model, inputs[s]), outputs[s]);
        }
    }

    /// <summary>State written in is the h0 / c0 of Forward; state read out is its hN / cN; Reset is zeros.</summary>
    [Theory]
    [InlineData(CellType.Lstm)]
    [InlineData(CellType.RnnTanh)]
    public async Task StateReadAndWrittenIsForwardsInitialAndFinalState(CellType cell)
    {
        var model = RnnModel<float>.CreateRandom(new RnnSpec(cell, 3, 6, 2), 9);
        var spec = model.Spec;
        var rng = new Random(10);
        var x = TestData.Uniform<float>(rng, Steps * spec.InputSize);
        int state = spec.Layers * spec.HiddenSize;
        var h0 = TestData.Uniform<float>(rng, state);
        var c0 = spec.HasCellState ? TestData.Uniform<float>(rng, state) : [];
        var expected = new float[Steps * spec.HiddenSize];
        var hN = new float[state];
        var cN = new float[c0.Length];
        using (var session = new InferenceSession<float>(model, 1, Steps))
        {
            session.Forward(x, 1, Steps, expected, h0, c0, hN, cN);
        }

        using var batcher = new StreamBatcher<float>(model, 2);
        using var stream = batcher.Open();
        stream.WriteState(h0, c0);
        var actual = await RunAsync(stream, x);
        AssertClose(expected, actual);
        var h = new float[state];
        var c = new float[c0.Length];
        stream.ReadState(h, c);
        AssertClose(hN, h);
        AssertClose(cN, c);

        stream.Reset();
        stream.ReadState(h, c);
        Assert.All(h.Concat(c), v => Assert.Equal(0f, v));
    }

    /// <summary>A step cancelled while it waits ends cancelled, and the stream goes on from the state before it.</summary>
    [Fact]
    public async Task ACancelledStepLeavesTheStateUntouched()
    {
        var model = RnnModel<float>.CreateRandom(new RnnSpec(CellType.Lstm, 3, 5), 11);
        var x = Sequences(model.Spec, 1, seed: 12)[0];
        using var batcher = new StreamBatcher<float>(model, 2);
        using var blocker = batcher.Open();
        using var stream = batcher.Open();
        int inputSize = model.Spec.InputSize, hidden = model.Spec.HiddenSize;
        var outputs = new float[Steps * hidden];
        await stream.StepAsync(x.AsMemory(0, inputSize), outputs.AsMemory(0, hidden));

        using var gate = new Gate(batcher);
        var running = Task.Run(() => blocker.Step(x.AsSpan(0, inputSize), new float[hidden]));
        gate.WaitUntilBlocked();
        using var cts = new CancellationTokenSource();
        var queuedFirst = stream.StepAsync(x.AsMemory(inputSize, inputSize), new float[hidden]).AsTask();
        var cancelledWithToken = stream.StepAsync(x.AsMemory(inputSize, inputSize), new float[hidden], cts.Token).AsTask();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelledWithToken);
        gate.Open();
        await running;
        await queuedFirst;

        // The first queued step ran; the cancelled one did not: the stream is two steps in, exactly as Forward after two steps.
        for (int t = 2; t < Steps; t++)
        {
            await stream.StepAsync(x.AsMemory(t * inputSize, inputSize), outputs.AsMemory(t * hidden, hidden));
        }

        AssertClose(Alone(model, x).AsSpan(2 * hidden).ToArray(), outputs.AsSpan(2 * hidden).ToArray());
    }

    /// <summary>A batch that throws fails exactly its own steps, keeps their states, and the next batches run on.</summary>
    [Fact]
    public async Task AFailedBatchFailsExactlyItsSteps()
    {
        var model = RnnModel<float>.CreateRandom(new RnnSpec(CellType.GruResetBefore, 3, 6, 2), 13);
        var inputs = Sequences(model.Spec, 4, seed: 14);
        using var batcher = new StreamBatcher<float>(model, 4, maxBatch: 2);
        var streams = inputs.Select(_ => batcher.Open()).ToArray();
        int inputSize = model.Spec.InputSize, hidden = model.Spec.HiddenSize;
        var outputs = inputs.Select(_ => new float[Steps * hidden]).ToArray();
        for (int s = 0; s < streams.Length; s++)
        {
            await streams[s].StepAsync(inputs[s].AsMemory(0, inputSize), outputs[s].AsMemory(0, hidden));
        }

        // Block the engine with stream 0's second step, queue streams 1..3 (a batch of 2 and a batch of 1), fail the first of those.
        var gate = new Gate(batcher);
        var first = Task.Run(() => streams[0].StepAsync(inputs[0].AsMemory(inputSize, inputSize), outputs[0].AsMemory(hidden, hidden)).AsTask());
        gate.WaitUntilBlocked();
        var queued = Enumerable.Range(1, 3).Select(s => streams[s].StepAsync(inputs[s].AsMemory(inputSize, inputSize), outputs[s].AsMemory(hidden, hidden)).AsTask()).ToArray();
        gate.FailNext = new InvalidDataException("injected");
        gate.Open();
        await first;
        var failed = await Assert.ThrowsAsync<InvalidDataException>(() => queued[0]);
        Assert.Same(gate.FailNext, failed);
        await Assert.ThrowsAsync<InvalidDataException>(() => queued[1]);
        await queued[2];
        gate.Dispose();

        // Streams 1 and 2 lost their second step (state untouched): run it again; then every stream finishes its sequence.
        for (int s = 1; s <= 2; s++)
        {
            await streams[s].StepAsync(inputs[s].AsMemory(inputSize, inputSize), outputs[s].AsMemory(hidden, hidden));
        }

        for (int s = 0; s < streams.Length; s++)
        {
            for (int t = 2; t < Steps; t++)
            {
                await streams[s].StepAsync(inputs[s].AsMemory(t * inputSize, inputSize), outputs[s].AsMemory(t * hidden, hidden));
            }

            AssertClose(Alone(model, inputs[s]), outputs[s]);
        }
    }

    /// <summary>A step whose own memory throws when read fails alone; the rest of its batch runs.</summary>
    [Fact]
    public async Task AStepWhoseMemoryFailsFailsAlone()
    {
        var model = RnnModel<float>.CreateRandom(new RnnSpec(CellType.RnnRelu, 3, 4), 15);
        using var batcher = new StreamBatcher<float>(model, 3);
        using var good = batcher.Open();
        using var bad = batcher.Open();
        using var blocker = batcher.Open();
        var x = new float[3];
        var gate = new Gate(batcher);
        var running = Task.Run(() => blocker.Step(x, default));
        gate.WaitUntilBlocked();
        var output = new float[4];
        var fine = good.StepAsync(new float[] { 1, 2, 3 }, output).AsTask();
        using var broken = new BrokenMemory();
        var failing = bad.StepAsync(broken.Memory, new float[4]).AsTask();
        gate.Open();
        gate.Dispose();
        await running;
        await fine;
        await Assert.ThrowsAsync<ObjectDisposedException>(() => failing);
        Assert.Contains(output, v => v != 0);
        var h = new float[4];
        bad.ReadState(h);
        Assert.All(h, v => Assert.Equal(0f, v));
    }

    /// <summary>Disposing the batcher ends every waiting step with ObjectDisposedException; the running batch finishes.</summary>
    [Fact]
    public async Task DisposeEndsWaitingStepsWithObjectDisposed()
    {
        var model = RnnModel<float>.CreateRandom(new RnnSpec(CellType.SeedLstm, 2, 4), 16);
        var batcher = new StreamBatcher<float>(model, 4);
        var streams = Enumerable.Range(0, 4).Select(_ => batcher.Open()).ToArray();
        var x = new float[] { 0.5f, -0.5f };
        var gate = new Gate(batcher);
        var running = Task.Run(() => streams[0].Step(x, new float[4]));
        gate.WaitUntilBlocked();
        var waiting = streams.Skip(1).Select(s => s.StepAsync(x, new float[4]).AsTask()).ToArray();
        var disposing = Task.Run(batcher.Dispose);
        foreach (var step in waiting)
        {
            await Assert.ThrowsAsync<ObjectDisposedException>(() => step);
        }

        Assert.False(disposing.IsCompleted, "Dispose returned while a batch was still running");
        gate.Open();
        await running;
        await disposing;
        await Assert.ThrowsAsync<ObjectDisposedException>(() => streams[1].StepAsync(x, new float[4]).AsTask());
        Assert.Throws<ObjectDisposedException>(() => batcher.Open());
    }

    /// <summary>With the engine busy, steps beyond QueueCapacity wait for room rather than queueing; all run once it frees.</summary>
    [Fact]
    public async Task AFullQueueMakesCallersWait()
    {
        var model = RnnModel<float>.CreateRandom(new RnnSpec(CellType.Lstm, 2, 3), 17);
        using var batcher = new StreamBatcher<float>(model, 8, maxBatch: 8, options: new StreamBatcherOptions { QueueCapacity = 2 });
        var streams = Enumerable.Range(0, 6).Select(_ => batcher.Open()).ToArray();
        var x = new float[] { 1, -1 };
        var gate = new Gate(batcher);
        var running = Task.Run(() => streams[0].Step(x, default));
        gate.WaitUntilBlocked();
        var steps = streams.Skip(1).Select(s => s.StepAsync(x, new float[3]).AsTask()).ToArray();
        await Task.Delay(50);
        Assert.All(steps, s => Assert.False(s.IsCompleted));
        Assert.Equal(2, batcher.Queued);
        Assert.Equal(3, batcher.Waiting);
        gate.Open();
        gate.Dispose();
        await running;
        await Task.WhenAll(steps);
        var expected = new float[3];
        Alone(model, x).AsSpan().CopyTo(expected);
        foreach (var stream in streams.Skip(1))
        {
            var h = new float[3];
            stream.ReadState(h);
            AssertClose(expected, h);
        }
    }

    [Fact]
    public void OpenBeyondMaxStreamsThrowsAndAClosedStreamFreesItsSlot()
    {
        var model = RnnModel<float>.CreateRandom(new RnnSpec(CellType.Lstm, 2, 3), 18);
        using var batcher = new StreamBatcher<float>(model, 2);
        var a = batcher.Open();
        using var b = batcher.Open();
        var e = Assert.Throws<InvalidOperationException>(() => batcher.Open());
        Assert.Contains("maxStreams", e.Message);
        Assert.Equal(2, batcher.OpenStreams);
        a.Step([1, 2], new float[3]);
        a.Dispose();
        Assert.Throws<ObjectDisposedException>(() => a.Step([1, 2], new float[3]));
        using var c = batcher.Open();
        var h = new float[3];
        c.ReadState(h);
        Assert.All(h, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void BadArgumentsAreNamed()
    {
        var bidirectional = RnnModel<float>.CreateRandom(new RnnSpec(CellType.Lstm, 2, 3, 1, true), 19);
        Assert.Equal("model", Assert.Throws<ArgumentException>(() => new StreamBatcher<float>(bidirectional, 2)).ParamName);
        var model = RnnModel<float>.CreateRandom(new RnnSpec(CellType.Gru, 2, 3), 19);
        Assert.Equal("maxStreams", Assert.Throws<ArgumentOutOfRangeException>(() => new StreamBatcher<float>(model, 0)).ParamName);
        Assert.Equal("maxBatch", Assert.Throws<ArgumentOutOfRangeException>(() => new StreamBatcher<float>(model, 2, maxBatch: 0)).ParamName);
        Assert.Equal("weights", Assert.Throws<ArgumentException>(() => new StreamBatcher<double>(RnnModel<double>.CreateRandom(model.Spec, 1), 2, options: new StreamBatcherOptions { Weights = WeightFormat.Int8 })).ParamName);
        using var batcher = new StreamBatcher<float>(model, 2);
        using var stream = batcher.Open();
        var e = Assert.Throws<ArgumentException>(() => stream.Step(new float[3], new float[3]));
        Assert.Equal("x", e.ParamName);
        Assert.Contains("expected 2", e.Message);
        Assert.Equal("output", Assert.Throws<ArgumentException>(() => { _ = stream.StepAsync(new float[2], new float[4]); }).ParamName);
        Assert.Equal("h", Assert.Throws<ArgumentException>(() => stream.ReadState(new float[2])).ParamName);
        Assert.Equal("c", Assert.Throws<ArgumentException>(() => stream.WriteState(new float[3], new float[3])).ParamName);
    }

    /// <summary>Each sequence through its own stream, all streams stepped from concurrent tasks, equal to it run alone.</summary>
    private static async Task AssertConcurrentStreamsMatch(StreamBatcher<float> batcher, float[][] inputs)
    {
        var outputs = await Task.WhenAll(inputs.Select(x => Task.Run(() => RunAsync(batcher, x))));
        for (int s = 0; s < inputs.Length; s++)
        {
            AssertClose(Alone(batcher.Model, inputs[s]), outputs[s]);
        }
    }

    private static float[][] Sequences(RnnSpec spec, int count, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => TestData.Uniform<float>(rng, Steps * spec.InputSize)).ToArray();
    }

    private static float[] Alone(RnnModel<float> model, float[] x)
    {
        int steps = x.Length / model.Spec.InputSize;
        using var session = new InferenceSession<float>(model, 1, steps);
        var y = new float[steps * model.Spec.HiddenSize];
        session.Forward(x, 1, steps, y);
        return y;
    }

    private static async Task<float[]> RunAsync(StreamBatcher<float> batcher, float[] x)
    {
        using var stream = batcher.Open();
        return await RunAsync(stream, x);
    }

    private static async Task<float[]> RunAsync(RnnStream<float> stream, float[] x)
    {
        int inputSize = stream.Batcher.Model.Spec.InputSize, hidden = stream.Batcher.Model.Spec.HiddenSize;
        int steps = x.Length / inputSize;
        var y = new float[steps * hidden];
        for (int t = 0; t < steps; t++)
        {
            await stream.StepAsync(x.AsMemory(t * inputSize, inputSize), y.AsMemory(t * hidden, hidden));
        }

        return y;
    }

    private static void AssertClose(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5f * (1 + Math.Abs(expected[i])), $"[{i}]: expected {expected[i]}, got {actual[i]}");
        }
    }

    /// <summary>Holds the next batch at its start until <see cref="Open"/>; can make the batch after it throw.</summary>
    private sealed class Gate : IDisposable
    {
        private readonly StreamBatcher<float> _batcher;
        private readonly ManualResetEventSlim _blocked = new(), _open = new();
        private int _batches;

        public Gate(StreamBatcher<float> batcher)
        {
            _batcher = batcher;
            batcher.BatchStarting = (_, _) =>
            {
                if (Interlocked.Increment(ref _batches) == 1)
                {
                    _blocked.Set();
                    _open.Wait();
                }
                else if (_batches == 2 && FailNext is not null)
                {
                    throw FailNext;
                }
            };
        }

        public Exception? FailNext { get; set; }

        public void WaitUntilBlocked() => Assert.True(_blocked.Wait(TimeSpan.FromSeconds(30)), "no batch started");

        public void Open() => _open.Set();

        public void Dispose() => _batcher.BatchStarting = null;
    }

    /// <summary>Memory whose span cannot be had, as a pooled buffer returned too early.</summary>
    private sealed class BrokenMemory : MemoryManager<float>
    {
        public override Span<float> GetSpan() => throw new ObjectDisposedException(nameof(BrokenMemory));

        public override MemoryHandle Pin(int elementIndex = 0) => throw new ObjectDisposedException(nameof(BrokenMemory));

        public override void Unpin()
        {
        }

        protected override void Dispose(bool disposing)
        {
        }

        public override Memory<float> Memory => CreateMemory(3);
    }
}
