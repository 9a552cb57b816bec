namespace FastLstm;

/// <summary>The activation functions the ONNX recurrent operators define (names as in the operator spec).</summary>
public enum RnnActivationKind
{
    /// <summary>1 / (1 + e^-x).</summary>
    Sigmoid,

    /// <summary>tanh(x).</summary>
    Tanh,

    /// <summary>max(x, 0).</summary>
    Relu,

    /// <summary>α·x + β.</summary>
    Affine,

    /// <summary>x for x ≥ 0, α·x below (ONNX default α = 0.01).</summary>
    LeakyRelu,

    /// <summary>x for x &gt; α, else 0 (ONNX default α = 1).</summary>
    ThresholdedRelu,

    /// <summary>α·tanh(β·x).</summary>
    ScaledTanh,

    /// <summary>max(0, min(1, α·x + β)) (ONNX defaults α = 0.2, β = 0.5).</summary>
    HardSigmoid,

    /// <summary>x for x ≥ 0, α·(e^x − 1) below (ONNX default α = 1).</summary>
    Elu,

    /// <summary>x / (1 + |x|).</summary>
    Softsign,

    /// <summary>log(1 + e^x).</summary>
    Softplus,
}

/// <summary>An activation with its parameters (ignored by the kinds that take none).</summary>
/// <param name="Kind">Which function.</param>
/// <param name="Alpha">α, for the kinds that take it.</param>
/// <param name="Beta">β, for the kinds that take it.</param>
public readonly record struct RnnActivation(RnnActivationKind Kind, double Alpha = 0, double Beta = 0)
{
    /// <summary>σ, the standard gate activation.</summary>
    public static RnnActivation Sigmoid => new(RnnActivationKind.Sigmoid);

    /// <summary>tanh, the standard cell and output activation.</summary>
    public static RnnActivation Tanh => new(RnnActivationKind.Tanh);

    /// <summary>Whether the kind reads <see cref="Alpha"/>.</summary>
    public bool TakesAlpha => Kind is RnnActivationKind.Affine or RnnActivationKind.LeakyRelu or RnnActivationKind.ThresholdedRelu
        or RnnActivationKind.ScaledTanh or RnnActivationKind.HardSigmoid or RnnActivationKind.Elu;

    /// <summary>Whether the kind reads <see cref="Beta"/>.</summary>
    public bool TakesBeta => Kind is RnnActivationKind.Affine or RnnActivationKind.ScaledTanh or RnnActivationKind.HardSigmoid;

    /// <summary>The kind with the ONNX operators' default α and β (0 where the spec gives none).</summary>
    public static RnnActivation WithDefaults(RnnActivationKind kind) => kind switch
    {
        RnnActivationKind.LeakyRelu => new(kind, 0.01),
        RnnActivationKind.ThresholdedRelu => new(kind, 1),
        RnnActivationKind.HardSigmoid => new(kind, 0.2, 0.5),
        RnnActivationKind.Elu => new(kind, 1),
        _ => new(kind),
    };

    /// <summary>As the kind and, where taken, its parameters (e.g. "LeakyRelu(α=0.1)").</summary>
    public override string ToString() =>
        Kind + (TakesAlpha ? TakesBeta ? $"(α={Alpha:R}, β={Beta:R})" : $"(α={Alpha:R})" : "");
}

/// <summary>
/// The ONNX LSTM operator's options beyond PyTorch's LSTM. The defaults are PyTorch's cell; other values compile the
/// same LSTM kernels with those options (README's Performance section says what each costs).
/// </summary>
public sealed record LstmOptions
{
    /// <summary>Peephole connections (ONNX input P): <c>p_i ⊙ c_{t-1}</c>, <c>p_f ⊙ c_{t-1}</c>, <c>p_o ⊙ c_t</c> added to the
    /// gates' pre-activations; adds the parameters <c>weight_peephole_i/f/o_lK[_reverse]</c> [H].</summary>
    public bool Peepholes { get; init; }

    /// <summary>ONNX <c>clip</c>: every gate pre-activation is clipped to [−CellClip, CellClip] before its activation (null: no clip).</summary>
    public double? CellClip { get; init; }

    /// <summary>ONNX <c>input_forget</c>: the forget gate is 1 − the input gate (its own weights then receive no gradient).</summary>
    public bool CoupledInputForget { get; init; }

    /// <summary>ONNX f: the activation of the input, forget and output gates.</summary>
    public RnnActivation GateActivation { get; init; } = RnnActivation.Sigmoid;

