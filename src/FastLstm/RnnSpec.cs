namespace FastLstm;

/// <summary>The recurrent cell a layer is built from.</summary>
public enum CellType
{
    /// <summary>PyTorch <c>nn.LSTM</c>: gate rows i, f, g, o; <c>h' = o ⊙ tanh(c')</c>.</summary>
    Lstm,

    /// <summary>PyTorch <c>nn.GRU</c> (ONNX <c>linear_before_reset=1</c>): reset applied to <c>W_hn h + b_hn</c>.</summary>
    Gru,

    /// <summary>Cho et al. 2014 GRU (ONNX <c>linear_before_reset=0</c>): reset applied to <c>h</c> before the product.</summary>
    GruResetBefore,

    /// <summary>Elman RNN with tanh.</summary>
    RnnTanh,

    /// <summary>Elman RNN with ReLU.</summary>
    RnnRelu,

    /// <summary>The learn / forget / remember / use LSTM of the source notes (see <c>seed-equations.md</c>).</summary>
    SeedLstm,
}

/// <summary>Shape of a recurrent network: cell, sizes, depth and direction.</summary>
/// <param name="Cell">The cell every layer uses.</param>
/// <param name="InputSize">Features per timestep of the input.</param>
/// <param name="HiddenSize">Hidden units per layer and direction.</param>
/// <param name="Layers">Stacked layers; layer K &gt; 0 reads layer K-1's output.</param>
/// <param name="Bidirectional">Whether each layer also runs backwards in time.</param>
public sealed record RnnSpec(CellType Cell, int InputSize, int HiddenSize, int Layers = 1, bool Bidirectional = false)
{
    /// <summary>
    /// The ONNX LSTM options (peepholes, cell clip, coupled input and forget gates, other activations) for
    /// <see cref="CellType.Lstm"/>; null or <see cref="LstmOptions.IsStandard"/> is PyTorch's LSTM.
    /// </summary>
    public LstmOptions? LstmOptions { get; init; }

    /// <summary>The ONNX GRU options (clip, activations) for <see cref="CellType.Gru"/> and <see cref="CellType.GruResetBefore"/>; null or standard is the plain cell.</summary>
    public GruOptions? GruOptions { get; init; }

    /// <summary>The ONNX RNN options (clip, another activation) for <see cref="CellType.RnnTanh"/> / <see cref="CellType.RnnRelu"/>.</summary>
    public SimpleRnnOptions? SimpleRnnOptions { get; init; }

    /// <summary>
    /// The reverse direction's LSTM options where they differ from <see cref="LstmOptions"/> (ONNX activation lists
    /// name activations per direction); null: the same as the forward direction. Peepholes must match.
    /// </summary>
    public LstmOptions? ReverseLstmOptions { get; init; }

    /// <summary>The reverse direction's GRU options where they differ from <see cref="GruOptions"/>; null: the same.</summary>
    public GruOptions? ReverseGruOptions { get; init; }

    /// <summary>The reverse direction's RNN options where they differ from <see cref="SimpleRnnOptions"/>; null: the same.</summary>
    public SimpleRnnOptions? ReverseSimpleRnnOptions { get; init; }

    /// <summary>Whether the LSTM options of either direction differ from PyTorch's LSTM.</summary>
    public bool HasLstmOptions => LstmOptions is { IsStandard: false } || ReverseLstmOptions is { IsStandard: false };

    /// <summary>Whether any cell options of either direction differ from the standard cell's.</summary>
    public bool HasCellOptions => HasLstmOptions || GruOptions is { IsStandard: false } || SimpleRnnOptions is { IsStandard: false }
        || ReverseGruOptions is { IsStandard: false } || ReverseSimpleRnnOptions is { IsStandard: false };

    /// <summary>Whether the reverse direction's options are given and differ from the forward direction's.</summary>
    public bool HasReverseOptions =>
        (ReverseLstmOptions is { } l && l != (LstmOptions ?? new LstmOptions()))
        || (ReverseGruOptions is { } g && g != (GruOptions ?? new GruOptions()))
        || (ReverseSimpleRnnOptions is { } r && r != (SimpleRnnOptions ?? new SimpleRnnOptions()));

    /// <summary>The LSTM options direction <paramref name="direction"/> (0 forward, 1 reverse) runs with.</summary>
    public LstmOptions LstmOptionsOf(int direction) => (direction == 1 ? ReverseLstmOptions : null) ?? LstmOptions ?? new LstmOptions();

