using System.Numerics;

namespace FastLstm;

/// <summary>
/// The parameters of a recurrent network, stored as PyTorch names, shapes and gate order.
/// Sessions copy the weights into their own packed layout when they are created
/// (<see cref="InferenceSession{T}"/>) or at every forward pass (<see cref="TrainingSession{T}"/>);
/// after changing a parameter, call <see cref="InferenceSession{T}.ReloadWeights"/> on inference sessions
/// created before the change.
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
public sealed class RnnModel<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly T[] _data;

    /// <summary>A model with every parameter zero.</summary>
    public RnnModel(RnnSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        Numeric.EnsureSupported<T>();
        Layout = new ParameterLayout(spec);
        _data = GC.AllocateArray<T>(Layout.Count, pinned: true);
    }

    /// <summary>The network's shape.</summary>
    public RnnSpec Spec => Layout.Spec;

    /// <summary>Parameter names in PyTorch order.</summary>
    public IReadOnlyList<string> ParameterNames => Layout.Names;

    /// <summary>Every parameter, concatenated in <see cref="ParameterNames"/> order (a view, not a copy).</summary>
    public Span<T> Parameters => _data;

    internal ParameterLayout Layout { get; }

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

    /// <summary>One tensor, row-major in its PyTorch shape (a view: writes change the model).</summary>
    /// <exception cref="KeyNotFoundException">The name is not one of <see cref="ParameterNames"/>.</exception>
    public Span<T> Parameter(string name)
    {
        var t = Layout[name];
        return _data.AsSpan(t.Offset, t.Length);
    }

    /// <summary>The PyTorch shape of a tensor (a fresh array).</summary>
    public int[] ParameterShape(string name) => (int[])Layout[name].Shape.Clone();
}
