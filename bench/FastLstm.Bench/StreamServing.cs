using System.Collections.Concurrent;
using System.Diagnostics;
using FastLstm.Kernels;
using FastLstm.Samples;
using FastLstm.Serving;

namespace FastLstm.Bench;

/// <summary>
/// <c>--streams [SECONDS [HIDDEN,... [STREAMS,... [MAXBATCH]]]]</c> (defaults 2, 128,256, 1,16,256,1024 and 64): K closed-loop streams (each issues its next step when the previous one answered) of an
/// LSTM with I = H, served three ways on the same cores: a <see cref="StreamBatcher{T}"/>, a pool of batch-1
/// <see cref="InferenceSession{T}"/>s, and a pool of ONNX Runtime sessions with the state passed in and out of every
/// call (its API is stateless). Reports steps per second, useful GFLOP/s (8·H·(I+H) a step) against the FMA peak
/// measured in the same run, p50 / p99 latency of a step and bytes allocated per step.
/// </summary>
public static class StreamServing
{
    private const int Cores = 2;

    public static void Run(string[] args)
    {
        var invariant = System.Globalization.CultureInfo.InvariantCulture;
        double seconds = args.Length > 0 ? double.Parse(args[0], invariant) : 2;
        int[] hiddens = args.Length > 1 ? args[1].Split(',').Select(v => int.Parse(v, invariant)).ToArray() : [128, 256];
        int[] counts = args.Length > 2 ? args[2].Split(',').Select(v => int.Parse(v, invariant)).ToArray() : [1, 16, 256, 1024];
        int maxBatch = args.Length > 3 ? int.Parse(args[3], invariant) : 64;
        // This VM's speed drifts by up to 2x within minutes, so the peak is probed before every group of rows and the rows
        // are held against the best probe of the run: a slow phase then shows as less of the peak, never more.
        double peak = Peak();
        var rows = new List<(string Head, double Gflops, string Tail)>();
        foreach (int hidden in hiddens)
        {
            var model = RnnModel<float>.CreateRandom(new RnnSpec(CellType.Lstm, hidden, hidden), 1);
            double flops = 8.0 * hidden * (hidden + hidden);
            foreach (int threads in new[] { 1, Cores })
            {
                var plain = PlainStep(model, threads, seconds);
                rows.Add(($"| {hidden} | 1 | plain Step, {threads} thread{(threads > 1 ? "s" : "")} | {plain.StepsPerSecond:F0}", plain.StepsPerSecond * flops / 1e9, $"{plain.P50:F1} | {plain.P99:F1} | {plain.BytesPerStep:F1} | 1 |"));
            }

            foreach (int streams in counts)
            {
                peak = Math.Max(peak, Peak());
                foreach (var (name, create) in Engines(model, streams, maxBatch))
                {
                    using var engine = create();
                    var r = ClosedLoop(engine, streams, seconds);
                    rows.Add(($"| {hidden} | {streams} | {name} | {r.StepsPerSecond:F0}", r.StepsPerSecond * flops / 1e9, $"{r.P50:F1} | {r.P99:F1} | {r.BytesPerStep:F1} | {engine.RowsPerBatch:F1} |"));
                }
            }
        }

        peak = Math.Max(peak, Peak());
        string cpu = File.Exists("/proc/cpuinfo") ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':')[1].Trim() ?? "?" : "?";
        Console.WriteLine($"machine: {cpu}, {Environment.ProcessorCount} cores, kernels {Isa.Describe(Isa.Bits)}; FMA peak on {Cores} cores at {Isa.Widest} bits: {peak:F0} GFLOP/s (the best of the probes before every group of rows)");
        Console.WriteLine($"closed loops of {seconds:F1} s after 0.5 s of warm-up; the batcher and the pools use {Cores} cores; latency is issue to answer");
        Console.WriteLine();
        Console.WriteLine("| H | streams | engine | steps/s | GFLOP/s | % of peak | p50 µs | p99 µs | B/step | rows/batch |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|");
        foreach (var (head, gflops, tail) in rows)
        {
            Console.WriteLine($"{head} | {gflops:F1} | {100 * gflops / peak:F0} | {tail}");
        }
    }

    private static (string Name, Func<IStreams> Create)[] Engines(RnnModel<float> model, int streams, int maxBatch) =>
    [
        ("StreamBatcher", () => new Batched(model, streams, maxBatch, new StreamBatcherOptions())),
        ("StreamBatcher, synchronous continuations", () => new Batched(model, streams, maxBatch, new StreamBatcherOptions { AllowSynchronousContinuations = true })),
        ("StreamBatcher, parallel batches", () => new Batched(model, streams, maxBatch, new StreamBatcherOptions { ParallelBatches = true })),
        ("StreamBatcher, parallel batches, synchronous continuations", () => new Batched(model, streams, maxBatch, new StreamBatcherOptions { ParallelBatches = true, AllowSynchronousContinuations = true })),
        ($"{Cores} batch-1 sessions", () => new SessionPool(model, streams)),
        ($"{Cores} ONNX Runtime sessions", () => new OnnxPool(model, streams, int8: false)),
        ("StreamBatcher, parallel batches, synchronous continuations, int8 weights", () => new Batched(model, streams, maxBatch, new StreamBatcherOptions { ParallelBatches = true, AllowSynchronousContinuations = true, Weights = WeightFormat.Int8 })),
        ($"{Cores} ONNX Runtime int8 sessions (DynamicQuantizeLSTM)", () => new OnnxPool(model, streams, int8: true)),
    ];

    /// <summary>K clients on the thread pool, each awaiting its stream's step and issuing the next at once.</summary>
    private static ClosedLoopResult ClosedLoop(IStreams engine, int streams, double seconds) =>
        Samples.ClosedLoop.RunAsync(streams, s => () => engine.StepAsync(s), TimeSpan.FromSeconds(0.5), TimeSpan.FromSeconds(seconds)).GetAwaiter().GetResult();

    /// <summary>One caller stepping one stream through a session, back to back: the latency a batcher adds to.</summary>
    private static ClosedLoopResult PlainStep(RnnModel<float> model, int threads, double seconds)
    {
        int hidden = model.Spec.HiddenSize;
        using var session = new InferenceSession<float>(model, 1, 1, threads);
        var x = new float[model.Spec.InputSize];
        var y = new float[hidden];
        var h = new float[hidden];
        var c = new float[hidden];
        var samples = new long[8 << 20];
        var warm = Stopwatch.StartNew();
        while (warm.Elapsed.TotalSeconds < 0.5)
        {
            session.Step(x, 1, y, h, c);
        }

        long bytes = GC.GetTotalAllocatedBytes(precise: true);
        long steps = 0;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed.TotalSeconds < seconds)
        {
            long start = Stopwatch.GetTimestamp();
            session.Step(x, 1, y, h, c);
            long took = Stopwatch.GetTimestamp() - start;
            if (steps < samples.Length)
            {
                samples[steps] = took;
            }

            steps++;
        }

        return Samples.ClosedLoop.Summarize(samples, steps, clock.Elapsed.TotalSeconds, GC.GetTotalAllocatedBytes(precise: true) - bytes);
    }

    /// <summary>The 2-core FMA peak at the width FastLstm runs, in GFLOP/s (the better of three runs).</summary>
    private static double Peak()
    {
        var probe = new PeakProbe { Threads = Cores };
        double best = 0;
        for (int i = 0; i < 3; i++)
        {
            var clock = Stopwatch.StartNew();
            probe.FmaPeak();
            best = Math.Max(best, Cores * PeakProbe.Flops / clock.Elapsed.TotalSeconds / 1e9);
        }

        return best;
    }

    private interface IStreams : IDisposable
    {
        /// <summary>Steps taken by the engine per engine call (the batcher's batch occupancy; 1 for the pools).</summary>
        double RowsPerBatch => 1;

        ValueTask StepAsync(int stream);
    }

    private sealed class Batched : IStreams
    {
        private readonly StreamBatcher<float> _batcher;
        private readonly RnnStream<float>[] _streams;
        private readonly float[][] _x, _y;
        private long _steps;

        public Batched(RnnModel<float> model, int streams, int maxBatch, StreamBatcherOptions options)
        {
            _batcher = new StreamBatcher<float>(model, streams, maxBatch, threads: Cores, options);
            _streams = Enumerable.Range(0, streams).Select(_ => _batcher.Open()).ToArray();
            _x = Inputs(model, streams);
            _y = Enumerable.Range(0, streams).Select(_ => new float[model.Spec.HiddenSize]).ToArray();
        }

        public double RowsPerBatch => (double)Interlocked.Read(ref _steps) / _batcher.Batches;

        public ValueTask StepAsync(int stream)
        {
            Interlocked.Increment(ref _steps);
            return _streams[stream].StepAsync(_x[stream], _y[stream]);
        }

        public void Dispose() => _batcher.Dispose();
    }

    /// <summary>What a user does without a batcher: a step takes a free session, carries its stream's state in and out.</summary>
    private sealed class SessionPool : IStreams
    {
        private readonly SemaphoreSlim _free = new(Cores);
        private readonly ConcurrentBag<InferenceSession<float>> _sessions = [];
        private readonly float[][] _x, _y, _h, _c;

        public SessionPool(RnnModel<float> model, int streams)
        {
            for (int i = 0; i < Cores; i++)
            {
                _sessions.Add(new InferenceSession<float>(model, 1, 1));
            }

            _x = Inputs(model, streams);
            _y = Enumerable.Range(0, streams).Select(_ => new float[model.Spec.HiddenSize]).ToArray();
            _h = Enumerable.Range(0, streams).Select(_ => new float[model.Spec.HiddenSize]).ToArray();
            _c = Enumerable.Range(0, streams).Select(_ => new float[model.Spec.HiddenSize]).ToArray();
        }

        public async ValueTask StepAsync(int stream)
        {
            await _free.WaitAsync().ConfigureAwait(false);
            _sessions.TryTake(out var session);
            session!.Step(_x[stream], 1, _y[stream], _h[stream], _c[stream]);
            _sessions.Add(session);
            _free.Release();
        }

        public void Dispose()
        {
            foreach (var session in _sessions)
            {
                session.Dispose();
            }
        }
    }

    /// <summary>ONNX Runtime as its maintainers advise for streams: the state goes in and comes out of every call.</summary>
    private sealed class OnnxPool : IStreams
    {
        private readonly SemaphoreSlim _free = new(Cores);
        private readonly ConcurrentBag<Runner> _runners = [];
        private readonly float[][] _x, _y, _h, _c;

        public OnnxPool(RnnModel<float> model, int streams, bool int8)
        {
            int hidden = model.Spec.HiddenSize;
            for (int i = 0; i < Cores; i++)
            {
                var h0 = new float[hidden];
                var c0 = new float[hidden];
                _runners.Add(new Runner(new OnnxRunner(model, 1, 1, 1, new float[model.Spec.InputSize], h0, c0, int8), h0, c0));
            }

            _x = Inputs(model, streams);
            _y = Enumerable.Range(0, streams).Select(_ => new float[hidden]).ToArray();
            _h = Enumerable.Range(0, streams).Select(_ => new float[hidden]).ToArray();
            _c = Enumerable.Range(0, streams).Select(_ => new float[hidden]).ToArray();
        }

        public async ValueTask StepAsync(int stream)
        {
            await _free.WaitAsync().ConfigureAwait(false);
            _runners.TryTake(out var r);
            _x[stream].CopyTo(r!.Ort.Input, 0);
            _h[stream].CopyTo(r.H0, 0);
            _c[stream].CopyTo(r.C0, 0);
            r.Ort.Run();
            r.Ort.Output.CopyTo(_y[stream], 0);
            r.Ort.HN.CopyTo(_h[stream], 0);
            r.Ort.CN.CopyTo(_c[stream], 0);
            _runners.Add(r);
            _free.Release();
        }

        public void Dispose()
        {
            foreach (var r in _runners)
            {
                r.Ort.Dispose();
            }
        }

        private sealed record Runner(OnnxRunner Ort, float[] H0, float[] C0);
    }

    private static float[][] Inputs(RnnModel<float> model, int streams)
    {
        var rng = new Random(7);
        return Enumerable.Range(0, streams).Select(_ => Enumerable.Range(0, model.Spec.InputSize).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray()).ToArray();
    }
}
