using System.Numerics;
using System.Numerics.Tensors;
using FastLstm.Engine;

namespace FastLstm;

/// <summary>
/// Runs a model forward. Every buffer is allocated here, once, for up to <see cref="MaxBatch"/> sequences of
/// <see cref="MaxSteps"/> steps; <see cref="Forward(ReadOnlySpan{T}, int, int, Span{T}, ReadOnlySpan{T}, ReadOnlySpan{T}, Span{T}, Span{T}, ReadOnlySpan{int})"/> and <see cref="Step(ReadOnlySpan{T}, int, Span{T}, Span{T}, Span{T})"/> allocate nothing. The weights are
/// copied into the engine's packed layout at construction and again at the first call after the model's
/// <see cref="RnnModel{T}.Version"/> moved (any edit through <see cref="RnnModel{T}.Parameter"/>).
/// One thread at a time per session: a call while another is running on the session throws
/// <see cref="InvalidOperationException"/>. A model may serve many sessions.
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
public sealed class InferenceSession<T> : IDisposable
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private Engine<T>? _engine;

    /// <param name="model">The network to run.</param>
    /// <param name="maxBatch">Largest batch any call will pass.</param>
    /// <param name="maxSteps">Longest sequence any call will pass.</param>
    /// <param name="threads">Cores the session may use.</param>
    /// <param name="weights">How the session stores the weights (compressed formats for <see cref="float"/> sessions only).</param>
    public InferenceSession(RnnModel<T> model, int maxBatch, int maxSteps, int threads = 1, WeightFormat weights = WeightFormat.Full)
        : this(model, maxBatch, maxSteps, threads, Isa.Bits, weights)
    {
    }

    /// <summary>A session at a given vector width (tests and benchmarks compare widths in one process).</summary>
    internal InferenceSession(RnnModel<T> model, int maxBatch, int maxSteps, int threads, int bits, WeightFormat weights = WeightFormat.Full)
    {
        Guard.Session(model, maxBatch, maxSteps, threads);
        Guard.Weights<T>(weights);
        Model = model;
        MaxBatch = maxBatch;
        MaxSteps = maxSteps;
        Threads = threads;
        Weights = weights;
        _engine = new Engine<T>(model, maxBatch, maxSteps, training: false, threads, bits, weights);
    }

    /// <summary>The model this session runs.</summary>
    public RnnModel<T> Model { get; }

    /// <summary>
    /// How the session stores the weights: <see cref="WeightFormat.Full"/>, or rounded to bfloat16 or int8 when packed (the
    /// model keeps its own values; an edit is packed again, rounded, at the next call).
    /// </summary>
    public WeightFormat Weights { get; }

    /// <summary>Largest batch a call may pass.</summary>
    public int MaxBatch { get; }

    /// <summary>Longest sequence a call may pass.</summary>
    public int MaxSteps { get; }

    /// <summary>
    /// Cores the session uses: its own worker threads, started once (and stopped by <see cref="Dispose"/>, or when the
    /// session is collected). Ragged batches are split into blocks of sequences that run through time independently;
    /// sequences all of full length split every step by hidden units; large GEMMs are split by rows or columns. Results do
    /// not depend on it beyond float rounding.
    /// </summary>
    public int Threads { get; }

    /// <summary>Copies the model's current parameters into the session now, whether or not <see cref="RnnModel{T}.Version"/> moved.</summary>
    public void ReloadWeights()
    {
        var engine = Engine;
        using var call = engine.Enter();
        engine.ReloadWeights();
    }

    /// <summary>The GEMM micro-kernel the session runs (operation, vector width, precision, register tile).</summary>
    public string Kernel => Engine.Kernel;

    /// <summary>
    /// Runs every layer over <paramref name="steps"/> steps of <paramref name="batch"/> sequences.
    /// </summary>
    /// <param name="input">[batch, steps, inputSize], batch-first.</param>
    /// <param name="batch">Sequences, 1..<see cref="MaxBatch"/>.</param>
    /// <param name="steps">Timesteps, 1..<see cref="MaxSteps"/>.</param>
    /// <param name="output">[batch, steps, directions·hidden], the last layer's h at every step (forward half first); empty if not wanted.</param>
    /// <param name="h0">Initial h [layers·directions, batch, hidden]; empty means zeros.</param>
    /// <param name="c0">Initial c, same shape (LSTM and SeedLstm only); empty means zeros.</param>
    /// <param name="hN">Receives the final h, same shape; empty if not wanted. May be the same memory as h0.</param>
    /// <param name="cN">Receives the final c; empty if not wanted. May be the same memory as c0.</param>
    /// <param name="lengths">[batch] valid steps per sequence (1..steps), PyTorch packed-sequence semantics; empty means all full.</param>
    public void Forward(ReadOnlySpan<T> input, int batch, int steps, Span<T> output,
        ReadOnlySpan<T> h0 = default, ReadOnlySpan<T> c0 = default, Span<T> hN = default, Span<T> cN = default,
        ReadOnlySpan<int> lengths = default)
    {
        var engine = Engine;
        Guard.Forward(Model.Spec, MaxBatch, MaxSteps, input, batch, steps, output, h0, c0, hN, cN, lengths);
        using var call = engine.Enter();
        engine.Forward(input, batch, steps, output, h0, c0, hN, cN, lengths);
    }

    /// <summary>
    /// <see cref="Forward(ReadOnlySpan{T}, int, int, Span{T}, ReadOnlySpan{T}, ReadOnlySpan{T}, Span{T}, Span{T}, ReadOnlySpan{int})"/>
    /// on dense tensors, batch and steps taken from <paramref name="input"/>'s shape; every other shape is checked against them.
    /// </summary>
    /// <param name="input">[batch, steps, inputSize].</param>
    /// <param name="output">[batch, steps, directions·hidden]; empty if not wanted.</param>
    /// <param name="h0">[layers·directions, batch, hidden]; empty means zeros.</param>
    /// <param name="c0">The same, for cells with a cell state.</param>
    /// <param name="hN">Receives the final h, same shape; empty if not wanted.</param>
    /// <param name="cN">Receives the final c; empty if not wanted.</param>
    public void Forward(ReadOnlyTensorSpan<T> input, TensorSpan<T> output,
        ReadOnlyTensorSpan<T> h0 = default, ReadOnlyTensorSpan<T> c0 = default, TensorSpan<T> hN = default, TensorSpan<T> cN = default)
    {
        var spec = Model.Spec;
        const long any = TensorArgs.Any;
        var x = TensorArgs.Read(input, nameof(input), "[batch, steps, inputSize]", [any, any, spec.InputSize]);
        int batch = input.Rank == 3 ? (int)input.Lengths[0] : 0, steps = input.Rank == 3 ? (int)input.Lengths[1] : 0;
        long states = spec.Layers * spec.Directions;
        const string stateNames = "[layers·directions, batch, hidden]";
        Forward(x, batch, steps,
            TensorArgs.Write(output, nameof(output), "[batch, steps, directions·hidden]", [batch, steps, spec.OutputSize]),
            TensorArgs.Read(h0, nameof(h0), stateNames, [states, batch, spec.HiddenSize]),
            TensorArgs.Read(c0, nameof(c0), stateNames, [states, batch, spec.HiddenSize]),
            TensorArgs.Write(hN, nameof(hN), stateNames, [states, batch, spec.HiddenSize]),
            TensorArgs.Write(cN, nameof(cN), stateNames, [states, batch, spec.HiddenSize]));
    }

    /// <summary>
    /// Streaming: one timestep for <paramref name="batch"/> sequences, carrying the state in place.
    /// Equal to <see cref="Forward(ReadOnlySpan{T}, int, int, Span{T}, ReadOnlySpan{T}, ReadOnlySpan{T}, Span{T}, Span{T}, ReadOnlySpan{int})"/> run one step at a time. Unidirectional models only.
    /// </summary>
    /// <param name="x">[batch, inputSize].</param>
    /// <param name="batch">Sequences, 1..<see cref="MaxBatch"/>.</param>
    /// <param name="output">[batch, hidden]: the last layer's new h; empty if not wanted.</param>
    /// <param name="h">[layers, batch, hidden]: read, then overwritten with the new state.</param>
    /// <param name="c">[layers, batch, hidden] for LSTM and SeedLstm, else empty.</param>
    public void Step(ReadOnlySpan<T> x, int batch, Span<T> output, Span<T> h, Span<T> c = default)
    {
        var engine = Engine;
        var spec = Model.Spec;
        if (spec.Bidirectional)
        {
            throw new InvalidOperationException("Step: a bidirectional model needs the whole sequence; use Forward.");
        }

        Guard.Range(batch, 1, MaxBatch, nameof(batch), "maxBatch");
        Guard.Length(x.Length, (long)batch * spec.InputSize, nameof(x), new Guard.Shape("[batch, inputSize]", batch, spec.InputSize));
        Guard.OptionalLength(output.Length, (long)batch * spec.HiddenSize, nameof(output), new Guard.Shape("[batch, hidden]", batch, spec.HiddenSize));
        long state = (long)spec.Layers * batch * spec.HiddenSize;
        var shape = new Guard.Shape("[layers, batch, hidden]", spec.Layers, batch, spec.HiddenSize);
        Guard.Length(h.Length, state, nameof(h), shape);
        if (spec.HasCellState)
        {
            Guard.Length(c.Length, state, nameof(c), shape);
        }
        else
        {
            Guard.NoCellState(c.Length, spec, nameof(c));
        }

        using var call = engine.Enter();
        engine.Forward(x, batch, 1, output, h, c, h, c, default);
    }

    /// <summary><see cref="Step(ReadOnlySpan{T}, int, Span{T}, Span{T}, Span{T})"/> on dense tensors, batch taken from <paramref name="x"/>'s shape.</summary>
    /// <param name="x">[batch, inputSize].</param>
    /// <param name="output">[batch, hidden]; empty if not wanted.</param>
    /// <param name="h">[layers, batch, hidden]: read, then overwritten with the new state.</param>
    /// <param name="c">[layers, batch, hidden] for LSTM and SeedLstm, else empty.</param>
    public void Step(ReadOnlyTensorSpan<T> x, TensorSpan<T> output, TensorSpan<T> h, TensorSpan<T> c = default)
    {
        var spec = Model.Spec;
        var input = TensorArgs.Read(x, nameof(x), "[batch, inputSize]", [TensorArgs.Any, spec.InputSize]);
        int batch = x.Rank == 2 ? (int)x.Lengths[0] : 0;
        const string stateNames = "[layers, batch, hidden]";
        Step(input, batch,
            TensorArgs.Write(output, nameof(output), "[batch, hidden]", [batch, spec.HiddenSize]),
            TensorArgs.Write(h, nameof(h), stateNames, [spec.Layers, batch, spec.HiddenSize]),
            TensorArgs.Write(c, nameof(c), stateNames, [spec.Layers, batch, spec.HiddenSize]));
    }

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
