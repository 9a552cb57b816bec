using System.Numerics;
using System.Numerics.Tensors;

namespace FastLstm.Training;

/// <summary>
/// Losses, each returning the mean loss and writing its gradient with respect to the predictions (when the gradient
/// span is not empty). Each has a naive twin.
/// </summary>
public static class Loss
{
    /// <summary>mean (p − t)²; ∂/∂p = 2 (p − t) / n.</summary>
    public static T MeanSquaredError<T>(ReadOnlySpan<T> prediction, ReadOnlySpan<T> target, Span<T> gradient)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        Check(prediction.Length, target.Length, gradient.Length);
        T n = T.CreateTruncating(prediction.Length);
        if (gradient.IsEmpty)
        {
            T distance = TensorPrimitives.Distance(prediction, target);
            return distance * distance / n;
        }

        TensorPrimitives.Subtract(prediction, target, gradient);
        T loss = TensorPrimitives.SumOfSquares<T>(gradient) / n;
        TensorPrimitives.Multiply(gradient, T.CreateTruncating(2) / n, gradient);
        return loss;
    }

    /// <summary>mean |p − t|; ∂/∂p = sign(p − t) / n (0 where equal).</summary>
    public static T MeanAbsoluteError<T>(ReadOnlySpan<T> prediction, ReadOnlySpan<T> target, Span<T> gradient)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        Check(prediction.Length, target.Length, gradient.Length);
        T n = T.CreateTruncating(prediction.Length), sum = T.Zero;
        for (int i = 0; i < prediction.Length; i++)
        {
            T d = prediction[i] - target[i];
            sum += T.Abs(d);
            if (!gradient.IsEmpty)
            {
                gradient[i] = T.CreateTruncating(T.Sign(d)) / n;
            }
        }

        return sum / n;
    }

    /// <summary>
    /// Mean over rows of −log softmax(logits)[target], fused with the softmax: log-sum-exp after subtracting the row
    /// maximum, so large logits neither overflow nor lose the answer. ∂/∂logits = (softmax − onehot) / rows.
    /// </summary>
    public static T SoftmaxCrossEntropy<T>(ReadOnlySpan<T> logits, ReadOnlySpan<int> targets, int classes, Span<T> gradient)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int rows = targets.Length;
        if (classes < 1 || (long)rows * classes != logits.Length)
        {
            throw new ArgumentException($"logits: expected rows·classes = {rows}·{classes} elements, got {logits.Length}.", nameof(logits));
        }

        Check(logits.Length, logits.Length, gradient.Length);
        T total = T.Zero, inv = T.One / T.CreateTruncating(rows);
        for (int r = 0; r < rows; r++)
        {
            int target = targets[r];
            if ((uint)target >= (uint)classes)
            {
                throw new ArgumentOutOfRangeException(nameof(targets), target, $"targets[{r}]: expected 0..{classes - 1}, got {target}.");
            }

            var z = logits.Slice(r * classes, classes);
            T max = TensorPrimitives.Max(z);
            T logSum = T.Log(SumExp(z, max)) + max;
            total += logSum - z[target];
            if (!gradient.IsEmpty)
            {
                var g = gradient.Slice(r * classes, classes);
                TensorPrimitives.Subtract(z, logSum, g);
                TensorPrimitives.Exp(g, g);
                g[target] -= T.One;
                TensorPrimitives.Multiply(g, inv, g);
            }
        }

        return total * inv;
    }

    /// <summary>The naive twin of <see cref="MeanSquaredError"/>.</summary>
    public static T NaiveMeanSquaredError<T>(ReadOnlySpan<T> prediction, ReadOnlySpan<T> target, Span<T> gradient)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        T sum = T.Zero, n = T.CreateTruncating(prediction.Length);
        for (int i = 0; i < prediction.Length; i++)
        {
            T d = prediction[i] - target[i];
            sum += d * d;
            if (!gradient.IsEmpty)
            {
                gradient[i] = T.CreateTruncating(2) * d / n;
            }
        }

        return sum / n;
    }

    /// <summary>The naive twin of <see cref="SoftmaxCrossEntropy"/>: softmax, then −log of the target's probability.</summary>
    public static T NaiveSoftmaxCrossEntropy<T>(ReadOnlySpan<T> logits, ReadOnlySpan<int> targets, int classes, Span<T> gradient)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int rows = targets.Length;
        var p = new T[classes];
        T total = T.Zero;
        for (int r = 0; r < rows; r++)
        {
            Activations.NaiveForward<T>(Activation.Softmax, logits.Slice(r * classes, classes), p, classes);
            total -= T.Log(p[targets[r]]);
            for (int c = 0; !gradient.IsEmpty && c < classes; c++)
            {
                gradient[(r * classes) + c] = (p[c] - (c == targets[r] ? T.One : T.Zero)) / T.CreateTruncating(rows);
            }
        }

        return total / T.CreateTruncating(rows);
    }

    private static T SumExp<T>(ReadOnlySpan<T> z, T max)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        T sum = T.Zero;
        foreach (var v in z)
        {
            sum += T.Exp(v - max);
        }

        return sum;
    }

    private static void Check(int prediction, int target, int gradient)
    {
        if (prediction != target)
        {
            throw new ArgumentException($"target: expected {prediction} elements like the prediction, got {target}.", nameof(target));
        }

        if (gradient != 0 && gradient != prediction)
        {
            throw new ArgumentException($"gradient: expected an empty span or {prediction} elements, got {gradient}.", nameof(gradient));
        }
    }
}
