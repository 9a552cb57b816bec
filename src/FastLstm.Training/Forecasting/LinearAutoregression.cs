namespace FastLstm.Training.Forecasting;

/// <summary>
/// The linear baseline on the same windows the network sees: z_t ≈ a + Σ_k w_k z_{t−k}, by least squares (normal
/// equations with a tiny ridge for conditioning, solved by Cholesky).
/// </summary>
public sealed class LinearAutoregression
{
    private readonly double[] _weights;

    private LinearAutoregression(double[] weights) => _weights = weights;

    /// <summary>Window length.</summary>
    public int Order => _weights.Length - 1;

    /// <summary>Intercept, then one coefficient per window position (a copy).</summary>
    public double[] Weights => (double[])_weights.Clone();

    /// <summary>An autoregression with the given <see cref="Weights"/>.</summary>
    public static LinearAutoregression FromWeights(double[] weights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        if (weights.Length < 1 || weights.Any(w => !double.IsFinite(w)))
        {
            throw new ArgumentException($"weights: expected an intercept and the order's coefficients, all finite; got {weights.Length} values.", nameof(weights));
        }

        return new((double[])weights.Clone());
    }

    /// <summary>Fits on <paramref name="count"/> windows x [count, order] → y [count].</summary>
    public static LinearAutoregression Fit(ReadOnlySpan<double> x, ReadOnlySpan<double> y, int count, int order)
    {
        int n = order + 1;
        var a = new double[n * n];
        var b = new double[n];
        var row = new double[n];
        for (int i = 0; i < count; i++)
        {
            row[0] = 1;
            x.Slice(i * order, order).CopyTo(row.AsSpan(1));
            for (int p = 0; p < n; p++)
            {
                b[p] += row[p] * y[i];
                for (int q = 0; q < n; q++)
                {
                    a[(p * n) + q] += row[p] * row[q];
                }
            }
        }

        double ridge = 1e-8 * Math.Max(1, count);
        for (int p = 1; p < n; p++)
        {
            a[(p * n) + p] += ridge;
        }

        return new LinearAutoregression(Solve(a, b, n));
    }

    /// <summary>The prediction for one window of <see cref="Order"/> values.</summary>
    public double Predict(ReadOnlySpan<double> window)
    {
        if (window.Length != Order)
        {
            throw new ArgumentException($"window: expected {Order} values (the order), got {window.Length}.", nameof(window));
        }

        double s = _weights[0];
        for (int k = 0; k < Order; k++)
        {
            s += _weights[k + 1] * window[k];
        }

        return s;
    }

    // A = L·Lᵀ, then two triangular solves. A is symmetric positive definite by construction (ridge).
    private static double[] Solve(double[] a, double[] b, int n)
    {
        var l = new double[n * n];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j <= i; j++)
            {
                double s = a[(i * n) + j];
                for (int k = 0; k < j; k++)
                {
                    s -= l[(i * n) + k] * l[(j * n) + k];
                }

                l[(i * n) + j] = i == j ? Math.Sqrt(Math.Max(s, 1e-300)) : s / l[(j * n) + j];
            }
        }

        var z = new double[n];
        for (int i = 0; i < n; i++)
        {
            double s = b[i];
            for (int k = 0; k < i; k++)
            {
                s -= l[(i * n) + k] * z[k];
            }

            z[i] = s / l[(i * n) + i];
        }

        var w = new double[n];
        for (int i = n - 1; i >= 0; i--)
        {
            double s = z[i];
            for (int k = i + 1; k < n; k++)
            {
                s -= l[(k * n) + i] * w[k];
            }

            w[i] = s / l[(i * n) + i];
        }

        return w;
    }
}