    /// <summary>The GRU options direction <paramref name="direction"/> runs with.</summary>
    public GruOptions GruOptionsOf(int direction) => (direction == 1 ? ReverseGruOptions : null) ?? GruOptions ?? new GruOptions();

    /// <summary>The RNN options direction <paramref name="direction"/> runs with.</summary>
    public SimpleRnnOptions SimpleRnnOptionsOf(int direction) => (direction == 1 ? ReverseSimpleRnnOptions : null) ?? SimpleRnnOptions ?? new SimpleRnnOptions();

    /// <summary>1, or 2 when bidirectional.</summary>
    public int Directions => Bidirectional ? 2 : 1;

    /// <summary>Width of one timestep of the output: directions × hidden size.</summary>
    public int OutputSize => Directions * HiddenSize;

    /// <summary>Whether the cell carries a cell state <c>c</c> besides <c>h</c> (LSTM and SeedLstm).</summary>
    public bool HasCellState => Cells.Cell.For(Cell).HasCellState;

    /// <summary>Rows per hidden unit in <c>weight_ih</c> / <c>weight_hh</c>: 4 (LSTM, SeedLstm), 3 (GRU), 1 (RNN).</summary>
    public int GateCount => Cells.Cell.For(Cell).Gates;

    /// <summary>Scalars in all the network's parameters (computed from the sizes, nothing allocated).</summary>
    public long ParameterCount => ParameterLayout.Count(this);

    /// <summary>Input width of layer <paramref name="layer"/>: InputSize for layer 0, else directions × hidden.</summary>
    public int LayerInputSize(int layer) => layer == 0 ? InputSize : OutputSize;

    /// <summary>Throws when a field is outside what the engine supports.</summary>
    public void Validate()
    {
        if (!Enum.IsDefined(Cell))
        {
            throw new ArgumentOutOfRangeException(nameof(Cell), Cell, $"spec.Cell: expected one of {string.Join(", ", Enum.GetNames<CellType>())}, got {(int)Cell}.");
        }

        foreach (var (options, name) in new[] { (LstmOptions, nameof(LstmOptions)), (ReverseLstmOptions, nameof(ReverseLstmOptions)) })
        {
            if (Cell != CellType.Lstm && options is { IsStandard: false })
            {
                throw new ArgumentException($"spec.{name}: only an Lstm cell takes LSTM options; this spec's cell is {Cell}.", name);
            }

            options?.Validate();
        }

        foreach (var (options, name) in new[] { (GruOptions, nameof(GruOptions)), (ReverseGruOptions, nameof(ReverseGruOptions)) })
        {
            if (Cell is not (CellType.Gru or CellType.GruResetBefore) && options is { IsStandard: false })
            {
                throw new ArgumentException($"spec.{name}: only a Gru or GruResetBefore cell takes GRU options; this spec's cell is {Cell}.", name);
            }

            options?.Validate();
        }

        foreach (var (options, name) in new[] { (SimpleRnnOptions, nameof(SimpleRnnOptions)), (ReverseSimpleRnnOptions, nameof(ReverseSimpleRnnOptions)) })
        {
            if (Cell is not (CellType.RnnTanh or CellType.RnnRelu) && options is { IsStandard: false })
            {
                throw new ArgumentException($"spec.{name}: only an RnnTanh or RnnRelu cell takes simple-RNN options; this spec's cell is {Cell}.", name);
            }

            options?.Validate();
        }

        if (!Bidirectional && (ReverseLstmOptions ?? (object?)ReverseGruOptions ?? ReverseSimpleRnnOptions) is not null)
        {
            throw new ArgumentException("spec: reverse-direction options were given, but the spec is not bidirectional.", nameof(Bidirectional));
        }

        if (LstmOptionsOf(1).Peepholes != LstmOptionsOf(0).Peepholes)
        {
            throw new ArgumentException($"spec.ReverseLstmOptions.Peepholes: expected {LstmOptionsOf(0).Peepholes} as in LstmOptions (both directions have the same tensors), got {LstmOptionsOf(1).Peepholes}.", nameof(ReverseLstmOptions));
        }

        Check(InputSize, nameof(InputSize), 1 << 20);
        Check(HiddenSize, nameof(HiddenSize), 1 << 16);
        Check(Layers, nameof(Layers), 1 << 10);

        static void Check(int value, string name, int max)
        {
            if (value < 1 || value > max)
            {
                throw new ArgumentOutOfRangeException(name, value, $"spec.{name}: expected 1..{max}, got {value}.");
            }
        }
    }
}
