using System.Numerics;
using FastLstm.Cells;

namespace FastLstm.Reference;

/// <summary>
/// The naive twin of <see cref="TrainingSession{T}"/>: per layer, direction, sequence and step, the cell's
/// equations as written (<see cref="Cell.NaiveForward{T}"/>), on the model's PyTorch-layout tensors, in plain
/// loops with no packing, no batching and no SIMD. Slow by design; it is what the fused engine is checked
/// against. Reads the model's parameters at every call. Allocates freely.
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
public sealed class NaiveRnn<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly Cell[] _cells;
    private readonly T[] _grads;
    private Saved? _saved;

    /// <summary>A naive runner of <paramref name="model"/>.</summary>
    public NaiveRnn(RnnModel<T> model)
    {
        ArgumentNullException.ThrowIfNull(model);
        Model = model;
        _cells = [Cell.For(model.Spec, 0), Cell.For(model.Spec, 1)];
        _grads = new T[model.Layout.Length];
    }

    /// <summary>The model run.</summary>
    public RnnModel<T> Model { get; }

    /// <summary>All gradients, in the layout of <see cref="RnnModel{T}.Parameters"/>.</summary>
    public Span<T> Gradients => _grads;

    /// <summary>Same contract as <see cref="TrainingSession{T}.Forward"/>.</summary>
    public void Forward(ReadOnlySpan<T> input, int batch, int steps, Span<T> output,
        ReadOnlySpan<T> h0 = default, ReadOnlySpan<T> c0 = default, Span<T> hN = default, Span<T> cN = default,
        ReadOnlySpan<int> lengths = default)
    {
        var spec = Model.Spec;
        Guard.Forward(spec, int.MaxValue, int.MaxValue, input, batch, steps, output, h0, c0, hN, cN, lengths);
        int h = spec.HiddenSize, dirs = spec.Directions, width = spec.OutputSize;
        var saved = new Saved(spec, batch, steps, lengths.IsEmpty ? Enumerable.Repeat(steps, batch).ToArray() : lengths.ToArray());
        saved.LayerInputs[0] = input.ToArray();
        for (int l = 0; l < spec.Layers; l++)
        {
            int inSize = spec.LayerInputSize(l);
            var x = saved.LayerInputs[l];
            var y = new T[batch * steps * width];
            for (int d = 0; d < dirs; d++)
            {
                var w = Weights(l, d);
                for (int b = 0; b < batch; b++)
                {
                    int len = saved.Lengths[b], so = State(spec, l, d, batch, b);
                    var hv = h0.IsEmpty ? new T[h] : h0.Slice(so, h).ToArray();
                    var cv = c0.IsEmpty ? new T[h] : c0.Slice(so, h).ToArray();
                    for (int s = 0; s < len; s++)
                    {
                        int t = d == 0 ? s : len - 1 - s;
                        var step = saved.At(l, d, b, t);
                        step.HPrev = hv;
                        step.CPrev = cv;
                        step.Cache = new T[_cells[d].NaiveCacheLength(h)];
                        hv = new T[h];
                        cv = new T[h];
                        _cells[d].NaiveForward(w, x.AsSpan(((b * steps) + t) * inSize, inSize), step.HPrev, step.CPrev, hv, cv, step.Cache);
                        hv.CopyTo(y.AsSpan((((b * steps) + t) * width) + (d * h), h));
                    }

                    if (!hN.IsEmpty)
                    {
                        hv.CopyTo(hN.Slice(so, h));
                    }

                    if (!cN.IsEmpty)
                    {
                        cv.CopyTo(cN.Slice(so, h));
                    }
                }
            }

            if (l + 1 < spec.Layers)
            {
                saved.LayerInputs[l + 1] = y;
            }
            else if (!output.IsEmpty)
            {
                y.CopyTo(output);
            }
        }

        _saved = saved;
    }

    /// <summary>Same contract as <see cref="TrainingSession{T}.Backward"/>.</summary>
    public void Backward(ReadOnlySpan<T> dOutput, Span<T> dInput = default,
        ReadOnlySpan<T> dhN = default, ReadOnlySpan<T> dcN = default, Span<T> dh0 = default, Span<T> dc0 = default)
    {
        var saved = _saved ?? throw new InvalidOperationException("Backward: no Forward to backpropagate; call Forward first.");
        var spec = Model.Spec;
        int batch = saved.Batch, steps = saved.Steps, h = spec.HiddenSize, width = spec.OutputSize;
        Guard.Backward(spec, batch, steps, dOutput, dInput, dhN, dcN, dh0, dc0);
        var dy = dOutput.ToArray();
        for (int l = spec.Layers - 1; l >= 0; l--)
        {
            int inSize = spec.LayerInputSize(l);
            var x = saved.LayerInputs[l];
            var dx = new T[batch * steps * inSize];
            var dxStep = new T[inSize];
            for (int d = 0; d < spec.Directions; d++)
            {
                var w = Weights(l, d);
                var g = Grads(l, d);
                for (int b = 0; b < batch; b++)
                {
                    int len = saved.Lengths[b], so = State(spec, l, d, batch, b);
                    var dh = dhN.IsEmpty ? new T[h] : dhN.Slice(so, h).ToArray();
                    var dc = dcN.IsEmpty || !spec.HasCellState ? new T[h] : dcN.Slice(so, h).ToArray();
                    for (int s = len - 1; s >= 0; s--)
                    {
                        int t = d == 0 ? s : len - 1 - s;
                        var step = saved.At(l, d, b, t);
                        var dhT = new T[h];
                        for (int j = 0; j < h; j++)
                        {
                            dhT[j] = dh[j] + dy[(((b * steps) + t) * width) + (d * h) + j];
                        }

                        var dhPrev = new T[h];
                        var dcPrev = new T[h];
                        _cells[d].NaiveBackward(w, g, x.AsSpan(((b * steps) + t) * inSize, inSize), step.HPrev, step.CPrev, step.Cache, dhT, dc, dxStep, dhPrev, dcPrev);
                        for (int k = 0; k < inSize; k++)
                        {
                            dx[(((b * steps) + t) * inSize) + k] += dxStep[k];
                        }

                        dh = dhPrev;
                        dc = dcPrev;
                    }

                    if (!dh0.IsEmpty)
                    {
                        dh.CopyTo(dh0.Slice(so, h));
                    }

                    if (!dc0.IsEmpty)
                    {
                        dc.CopyTo(dc0.Slice(so, h));
                    }
                }
            }

            dy = dx;
        }

        if (!dInput.IsEmpty)
        {
            dy.CopyTo(dInput);
        }
    }

    /// <summary>The smallest distance of any step of the last Forward to a non-differentiable point of the cell.</summary>
    internal double KinkDistance()
    {
        var saved = _saved ?? throw new InvalidOperationException("KinkDistance: call Forward first.");
        double min = double.PositiveInfinity;
        foreach (var step in saved.AllSteps)
        {
            if (step.Cache.Length > 0)
            {
                min = Math.Min(min, Math.Min(_cells[0].NaiveKinkDistance(step.Cache), _cells[1].NaiveKinkDistance(step.Cache)));
            }
        }

        return min;
    }

    /// <summary>The gradient of one parameter, same name and shape as <see cref="RnnModel{T}.Parameter"/>.</summary>
    public Span<T> Gradient(string name)
    {
        var t = Model.Layout[name];
        return _grads.AsSpan(t.Offset, t.Length);
    }

    /// <summary>Sets every gradient to zero.</summary>
    public void ZeroGradients() => Array.Clear(_grads);

    private static int State(RnnSpec spec, int l, int d, int batch, int b) => ((((l * spec.Directions) + d) * batch) + b) * spec.HiddenSize;

    private NaiveWeights<T> Weights(int l, int d) =>
        new(Model.Data, Model.Layout.Of(l, d), Model.Spec.LayerInputSize(l), Model.Spec.HiddenSize);

    private NaiveGrads<T> Grads(int l, int d) => new(_grads, Model.Layout.Of(l, d));

    /// <summary>What the naive forward keeps: each layer's input and, per step, the states before it and the cell's cache.</summary>
    private sealed class Saved
    {
        private readonly StepState[] _steps;
        private readonly int _dirs;

        public Saved(RnnSpec spec, int batch, int steps, int[] lengths)
        {
            Batch = batch;
            Steps = steps;
            Lengths = lengths;
            _dirs = spec.Directions;
            LayerInputs = new T[spec.Layers][];
            _steps = new StepState[spec.Layers * _dirs * batch * steps];
            for (int i = 0; i < _steps.Length; i++)
            {
                _steps[i] = new StepState();
            }
        }

        public int Batch { get; }

        public int Steps { get; }

        public int[] Lengths { get; }

        public T[][] LayerInputs { get; }

        public IEnumerable<StepState> AllSteps => _steps;

        public StepState At(int l, int d, int b, int t) => _steps[(((((l * _dirs) + d) * Batch) + b) * Steps) + t];
    }

    private sealed class StepState
    {
        public T[] HPrev { get; set; } = [];

        public T[] CPrev { get; set; } = [];

        public T[] Cache { get; set; } = [];
    }
}
