using System.Diagnostics;
using System.Numerics;

namespace FastLstm.Serving;

/// <summary>
/// Serves many streams with one engine: each <see cref="RnnStream{T}"/> keeps its recurrent state here, and the steps
/// the streams issue are gathered into batches of up to <see cref="MaxBatch"/> rows — at most one step per stream each —
/// that run as one batched <see cref="InferenceSession{T}.Step(ReadOnlySpan{T}, int, Span{T}, Span{T}, Span{T})"/>, so the weights are read once for many streams. A step
/// that finds the engine idle runs at once on its caller's thread; otherwise it waits for the batch after the running one,
/// which the batcher's own thread runs. Every stream's outputs equal its sequence run alone through
/// <see cref="InferenceSession{T}.Forward(ReadOnlySpan{T}, int, int, Span{T}, ReadOnlySpan{T}, ReadOnlySpan{T}, Span{T}, Span{T}, ReadOnlySpan{int})"/> (float rounding only). Nothing is allocated per step once each stream has
/// run a step (cancellable steps excepted: registering a token allocates).
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
public sealed class StreamBatcher<T> : IDisposable
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly InferenceSession<T> _session;
    private readonly object _gate = new();
    private readonly Thread _runner;
    private readonly long _delayTicks;
    private readonly int _stateSize;

    // Every stream's state, [maxStreams, layers, hidden], and a batch's rows in the session's layouts.
    private readonly T[] _h, _c;
    private readonly T[] _x, _out, _batchH, _batchC;

    // Guarded by _gate: the queue in arrival order (bounded: a batch looks only at it), the steps waiting for room in it,
    // the slots free for Open, whether a batch is running.
    private readonly StepRequest<T>[] _queue;
    private readonly Queue<StepRequest<T>> _waiting = new();
    private readonly int[] _freeSlots;
    private readonly StepRequest<T>[] _batch;
    private int _queued, _free;
    private long _oldest;
    private long _batches;
    private bool _running, _disposed;

    /// <param name="model">A unidirectional network (a stream only moves forward).</param>
    /// <param name="maxStreams">Streams open at once.</param>
    /// <param name="maxBatch">Most steps in one batch.</param>
    /// <param name="threads">Cores each batch may use.</param>
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

        _session = new InferenceSession<T>(model, maxBatch, 1, threads, options.Weights);
        Options = options;
        MaxStreams = maxStreams;
        var spec = model.Spec;
        _stateSize = spec.Layers * spec.HiddenSize;
        _h = new T[(long)maxStreams * _stateSize];
        _c = spec.HasCellState ? new T[_h.Length] : [];
        _x = new T[maxBatch * spec.InputSize];
        _out = new T[maxBatch * spec.HiddenSize];
        _batchH = new T[maxBatch * _stateSize];
        _batchC = spec.HasCellState ? new T[_batchH.Length] : [];
        int capacity = options.QueueCapacity > 0 ? options.QueueCapacity : (int)Math.Min(2L * maxStreams, 1 << 24);
        _queue = new StepRequest<T>[capacity];
        _batch = new StepRequest<T>[maxBatch];
        _freeSlots = new int[maxStreams];
        for (int slot = 0; slot < maxStreams; slot++)
        {
            _freeSlots[slot] = maxStreams - 1 - slot;
        }

        _free = maxStreams;
        _delayTicks = (long)(options.MaxQueueDelay.TotalSeconds * Stopwatch.Frequency);
        _runner = new Thread(RunBatches) { IsBackground = true, Name = "FastLstm stream batcher" };
        _runner.Start();
    }

    /// <summary>The network every stream runs.</summary>
    public RnnModel<T> Model => _session.Model;

    /// <summary>Streams open at once.</summary>
    public int MaxStreams { get; }

    /// <summary>Most steps in one batch.</summary>
    public int MaxBatch => _session.MaxBatch;

    /// <summary>Cores each batch uses.</summary>
    public int Threads => _session.Threads;

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

    /// <summary>Called before each batch runs, with its size (tests make a batch fail with it).</summary>
    internal Action<int>? BatchStarting { get; set; }

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
            while (_running)
            {
                Monitor.Wait(_gate);
            }
        }

        if (Thread.CurrentThread != _runner)
        {
            _runner.Join();
        }

        _session.Dispose();
    }

    /// <summary>
    /// Queues a step — behind the steps waiting for room when the queue is full, so every stream's steps keep the order they
    /// were issued in — or runs it at once when the engine is idle and nothing waits.
    /// </summary>
    internal void Submit(StepRequest<T> request)
    {
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

            if (_running || _queued > 0 || _delayTicks > 0)
            {
                if (_queued == 0)
                {
                    _oldest = Stopwatch.GetTimestamp();
                }

                _queue[_queued++] = request;
                if (!_running)
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

            _batch[0] = request;
            _batches++;
            _running = true;
        }

        Run(1);
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

    /// <summary>The batcher's thread: runs what is queued whenever no batch is running.</summary>
    private void RunBatches()
    {
        while (true)
        {
            int n;
            lock (_gate)
            {
                while (!_disposed && (_running || _queued == 0 || !Due()))
                {
                    if (!_running && _queued > 0)
                    {
                        Monitor.Wait(_gate, TimeSpan.FromTicks(Math.Max(1, (_oldest + _delayTicks - Stopwatch.GetTimestamp()) * TimeSpan.TicksPerSecond / Stopwatch.Frequency)));
                    }
                    else
                    {
                        Monitor.Wait(_gate);
                    }
                }

                if (_disposed)
                {
                    return;
                }

                n = Take();
                if (n == 0)
                {
                    continue;
                }

                _running = true;
            }

            Run(n);
        }
    }

    /// <summary>Whether the queue should run now: no delay asked for, a full batch waiting, or the oldest step waited long enough.</summary>
    private bool Due() =>
        _delayTicks == 0 || _queued >= _batch.Length || Stopwatch.GetTimestamp() - _oldest >= _delayTicks;

    /// <summary>
    /// Moves the oldest steps into the batch, one per stream, up to <see cref="MaxBatch"/>; a stream's later steps keep
    /// their place for the next batch, and cancelled steps leave the queue. Under <see cref="_gate"/>.
    /// </summary>
    private int Take()
    {
        long batch = ++_batches;
        int n = 0, kept = 0, left = 0, i = 0;
        for (; i < _queued && n < _batch.Length; i++)
        {
            var request = _queue[i];
            if (request.Stream.Batch == batch)
            {
                _queue[kept++] = request;
            }
            else if (request.TryClaim())
            {
                request.Stream.Batch = batch;
                _batch[n++] = request;
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
    private void Run(int n)
    {
        var spec = Model.Spec;
        int inputs = spec.InputSize, hidden = spec.HiddenSize, layers = spec.Layers;
        bool hasC = spec.HasCellState;
        for (int i = 0; i < n; i++)
        {
            var request = _batch[i];
            try
            {
                request.Input.Span.CopyTo(_x.AsSpan(i * inputs, inputs));
            }
            catch (Exception e)
            {
                request.Failure = e;
                _x.AsSpan(i * inputs, inputs).Clear();
            }

            Gather(_h, _batchH, request.Stream.Slot, i, n, layers, hidden);
            if (hasC)
            {
                Gather(_c, _batchC, request.Stream.Slot, i, n, layers, hidden);
            }
        }

        Exception? failure = null;
        try
        {
            BatchStarting?.Invoke(n);
            int state = n * _stateSize;
            _session.Step(_x.AsSpan(0, n * inputs), n, _out.AsSpan(0, n * hidden), _batchH.AsSpan(0, state), hasC ? _batchC.AsSpan(0, state) : default);
        }
        catch (Exception e)
        {
            failure = e;
        }

        for (int i = 0; failure is null && i < n; i++)
        {
            var request = _batch[i];
            if (request.Failure is not null)
            {
                continue;
            }

            try
            {
                var output = request.Output.Span;
                _out.AsSpan(i * hidden, output.Length).CopyTo(output);
            }
            catch (Exception e)
            {
                request.Failure = e;
                continue;
            }

            Scatter(_batchH, _h, request.Stream.Slot, i, n, layers, hidden);
            if (hasC)
            {
                Scatter(_batchC, _c, request.Stream.Slot, i, n, layers, hidden);
            }
        }

        for (int i = 0; i < n; i++)
        {
            var request = _batch[i];
            _batch[i] = null!;
            request.Complete(failure ?? request.Failure);
            request.Release();
        }

        lock (_gate)
        {
            _running = false;
            if (_queued > 0 || _disposed)
            {
                Monitor.PulseAll(_gate);
            }
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
}
