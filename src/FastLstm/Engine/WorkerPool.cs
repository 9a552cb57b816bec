using System.Runtime.ExceptionServices;

namespace FastLstm.Engine;

/// <summary>Work split over a session's threads: <see cref="Execute"/> runs once per thread index.</summary>
internal interface IParallelJob
{
    void Execute(int thread, int threads);
}

/// <summary>
/// A session's own threads, started once: the caller is thread 0, <c>count − 1</c> workers are the rest. A worker spins
/// briefly after each job (a job every few microseconds costs no wake-up), then sleeps on an event. Dispatch allocates
/// nothing; jobs are preallocated objects.
/// <para>Failure: the first exception thrown on any thread is rethrown to the caller once every thread has left the job;
/// it breaks the pool's <see cref="Barrier"/> so that no thread is left waiting for one that will not come.</para>
/// <para>Lifetime: the worker threads hold only the pool's core, never a job between runs nor the session, so a session
/// that is dropped without <see cref="Dispose"/> can be collected; its finalizer then stops the threads.</para>
/// </summary>
internal sealed class WorkerPool : IDisposable
{
    private readonly Core _core;

    public WorkerPool(int threads) => _core = new Core(Math.Max(1, threads));

    ~WorkerPool() => _core.Shutdown();

    /// <summary>Worker threads alive in the process, over every pool (for tests of the pool's lifetime).</summary>
    public static int LiveWorkers => Volatile.Read(ref Core.Live);

    /// <summary>Threads taking part, the caller included.</summary>
    public int Count => _core.Count;

    /// <summary>Waits until every thread of the running job has reached it; throws if another thread of the job failed.</summary>
    public void Barrier() => _core.Barrier.SignalAndWait();

    /// <summary>Runs <paramref name="job"/> on every thread and returns when all are done.</summary>
    public void Run(IParallelJob job) => _core.Run(job);

    /// <summary>Stops the worker threads; a later <see cref="Run"/> throws <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        _core.Shutdown();
        GC.SuppressFinalize(this);
    }

    private sealed class Core
    {
        public static int Live;

        private const int SpinIterations = 1 << 16;
        private readonly Worker[] _workers;
        private IParallelJob? _job;
        private int _generation;
        private int _pending;
        private volatile bool _disposed;
        private Exception? _failure;

        public Core(int count)
        {
            Count = count;
            Barrier = new SpinBarrier(count);
            _workers = new Worker[count - 1];
            for (int i = 0; i < _workers.Length; i++)
            {
                var worker = new Worker(this, i + 1);
                _workers[i] = worker;
                worker.Thread.Start();
            }
        }

        public int Count { get; }

        public SpinBarrier Barrier { get; }

        public void Run(IParallelJob job)
        {
            ObjectDisposedException.ThrowIf(_disposed, typeof(WorkerPool));
            if (Count == 1)
            {
                job.Execute(0, 1);
                return;
            }

            _job = job;
            Volatile.Write(ref _pending, Count - 1);
            Interlocked.Increment(ref _generation);
            foreach (var w in _workers)
            {
                if (Volatile.Read(ref w.Sleeping) == 1)
                {
                    w.Wake.Set();
                }
            }

            try
            {
                job.Execute(0, Count);
            }
            catch (Exception e)
            {
                Fail(e);
            }

            var spin = default(SpinWait);
            while (Volatile.Read(ref _pending) != 0)
            {
                spin.SpinOnce(sleep1Threshold: -1);
            }

            _job = null;
            if (Interlocked.Exchange(ref _failure, null) is Exception failure)
            {
                Barrier.Reset();
                ExceptionDispatchInfo.Capture(failure).Throw();
            }
        }

        public void Shutdown()
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            Interlocked.Increment(ref _generation);
            foreach (var w in _workers)
            {
                w.Wake.Set();
            }
        }

        /// <summary>Keeps the first failure and releases every thread waiting at the barrier.</summary>
        private void Fail(Exception e)
        {
            Interlocked.CompareExchange(ref _failure, e, null);
            Barrier.Break();
        }

        private sealed class Worker
        {
            public readonly Thread Thread;
            public readonly ManualResetEventSlim Wake = new(false);
            public int Sleeping;
            private readonly Core _core;
            private readonly int _index;

            public Worker(Core core, int index)
            {
                _core = core;
                _index = index;
                Thread = new Thread(Loop) { IsBackground = true, Name = $"FastLstm worker {index}" };
            }

            private void Loop()
            {
                Interlocked.Increment(ref Live);
                try
                {
                    int seen = 0;
                    while (true)
                    {
                        int spins = 0;
                        while (Volatile.Read(ref _core._generation) == seen)
                        {
                            if (++spins < SpinIterations)
                            {
                                Thread.SpinWait(8);
                                continue;
                            }

                            // Sleep; re-check after announcing it (a full fence) so a Run in between is not missed.
                            Interlocked.Exchange(ref Sleeping, 1);
                            if (Volatile.Read(ref _core._generation) == seen)
                            {
                                Wake.Wait();
                            }

                            Wake.Reset();
                            Volatile.Write(ref Sleeping, 0);
                            spins = 0;
                        }

                        seen = Volatile.Read(ref _core._generation);
                        if (_core._disposed)
                        {
                            return;
                        }

                        try
                        {
                            _core._job!.Execute(_index, _core.Count);
                        }
                        catch (Exception e)
                        {
                            _core.Fail(e);
                        }
                        finally
                        {
                            Interlocked.Decrement(ref _core._pending);
                        }
                    }
                }
                finally
                {
                    Interlocked.Decrement(ref Live);
                }
            }
        }
    }
}

/// <summary>
/// A barrier for the threads of one job (sense-reversing, spinning), used between the phases of a split step. Broken when
/// a thread of the job fails: every waiter, and every later arrival, then throws <see cref="BarrierBrokenException"/>
/// until the pool resets it.
/// </summary>
internal sealed class SpinBarrier(int count)
{
    private readonly int _count = count;
    private int _remaining = count;
    private int _sense;
    private volatile bool _broken;

    public void SignalAndWait()
    {
        if (_broken)
        {
            throw new BarrierBrokenException();
        }

        int sense = Volatile.Read(ref _sense);
        if (Interlocked.Decrement(ref _remaining) == 0)
        {
            Volatile.Write(ref _remaining, _count);
            Volatile.Write(ref _sense, sense ^ 1);
            return;
        }

        var spin = default(SpinWait);
        while (Volatile.Read(ref _sense) == sense)
        {
            if (_broken)
            {
                throw new BarrierBrokenException();
            }

            spin.SpinOnce(sleep1Threshold: -1);
        }
    }

    public void Break() => _broken = true;

    /// <summary>Back to its initial state; only when no thread is inside (the pool calls it after a failed job).</summary>
    public void Reset()
    {
        Volatile.Write(ref _remaining, _count);
        _broken = false;
    }
}

/// <summary>Thrown at a barrier whose job failed on another thread; that thread's exception is the one the caller sees.</summary>
internal sealed class BarrierBrokenException() : Exception("Another thread of the job failed.");
