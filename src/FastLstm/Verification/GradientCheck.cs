using System.Globalization;
using System.Text;

namespace FastLstm.Verification;

/// <summary>How far one tensor's analytic gradient is from central finite differences.</summary>
/// <param name="Name">Parameter name, or "input", "h0", "c0".</param>
/// <param name="MaxRelativeError">max |analytic − numeric| over the tensor, divided by the largest |gradient| in it, or by
/// <see cref="GradientCheck.ScaleFloor"/> × the largest |gradient| of all tensors when that is larger.</param>
/// <param name="WorstIndex">Flat index of the element with the largest |analytic − numeric|.</param>
/// <param name="Analytic">The analytic gradient at <paramref name="WorstIndex"/>.</param>
/// <param name="Numeric">The finite-difference gradient at <paramref name="WorstIndex"/>.</param>
public sealed record TensorGradientError(string Name, double MaxRelativeError, int WorstIndex, double Analytic, double Numeric);

/// <summary>The result of <see cref="GradientCheck.Run(RnnSpec, int, int, int, double)"/>: one row per tensor.</summary>
public sealed class GradientCheckReport
{
    internal GradientCheckReport(IReadOnlyList<TensorGradientError> tensors, int redraws)
    {
        Tensors = tensors;
        Redraws = redraws;
    }

    /// <summary>
    /// How many times the data were drawn again because a ReLU pre-activation lay within
    /// <see cref="GradientCheck.KinkMargin"/> of 0, where finite differences are not valid (0 for smooth cells).
    /// </summary>
    public int Redraws { get; }

    /// <summary>Every parameter tensor, then the input and the initial states.</summary>
    public IReadOnlyList<TensorGradientError> Tensors { get; }

    /// <summary>The worst <see cref="TensorGradientError.MaxRelativeError"/> over all tensors.</summary>
    public double MaxRelativeError => Tensors.Max(t => t.MaxRelativeError);

    /// <summary>Whether every tensor's error is below <paramref name="tolerance"/>.</summary>
    public bool Passed(double tolerance = 1e-6) => Tensors.All(t => t.MaxRelativeError < tolerance);

    /// <inheritdoc/>
    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"{"tensor",-24} {"max rel error",14} {"worst",7} {"analytic",14} {"numeric",14}");
        foreach (var t in Tensors)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"{t.Name,-24} {t.MaxRelativeError,14:E3} {t.WorstIndex,7} {t.Analytic,14:E6} {t.Numeric,14:E6}");
        }

        if (Redraws > 0)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"(data drawn {Redraws + 1} times to keep every ReLU pre-activation at least {GradientCheck.KinkMargin} from its kink)");
        }

        return sb.ToString();
    }
}

/// <summary>Finite-difference verification of the fused engine's gradients.</summary>
public static class GradientCheck
{
    /// <summary>Closest a ReLU pre-activation may come to 0 in a checked draw: far beyond what an ε perturbation moves it.</summary>
    public const double KinkMargin = 1e-4;

    /// <summary>
    /// No tensor is judged against less than this fraction of the largest gradient over all tensors. Central differences
    /// carry about 1e-16 · |loss| / ε ≈ 1e-9 of absolute noise, so a tensor whose gradients are all tiny (a short, small
    /// input) would otherwise be judged on noise; an error in such a tensor still shows at its own scale, far above 1e-6.
    /// </summary>
    public const double ScaleFloor = 1e-2;

    /// <summary>Largest batch a check takes.</summary>
    public const int MaxBatch = 256;

    /// <summary>Longest sequence a check takes.</summary>
    public const int MaxSteps = 10_000;

    /// <summary>Most parameters a check perturbs.</summary>
    public const long MaxParameters = 1_000_000;

    private const int MaxDraws = 32;

    /// <summary>
    /// Checks <see cref="TrainingSession{T}"/>'s analytic gradients (double) against central differences over every
    /// parameter element, the input and the initial states, for a model drawn from <paramref name="seed"/>.
    /// Loss = Σ output ⊙ P + Σ hN ⊙ Q (+ Σ cN ⊙ R), with random probes P, Q, R drawn from the same seed, so the
    /// final-state gradients are exercised too. For ReLU cells the input and states are drawn again (deterministically)
    /// while some pre-activation lies within <see cref="KinkMargin"/> of the kink, where the derivative does not exist.
    /// </summary>
    public static GradientCheckReport Run(RnnSpec spec, int batch, int steps, int seed, double epsilon = 1e-6)
        => Run(spec, batch, steps, seed, epsilon, default);

