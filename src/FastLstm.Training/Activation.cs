using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace FastLstm.Training;

/// <summary>The output activations of the source notes.</summary>
public enum Activation
{
    /// <summary>Identity: time-series regression.</summary>
    Linear,

    /// <summary>σ(x) = 1 / (1 + e^-x): binary outputs.</summary>
    Sigmoid,

    /// <summary>tanh(x).</summary>
    Tanh,

    /// <summary>max(x, 0).</summary>
    Relu,

    /// <summary>e^x / Σ e^x over each row: multi-class outputs.</summary>
    Softmax,
}

/// <summary>
/// Activations over rows of <c>width</c> values, forward and backward, on TensorPrimitives; the backward takes the
/// forward's output y (every derivative here is a function of y). Each has a naive scalar twin.
/// </summary>
public static class Activations
{
    /// <summary>y = act(x), row by row (rows matter for softmax only). x and y may be the same memory.</summary>
    public static void Forward<T>(Activation activation, ReadOnlySpan<T> x, Span<T> y, int width)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        Check(x.Length, y.Length, width);
        switch (activation)
        {
            case Activation.Linear:
                x.CopyTo(y);
                break;
            case Activation.Sigmoid:
                TensorPrimitives.Sigmoid(x, y);
                break;
            case Activation.Tanh:
                TensorPrimitives.Tanh(x, y);
                break;
            case Activation.Relu:
                TensorPrimitives.Max(x, T.Zero, y);
                break;
            case Activation.Softmax:
                // TensorPrimitives.SoftMax does not subtract the row maximum and overflows to NaN from logits near
                // 90 (float) or 710 (double); e^(x − max) cannot.
                for (int r = 0; r < x.Length; r += width)
                {
                    var yr = y.Slice(r, width);
                    TensorPrimitives.Subtract(x.Slice(r, width), TensorPrimitives.Max(x.Slice(r, width)), yr);
                    TensorPrimitives.Exp(yr, yr);
                    TensorPrimitives.Divide(yr, TensorPrimitives.Sum<T>(yr), yr);
                }

                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(activation), activation, $"activation: unknown value {activation}.");
        }
    }

    /// <summary>dx = ∂L/∂x from y = act(x) and dy = ∂L/∂y. dy and dx may be the same memory.</summary>
    public static void Backward<T>(Activation activation, ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> dx, int width)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        Check(y.Length, dy.Length, width);
        Check(y.Length, dx.Length, width);
        switch (activation)
        {
            case Activation.Linear:
                dy.CopyTo(dx);
                break;
            case Activation.Sigmoid:
            case Activation.Tanh:
            case Activation.Relu:
                ElementwiseBackward(activation, y, dy, dx);
                break;
            case Activation.Softmax:
                // dx = y ⊙ (dy − Σ dy ⊙ y) per row
                for (int r = 0; r < y.Length; r += width)
                {
                    var yr = y.Slice(r, width);
                    T dot = TensorPrimitives.Dot(yr, dy.Slice(r, width));
                    TensorPrimitives.Subtract(dy.Slice(r, width), dot, dx.Slice(r, width));
                    TensorPrimitives.Multiply(dx.Slice(r, width), yr, dx.Slice(r, width));
                }

                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(activation), activation, $"activation: unknown value {activation}.");
        }
    }

    // dx = dy · f'(y): σ' = y(1 − y), tanh' = 1 − y², relu' = [y > 0]. Each index is read before it is written, so
    // dx may be dy.
    private static void ElementwiseBackward<T>(Activation activation, ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> dx)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int i = 0, w = Vector256<T>.Count;
        var one = Vector256<T>.One;
        for (; i + w <= y.Length; i += w)
        {
            var yv = Vector256.Create(y.Slice(i, w));
            var d = activation switch
            {
                Activation.Sigmoid => yv * (one - yv),
                Activation.Tanh => one - (yv * yv),
                _ => Vector256.ConditionalSelect(Vector256.GreaterThan(yv, Vector256<T>.Zero), one, Vector256<T>.Zero),
            };
            (Vector256.Create(dy.Slice(i, w)) * d).CopyTo(dx.Slice(i, w));
        }

        for (; i < y.Length; i++)
        {
            T d = activation switch
            {
                Activation.Sigmoid => y[i] * (T.One - y[i]),
                Activation.Tanh => T.One - (y[i] * y[i]),
                _ => y[i] > T.Zero ? T.One : T.Zero,
            };
            dx[i] = dy[i] * d;
        }
    }

    /// <summary>The naive twin of <see cref="Forward"/>: one element at a time, the textbook formulas.</summary>
    public static void NaiveForward<T>(Activation activation, ReadOnlySpan<T> x, Span<T> y, int width)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        for (int r = 0; r < x.Length; r += width)
        {
            T max = T.NegativeInfinity, sum = T.Zero;
            for (int j = r; j < r + width; j++)
            {
                max = T.Max(max, x[j]);
            }

            for (int j = r; j < r + width; j++)
            {
                sum += T.Exp(x[j] - max);
            }

            for (int j = r; j < r + width; j++)
            {
                y[j] = activation switch
                {
                    Activation.Linear => x[j],
                    Activation.Sigmoid => T.One / (T.One + T.Exp(-x[j])),
                    Activation.Tanh => T.Tanh(x[j]),
                    Activation.Relu => x[j] > T.Zero ? x[j] : T.Zero,
                    _ => T.Exp(x[j] - max) / sum,
                };
            }
        }
    }

    /// <summary>The naive twin of <see cref="Backward"/>: the Jacobian of each row applied to dy, element by element.</summary>
    public static void NaiveBackward<T>(Activation activation, ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> dx, int width)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        for (int r = 0; r < y.Length; r += width)
        {
            for (int i = r; i < r + width; i++)
            {
                T d = T.Zero;
                for (int j = r; j < r + width; j++)
                {
                    // ∂y_j/∂x_i; for the element-wise activations only j = i is nonzero.
                    T jac = activation switch
                    {
                        Activation.Softmax => y[j] * ((i == j ? T.One : T.Zero) - y[i]),
                        _ when i != j => T.Zero,
                        Activation.Linear => T.One,
                        Activation.Sigmoid => y[i] * (T.One - y[i]),
                        Activation.Tanh => T.One - (y[i] * y[i]),
                        _ => y[i] > T.Zero ? T.One : T.Zero,
                    };
                    d += jac * dy[j];
                }

                dx[i] = d;
            }
        }
    }

    private static void Check(int a, int b, int width)
    {
        if (width < 1 || a % width != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(width), width, $"width: expected a positive divisor of the length {a}, got {width}.");
        }

        if (a != b)
        {
            throw new ArgumentException($"spans: expected equal lengths, got {a} and {b}.", nameof(b));
        }
    }
}
