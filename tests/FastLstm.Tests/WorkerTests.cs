using System.Runtime.CompilerServices;
using FastLstm.Engine;

namespace FastLstm.Tests;

/// <summary>Runs alone: it counts the process's worker threads, which every other session test starts and stops.</summary>
[CollectionDefinition(nameof(WorkerTests), DisableParallelization = true)]
public class WorkerCollection;

/// <summary>
/// How a session's threads fail and end: an exception on any thread reaches the caller and frees the others, a session
/// used from two threads at once refuses the second call, Dispose during a call waits for it, and sessions that are never
/// disposed give their threads and memory back once collected.
/// </summary>
[Collection(nameof(WorkerTests))]
public class WorkerTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public void AnExceptionOnAnyThreadReachesTheCallerAndFreesTheOthers(int failing)
    {
        using var pool = new WorkerPool(3);
        var job = new BarrierJob(pool, failing);
        var e = Assert.Throws<InvalidTimeZoneException>(() => pool.Run(job));
        Assert.Equal($"thread {failing}", e.Message);

        // Nobody was left at the barrier, and the pool works again, barrier included.
        var ok = new BarrierJob(pool, failing: -1);
        pool.Run(ok);
        Assert.Equal(3 * BarrierJob.Rounds, ok.Passes);
    }

    [Fact]
    public void TheFirstFailureWins()
    {
        using var pool = new WorkerPool(3);
        var e = Assert.ThrowsAny<Exception>(() => pool.Run(new ThrowEverywhereJob()));
        Assert.Matches("^thread [0-2]$", e.Message);
        Assert.IsType<InvalidTimeZoneException>(e);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task ASecondThreadIsRefusedWhileACallRuns(int threads)
    {
        var (model, x, batch, steps, outputs) = LongCall();
        using var session = new InferenceSession<float>(model, batch, steps, threads);
        var expected = new float[outputs];
        session.Forward(x, batch, steps, expected);

        // Both threads call until one call has been refused and others have completed, or 30 s pass: a fixed number of calls
        // sometimes never overlapped on a loaded machine (the scheduler ran the two threads' calls one after the other).
        int done = 0, refused = 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        void Calls()
        {
            var y = new float[outputs];
            while ((Volatile.Read(ref refused) == 0 || Volatile.Read(ref done) < 2) && clock.Elapsed < TimeSpan.FromSeconds(30))
            {
                try
                {
                    session.Forward(x, batch, steps, y);
                    Assert.Equal(expected, y);
                    Interlocked.Increment(ref done);
                }
                catch (InvalidOperationException e)
                {
                    Assert.Contains("one thread at a time", e.Message);
                    Interlocked.Increment(ref refused);
                }
            }
        }

        await Task.WhenAll(Task.Run(Calls), Task.Run(Calls)).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(refused > 0, "no two calls overlapped in 30 s");
        Assert.True(done > 0, "every call was refused");
        session.Forward(x, batch, steps, expected);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task DisposeDuringACallWaitsForIt(int threads)
    {
        var (model, x, batch, steps, outputs) = LongCall();
        var session = new InferenceSession<float>(model, batch, steps, threads);
        var expected = new float[outputs];
        session.Forward(x, batch, steps, expected);

        int done = 0;
        var calls = Task.Run(() =>
        {
            var y = new float[outputs];
            while (true)
            {
                try
                {
                    session.Forward(x, batch, steps, y);
                }
                catch (ObjectDisposedException)
                {
                    return;
                }

                Assert.Equal(expected, y);
                Interlocked.Increment(ref done);
            }
        });
        SpinWait.SpinUntil(() => Volatile.Read(ref done) >= 2 || calls.IsCompleted);
        await Task.Run(session.Dispose).WaitAsync(TimeSpan.FromSeconds(30));
        await calls.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Throws<ObjectDisposedException>(() => session.Forward(x, batch, steps, expected));
        session.Dispose();
    }

    [Fact]
    public void UndisposedSessionsReleaseTheirThreadsAndMemory()
    {
        Collect();
        int threadsBefore = WorkerPool.LiveWorkers;
        long bytesBefore = GC.GetTotalMemory(forceFullCollection: true);
        var (held, alive) = StartAndDrop(count: 100);
        Assert.True(alive >= threadsBefore + 100, $"{alive - threadsBefore} workers started");

        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (WorkerPool.LiveWorkers > threadsBefore && DateTime.UtcNow < deadline)
        {
            Collect();
            Thread.Sleep(20);
        }

        long bytesAfter = GC.GetTotalMemory(forceFullCollection: true);
        Assert.Equal(threadsBefore, WorkerPool.LiveWorkers);
        Assert.True(bytesAfter - bytesBefore < held / 20, $"{(bytesAfter - bytesBefore) >> 20} MiB of the {held >> 20} MiB the sessions held is still alive");
    }

    /// <summary>Starts sessions, uses them, and drops them undisposed; returns what they held and the workers alive then.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static (long Bytes, int Workers) StartAndDrop(int count)
    {
        long before = GC.GetTotalMemory(forceFullCollection: true);
        var model = RnnModel<float>.CreateRandom(new RnnSpec(CellType.Lstm, 64, 256), 1);
        var x = new float[4 * 8 * 64];
        var y = new float[4 * 8 * 256];
        var sessions = new List<InferenceSession<float>>();
        for (int i = 0; i < count; i++)
        {
            var session = new InferenceSession<float>(model, 4, 8, threads: 2);
            session.Forward(x, 4, 8, y);
            sessions.Add(session);
        }

        return (GC.GetTotalMemory(forceFullCollection: true) - before, WorkerPool.LiveWorkers);
    }

    private static void Collect()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }

    /// <summary>A call that runs for milliseconds, long enough for another thread to meet it.</summary>
    private static (RnnModel<float> Model, float[] X, int Batch, int Steps, int Outputs) LongCall()
    {
        var spec = new RnnSpec(CellType.Lstm, 128, 512);
        const int batch = 4, steps = 64;
        var model = RnnModel<float>.CreateRandom(spec, 3);
        var x = TestData.Uniform<float>(new Random(4), batch * steps * spec.InputSize);
        return (model, x, batch, steps, batch * steps * spec.HiddenSize);
    }

    /// <summary>Every thread meets the others at a barrier several times; one of them may throw in the middle.</summary>
    private sealed class BarrierJob(WorkerPool pool, int failing) : IParallelJob
    {
        public const int Rounds = 50;
        private int _passes;

        public int Passes => _passes;

        public void Execute(int thread, int threads)
        {
            for (int round = 0; round < Rounds; round++)
            {
                if (thread == failing && round == Rounds / 2)
                {
                    throw new InvalidTimeZoneException($"thread {thread}");
                }

                pool.Barrier();
                Interlocked.Increment(ref _passes);
            }
        }
    }

    private sealed class ThrowEverywhereJob : IParallelJob
    {
        public void Execute(int thread, int threads) => throw new InvalidTimeZoneException($"thread {thread}");
    }
}
