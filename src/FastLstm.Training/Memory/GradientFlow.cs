using System.Numerics;

namespace FastLstm.Training.Memory;

/// <summary>
/// How far back a network's gradients reach: for a loss on the last output only, the norm of ∂loss/∂x_t at every lag
/// T − 1 − t, from the engine's own backpropagation (<see cref="TrainingSession{T}.Backward"/>'s ∂input), and the largest
/// singular value of the one-step state Jacobian ∂(h_t, c_t)/∂(h_{t−1}, c_{t−1}) along the same sequences — below 1 the
/// gradient shrinks geometrically with the lag (vanishes), above 1 it can grow (explode).
/// </summary>
public static class GradientFlow
{
    /// <summary>
    /// Measures <paramref name="model"/> on <paramref name="sequences"/> random sequences of <paramref name="steps"/> steps
    /// (inputs of unit variance, zero initial state); the loss is <c>probe · y_{T−1}</c> with a random unit probe per
    /// sequence, so ‖∂loss/∂h_{T−1}‖ = 1. Runs in double precision whatever <typeparamref name="T"/> is. Deterministic for a seed.
    /// </summary>
    public static GradientFlowReport Measure<T>(RnnModel<T> model, int steps, int sequences = 16, int seed = 1)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(steps, 100_000);
        ArgumentOutOfRangeException.ThrowIfLessThan(sequences, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(sequences, 1024);
        var wide = Widen(model);
        var spec = wide.Spec;
        int inSize = spec.InputSize, width = spec.OutputSize;
        var rng = new Random(seed);
        var x = new double[sequences * steps * inSize];
        Fill(rng, x);
        var dOutput = new double[sequences * steps * width];
        for (int b = 0; b < sequences; b++)
        {
            var probe = dOutput.AsSpan(((b * steps) + steps - 1) * width, width);
            Fill(rng, probe);
            double norm = Math.Sqrt(System.Numerics.Tensors.TensorPrimitives.SumOfSquares<double>(probe));
            System.Numerics.Tensors.TensorPrimitives.Divide(probe, norm, probe);
        }

        var dx = new double[x.Length];
        using (var session = new TrainingSession<double>(wide, sequences, steps))
        {
            session.Forward(x, sequences, steps, new double[dOutput.Length]);
            session.Backward(dOutput, dx);
        }

        var byLag = new double[steps];
        for (int lag = 0; lag < steps; lag++)
        {
            int t = steps - 1 - lag;
            double sum = 0;
            for (int b = 0; b < sequences; b++)
            {
                sum += System.Numerics.Tensors.TensorPrimitives.SumOfSquares<double>(dx.AsSpan(((b * steps) + t) * inSize, inSize));
            }

            byLag[lag] = Math.Sqrt(sum / sequences);
        }

        double? jacobian = spec.Bidirectional ? null : JacobianNorm(wide, x.AsSpan(0, steps * inSize), steps);
        return new GradientFlowReport(spec.Cell, byLag, jacobian, DecayRate(byLag));
    }

    /// <summary>
    /// The geometric mean, over the steps of one sequence (at most 25 of them, evenly spaced), of the largest singular
    /// value of the one-step Jacobian of the whole state (every layer's h, and c where the cell has it) — by power
    /// iteration on JᵀJ, J·v by central differences of <see cref="InferenceSession{T}.Step(ReadOnlySpan{T}, int, Span{T}, Span{T}, Span{T})"/> and Jᵀ·u exactly, by a
    /// one-step <see cref="TrainingSession{T}.Backward"/>.
    /// </summary>
    private static double JacobianNorm(RnnModel<double> model, ReadOnlySpan<double> x, int steps)
    {
        var spec = model.Spec;
        int inSize = spec.InputSize, n = spec.Layers * spec.HiddenSize;
        bool hasC = spec.HasCellState;
        int dim = hasC ? 2 * n : n;
        using var stepper = new InferenceSession<double>(model, 1, 1);
        using var back = new TrainingSession<double>(model, 1, 1);
        var h = new double[n];
        var c = new double[hasC ? n : 0];
        var v = new double[dim];
        var w = new double[dim];
        var hp = new double[n];
        var cp = new double[c.Length];
        var hm = new double[n];
        var cm = new double[c.Length];
        var rng = new Random(7);
        int stride = Math.Max(1, steps / 25);
        double logSum = 0;
        int count = 0;
        for (int t = 0; t < steps; t++)
        {
            var xt = x.Slice(t * inSize, inSize);
            if (t % stride == 0)
            {
                Fill(rng, v);
                Normalize(v);
                double sigma = 0;
                for (int iteration = 0; iteration < 20; iteration++)
                {
                    // w = J·v by central differences, then v = Jᵀ·w exactly; ‖Jᵀ J v‖ → σ² for the top singular vector.
                    const double eps = 1e-6;
                    Perturb(h, c, v, eps, hp, cp);
                    Perturb(h, c, v, -eps, hm, cm);
                    stepper.Step(xt, 1, default, hp, cp);
                    stepper.Step(xt, 1, default, hm, cm);
                    for (int i = 0; i < n; i++)
                    {
                        w[i] = (hp[i] - hm[i]) / (2 * eps);
                    }

                    for (int i = 0; i < cp.Length; i++)
                    {
                        w[n + i] = (cp[i] - cm[i]) / (2 * eps);
                    }

                    back.Forward(xt, 1, 1, default, h, c);
                    back.Backward(new double[spec.HiddenSize], default, w.AsSpan(0, n), hasC ? w.AsSpan(n) : default, v.AsSpan(0, n), hasC ? v.AsSpan(n) : default);
                    sigma = Math.Sqrt(Normalize(v));
                }

                logSum += Math.Log(Math.Max(sigma, double.Epsilon));
                count++;
            }

            stepper.Step(xt, 1, default, h, c);
        }

        return Math.Exp(logSum / count);
    }

