using System.Numerics;
using System.Threading.Tasks.Sources;

namespace FastLstm.Serving;

/// <summary>
/// One step a stream asked for: its input and output memory, and how its caller learns that it ran. Its stream pools it;
/// it goes back to the pool once both holders let go — the caller (after reading the result) and the batcher (after
/// taking it off the queue or running it) — so a cancelled step still in the queue is never reused under the batcher.
/// </summary>
internal sealed class StepRequest<T> : IValueTaskSource
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private const int Queued = 0, Claimed = 1, Cancelled = 2;

    private ManualResetValueTaskSourceCore<bool> _core;
    private readonly ManualResetEventSlim _done = new(false);
    private CancellationTokenRegistration _registration;
    private Exception? _error;
    private bool _blocking;
    private int _state;
    private int _holders;

    public StepRequest(RnnStream<T> stream, int inputSize, int outputSize, bool synchronousContinuations)
    {
        _core = new() { RunContinuationsAsynchronously = !synchronousContinuations };
        Stream = stream;
        InputCopy = new T[inputSize];
        OutputCopy = new T[outputSize];
    }

    public RnnStream<T> Stream { get; }

    /// <summary>Where a blocking <see cref="RnnStream{T}.Step"/> puts its span's values, since a span cannot wait in a queue.</summary>
    public T[] InputCopy { get; }

    public T[] OutputCopy { get; }

    public ReadOnlyMemory<T> Input { get; private set; }

    public Memory<T> Output { get; private set; }

    /// <summary>Set by the batch that ran it when reading its input or writing its output failed.</summary>
    public Exception? Failure { get; set; }

    public short Version => _core.Version;

    /// <summary>Readies the request for a new step; <paramref name="blocking"/> callers wait with <see cref="Wait"/>.</summary>
    public void Start(ReadOnlyMemory<T> input, Memory<T> output, bool blocking, CancellationToken cancellationToken)
    {
        Input = input;
        Output = output;
        Failure = null;
        _error = null;
        _blocking = blocking;
        _state = Queued;
        _holders = 2;
        if (blocking)
        {
            _done.Reset();
        }
        else
        {
            _core.Reset();
        }

        _registration = cancellationToken.CanBeCanceled
            ? cancellationToken.UnsafeRegister(static (state, token) => ((StepRequest<T>)state!).Cancel(token), this)
            : default;
    }

    /// <summary>The batcher takes the step for a batch; false when it was cancelled first.</summary>
    public bool TryClaim()
    {
        if (Interlocked.CompareExchange(ref _state, Claimed, Queued) != Queued)
        {
            return false;
        }

        _registration.Unregister();
        return true;
    }

    /// <summary>Ends the step (once): the stream's count of pending steps drops before the caller wakes.</summary>
    public void Complete(Exception? error)
    {
        _error = error;
        Stream.StepEnded();
        if (_blocking)
        {
            _done.Set();
        }
        else if (error is null)
        {
            _core.SetResult(true);
        }
        else
        {
            _core.SetException(error);
        }
    }

    /// <summary>
    /// Blocks until the step ended, copies its output to <paramref name="output"/> before letting go (a later step may reuse
    /// the request at once), then throws what ended it badly.
    /// </summary>
    public void Wait(Span<T> output)
    {
        _done.Wait();
        var error = _error;
        if (error is null)
        {
            OutputCopy.AsSpan(0, output.Length).CopyTo(output);
        }

        Release();
        if (error is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(error);
        }
    }

    /// <summary>One holder lets go; the last returns the request to its stream's pool.</summary>
    public void Release()
    {
        if (Interlocked.Decrement(ref _holders) == 0)
        {
            _registration = default;
            Stream.Return(this);
        }
    }

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    public void GetResult(short token)
    {
        try
        {
            _core.GetResult(token);
        }
        finally
        {
            Release();
        }
    }

    private void Cancel(CancellationToken token)
    {
        if (Interlocked.CompareExchange(ref _state, Cancelled, Queued) == Queued)
        {
            Complete(new OperationCanceledException(token));
        }
    }
}
