namespace FastLstm.Engine;

/// <summary>Work split over a session's threads: <see cref="Execute"/> runs once per thread index.</summary>
internal interface IParallelJob
{
    void Execute(int thread, int threads);
}

/// <summary>
/// A session's own threads, started once: the caller is thread 0, <c>count − 1</c> workers are the rest. A worker
/// spins briefly after each job (a job every few microseconds costs no wake-up), then sleeps on an event. Dispatch
/// allocates nothing; jobs are preallocated objects. Used by one caller thread at a time, like the session.
/// </summary>
internal sealed class WorkerPool : IDisposable
{
    private const int SpinIterations = 1 << 16;
    private readonly Worker[] _workers;
    private IParallelJob? _job;
    private int _generation;
    private int _pending;
    private volatile bool _disposed;
    private Exception? _failure;

    public WorkerPool(int threads)
    {
        Count = Math.Max(1, threads);
        _workers = new Worker[Count - 1];
        for (int i = 0; i < _workers.Length; i++)
        {
            var worker = new Worker(this, i + 1);
            _workers[i] = worker;
            worker.Thread.Start();
        }
    }

    /// <summary>Threads taking part, the caller included.</summary>
    public int Count { get; }

    /// <summary>Runs <paramref name="job"/> on every thread and returns when all are done.</summary>
    public void Run(IParallelJob job)
    {
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

        job.Execute(0, Count);
        var spin = default(SpinWait);
        while (Volatile.Read(ref _pending) != 0)
        {
            spin.SpinOnce(sleep1Threshold: -1);
        }

        if (_failure is Exception e)
        {
            _failure = null;
            throw new AggregateException("A worker thread failed.", e);
        }
    }

    public void Dispose()
    {
        _disposed = true;
        Interlocked.Increment(ref _generation);
        foreach (var w in _workers)
        {
            w.Wake.Set();
        }
    }

    private sealed class Worker
    {
        public readonly Thread Thread;
        public readonly ManualResetEventSlim Wake = new(false);
        public int Sleeping;
        private readonly WorkerPool _pool;
        private readonly int _index;

        public Worker(WorkerPool pool, int index)
        {
            _pool = pool;
            _index = index;
            Thread = new Thread(Loop) { IsBackground = true, Name = $"FastLstm worker {index}" };
        }

        private void Loop()
        {
            int seen = 0;
            while (true)
            {
                int spins = 0;
                while (Volatile.Read(ref _pool._generation) == seen)
                {
                    if (++spins < SpinIterations)
                    {
                        Thread.SpinWait(8);
                        continue;
                    }

                    // Sleep; re-check after announcing it (a full fence) so a Run in between is not missed.
                    Interlocked.Exchange(ref Sleeping, 1);
                    if (Volatile.Read(ref _pool._generation) == seen)
                    {
                        Wake.Wait();
                    }

                    Wake.Reset();
                    Volatile.Write(ref Sleeping, 0);
                    spins = 0;
                }

                seen = Volatile.Read(ref _pool._generation);
                if (_pool._disposed)
                {
                    return;
                }

                try
                {
                    _pool._job!.Execute(_index, _pool.Count);
                }
                catch (Exception e)
                {
                    _pool._failure = e;
                }

                Interlocked.Decrement(ref _pool._pending);
            }
        }
    }
}

/// <summary>A barrier for the threads of one job (sense-reversing, spinning): used between the phases of a split step.</summary>
internal sealed class SpinBarrier(int count)
{
    private readonly int _count = count;
    private int _remaining = count;
    private int _sense;

    public void SignalAndWait()
    {
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
            spin.SpinOnce(sleep1Threshold: -1);
        }
    }
}
