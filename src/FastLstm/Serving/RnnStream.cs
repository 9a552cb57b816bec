using System.Numerics;

namespace FastLstm.Serving;

/// <summary>
/// One sequence served by a <see cref="StreamBatcher{T}"/>: its recurrent state lives in the batcher, and each step joins
/// a batch with the steps of other streams. Steps of one stream run in the order they were issued. Made by
/// <see cref="StreamBatcher{T}.Open"/>; <see cref="Dispose"/> gives its slot back.
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
public sealed class RnnStream<T> : IDisposable
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly StreamBatcher<T> _batcher;
    private readonly Stack<StepRequest<T>> _pool = new();
    private int _pending;
    private int _slotFreed;

    internal RnnStream(StreamBatcher<T> batcher, int slot)
    {
        _batcher = batcher;
        Slot = slot;
    }

    /// <summary>The batcher that runs this stream.</summary>
    public StreamBatcher<T> Batcher => _batcher;

    internal int Slot { get; }

    internal bool Disposed { get; private set; }

    /// <summary>Whether a step of this stream is in a batch being taken or run (guarded by the batcher's lock).</summary>
    internal bool Running { get; set; }

    /// <summary>
    /// Runs one step when a batch takes it: reads <paramref name="x"/> [inputSize], writes the last layer's new h [hidden]
    /// to <paramref name="output"/> (empty if not wanted) and carries the state. Neither memory may change until the task
    /// completes. A step cancelled before its batch took it leaves the state as it was.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The stream or its batcher is disposed (also how pending steps end when the batcher is).</exception>
    public ValueTask StepAsync(ReadOnlyMemory<T> x, Memory<T> output, CancellationToken cancellationToken = default)
    {
        Check(x.Length, output.Length);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        var request = Issue(x, output, blocking: false, cancellationToken);
        return new ValueTask(request, request.Version);
    }

    /// <summary>As <see cref="StepAsync"/>, blocking the calling thread until the step's batch ran.</summary>
    public void Step(ReadOnlySpan<T> x, Span<T> output)
    {
        Check(x.Length, output.Length);
        var request = Rent();
        x.CopyTo(request.InputCopy);
        var result = output.IsEmpty ? Memory<T>.Empty : request.OutputCopy.AsMemory();
        Submit(request, request.InputCopy, result, blocking: true, default);
        request.Wait(output);
    }

    /// <summary>Sets the state to zeros, as a new stream's. Not while a step of this stream is pending.</summary>
    public void Reset() => _batcher.WriteState(this, default, default, zero: true);

    /// <summary>Copies the state out: <paramref name="h"/> [layers, hidden]; <paramref name="c"/> the same for cells with a cell state (empty to skip).</summary>
    public void ReadState(Span<T> h, Span<T> c = default) => _batcher.ReadState(this, h, c);

    /// <summary>Replaces the state: <paramref name="h"/> [layers, hidden]; <paramref name="c"/> the same (empty means zeros; only for cells with a cell state).</summary>
    public void WriteState(ReadOnlySpan<T> h, ReadOnlySpan<T> c = default) => _batcher.WriteState(this, h, c, zero: false);

    /// <summary>Closes the stream: steps still waiting end with <see cref="ObjectDisposedException"/>, and its slot is free for <see cref="StreamBatcher{T}.Open"/> once none is running.</summary>
    public void Dispose()
    {
        if (_batcher.Close(this))
        {
            FreeSlotWhenIdle();
        }
    }

    /// <summary>Steps issued and not yet ended (queued or in a running batch).</summary>
    internal int Pending => Volatile.Read(ref _pending);

    internal void MarkDisposed() => Disposed = true;

    internal void StepEnded()
    {
        if (Interlocked.Decrement(ref _pending) == 0 && Disposed)
        {
            FreeSlotWhenIdle();
        }
    }

    internal void Return(StepRequest<T> request)
    {
        lock (_pool)
        {
            _pool.Push(request);
        }
    }

    private void FreeSlotWhenIdle()
    {
        if (Pending == 0 && Interlocked.Exchange(ref _slotFreed, 1) == 0)
        {
            _batcher.FreeSlot(Slot);
        }
    }

    private StepRequest<T> Issue(ReadOnlyMemory<T> x, Memory<T> output, bool blocking, CancellationToken cancellationToken)
    {
        var request = Rent();
        Submit(request, x, output, blocking, cancellationToken);
        return request;
    }

    private void Submit(StepRequest<T> request, ReadOnlyMemory<T> x, Memory<T> output, bool blocking, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _pending);
        request.Start(x, output, blocking, cancellationToken);
        _batcher.Submit(request);
    }

    private StepRequest<T> Rent()
    {
        lock (_pool)
        {
            if (_pool.TryPop(out var request))
            {
                return request;
            }
        }

        var spec = _batcher.Model.Spec;
        return new StepRequest<T>(this, spec.InputSize, spec.HiddenSize, _batcher.Options.AllowSynchronousContinuations);
    }

    private void Check(int x, int output)
    {
        ObjectDisposedException.ThrowIf(Disposed, this);
        var spec = _batcher.Model.Spec;
        Guard.Length(x, spec.InputSize, nameof(x), new Guard.Shape("[inputSize]", spec.InputSize));
        Guard.OptionalLength(output, spec.HiddenSize, nameof(output), new Guard.Shape("[hidden]", spec.HiddenSize));
    }
}
