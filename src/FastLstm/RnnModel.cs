using System.Numerics;

namespace FastLstm;

/// <summary>
/// The parameters of a recurrent network, stored as PyTorch names, shapes and gate order.
/// <para>Sessions keep the weights in their own packed layout. The model counts its changes in <see cref="Version"/>:
/// handing out a writable view (<see cref="Parameter"/>, <see cref="Parameters"/>) counts as a change, and every session
/// re-packs at its next call when the version moved since its last pack, so an edit made through a view is seen by every
/// session's next call — and a call with unchanged parameters packs nothing. A view kept and written to after a session
/// call needs <see cref="MarkChanged"/> (or a fresh view) before the next call.</para>
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
public sealed class RnnModel<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly T[] _data;
    private long _version;

    /// <summary>A model with every parameter zero.</summary>
    public RnnModel(RnnSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        Numeric.EnsureSupported<T>();
        Layout = new ParameterLayout(spec);
        _data = GC.AllocateArray<T>(Layout.Length, pinned: true);
    }

    /// <summary>The network's shape.</summary>
    public RnnSpec Spec => Layout.Spec;

    /// <summary>Parameter names in PyTorch order.</summary>
    public IReadOnlyList<string> ParameterNames => Layout.Names;

    /// <summary>Every parameter, concatenated in <see cref="ParameterNames"/> order (a view, not a copy); counts as a change.</summary>
    public Span<T> Parameters
    {
        get
        {
            MarkChanged();
            return _data;
        }
    }

    /// <summary>How many times the parameters may have changed; sessions re-pack when it moved since their last pack.</summary>
    public long Version => Interlocked.Read(ref _version);

    internal ParameterLayout Layout { get; }

    /// <summary>The parameters, read-only, without counting a change (what sessions pack from).</summary>
    internal ReadOnlySpan<T> Data => _data;

    /// <summary>Tells every session that the parameters changed (after writing through a view kept from earlier).</summary>
    public void MarkChanged() => Interlocked.Increment(ref _version);

    /// <summary>
    /// A model initialised like PyTorch: every parameter drawn from U(-1/√H, 1/√H), reproducibly from <paramref name="seed"/>.
    /// </summary>
    public static RnnModel<T> CreateRandom(RnnSpec spec, int seed)
    {
        var model = new RnnModel<T>(spec);
        double bound = 1.0 / Math.Sqrt(spec.HiddenSize);
        var rng = new Random(seed);
        Span<T> p = model._data;
        for (int i = 0; i < p.Length; i++)
        {
            p[i] = T.CreateChecked((rng.NextDouble() * 2 - 1) * bound);
        }

        return model;
    }

    /// <summary>One tensor, row-major in its PyTorch shape (a view: writes change the model); counts as a change.</summary>
    /// <exception cref="KeyNotFoundException">The name is not one of <see cref="ParameterNames"/>.</exception>
    public Span<T> Parameter(string name)
    {
        var t = Layout[name];
        MarkChanged();
        return _data.AsSpan(t.Offset, t.Length);
    }

    /// <summary>The PyTorch shape of a tensor (a fresh array).</summary>
    public int[] ParameterShape(string name) => (int[])Layout[name].Shape.Clone();

    /// <summary>
    /// The int8 step of each row of a weight matrix the model was read from 8-bit integers with (an ONNX
    /// DynamicQuantizeLSTM), or null. An Int8 session packs such a row on that grid — the file's own integers, not a
    /// grid of its own — where the row's largest weight fits it (|w| ≤ 127.5 steps); a row whose step is 0 is packed as any.
    /// </summary>
    internal float[]? QuantizationGrid(string name) => _grids?.GetValueOrDefault(name);

    /// <summary>Sets <see cref="QuantizationGrid"/> of a weight matrix: one step per row.</summary>
    internal void SetQuantizationGrid(string name, float[] steps)
    {
        int rows = Layout[name].Shape[0];
        if (steps.Length != rows)
        {
            throw new ArgumentException($"steps: expected {rows} (the rows of {name}), got {steps.Length}.", nameof(steps));
        }

        (_grids ??= new Dictionary<string, float[]>(StringComparer.Ordinal))[name] = steps;
    }

    private Dictionary<string, float[]>? _grids;
}
