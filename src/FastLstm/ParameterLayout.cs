using FastLstm.Cells;

namespace FastLstm;

/// <summary>
/// Where each named PyTorch tensor lives in one flat buffer: parameters and gradients share this layout, in PyTorch
/// order (layer, then direction, then weight_ih, weight_hh, bias_ih, bias_hh, then the cell's extra tensors).
/// </summary>
internal sealed class ParameterLayout
{
    private readonly Dictionary<string, int> _index;
    private readonly LayerTensors[] _layers;

    public ParameterLayout(RnnSpec spec)
    {
        spec.Validate();
        Spec = spec;
        Cell = Cell.For(spec);
        long total = Count(spec);
        if (total > Array.MaxLength)
        {
            throw new ArgumentOutOfRangeException(nameof(spec), $"spec: {total} parameters exceed the largest array ({Array.MaxLength}).");
        }

        int g = Cell.Gates, h = spec.HiddenSize, offset = 0;
        var tensors = new List<Tensor>();
        _layers = new LayerTensors[spec.Layers * spec.Directions];
        for (int layer = 0; layer < spec.Layers; layer++)
        {
            for (int dir = 0; dir < spec.Directions; dir++)
            {
                string suffix = Suffix(layer, dir);
                var wih = Add("weight_ih" + suffix, g * h, spec.LayerInputSize(layer));
                var whh = Add("weight_hh" + suffix, g * h, h);
                var bih = Add("bias_ih" + suffix, g * h);
                var bhh = Add("bias_hh" + suffix, g * h);
                var extra = Cell.ExtraTensors.Select(e => e.Square ? Add(e.Kind + suffix, h, h) : Add(e.Kind + suffix, h)).ToArray();
                _layers[(layer * spec.Directions) + dir] = new LayerTensors(wih, whh, bih, bhh, extra);
            }
        }

        Tensors = tensors;
        Length = offset;
        Names = tensors.Select(t => t.Name).ToArray();
        _index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < tensors.Count; i++)
        {
            _index.Add(tensors[i].Name, i);
        }

        Tensor Add(string name, params int[] shape)
        {
            int size = shape.Aggregate(1, (a, d) => a * d);
            var t = new Tensor(name, offset, size, shape);
            tensors.Add(t);
            offset += size;
            return t;
        }
    }

    public RnnSpec Spec { get; }

    /// <summary>The cell every layer is built from.</summary>
    public Cell Cell { get; }

    public IReadOnlyList<Tensor> Tensors { get; }

    public IReadOnlyList<string> Names { get; }

    /// <summary>Total number of scalars.</summary>
    public int Length { get; }

    public Tensor this[string name]
    {
        get
        {
            ArgumentNullException.ThrowIfNull(name);
            if (!_index.TryGetValue(name, out int i))
            {
                throw new KeyNotFoundException($"name: unknown parameter '{name}'; valid names are {string.Join(", ", Names)}.");
            }

            return Tensors[i];
        }
    }

    /// <summary>The scalars a spec implies, computed without building anything (for checking untrusted sizes).</summary>
    public static long Count(RnnSpec spec)
    {
        var cell = Cell.For(spec);
        long g = cell.Gates, h = spec.HiddenSize, total = 0;
        long extra = cell.ExtraTensors.Sum(e => e.Square ? h * h : h);
        for (int l = 0; l < spec.Layers; l++)
        {
            total += ((g * h * spec.LayerInputSize(l)) + (g * h * h) + (2 * g * h) + extra) * spec.Directions;
        }

        return total;
    }

    /// <summary>The tensors of one layer and direction.</summary>
    public LayerTensors Of(int layer, int dir) => _layers[(layer * Spec.Directions) + dir];

    /// <summary>
    /// Whether sessions pack the tensor into GEMM panels (W_ih, W_hh and a two-phase cell's second weight): the matrices
    /// a compressed <see cref="WeightFormat"/> stores compressed, a scale per row for int8.
    /// </summary>
    public bool IsPacked(Tensor t) =>
        t.Shape.Length == 2 && _layers.Any(l => t == l.WeightIh || t == l.WeightHh || (Cell.Phase2 is { } p2 && t == l.Named(p2.Weight, Cell)));

    private static string Suffix(int layer, int dir) => $"_l{layer}{(dir == 1 ? "_reverse" : "")}";

    internal sealed record Tensor(string Name, int Offset, int Length, int[] Shape);
}

/// <summary>The tensors of one layer and direction: PyTorch's four, then the cell's extras in <see cref="Cell.ExtraTensors"/> order.</summary>
internal sealed record LayerTensors(ParameterLayout.Tensor WeightIh, ParameterLayout.Tensor WeightHh, ParameterLayout.Tensor BiasIh,
    ParameterLayout.Tensor BiasHh, ParameterLayout.Tensor[] Extra)
{
    /// <summary>A tensor by its kind (<c>weight_hh</c>, <c>weight_use</c>…), as <see cref="Cell.Phase2"/> names them.</summary>
    public ParameterLayout.Tensor Named(string kind, Cell cell)
    {
        switch (kind)
        {
            case "weight_ih": return WeightIh;
            case "weight_hh": return WeightHh;
            case "bias_ih": return BiasIh;
            case "bias_hh": return BiasHh;
        }

        for (int i = 0; i < cell.ExtraTensors.Count; i++)
        {
            if (cell.ExtraTensors[i].Kind == kind)
            {
                return Extra[i];
            }
        }

        throw new KeyNotFoundException($"kind: {kind} is not a tensor of this cell.");
    }
}