    /// <summary>As <see cref="Run(RnnSpec, int, int, int, double)"/>, over a ragged batch with the given lengths.</summary>
    public static GradientCheckReport Run(RnnSpec spec, int batch, int steps, int seed, double epsilon, ReadOnlySpan<int> lengths)
    {
        ArgumentNullException.ThrowIfNull(spec);
        spec.Validate();
        if (batch is < 1 or > MaxBatch)
        {
            throw new ArgumentOutOfRangeException(nameof(batch), batch, $"batch: expected 1..{MaxBatch}, got {batch}.");
        }

        if (steps is < 1 or > MaxSteps)
        {
            throw new ArgumentOutOfRangeException(nameof(steps), steps, $"steps: expected 1..{MaxSteps}, got {steps}.");
        }

        if (spec.ParameterCount > MaxParameters)
        {
            throw new ArgumentOutOfRangeException(nameof(spec), spec.ParameterCount, $"spec: {spec.ParameterCount} parameters; finite differences over more than {MaxParameters} take too long (two forward passes each).");
        }

        if (!(epsilon > 0 && epsilon < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, $"epsilon: expected a value in (0, 1), got {epsilon}.");
        }

        var model = RnnModel<double>.CreateRandom(spec, seed);
        int stateLength = spec.Layers * spec.Directions * batch * spec.HiddenSize;
        int[] lens = lengths.ToArray();
        double[] input, h0, c0;
        int redraws = 0;
        var naive = new Reference.NaiveRnn<double>(model);
        while (true)
        {
            var draw = new Random(unchecked((seed * 31) + 7 + (redraws * 7919)));
            input = Uniform(draw, batch * steps * spec.InputSize, 1.0);
            h0 = Uniform(draw, stateLength, 0.5);
            c0 = spec.HasCellState ? Uniform(draw, stateLength, 0.5) : [];
            naive.Forward(input, batch, steps, default, h0, c0, default, default, lens);
            if (naive.KinkDistance() >= KinkMargin || redraws == MaxDraws - 1)
            {
                break;
            }

            redraws++;
        }

        var rng = new Random(unchecked((seed * 17) + 3));
        var probe = Uniform(rng, batch * steps * spec.OutputSize, 1.0);
        var probeH = Uniform(rng, stateLength, 1.0);
        var probeC = spec.HasCellState ? Uniform(rng, stateLength, 1.0) : [];

        using var session = new TrainingSession<double>(model, batch, steps);
        var output = new double[probe.Length];
        var hN = new double[stateLength];
        var cN = new double[probeC.Length];

        var dInput = new double[input.Length];
        var dh0 = new double[h0.Length];
        var dc0 = new double[c0.Length];
        session.ZeroGradients();
        session.Forward(input, batch, steps, output, h0, c0, hN, cN, lens);
        session.Backward(probe, dInput, probeH, probeC, dh0, dc0);
        var analytic = session.Gradients.ToArray();

        var tensors = new List<(string Name, double[] Analytic, double[] Numeric)>();
        foreach (var t in model.Layout.Tensors)
        {
            tensors.Add((t.Name, analytic.AsSpan(t.Offset, t.Length).ToArray(), Numerics(t.Length, i => Numeric(model.Parameters, t.Offset + i, parameter: true))));
        }

        tensors.Add(("input", dInput, Numerics(input.Length, i => Numeric(input, i))));
        tensors.Add(("h0", dh0, Numerics(h0.Length, i => Numeric(h0, i))));
        if (spec.HasCellState)
        {
            tensors.Add(("c0", dc0, Numerics(c0.Length, i => Numeric(c0, i))));
        }

        double floor = ScaleFloor * tensors.Max(t => Math.Max(MaxAbs(t.Analytic), MaxAbs(t.Numeric)));
        var rows = tensors.Select(t => Compare(t.Name, t.Analytic, t.Numeric, floor)).ToList();
        return new GradientCheckReport(rows, redraws);

        double Loss()
        {
            session.Forward(input, batch, steps, output, h0, c0, hN, cN, lens);
            return Dot(output, probe) + Dot(hN, probeH) + Dot(cN, probeC);
        }

        // A parameter written through a view the session already packed needs the model told, or the session runs the old value.
        double Numeric(Span<double> values, int i, bool parameter = false)
        {
            double v = values[i], up = v + epsilon, down = v - epsilon;
            values[i] = up;
            double lossUp = Loss();
            values[i] = down;
            if (parameter)
            {
                model.MarkChanged();
            }

            double lossDown = Loss();
            values[i] = v;
            if (parameter)
            {
                model.MarkChanged();
            }

            return (lossUp - lossDown) / (up - down);
        }
    }

    private static double[] Numerics(int n, Func<int, double> numeric)
    {
        var v = new double[n];
        for (int i = 0; i < n; i++)
        {
            v[i] = numeric(i);
        }

        return v;
    }

    private static double MaxAbs(double[] v) => v.Length == 0 ? 0 : v.Max(Math.Abs);

    private static TensorGradientError Compare(string name, double[] analytic, double[] numeric, double floor)
    {
        double worst = -1, worstA = 0, worstN = 0;
        int worstIndex = 0;
        for (int i = 0; i < analytic.Length; i++)
        {
            double diff = Math.Abs(analytic[i] - numeric[i]);
            diff = double.IsNaN(diff) ? double.PositiveInfinity : diff;
            if (diff > worst)
            {
                (worst, worstIndex, worstA, worstN) = (diff, i, analytic[i], numeric[i]);
            }
        }

        double scale = Math.Max(Math.Max(MaxAbs(analytic), MaxAbs(numeric)), floor);
        double rel = worst <= 0 ? 0 : worst / Math.Max(scale, double.Epsilon);
        return new TensorGradientError(name, rel, worstIndex, worstA, worstN);
    }

    private static double Dot(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++)
        {
            s += a[i] * b[i];
        }

        return s;
    }

    private static double[] Uniform(Random rng, int n, double scale)
    {
        var v = new double[n];
        for (int i = 0; i < n; i++)
        {
            v[i] = ((rng.NextDouble() * 2) - 1) * scale;
        }

        return v;
    }
}
