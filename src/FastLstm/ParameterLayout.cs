namespace FastLstm;

/// <summary>
/// Where each named PyTorch tensor lives in one flat buffer: parameters and gradients share this layout,
/// in PyTorch order (layer, then direction, then weight_ih, weight_hh, bias_ih, bias_hh[, weight_use, bias_use]).
/// </summary>
internal sealed class ParameterLayout
{
    private readonly Dictionary<string, int> _index;

    public ParameterLayout(RnnSpec spec)
    {
        spec.Validate();
        Spec = spec;
        int g = spec.GateCount, h = spec.HiddenSize;
        var tensors = new List<Tensor>();
        long offset = 0;
        for (int layer = 0; layer < spec.Layers; layer++)
        {
            for (int dir = 0; dir < spec.Directions; dir++)
            {
                string suffix = $"_l{layer}{(dir == 1 ? "_reverse" : "")}";
                Add("weight_ih" + suffix, g * h, spec.LayerInputSize(layer));
                Add("weight_hh" + suffix, g * h, h);
                Add("bias_ih" + suffix, g * h);
                Add("bias_hh" + suffix, g * h);
                if (spec.Cell == CellType.SeedLstm)
                {
                    Add("weight_use" + suffix, h, h);
                    Add("bias_use" + suffix, h);
                }
            }
        }

        if (offset > Array.MaxLength)
        {
            throw new ArgumentOutOfRangeException(nameof(spec), $"spec: {offset} parameters exceed the largest array ({Array.MaxLength}).");
        }

        Tensors = tensors;
        Count = (int)offset;
        Names = tensors.Select(t => t.Name).ToArray();
        _index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < tensors.Count; i++)
        {
            _index.Add(tensors[i].Name, i);
        }

        void Add(string name, params int[] shape)
        {
            long size = 1;
            foreach (int d in shape)
            {
                size *= d;
            }

            tensors.Add(new Tensor(name, (int)Math.Min(offset, int.MaxValue), (int)Math.Min(size, int.MaxValue), shape));
            offset += size;
        }
    }

    public RnnSpec Spec { get; }

    public IReadOnlyList<Tensor> Tensors { get; }

    public IReadOnlyList<string> Names { get; }

    /// <summary>Total number of scalars.</summary>
    public int Count { get; }

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

    /// <summary>The tensor <paramref name="kind"/> (e.g. "weight_ih") of one layer and direction.</summary>
    public Tensor Get(string kind, int layer, int dir) => this[$"{kind}_l{layer}{(dir == 1 ? "_reverse" : "")}"];

    internal sealed record Tensor(string Name, int Offset, int Length, int[] Shape);
}
