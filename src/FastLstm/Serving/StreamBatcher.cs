using System.Diagnostics;
using System.Numerics;

namespace FastLstm.Serving;

/// <summary>
/// Serves many streams with one engine: each <see cref="RnnStream{T}"/> keeps its recurrent state here, and the steps
/// the streams issue are gathered into batches of up to <see cref="MaxBatch"/> rows — at most one step per stream each —
/// that run as one batched <see cref="InferenceSession{T}.Step(ReadOnlySpan{T}, int, Span{T}, Span{T}, Span{T})"/>, so the weights are read once for many streams. A step
/// that finds the engine idle runs at once on its caller's thread; otherwise it waits for a later batch, which one of the
/// batcher's threads runs (one per lane: a single one, or one per core with <see cref="StreamBatcherOptions.ParallelBatches"/>). Every stream's outputs equal its sequence run alone through
/// <see cref="InferenceSession{T}.Forward(ReadOnlySpan{T}, int, int, Span{T}, ReadOnlySpan{T}, ReadOnlySpan{T}, Span{T}, Span{T}, ReadOnlySpan{int})"/> (float rounding only). Nothing is allocated per step once each stream has
/// run a step (cancellable steps excepted: registering a token allocates).
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
public sealed class StreamBatcher<T> : IDisposable
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly Lane[] _lanes;

    // With parallel batches on several cores, the engine that runs a lone step split over all of them (null otherwise).
    private readonly Lane? _whole;
    private readonly object _gate = new();
    private readonly Thread[] _runners;
    private readonly long _delayTicks;
    private readonly int _stateSize;

    // Every stream's state, [maxStreams, layers, hidden].
    private readonly T[] _h, _c;

    // Guarded by _gate: the queue in arrival order (bounded: a batch looks only at it), the steps waiting for room in it,
    // the slots free for Open, the lanes with no batch running.
    private readonly StepRequest<T>[] _queue;
    private readonly Queue<StepRequest<T>> _waiting = new();
    private readonly int[] _freeSlots;
    private readonly Lane[] _idle;
    private int _queued, _free, _idleCount;
    private long _oldest;
    private long _batches;
    private bool _disposed;

    /// <param name="model">A unidirectional network (a stream only moves forward).</param>
    /// <param name="maxStreams">Streams open at once.</param>
    /// <param name="maxBatch">Most steps in one batch.</param>
    /// <param name="threads">Cores the batcher uses: every batch split over all of them, or one each with <see cref="StreamBatcherOptions.ParallelBatches"/>.</param>
    /// <param name="options">Batching and weight options; null means the defaults.</param>
    public StreamBatcher(RnnModel<T> model, int maxStreams, int maxBatch = 64, int threads = 1, StreamBatcherOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.Spec.Bidirectional)
        {
            throw new ArgumentException("model: a stream only moves forward, so a bidirectional model cannot be stepped; expected Bidirectional = false.", nameof(model));
        }

        Guard.Range(maxStreams, 1, 1 << 20, nameof(maxStreams), "streams open at once");
        options ??= new StreamBatcherOptions();
        Guard.Range(options.QueueCapacity, 0, 1 << 24, "options.QueueCapacity", "waiting steps; 0 means 2·maxStreams");
        if (options.MaxQueueDelay < TimeSpan.Zero || options.MaxQueueDelay > TimeSpan.FromSeconds(10))
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.MaxQueueDelay, $"options.MaxQueueDelay: expected 0..10 s, got {options.MaxQueueDelay}.");
        }

        Guard.Range(threads, 1, 1024, nameof(threads), "cores");
        _lanes = options.ParallelBatches
            ? [.. Enumerable.Range(0, threads).Select(_ => new Lane(model, maxBatch, 1, options.Weights))]
            : [new Lane(model, maxBatch, threads, options.Weights)];
        _whole = options.ParallelBatches && threads > 1 ? new Lane(model, 1, threads, options.Weights) : null;
        Threads = threads;
        Options = options;
        MaxStreams = maxStreams;
        var spec = model.Spec;
        _stateSize = spec.Layers * spec.HiddenSize;
        _h = new T[(long)maxStreams * _stateSize];
        _c = spec.HasCellState ? new T[_h.Length] : [];
        int capacity = options.QueueCapacity > 0 ? options.QueueCapacity : (int)Math.Min(2L * maxStreams, 1 << 24);
        _queue = new StepRequest<T>[capacity];
        _idle = [.. _lanes];
        _idleCount = _lanes.Length;
        _freeSlots = new int[maxStreams];
        for (int slot = 0; slot < maxStreams; slot++)
        {
            _freeSlots[slot] = maxStreams - 1 - slot;
        }

        _free = maxStreams;
        _delayTicks = (long)(options.MaxQueueDelay.TotalSeconds * Stopwatch.Frequency);
        _runners = [.. _lanes.Select((_, i) => new Thread(RunBatches) { IsBackground = true, Name = $"FastLstm stream batcher {i}" })];
        foreach (var runner in _runners)
        {
            runner.Start();
        }
    }

    /// <summary>The network every stream runs.</summary>
    public RnnModel<T> Model => _lanes[0].Session.Model;

    /// <summary>Streams open at once.</summary>
    public int MaxStreams { get; }

    /// <summary>Most steps in one batch.</summary>
    public int MaxBatch => _lanes[0].Session.MaxBatch;

    /// <summary>Cores the batches use: each batch all of them, or one each with <see cref="StreamBatcherOptions.ParallelBatches"/>.</summary>
    public int Threads { get; }

    /// <summary>The options the batcher was made with.</summary>
    public StreamBatcherOptions Options { get; }

    /// <summary>Streams open now.</summary>
    public int OpenStreams
    {
        get
        {
            lock (_gate)
            {
                return MaxStreams - _free;
            }
        }
    }

    /// <summary>Batches run so far (how many steps shared each batch is the steps run divided by this).</summary>
    public long Batches => Interlocked.Read(ref _batches);

    /// <summary>Steps in the queue now.</summary>
    internal int Queued
    {
        get
        {
            lock (_gate)
            {
                return _queued;
            }
        }
    }

    /// <summary>Steps waiting for room in the queue now.</summary>
    internal int Waiting
    {
        get
        {
            lock (_gate)
            {
                return _waiting.Count;
            }
        }
    }

    /// <summary>Called before each batch runs, with its size and its engine's cores (tests make a batch fail with it).</summary>
    internal Action<int, int>? BatchStarting { get; set; }

    /// <summary>Opens a stream whose state is zeros.</summary>
    /// <exception cref="InvalidOperationException"><see cref="MaxStreams"/> streams are open.</exception>
    public RnnStream<T> Open()
    {
        int slot;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_free == 0)
            {
                throw new InvalidOperationException($"Open: all {MaxStreams} streams (maxStreams) are open; dispose one before opening another.");
            }

            slot = _freeSlots[--_free];
        }

        StateOf(_h, slot).Clear();
        StateOf(_c, slot).Clear();
        return new RnnStream<T>(this, slot);
    }

    /// <summary>
    /// Stops the batcher: steps still waiting end with <see cref="ObjectDisposedException"/>, a running batch finishes
    /// first, and the engine's threads stop.
    /// </summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            var error = new ObjectDisposedException(GetType().Name, "The stream batcher was disposed before this step ran.");
            for (int i = 0; i < _queued; i++)
            {
                Abandon(_queue[i], error);
                _queue[i] = null!;
            }

            _queued = 0;
            while (_waiting.TryDequeue(out var request))
            {
                Abandon(request, error);
            }

            Monitor.PulseAll(_gate);
            while (_idleCount < _lanes.Length)
            {
                Monitor.Wait(_gate);
            }
        }

        foreach (var runner in _runners.Where(r => r != Thread.CurrentThread))
        {
            runner.Join();
        }

        foreach (var lane in _lanes)
        {
            lane.Session.Dispose();
        }

        _whole?.Session.Dispose();
    }

    /// <summary>
    /// Queues a step — behind the steps waiting for room when the queue is full, so every stream's steps keep the order they
    /// were issued in — or runs it at once when the engine is idle and nothing waits.
    /// </summary>
    internal void Submit(StepRequest<T> request)
    {
        Lane lane;
        lock (_gate)
        {
            if (_disposed || request.Stream.Disposed)
            {
                Abandon(request, new ObjectDisposedException(request.Stream.Disposed ? nameof(RnnStream<T>) : GetType().Name));
                return;
            }

            if (_queued == _queue.Length || _waiting.Count > 0)
            {
                _waiting.Enqueue(request);
                return;
            }

            // Only a wholly idle engine runs a step on its caller's thread: with parallel batches a step that ran alone on a
            // free lane whenever one was free would keep the batches at one row.
            if (_idleCount < _lanes.Length || _queued > 0 || _delayTicks > 0 || request.Stream.Running)
            {
                if (_queued == 0)
                {
                    _oldest = Stopwatch.GetTimestamp();
                }

                _queue[_queued++] = request;
                if (_idleCount > 0)
                {
                    Monitor.Pulse(_gate);
                }

                return;
            }

            if (!request.TryClaim())
            {
                request.Release();
                return;
            }

            // A step alone in an idle engine gets every core: with parallel batches, the whole engine's lane, holding all the
            // others until it is done.
            if (_whole is null)
            {
                lane = _idle[--_idleCount];
            }
            else
            {
                lane = _whole;
                _idleCount = 0;
            }

            lane.Batch[0] = request;
            request.Stream.Running = true;
            _batches++;
        }

        Run(lane, 1);
    }

    /// <summary>Marks a stream closed and ends its waiting steps; false if it was closed already.</summary>
    internal bool Close(RnnStream<T> stream)
    {
        lock (_gate)
        {
            if (stream.Disposed)
            {
                return false;
            }

            stream.MarkDisposed();
            var error = new ObjectDisposedException(nameof(RnnStream<T>), "The stream was disposed before this step ran.");
            int kept = 0;
            for (int i = 0; i < _queued; i++)
            {
                var request = _queue[i];
                if (request.Stream == stream)
                {
                    Abandon(request, error);
                }
                else
                {
                    _queue[kept++] = request;
                }
            }

            Array.Clear(_queue, kept, _queued - kept);
            _queued = kept;
            for (int waiting = _waiting.Count; waiting > 0; waiting--)
            {
                var request = _waiting.Dequeue();
                if (request.Stream == stream)
                {
                    Abandon(request, error);
                }
                else
                {
                    _waiting.Enqueue(request);
                }
            }

            AdmitWaiting();
            return true;
        }
    }

    internal void FreeSlot(int slot)
    {
        lock (_gate)
        {
            _freeSlots[_free++] = slot;
        }
    }

    internal void ReadState(RnnStream<T> stream, Span<T> h, Span<T> c)
    {
        CheckState(stream, h.Length, c.Length);
        StateOf(_h, stream.Slot).CopyTo(h);
        if (!c.IsEmpty)
        {
            StateOf(_c, stream.Slot).CopyTo(c);
        }
    }

    internal void WriteState(RnnStream<T> stream, ReadOnlySpan<T> h, ReadOnlySpan<T> c, bool zero)
    {
        if (zero)
        {
            CheckState(stream, _stateSize, 0);
            StateOf(_h, stream.Slot).Clear();
        }
        else
        {
            CheckState(stream, h.Length, c.Length);
            h.CopyTo(StateOf(_h, stream.Slot));
        }

        if (c.IsEmpty)
        {
            StateOf(_c, stream.Slot).Clear();
        }
        else
        {
            c.CopyTo(StateOf(_c, stream.Slot));
        }
    }

    private Span<T> StateOf(T[] states, int slot) => states.Length == 0 ? default : states.AsSpan(slot * _stateSize, _stateSize);

    private void CheckState(RnnStream<T> stream, int h, int c)
    {
        ObjectDisposedException.ThrowIf(stream.Disposed, stream);
        if (stream.Pending > 0)
        {
            throw new InvalidOperationException("A stream's state is read or written between its steps: a step of this stream is still pending; await it first.");
        }

        var spec = Model.Spec;
        var shape = new Guard.Shape("[layers, hidden]", spec.Layers, spec.HiddenSize);
        Guard.Length(h, _stateSize, nameof(h), shape);
        if (spec.HasCellState)
        {
            Guard.OptionalLength(c, _stateSize, nameof(c), shape);
        }
        else
        {
            Guard.NoCellState(c, spec, nameof(c));
        }
    }

    /// <summary>Ends a step that never ran (the batcher or its stream closed) and lets go of it.</summary>
    private static void Abandon(StepRequest<T> request, Exception error)
    {
        if (request.TryClaim())
        {
            request.Complete(error);
        }

        request.Release();
    }

    /// <summary>A batcher thread: runs what is queued whenever a lane is idle.</summary>
    private void RunBatches()
    {
        bool blocked = false;
        while (true)
        {
            Lane lane;
            int n;
            lock (_gate)
            {
                while (!_disposed && (blocked || _idleCount == 0 || _queued == 0 || !Due()))
                {
                    if (!blocked && _idleCount > 0 && _queued > 0)
                    {
                        Monitor.Wait(_gate, TimeSpan.FromTicks(Math.Max(1, (_oldest + _delayTicks - Stopwatch.GetTimestamp()) * TimeSpan.TicksPerSecond / Stopwatch.Frequency)));
                    }
                    else
                    {
                        Monitor.Wait(_gate);
                        blocked = false;
                    }
                }

                if (_disposed)
                {
                    return;
                }

                lane = _idle[--_idleCount];
                n = Take(lane);
                if (n == 0)
                {
                    // Every queued step belongs to a stream whose previous step is still running: wait for a lane to finish.
                    _idle[_idleCount++] = lane;
                    blocked = _queued > 0;
                    continue;
                }
            }

            Run(lane, n);
        }
    }

    /// <summary>Whether the queue should run now: no delay asked for, a full batch waiting, or the oldest step waited long enough.</summary>
    private bool Due() =>
        _delayTicks == 0 || _queued >= MaxBatch || Stopwatch.GetTimestamp() - _oldest >= _delayTicks;

    /// <summary>
    /// Moves the oldest steps into the lane's batch, one per stream, up to <see cref="MaxBatch"/>: a stream whose step is
    /// in this batch or in one running keeps its later steps queued, in place; cancelled steps leave the queue. Under
    /// <see cref="_gate"/>.
    /// </summary>
    private int Take(Lane lane)
    {
        _batches++;
        int n = 0, kept = 0, left = 0, i = 0;
        for (; i < _queued && n < lane.Batch.Length; i++)
        {
            var request = _queue[i];
            if (request.Stream.Running)
            {
                _queue[kept++] = request;
            }
            else if (request.TryClaim())
            {
                request.Stream.Running = true;
                lane.Batch[n++] = request;
                left++;
            }
            else
            {
                request.Release();
                left++;
            }
        }

        Array.Copy(_queue, i, _queue, kept, _queued - i);
        Array.Clear(_queue, _queued - left, left);
        _queued -= left;
        _oldest = Stopwatch.GetTimestamp();
        AdmitWaiting();

        if (n == 0)
        {
            _batches--;
        }

        return n;
    }

    /// <summary>Moves steps waiting for room into the queue, oldest first, while there is room. Under <see cref="_gate"/>.</summary>
    private void AdmitWaiting()
    {
        while (_queued < _queue.Length && _waiting.TryDequeue(out var request))
        {
            _queue[_queued++] = request;
        }
    }

    /// <summary>
    /// Runs the batch taken by <see cref="Take"/>: gathers the inputs and states, one batched step, then each step's output
    /// and new state go back. A step whose own memory failed ends with that error, untouched; a batch that failed ends all
    /// its steps with the error and leaves every state as it was.
    /// </summary>
    private void Run(Lane lane, int n)
    {
        var batch = lane.Batch;
        T[] x = lane.X, output = lane.Output, batchH = lane.H, batchC = lane.C;
        var spec = Model.Spec;
        int inputs = spec.InputSize, hidden = spec.HiddenSize, layers = spec.Layers;
        bool hasC = spec.HasCellState;
        for (int i = 0; i < n; i++)
        {
            var request = batch[i];
            try
            {
                request.Input.Span.CopyTo(x.AsSpan(i * inputs, inputs));
            }
            catch (Exception e)
            {
                request.Failure = e;
                x.AsSpan(i * inputs, inputs).Clear();
            }

            Gather(_h, batchH, request.Stream.Slot, i, n, layers, hidden);
            if (hasC)
            {
                Gather(_c, batchC, request.Stream.Slot, i, n, layers, hidden);
            }
        }

        Exception? failure = null;
        try
        {
            BatchStarting?.Invoke(n, lane.Session.Threads);
            int state = n * _stateSize;
            lane.Session.Step(x.AsSpan(0, n * inputs), n, output.AsSpan(0, n * hidden), batchH.AsSpan(0, state), hasC ? batchC.AsSpan(0, state) : default);
        }
        catch (Exception e)
        {
            failure = e;
        }

        for (int i = 0; failure is null && i < n; i++)
        {
            var request = batch[i];
            if (request.Failure is not null)
            {
                continue;
            }

            try
            {
                var destination = request.Output.Span;
                output.AsSpan(i * hidden, destination.Length).CopyTo(destination);
            }
            catch (Exception e)
            {
                request.Failure = e;
                continue;
            }

            Scatter(batchH, _h, request.Stream.Slot, i, n, layers, hidden);
            if (hasC)
            {
                Scatter(batchC, _c, request.Stream.Slot, i, n, layers, hidden);
            }
        }

        // A lone step's engine is free again before its caller wakes, so a closed-loop stream's next step finds it idle and
        // runs at once, on every core. Not when callers resume on this thread: that next step would run inside this one.
        if (n == 1 && !Options.AllowSynchronousContinuations)
        {
            var request = batch[0];
            batch[0] = null!;
            lock (_gate)
            {
                request.Stream.Running = false;
                Free(lane);
            }

            request.Complete(failure ?? request.Failure);
            request.Release();
            return;
        }

        // The streams leave the running batch before their callers wake, so a step issued at once may join the next batch.
        lock (_gate)
        {
            for (int i = 0; i < n; i++)
            {
                batch[i].Stream.Running = false;
            }
        }

        for (int i = 0; i < n; i++)
        {
            var request = batch[i];
            batch[i] = null!;
            request.Complete(failure ?? request.Failure);
            request.Release();
        }

        lock (_gate)
        {
            Free(lane);
        }
    }

    /// <summary>Gives a lane back — the whole engine's gives back all of them — and wakes a runner if steps wait. Under <see cref="_gate"/>.</summary>
    private void Free(Lane lane)
    {
        if (lane == _whole)
        {
            _idleCount = _lanes.Length;
        }
        else
        {
            _idle[_idleCount++] = lane;
        }

        if (_queued > 0 || _disposed)
        {
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>A stream's [layers, hidden] state into row <paramref name="row"/> of the batch's [layers, n, hidden].</summary>
    private void Gather(T[] states, T[] batch, int slot, int row, int n, int layers, int hidden)
    {
        for (int l = 0; l < layers; l++)
        {
            states.AsSpan(slot * _stateSize + l * hidden, hidden).CopyTo(batch.AsSpan((l * n + row) * hidden, hidden));
        }
    }

    private void Scatter(T[] batch, T[] states, int slot, int row, int n, int layers, int hidden)
    {
        for (int l = 0; l < layers; l++)
        {
            batch.AsSpan((l * n + row) * hidden, hidden).CopyTo(states.AsSpan(slot * _stateSize + l * hidden, hidden));
        }
    }

    /// <summary>One engine and its batch buffers: a batch runs on a lane; with parallel batches each core has one.</summary>
    private sealed class Lane(RnnModel<T> model, int maxBatch, int threads, WeightFormat weights)
    {
        public InferenceSession<T> Session { get; } = new(model, maxBatch, 1, threads, weights);

        public StepRequest<T>[] Batch { get; } = new StepRequest<T>[maxBatch];

        public T[] X { get; } = new T[maxBatch * model.Spec.InputSize];

        public T[] Output { get; } = new T[maxBatch * model.Spec.HiddenSize];

        public T[] H { get; } = new T[maxBatch * model.Spec.Layers * model.Spec.HiddenSize];

        public T[] C { get; } = model.Spec.HasCellState ? new T[maxBatch * model.Spec.Layers * model.Spec.HiddenSize] : [];
    }
}