    /// <summary>exp of the least-squares slope of log ‖∂loss/∂x‖ against the lag: the factor the gradient changes by per step.</summary>
    private static double DecayRate(double[] byLag)
    {
        double sx = 0, sy = 0, sxx = 0, sxy = 0;
        int m = 0;
        for (int lag = 0; lag < byLag.Length; lag++)
        {
            if (byLag[lag] > 0 && double.IsFinite(byLag[lag]))
            {
                double y = Math.Log(byLag[lag]);
                sx += lag;
                sy += y;
                sxx += (double)lag * lag;
                sxy += lag * y;
                m++;
            }
        }

        double denominator = (m * sxx) - (sx * sx);
        return m < 2 || denominator == 0 ? double.NaN : Math.Exp(((m * sxy) - (sx * sy)) / denominator);
    }

    private static void Perturb(double[] h, double[] c, double[] v, double eps, double[] hOut, double[] cOut)
    {
        for (int i = 0; i < h.Length; i++)
        {
            hOut[i] = h[i] + (eps * v[i]);
        }

        for (int i = 0; i < c.Length; i++)
        {
            cOut[i] = c[i] + (eps * v[h.Length + i]);
        }
    }

    /// <summary>Scales v to unit length; returns the length it had.</summary>
    private static double Normalize(Span<double> v)
    {
        double norm = Math.Sqrt(System.Numerics.Tensors.TensorPrimitives.SumOfSquares<double>(v));
        if (norm > 0)
        {
            System.Numerics.Tensors.TensorPrimitives.Divide(v, norm, v);
        }

        return norm;
    }

    /// <summary>Uniform on ±√3: zero mean, unit variance.</summary>
    private static void Fill(Random rng, Span<double> values)
    {
        foreach (ref var v in values)
        {
            v = ((rng.NextDouble() * 2) - 1) * Math.Sqrt(3);
        }
    }

    private static RnnModel<double> Widen<T>(RnnModel<T> model)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        var wide = new RnnModel<double>(model.Spec);
        var source = model.Parameters;
        var target = wide.Parameters;
        for (int i = 0; i < source.Length; i++)
        {
            target[i] = double.CreateTruncating(source[i]);
        }

        return wide;
    }
}

/// <summary>What <see cref="GradientFlow.Measure"/> found.</summary>
/// <param name="Cell">The model's cell.</param>
/// <param name="NormByLag">RMS over the sequences of ‖∂loss/∂x_t‖, index = lag T − 1 − t.</param>
/// <param name="JacobianNorm">Geometric mean over the sequence of the one-step state Jacobian's largest singular value
/// (null for bidirectional models, which have no one-step state map).</param>
/// <param name="DecayRate">The per-step factor of a log-linear fit of <paramref name="NormByLag"/>: below 1, vanishing.</param>
public sealed record GradientFlowReport(CellType Cell, IReadOnlyList<double> NormByLag, double? JacobianNorm, double DecayRate)
{
    /// <summary>The norm at <paramref name="lag"/> relative to lag 0 (the last step).</summary>
    public double Relative(int lag) => NormByLag[lag] / NormByLag[0];
}
