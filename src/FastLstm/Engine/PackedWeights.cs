using System.Numerics;
using FastLstm.Kernels;

namespace FastLstm.Engine;

/// <summary>
/// Every layer's weights as the session's GEMM kernel reads them: packed panels of the chosen micro-kernel's width (the
/// forward ones in the plan's <see cref="Plan{T}.Weights"/> format) and the cell's prepared bias. Forward needs the
/// transposed orientation (<c>x·W_ihᵀ</c>, <c>h·W_hhᵀ</c>); training also the natural one for backward (<c>dG·W_ih</c>,
/// <c>dG·W_hh</c>). Packing runs again only when the model's <see cref="RnnModel{T}.Version"/> moved since the last pack.
/// </summary>
internal sealed unsafe class PackedWeights<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly Plan<T> _plan;
    private readonly Layer[] _layers;
    private long _version = -1;

    public PackedWeights(Plan<T> plan, ref Workspace<T>.Carver carver)
    {
        _plan = plan;
        _layers = new Layer[plan.Layers * plan.Dirs];
        var gemm = plan.Gemm;
        int hp = plan.Hp;
        for (int l = 0; l < plan.Layers; l++)
        {
            int k = plan.InputWidth(l);
            for (int d = 0; d < plan.Dirs; d++)
            {
                ref var w = ref _layers[(l * plan.Dirs) + d];
                w.WihT = Take(ref carver, gemm, k, plan.Gw, plan.Weights);
                w.WhhT = Take(ref carver, gemm, hp, plan.G1w, plan.Weights);
                w.Bias = carver.Take((long)plan.Descriptor.BiasBlocks * hp);
                w.W2T = plan.TwoPhase ? Take(ref carver, gemm, hp, hp, plan.Weights) : default;
                if (plan.Training)
                {
                    w.Wih = Take(ref carver, gemm, plan.Gw, k, WeightFormat.Full);
                    w.Whh = Take(ref carver, gemm, plan.G1w, hp, WeightFormat.Full);
                    w.W2 = plan.TwoPhase ? Take(ref carver, gemm, hp, hp, WeightFormat.Full) : default;
                }
            }
        }
    }

    /// <summary>Room for a packed B of K rows and N columns in <paramref name="format"/>, and its scales where it has them.</summary>
    private static PackedB<T> Take(ref Workspace<T>.Carver carver, Gemm<T> gemm, int k, int n, WeightFormat format)
    {
        long elements = (gemm.PackedBytes(k, n, format) + sizeof(T) - 1) / sizeof(T);
        T* data = carver.Take(elements);
        T* scales = format == WeightFormat.Int8 ? carver.Take((long)gemm.Panels(n) * gemm.NR) : null;
        return new PackedB<T>((byte*)data, scales, k, gemm.NR, format);
    }

    /// <summary>The packed operands of layer l, direction d.</summary>
    public ref readonly Layer this[int l, int d] => ref _layers[(l * _plan.Dirs) + d];

    /// <summary>Packs the model's parameters if they changed since the last pack (or <paramref name="force"/>).</summary>
    public void Refresh(RnnModel<T> model, bool force = false)
    {
        long version = model.Version;
        if (force || version != _version)
        {
            Pack(model.Data, model);
            _version = version;
        }
    }

    /// <summary>A matrix's int8 grid from the file it was read from (compressed formats are float only).</summary>
    private static ReadOnlySpan<T> Grid(RnnModel<T> model, string name) =>
        typeof(T) == typeof(float) && model.QuantizationGrid(name) is { } steps ? System.Runtime.InteropServices.MemoryMarshal.Cast<float, T>(steps) : default;

    private void Pack(ReadOnlySpan<T> p, RnnModel<T> model)
    {
        var plan = _plan;
        var gemm = plan.Gemm;
        int h = plan.H, hp = plan.Hp;
        for (int l = 0; l < plan.Layers; l++)
        {
            int inSize = plan.Spec.LayerInputSize(l);
            for (int d = 0; d < plan.Dirs; d++)
            {
                ref readonly var w = ref _layers[(l * plan.Dirs) + d];
                var t = plan.Parameters.Of(l, d);
                var wih = p.Slice(t.WeightIh.Offset, t.WeightIh.Length);
                var whh = p.Slice(t.WeightHh.Offset, t.WeightHh.Length);
                gemm.PackB(w.WihT, wih, inSize, plan.InputMap[l], plan.GateMap, transposed: true, Grid(model, t.WeightIh.Name));
                gemm.PackB(w.WhhT, whh, h, plan.HiddenMap, plan.RecurrentMap, transposed: true, Grid(model, t.WeightHh.Name));
                plan.Kernels(d).PrepareBias(p, t, h, hp, new Span<T>(w.Bias, plan.Descriptor.BiasBlocks * hp));
                if (plan.Training)
                {
                    gemm.PackB(w.Wih, wih, inSize, plan.GateMap, plan.InputMap[l], transposed: false);
                    gemm.PackB(w.Whh, whh, h, plan.RecurrentMap, plan.HiddenMap, transposed: false);
                }

                if (plan.Descriptor.Phase2 is { } p2)
                {
                    var src = t.Named(p2.Weight, plan.Descriptor);
                    var w2 = p.Slice(src.Offset, src.Length);
                    gemm.PackB(w.W2T, w2, h, plan.HiddenMap, plan.Phase2Map, transposed: true);
                    if (plan.Training)
                    {
                        gemm.PackB(w.W2, w2, h, plan.Phase2Map, plan.HiddenMap, transposed: false);
                    }
                }
            }
        }
    }

    /// <summary>Packed GEMM operands and prepared bias of one layer and direction (the natural orientation only when training).</summary>
    internal struct Layer
    {
        public PackedB<T> WihT, WhhT, W2T;
        public T* Bias;
        public PackedB<T> Wih, Whh, W2;
    }
}
