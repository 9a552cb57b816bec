using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace FastLstm.Training;

/// <summary>Updates parameters in place from their gradients; state is allocated once, so a step allocates nothing.</summary>
public abstract class Optimizer<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    /// <summary>An optimizer for <paramref name="count"/> parameters.</summary>
    protected Optimizer(int count, T learningRate)
    {
        CheckCount(count);
        Count = count;
        LearningRate = CheckRate(learningRate, nameof(learningRate));
    }

    /// <summary>Parameters this optimizer updates.</summary>
    public int Count { get; }

    /// <summary>Step size, finite and &gt; 0; may be changed between steps (schedules).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Set to a value that is not finite and positive.</exception>
    public T LearningRate
    {
        get;
        set => field = CheckRate(value, nameof(LearningRate));
    }

    private static T CheckRate(T value, string name)
    {
        if (!(value > T.Zero && T.IsFinite(value)))
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name}: expected a finite value > 0, got {value}.");
        }

        return value;
    }

    /// <summary>Checked before a derived class allocates its state from <paramref name="count"/>.</summary>
    private protected static int CheckCount(int count)
    {
        if (count < 1 || count > Array.MaxLength)
        {
            throw new ArgumentOutOfRangeException(nameof(count), count, $"count: expected 1..{Array.MaxLength} parameters, got {count}.");
        }

        return count;
    }

    /// <summary>A coefficient that must lie in [0, 1).</summary>
    private protected static T Fraction(double value, string name)
    {
        if (!(value >= 0 && value < 1))
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name}: expected 0 ≤ {name} < 1, got {value}.");
        }

        return T.CreateTruncating(value);
    }

    /// <summary>One update of <paramref name="parameters"/> from <paramref name="gradients"/> (both <see cref="Count"/> long).</summary>
    public void Step(Span<T> parameters, ReadOnlySpan<T> gradients)
    {
        if (parameters.Length != Count || gradients.Length != Count)
        {
            throw new ArgumentException($"parameters, gradients: expected {Count} elements each, got {parameters.Length} and {gradients.Length}.", nameof(parameters));
        }

        Update(parameters, gradients);
    }

    /// <summary>The update, with lengths already checked.</summary>
    protected abstract void Update(Span<T> parameters, ReadOnlySpan<T> gradients);
}

/// <summary>SGD with (heavy-ball) momentum: v = μ·v + g; p −= lr·v.</summary>
public sealed class Sgd<T> : Optimizer<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly T[] _velocity;

    /// <summary>SGD for <paramref name="count"/> parameters; <paramref name="momentum"/> in [0, 1) (0: plain SGD).</summary>
    public Sgd(int count, T learningRate, T momentum)
        : base(count, learningRate)
    {
        Momentum = Fraction(double.CreateTruncating(momentum), nameof(momentum));
        _velocity = new T[count];
    }

    /// <summary>μ, the fraction of the previous velocity kept.</summary>
    public T Momentum { get; }

    /// <inheritdoc/>
    protected override void Update(Span<T> parameters, ReadOnlySpan<T> gradients)
    {
        TensorPrimitives.MultiplyAdd(_velocity, Momentum, gradients, _velocity);
        TensorPrimitives.MultiplyAdd(_velocity, -LearningRate, parameters, parameters);
    }
}

