using System.Numerics;
using FastLstm.Kernels;

namespace FastLstm.Engine;

/// <summary>
/// What the forward pass computes into, carved once. Training keeps every layer's gates, states and outputs for backward;
/// inference keeps one layer at a time (one slot per direction, two output buffers used in turn).
/// </summary>
internal sealed unsafe class ForwardBuffers<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly Slot[] _slots;
    private readonly nint[] _y;
    private readonly bool _training;
    private readonly int _dirs;

    public ForwardBuffers(Plan<T> plan, ref Workspace<T>.Carver c)
    {
        _training = plan.Training;
        _dirs = plan.Dirs;
        long b = plan.MaxBatch, steps = plan.MaxSteps, hp = plan.Hp, m = steps * b;
        _slots = new Slot[_training ? plan.Layers * plan.Dirs : plan.Dirs];
        for (int i = 0; i < _slots.Length; i++)
        {
            ref var s = ref _slots[i];
            s.Gx = c.Take(m * plan.LdG);
            s.S = c.Take((steps + 1) * b * hp);
            s.C = plan.Descriptor.HasCellState ? c.Take((steps + 1) * b * hp) : null;
            s.Aux = plan.AuxW > 0 ? c.Take((_training ? m : b) * plan.AuxW) : null;
        }

        _y = new nint[_training ? plan.Layers : Math.Min(plan.Layers, 2)];
        for (int i = 0; i < _y.Length; i++)
        {
            _y[i] = (nint)c.Take(m * plan.YWidth);
        }

        X = c.Take(m * plan.Spec.InputSize);
        Gh = c.Take(b * plan.LdG1);
        G2 = plan.TwoPhase ? c.Take(b * hp) : null;
        H0 = c.Take(b * hp);
        C0 = c.Take(b * hp);
        Scratch = new GemmScratch<T>[plan.Threads];
        int maxK = Math.Max(plan.Spec.InputSize, plan.Layers > 1 ? plan.YWidth : 0);
        for (int i = 0; i < Scratch.Length; i++)
        {
            Scratch[i] = new GemmScratch<T>(
                _training ? c.Take(plan.Gemm.ScratchBLength(Math.Max(maxK, plan.Hp))) : null,
                c.Take(plan.Gemm.EdgeLength),
                plan.Weights == WeightFormat.Int8 ? c.Take(plan.Gemm.QuantizedLength) : null);
        }
    }

    /// <summary>The input, time-major and sorted [T·B, I].</summary>
    public T* X { get; }

    /// <summary>The per-step recurrent GEMM's result [B, G1·Hp] (rows are disjoint between threads).</summary>
    public T* Gh { get; }

    /// <summary>The per-step phase-2 GEMM's result [B, Hp].</summary>
    public T* G2 { get; }

    /// <summary>Initial states of the layer and direction being run [B, Hp].</summary>
    public T* H0 { get; }

    public T* C0 { get; }

    /// <summary>One GEMM scratch per thread.</summary>
    public GemmScratch<T>[] Scratch { get; }

    /// <summary>The output of layer l [T·B, D·Hp].</summary>
    public T* Y(int layer) => (T*)_y[_training ? layer : layer % 2];

    public ref Slot this[int l, int d] => ref _slots[_training ? (l * _dirs) + d : d];

    /// <summary>
    /// What one layer and direction computes: gates Gx [T·B, G·Hp] (projections in, activations out), the state sequences
    /// S and C [(T+1)·B, Hp] (block t is the state before step t for the forward direction, after it for the reverse), and
    /// Aux (what backward needs besides: per step when training, one step's worth otherwise).
    /// </summary>
    internal struct Slot
    {
        public T* Gx, S, C, Aux;
    }
}

/// <summary>What backward needs besides the forward buffers (training sessions only), carved once.</summary>
internal sealed unsafe class BackwardBuffers<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly Grad[] _grads;

    public BackwardBuffers(Plan<T> plan, ref Workspace<T>.Carver c)
    {
        long b = plan.MaxBatch, hp = plan.Hp, m = plan.MaxSteps * b;
        int maxK = Math.Max(plan.Spec.InputSize, plan.Layers > 1 ? plan.YWidth : 0);
        _grads = new Grad[plan.Dirs];
        for (int i = 0; i < _grads.Length; i++)
        {
            ref var g = ref _grads[i];
            g.DGx = c.Take(m * plan.LdG);
            g.DGh = plan.Descriptor.SeparateRecurrentGradient ? c.Take(m * plan.LdG1) : null;
            g.DG2 = plan.TwoPhase ? c.Take(m * hp) : null;
            g.DH = c.Take(b * hp);
            g.DC = c.Take(b * hp);
        }

        DM = plan.TwoPhase ? c.Take(b * hp) : null;
        DY0 = c.Take(m * plan.YWidth);
        DY1 = c.Take(m * plan.YWidth);
        DX = c.Take(m * plan.Spec.InputSize);
        DW = c.Take(Math.Max((long)plan.Gw * maxK, (long)Math.Max(plan.G1w, plan.Hp) * hp));
        DB = c.Take(plan.Gw);
        DH0 = c.Take(b * hp);
        DC0 = c.Take(b * hp);
    }

    /// <summary>∂L/∂(phase-2 GEMM input) of one step [B, Hp].</summary>
    public T* DM { get; }

    /// <summary>∂L/∂(a layer's output), two buffers used in turn [T·B, D·Hp].</summary>
    public T* DY0 { get; }

    public T* DY1 { get; }

    /// <summary>∂L/∂input, time-major [T·B, I].</summary>
    public T* DX { get; }

    /// <summary>A weight gradient before it is scattered into the PyTorch layout.</summary>
    public T* DW { get; }

    /// <summary>A bias gradient before it is scattered.</summary>
    public T* DB { get; }

    /// <summary>∂L/∂(initial state) of the layer and direction being run [B, Hp].</summary>
    public T* DH0 { get; }

    public T* DC0 { get; }

    public ref Grad this[int d] => ref _grads[d];

    /// <summary>Backward buffers of one direction: gate gradients for every step, and the running ∂h and ∂c.</summary>
    internal struct Grad
    {
        public T* DGx, DGh, DG2, DH, DC;
    }
}
