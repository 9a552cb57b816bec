using System.Numerics;
using FastLstm.Engine;

namespace FastLstm;

/// <summary>
/// Forward that keeps what backpropagation through time needs, Backward that adds parameter gradients
/// (like PyTorch's <c>.grad</c>) and writes input and initial-state gradients. A Forward re-packs the model's
/// parameters when its <see cref="RnnModel{T}.Version"/> moved since the last pack (an optimizer's update through
/// <see cref="RnnModel{T}.Parameters"/> does), and only then. Buffers are allocated once, here. One thread at a time.
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
public sealed class TrainingSession<T> : IDisposable
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly T[] _grads;
    private Engine<T>? _engine;
    private bool _forwardDone;

    /// <param name="model">The network to train.</param>
    /// <param name="maxBatch">Largest batch any call will pass.</param>
    /// <param name="maxSteps">Longest sequence any call will pass.</param>
    /// <param name="threads">Cores the session may use.</param>
    public TrainingSession(RnnModel<T> model, int maxBatch, int maxSteps, int threads = 1)
        : this(model, maxBatch, maxSteps, threads, Isa.Bits)
    {
    }

    /// <summary>A session at a given vector width (tests and benchmarks compare widths in one process).</summary>
    internal TrainingSession(RnnModel<T> model, int maxBatch, int maxSteps, int threads, int bits)
    {
        Guard.Session(model, maxBatch, maxSteps, threads);
        Model = model;
        MaxBatch = maxBatch;
        MaxSteps = maxSteps;
        Threads = threads;
        _engine = new Engine<T>(model, maxBatch, maxSteps, training: true, threads, bits);
        _grads = GC.AllocateArray<T>(model.Layout.Length, pinned: true);
    }

    /// <summary>The model being trained.</summary>
    public RnnModel<T> Model { get; }

    /// <summary>Largest batch a call may pass.</summary>
    public int MaxBatch { get; }

    /// <summary>Longest sequence a call may pass.</summary>
    public int MaxSteps { get; }

    /// <summary>
    /// Cores the session uses: its own worker threads, started once (and stopped by <see cref="Dispose"/>, or when the
    /// session is collected). Ragged batches are split into blocks of sequences that run through time independently;
    /// sequences all of full length split every step, forward and backward, by hidden units; large GEMMs are split by rows
    /// or columns. Results do not depend on it beyond float rounding.
    /// </summary>
    public int Threads { get; }

    /// <summary>All gradients, in the layout of <see cref="RnnModel{T}.Parameters"/> (a view).</summary>
    public Span<T> Gradients => _grads;

    /// <summary>Same contract as <see cref="InferenceSession{T}.Forward(ReadOnlySpan{T}, int, int, Span{T}, ReadOnlySpan{T}, ReadOnlySpan{T}, Span{T}, Span{T}, ReadOnlySpan{int})"/>; also keeps what <see cref="Backward"/> needs.</summary>
    public void Forward(ReadOnlySpan<T> input, int batch, int steps, Span<T> output,
        ReadOnlySpan<T> h0 = default, ReadOnlySpan<T> c0 = default, Span<T> hN = default, Span<T> cN = default,
        ReadOnlySpan<int> lengths = default)
    {
        var engine = Engine;
        Guard.Forward(Model.Spec, MaxBatch, MaxSteps, input, batch, steps, output, h0, c0, hN, cN, lengths);
        using var call = engine.Enter();
        _forwardDone = false;
        engine.Forward(input, batch, steps, output, h0, c0, hN, cN, lengths);
        _forwardDone = true;
    }

    /// <summary>
    /// Backpropagates through the last <see cref="Forward(ReadOnlySpan{T}, int, int, Span{T}, ReadOnlySpan{T}, ReadOnlySpan{T}, Span{T}, Span{T}, ReadOnlySpan{int})"/>: adds into the parameter gradients, and writes
    /// (not adds) ∂L/∂input, ∂L/∂h0, ∂L/∂c0. May be called more than once per Forward.
    /// </summary>
    /// <param name="dOutput">∂L/∂output, [batch, steps, directions·hidden].</param>
    /// <param name="dInput">Receives ∂L/∂input [batch, steps, inputSize]; empty if not wanted.</param>
    /// <param name="dhN">∂L/∂hN [layers·directions, batch, hidden]; empty means zero.</param>
    /// <param name="dcN">∂L/∂cN (LSTM and SeedLstm); empty means zero.</param>
    /// <param name="dh0">Receives ∂L/∂h0; empty if not wanted.</param>
    /// <param name="dc0">Receives ∂L/∂c0; empty if not wanted.</param>
    public void Backward(ReadOnlySpan<T> dOutput, Span<T> dInput = default,
        ReadOnlySpan<T> dhN = default, ReadOnlySpan<T> dcN = default, Span<T> dh0 = default, Span<T> dc0 = default)
    {
        var engine = Engine;
        if (!_forwardDone)
        {
            throw new InvalidOperationException("Backward: no Forward to backpropagate; call Forward first.");
        }

        Guard.Backward(Model.Spec, engine.Batch, engine.Steps, dOutput, dInput, dhN, dcN, dh0, dc0);
        using var call = engine.Enter();
        engine.Backward(dOutput, dInput, dhN, dcN, dh0, dc0, _grads);
    }

    /// <summary>The gradient of one parameter (same name and shape as <see cref="RnnModel{T}.Parameter"/>); a view.</summary>
    /// <exception cref="KeyNotFoundException">The name is not a parameter of the model.</exception>
    public Span<T> Gradient(string name)
    {
        var t = Model.Layout[name];
        return _grads.AsSpan(t.Offset, t.Length);
    }

    /// <summary>Sets every gradient to zero.</summary>
    public void ZeroGradients() => Array.Clear(_grads);

    /// <summary>
    /// Stops the session's threads and releases its buffers, after a call running on another thread has finished; later
    /// calls throw <see cref="ObjectDisposedException"/>.
    /// </summary>
    public void Dispose()
    {
        Interlocked.Exchange(ref _engine, null)?.Dispose();
    }

    private Engine<T> Engine
    {
        get
        {
            ObjectDisposedException.ThrowIf(_engine is null, this);
            return _engine;
        }
    }
}