    /// <summary>ONNX g: the activation of the cell candidate.</summary>
    public RnnActivation CellActivation { get; init; } = RnnActivation.Tanh;

    /// <summary>ONNX h: the activation applied to the cell state for the output.</summary>
    public RnnActivation OutputActivation { get; init; } = RnnActivation.Tanh;

    /// <summary>Whether these are PyTorch's LSTM (every option at its default).</summary>
    public bool IsStandard => !Peepholes && CellClip is null && !CoupledInputForget && GateActivation == RnnActivation.Sigmoid
        && CellActivation == RnnActivation.Tanh && OutputActivation == RnnActivation.Tanh;

    /// <summary>Throws when a value is outside what the kernels define.</summary>
    public void Validate()
    {
        OptionChecks.Clip(CellClip, "LstmOptions");
        OptionChecks.Activation(GateActivation, "LstmOptions.GateActivation");
        OptionChecks.Activation(CellActivation, "LstmOptions.CellActivation");
        OptionChecks.Activation(OutputActivation, "LstmOptions.OutputActivation");
    }
}

/// <summary>
/// The ONNX GRU operator's options, for <see cref="CellType.Gru"/> (linear_before_reset = 1) and
/// <see cref="CellType.GruResetBefore"/> (linear_before_reset = 0). The defaults are the plain cell; other values compile
/// the same GRU kernels with those options.
/// </summary>
public sealed record GruOptions
{
    /// <summary>ONNX <c>clip</c>: every activation's input is clipped to [−CellClip, CellClip] (null: no clip).</summary>
    public double? CellClip { get; init; }

    /// <summary>ONNX f: the activation of the reset and update gates.</summary>
    public RnnActivation GateActivation { get; init; } = RnnActivation.Sigmoid;

    /// <summary>ONNX g: the activation of the candidate state.</summary>
    public RnnActivation CandidateActivation { get; init; } = RnnActivation.Tanh;

    /// <summary>Whether these are PyTorch's GRU (every option at its default).</summary>
    public bool IsStandard => CellClip is null && GateActivation == RnnActivation.Sigmoid && CandidateActivation == RnnActivation.Tanh;

    /// <summary>Throws when a value is outside what the kernels define.</summary>
    public void Validate()
    {
        OptionChecks.Clip(CellClip, "GruOptions");
        OptionChecks.Activation(GateActivation, "GruOptions.GateActivation");
        OptionChecks.Activation(CandidateActivation, "GruOptions.CandidateActivation");
    }
}

/// <summary>
/// The ONNX RNN operator's options for <see cref="CellType.RnnTanh"/> and <see cref="CellType.RnnRelu"/>: a cell clip
/// and any activation in place of the cell type's tanh or ReLU. The defaults are the plain cell.
/// </summary>
public sealed record SimpleRnnOptions
{
    /// <summary>ONNX <c>clip</c>: the activation's input is clipped to [−CellClip, CellClip] (null: no clip).</summary>
    public double? CellClip { get; init; }

    /// <summary>ONNX f, replacing the cell type's tanh or ReLU; null keeps it.</summary>
    public RnnActivation? Activation { get; init; }

    /// <summary>Whether these change nothing.</summary>
    public bool IsStandard => CellClip is null && Activation is null;

    /// <summary>Throws when a value is outside what the kernels define.</summary>
    public void Validate()
    {
        OptionChecks.Clip(CellClip, "SimpleRnnOptions");
        if (Activation is { } a)
        {
            OptionChecks.Activation(a, "SimpleRnnOptions.Activation");
        }
    }
}

/// <summary>The checks the option records share.</summary>
internal static class OptionChecks
{
    public static void Clip(double? clip, string owner)
    {
        if (clip is { } c && !(c > 0 && double.IsFinite(c)))
        {
            throw new ArgumentOutOfRangeException("CellClip", c, $"spec.{owner}.CellClip: expected a finite value > 0 or null, got {c}.");
        }
    }

    public static void Activation(RnnActivation a, string name)
    {
        if (!Enum.IsDefined(a.Kind) || !double.IsFinite(a.Alpha) || !double.IsFinite(a.Beta))
        {
            throw new ArgumentOutOfRangeException(name, a, $"spec.{name}: expected a defined kind with finite α and β, got {a.Kind} (α={a.Alpha}, β={a.Beta}).");
        }
    }
}