/// <summary>
/// Adam (Kingma and Ba 2015) with bias correction: m = β1·m + (1−β1)·g, v = β2·v + (1−β2)·g²,
/// p −= lr · (m / (1−β1^t)) / (√(v / (1−β2^t)) + ε).
/// </summary>
public sealed class Adam<T> : Optimizer<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly T[] _m;
    private readonly T[] _v;
    private readonly T _beta1, _beta2, _epsilon;
    private T _beta1Power = T.One, _beta2Power = T.One;

    /// <summary>Adam for <paramref name="count"/> parameters; defaults as in the paper.</summary>
    public Adam(int count, T learningRate, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8)
        : base(count, learningRate)
    {
        _beta1 = Fraction(beta1, nameof(beta1));
        _beta2 = Fraction(beta2, nameof(beta2));
        if (!(epsilon > 0 && double.IsFinite(epsilon)))
        {
            throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, $"epsilon: expected a finite value > 0, got {epsilon}.");
        }

        _epsilon = T.CreateTruncating(epsilon);
        _m = new T[count];
        _v = new T[count];
    }

    /// <summary>Updates taken so far.</summary>
    public int Steps { get; private set; }

    /// <inheritdoc/>
    protected override void Update(Span<T> parameters, ReadOnlySpan<T> gradients)
    {
        Steps++;
        _beta1Power *= _beta1;
        _beta2Power *= _beta2;
        T c1 = T.One - _beta1, c2 = T.One - _beta2;
        T stepSize = LearningRate / (T.One - _beta1Power);
        T vScale = T.One / (T.One - _beta2Power);
        int i = 0, w = Vector256<T>.Count;
        for (; i + w <= parameters.Length; i += w)
        {
            var g = Vector256.Create(gradients.Slice(i, w));
            var m = (Vector256.Create(_beta1) * Vector256.Create(_m.AsSpan(i, w))) + (Vector256.Create(c1) * g);
            var v = (Vector256.Create(_beta2) * Vector256.Create(_v.AsSpan(i, w))) + (Vector256.Create(c2) * g * g);
            m.CopyTo(_m.AsSpan(i, w));
            v.CopyTo(_v.AsSpan(i, w));
            var p = Vector256.Create(parameters.Slice(i, w));
            (p - (Vector256.Create(stepSize) * m / (Vector256.Sqrt(v * Vector256.Create(vScale)) + Vector256.Create(_epsilon)))).CopyTo(parameters.Slice(i, w));
        }

        for (; i < parameters.Length; i++)
        {
            _m[i] = (_beta1 * _m[i]) + (c1 * gradients[i]);
            _v[i] = (_beta2 * _v[i]) + (c2 * gradients[i] * gradients[i]);
            parameters[i] -= stepSize * _m[i] / (T.Sqrt(_v[i] * vScale) + _epsilon);
        }
    }
}

/// <summary>Against exploding gradients (the notes' remedy): rescale by the global norm, or clamp each value.</summary>
public static class GradientClipping
{
    /// <summary>
    /// If ‖(g1, g2)‖₂ exceeds <paramref name="maxNorm"/>, scales both so it equals it. Returns the norm before clipping.
    /// Two spans, so the recurrent network's and the head's gradients are clipped as one vector.
    /// </summary>
    public static T ByGlobalNorm<T>(T maxNorm, Span<T> g1, Span<T> g2 = default)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        if (!(maxNorm > T.Zero))
        {
            throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, $"maxNorm: expected > 0, got {maxNorm}.");
        }

        T norm = Norm<T>(g1, g2);
        if (norm > maxNorm)
        {
            T scale = maxNorm / norm;
            TensorPrimitives.Multiply(g1, scale, g1);
            TensorPrimitives.Multiply(g2, scale, g2);
        }

        return norm;
    }

    /// <summary>‖(g1, g2)‖₂ without overflow: when the squares overflow, the values are scaled by the largest magnitude first.</summary>
    private static T Norm<T>(ReadOnlySpan<T> g1, ReadOnlySpan<T> g2)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        T sum = TensorPrimitives.SumOfSquares(g1) + TensorPrimitives.SumOfSquares(g2);
        if (T.IsFinite(sum))
        {
            return T.Sqrt(sum);
        }

        T largest = T.Max(g1.IsEmpty ? T.Zero : T.Abs(TensorPrimitives.MaxMagnitude(g1)), g2.IsEmpty ? T.Zero : T.Abs(TensorPrimitives.MaxMagnitude(g2)));
        if (!T.IsFinite(largest))
        {
            return largest;
        }

        return largest * T.Sqrt(ScaledSquares(g1, largest) + ScaledSquares(g2, largest));
    }

    private static T ScaledSquares<T>(ReadOnlySpan<T> g, T scale)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        T sum = T.Zero;
        foreach (T x in g)
        {
            T q = x / scale;
            sum += q * q;
        }

        return sum;
    }

    /// <summary>Clamps every gradient to [−limit, limit].</summary>
    public static void ByValue<T>(T limit, Span<T> gradients)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        if (!(limit > T.Zero))
        {
            throw new ArgumentOutOfRangeException(nameof(limit), limit, $"limit: expected > 0, got {limit}.");
        }

        TensorPrimitives.Min(gradients, limit, gradients);
        TensorPrimitives.Max(gradients, -limit, gradients);
    }
}
