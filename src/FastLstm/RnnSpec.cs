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

    /// <summary>Whether the LSTM options differ from PyTorch's LSTM.</summary>
    public bool HasLstmOptions => LstmOptions is { IsStandard: false };

    /// <summary>Whether any cell options differ from the standard cell's.</summary>
    public bool HasCellOptions => HasLstmOptions || GruOptions is { IsStandard: false } || SimpleRnnOptions is { IsStandard: false };

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

        if (LstmOptions is { } options)
        {
            if (Cell != CellType.Lstm && !options.IsStandard)
            {
                throw new ArgumentException($"spec.LstmOptions: only an Lstm cell takes LSTM options; this spec's cell is {Cell}.", nameof(LstmOptions));
            }

            options.Validate();
        }

        if (GruOptions is { } gru)
        {
            if (Cell is not (CellType.Gru or CellType.GruResetBefore) && !gru.IsStandard)
            {
                throw new ArgumentException($"spec.GruOptions: only a Gru or GruResetBefore cell takes GRU options; this spec's cell is {Cell}.", nameof(GruOptions));
            }

            gru.Validate();
        }

        if (SimpleRnnOptions is { } rnn)
        {
            if (Cell is not (CellType.RnnTanh or CellType.RnnRelu) && !rnn.IsStandard)
            {
                throw new ArgumentException($"spec.SimpleRnnOptions: only an RnnTanh or RnnRelu cell takes simple-RNN options; this spec's cell is {Cell}.", nameof(SimpleRnnOptions));
            }

            rnn.Validate();
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
