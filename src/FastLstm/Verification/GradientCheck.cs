using System.Globalization;
using System.Text;

namespace FastLstm.Verification;

/// <summary>How far one tensor's analytic gradient is from central finite differences.</summary>
/// <param name="Name">Parameter name, or "input", "h0", "c0".</param>
/// <param name="MaxRelativeError">max |analytic − numeric| over the tensor, divided by the largest |gradient| in it.</param>
/// <param name="WorstIndex">Flat index of the element with the largest |analytic − numeric|.</param>
/// <param name="Analytic">The analytic gradient at <paramref name="WorstIndex"/>.</param>
/// <param name="Numeric">The finite-difference gradient at <paramref name="WorstIndex"/>.</param>
public sealed record TensorGradientError(string Name, double MaxRelativeError, int WorstIndex, double Analytic, double Numeric);

/// <summary>The result of <see cref="GradientCheck.Run(RnnSpec, int, int, int, double)"/>: one row per tensor.</summary>
public sealed class GradientCheckReport
{
    internal GradientCheckReport(IReadOnlyList<TensorGradientError> tensors) => Tensors = tensors;

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

        return sb.ToString();
    }
}

/// <summary>Finite-difference verification of the fused engine's gradients.</summary>
public static class GradientCheck
{
    /// <summary>
    /// Checks <see cref="TrainingSession{T}"/>'s analytic gradients (double) against central differences over every
    /// parameter element, the input and the initial states, for a model drawn from <paramref name="seed"/>.
    /// Loss = Σ output ⊙ P + Σ hN ⊙ Q (+ Σ cN ⊙ R), with random probes P, Q, R drawn from the same seed, so the
    /// final-state gradients are exercised too.
    /// </summary>
    public static GradientCheckReport Run(RnnSpec spec, int batch, int steps, int seed, double epsilon = 1e-6)
        => Run(spec, batch, steps, seed, epsilon, default);

    /// <summary>As <see cref="Run(RnnSpec, int, int, int, double)"/>, over a ragged batch with the given lengths.</summary>
    public static GradientCheckReport Run(RnnSpec spec, int batch, int steps, int seed, double epsilon, ReadOnlySpan<int> lengths)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (!(epsilon > 0 && epsilon < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, $"epsilon: expected a value in (0, 1), got {epsilon}.");
        }

        var model = RnnModel<double>.CreateRandom(spec, seed);
        var rng = new Random(unchecked(seed * 31 + 7));
        int stateLength = spec.Layers * spec.Directions * batch * spec.HiddenSize;
        var input = Uniform(rng, batch * steps * spec.InputSize, 1.0);
        var h0 = Uniform(rng, stateLength, 0.5);
        var c0 = spec.HasCellState ? Uniform(rng, stateLength, 0.5) : [];
        var probe = Uniform(rng, batch * steps * spec.OutputSize, 1.0);
        var probeH = Uniform(rng, stateLength, 1.0);
        var probeC = spec.HasCellState ? Uniform(rng, stateLength, 1.0) : [];
        int[] lens = lengths.ToArray();

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

        var rows = new List<TensorGradientError>();
        foreach (var t in model.Layout.Tensors)
        {
            rows.Add(Compare(t.Name, analytic.AsSpan(t.Offset, t.Length), i => Numeric(model.Parameters, t.Offset + i)));
        }

        rows.Add(Compare("input", dInput, i => Numeric(input, i)));
        rows.Add(Compare("h0", dh0, i => Numeric(h0, i)));
        if (spec.HasCellState)
        {
            rows.Add(Compare("c0", dc0, i => Numeric(c0, i)));
        }

        return new GradientCheckReport(rows);

        double Loss()
        {
            session.Forward(input, batch, steps, output, h0, c0, hN, cN, lens);
            return Dot(output, probe) + Dot(hN, probeH) + Dot(cN, probeC);
        }

        double Numeric(Span<double> values, int i)
        {
            double v = values[i], up = v + epsilon, down = v - epsilon;
            values[i] = up;
            double lossUp = Loss();
            values[i] = down;
            double lossDown = Loss();
            values[i] = v;
            return (lossUp - lossDown) / (up - down);
        }
    }

    private static TensorGradientError Compare(string name, ReadOnlySpan<double> analytic, Func<int, double> numeric)
    {
        double scale = 0, worst = -1, worstA = 0, worstN = 0;
        int worstIndex = 0;
        for (int i = 0; i < analytic.Length; i++)
        {
            double n = numeric(i), a = analytic[i], diff = Math.Abs(a - n);
            scale = Math.Max(scale, Math.Max(Math.Abs(a), Math.Abs(n)));
            if (diff > worst || double.IsNaN(diff))
            {
                (worst, worstIndex, worstA, worstN) = (double.IsNaN(diff) ? double.PositiveInfinity : diff, i, a, n);
            }
        }

        double rel = worst <= 0 ? 0 : worst / Math.Max(scale, double.Epsilon);
        return new TensorGradientError(name, analytic.IsEmpty ? 0 : rel, worstIndex, worstA, worstN);
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
