using System.Numerics;
using FastLstm.Kernels;

namespace FastLstm.Engine;

/// <summary>
/// The one sequence driver: layers, directions, ragged batches, forward and backward, for every cell. Built from parts
/// with one job each — <see cref="Plan{T}"/> (sizes and kernels), <see cref="PackedWeights{T}"/>,
/// <see cref="BatchLayout{T}"/>, the buffers, <see cref="ForwardLoop{T}"/> and <see cref="BackwardLoop{T}"/>,
/// <see cref="Scheduler{T}"/> and <see cref="GradientSink{T}"/> — and allocation-free after construction.
/// <para>A session's calls come through <see cref="Enter"/>: one call at a time, and <see cref="Dispose"/> waits for a
/// running call instead of pulling the buffers from under it.</para>
/// </summary>
internal sealed unsafe class Engine<T> : IDisposable
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private const int Idle = 0, Busy = 1, Disposed = 2;

    private readonly RnnModel<T> _model;
    private readonly Plan<T> _plan;
    private readonly Workspace<T> _ws;
    private readonly PackedWeights<T> _weights;
    private readonly BatchLayout<T> _layout;
    private readonly ForwardBuffers<T> _forward;
    private readonly BackwardBuffers<T>? _backward;
    private readonly Scheduler<T> _scheduler;
    private readonly ForwardLoop<T> _forwardLoop;
    private readonly BackwardLoop<T>? _backwardLoop;
    private int _state;

    public Engine(RnnModel<T> model, int maxBatch, int maxSteps, bool training, int threads, int bits, WeightFormat weights = WeightFormat.Full)
    {
        _model = model;
        _plan = new Plan<T>(model, maxBatch, maxSteps, training, Math.Max(1, threads), bits, weights);
        _layout = new BatchLayout<T>(_plan);

        var measure = new Workspace<T>.Carver(null);
        Carve(ref measure, out _, out _, out _);
        _ws = new Workspace<T>(measure.Used);
        var carver = new Workspace<T>.Carver(_ws.Base);
        Carve(ref carver, out _weights, out _forward, out _backward);

        _scheduler = new Scheduler<T>(_plan, _forward.Scratch);
        _forwardLoop = new ForwardLoop<T>(_plan, _forward, _weights, _layout, _scheduler);
        _backwardLoop = _backward is null ? null : new BackwardLoop<T>(_plan, _forward, _backward, _weights, _layout, _scheduler);
        _weights.Refresh(model);
    }

    public int Batch => _layout.Batch;

    public int Steps => _layout.Steps;

    /// <summary>The GEMM micro-kernel this engine runs (its name says width, precision and tile).</summary>
    public string Kernel => _plan.Gemm.Name;

    /// <summary>
    /// Starts a call: throws if the engine is disposed or another thread is inside a call. The call ends when the
    /// returned scope is disposed (<c>using var call = engine.Enter();</c>).
    /// </summary>
    public Call Enter()
    {
        int was = Interlocked.CompareExchange(ref _state, Busy, Idle);
        if (was != Idle)
        {
            ObjectDisposedException.ThrowIf(was == Disposed, this);
            throw new InvalidOperationException("A session is used by one thread at a time: another call on this session is still running.");
        }

        return new Call(this);
    }

    /// <summary>Packs the model's parameters again, whether or not they changed.</summary>
    public void ReloadWeights() => _weights.Refresh(_model, force: true);

    /// <summary>
    /// Runs all layers over <paramref name="steps"/> steps. Arguments are trusted (the sessions check them).
    /// h0/c0 are read before hN/cN are written for the same layer, so they may be the same memory.
    /// </summary>
    public void Forward(ReadOnlySpan<T> input, int batch, int steps, Span<T> output,
        ReadOnlySpan<T> h0, ReadOnlySpan<T> c0, Span<T> hN, Span<T> cN, ReadOnlySpan<int> lengths)
    {
        var plan = _plan;
        _weights.Refresh(_model);
        _layout.Set(batch, steps, lengths);
        int inSize = plan.Spec.InputSize;
        _layout.Gather(input, inSize, _forward.X, inSize, inSize, inSize, 1);
        for (int l = 0; l < plan.Layers; l++)
        {
            T* x = l == 0 ? _forward.X : _forward.Y(l - 1);
            for (int d = 0; d < plan.Dirs; d++)
            {
                _forwardLoop.Run(l, d, x, plan.InputWidth(l), h0, c0, hN, cN);
            }
        }

        if (!output.IsEmpty)
        {
            _layout.Scatter(_forward.Y(plan.Layers - 1), plan.YWidth, output, plan.Spec.OutputSize, plan.Hp, plan.H, plan.Dirs);
        }
    }

    /// <summary>Backpropagates the last <see cref="Forward"/>; adds into <paramref name="grads"/> (the flat PyTorch layout).</summary>
    public void Backward(ReadOnlySpan<T> dOutput, Span<T> dInput, ReadOnlySpan<T> dhN, ReadOnlySpan<T> dcN,
        Span<T> dh0, Span<T> dc0, Span<T> grads)
    {
        var plan = _plan;
        var buffers = _backward!;
        T* dy = buffers.DY0, below = buffers.DY1;
        _layout.Gather(dOutput, plan.Spec.OutputSize, dy, plan.YWidth, plan.Hp, plan.H, plan.Dirs);
        for (int l = plan.Layers - 1; l >= 0; l--)
        {
            T* x = l == 0 ? _forward.X : _forward.Y(l - 1);
            T* dx = l == 0 ? buffers.DX : below;
            for (int d = 0; d < plan.Dirs; d++)
            {
                _backwardLoop!.Run(l, d, dy, x, plan.InputWidth(l), dx, dhN, dcN, dh0, dc0, grads);
            }

            T* done = dy;
            dy = below;
            below = done;
        }

        if (!dInput.IsEmpty)
        {
            int i = plan.Spec.InputSize;
            _layout.Scatter(buffers.DX, i, dInput, i, i, i, 1);
        }
    }

    /// <summary>Stops the worker threads, waiting for a running call to finish first.</summary>
    public void Dispose()
    {
        var spin = default(SpinWait);
        while (true)
        {
            int was = Interlocked.CompareExchange(ref _state, Disposed, Idle);
            if (was != Busy)
            {
                break;
            }

            spin.SpinOnce();
        }

        _scheduler.Dispose();
    }

    private void Carve(ref Workspace<T>.Carver c, out PackedWeights<T> weights, out ForwardBuffers<T> forward, out BackwardBuffers<T>? backward)
    {
        weights = new PackedWeights<T>(_plan, ref c);
        forward = new ForwardBuffers<T>(_plan, ref c);
        backward = _plan.Training ? new BackwardBuffers<T>(_plan, ref c) : null;
    }

    /// <summary>One call inside the engine; disposing it lets the next one in.</summary>
    public readonly ref struct Call(Engine<T> engine)
    {
        public void Dispose() => Volatile.Write(ref engine._state, Idle);
    }
}
