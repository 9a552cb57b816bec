using System.Numerics;
using System.Runtime.CompilerServices;

namespace FastLstm.Kernels;

/// <summary>
/// The ONNX recurrent operators' activations (<see cref="RnnActivationKind"/>) and their derivatives, scalar (what the
/// naive twin uses) and over the vector width, each vector form beside the scalar one with the same formula. A
/// derivative takes the activation's input x and output y, whichever gives it most cheaply.
/// </summary>
internal static class OnnxActivations<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    public static T Apply(in RnnActivation a, T x)
    {
        T alpha = T.CreateTruncating(a.Alpha), beta = T.CreateTruncating(a.Beta);
        return a.Kind switch
        {
            RnnActivationKind.Sigmoid => Activations<T>.Sigmoid(x),
            RnnActivationKind.Tanh => T.Tanh(x),
            RnnActivationKind.Relu => x < T.Zero ? T.Zero : x,
            RnnActivationKind.Affine => (alpha * x) + beta,
            RnnActivationKind.LeakyRelu => x >= T.Zero ? x : alpha * x,
            RnnActivationKind.ThresholdedRelu => x > alpha ? x : T.Zero,
            RnnActivationKind.ScaledTanh => alpha * T.Tanh(beta * x),
            RnnActivationKind.HardSigmoid => T.Max(T.Zero, T.Min(T.One, (alpha * x) + beta)),
            RnnActivationKind.Elu => x >= T.Zero ? x : alpha * (T.Exp(x) - T.One),
            RnnActivationKind.Softsign => x / (T.One + T.Abs(x)),
            _ => T.Log(T.One + T.Exp(x)),
        };
    }

    public static T Derivative(in RnnActivation a, T x, T y)
    {
        T alpha = T.CreateTruncating(a.Alpha), beta = T.CreateTruncating(a.Beta);
        return a.Kind switch
        {
            RnnActivationKind.Sigmoid => y * (T.One - y),
            RnnActivationKind.Tanh => T.One - (y * y),
            RnnActivationKind.Relu => x > T.Zero ? T.One : T.Zero,
            RnnActivationKind.Affine => alpha,
            RnnActivationKind.LeakyRelu => x >= T.Zero ? T.One : alpha,
            RnnActivationKind.ThresholdedRelu => x > alpha ? T.One : T.Zero,
            RnnActivationKind.ScaledTanh => alpha * beta * (T.One - (T.Tanh(beta * x) * T.Tanh(beta * x))),
            RnnActivationKind.HardSigmoid => (alpha * x) + beta > T.Zero && (alpha * x) + beta < T.One ? alpha : T.Zero,
            RnnActivationKind.Elu => x >= T.Zero ? T.One : y + alpha,
            RnnActivationKind.Softsign => T.One / ((T.One + T.Abs(x)) * (T.One + T.Abs(x))),
            _ => Activations<T>.Sigmoid(x),
        };
    }

    /// <summary>Whether the kind has a vector form (Softplus needs a logarithm the vector types do not have).</summary>
    public static bool Vectorised(RnnActivationKind kind) => kind != RnnActivationKind.Softplus;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Apply<TV>(RnnActivationKind kind, TV alpha, TV beta, TV x)
        where TV : unmanaged, IVec<TV, T>
    {
        switch (kind)
        {
            case RnnActivationKind.Sigmoid:
                return Activations<T>.Sigmoid(x);
            case RnnActivationKind.Tanh:
                return Activations<T>.Tanh(x);
            case RnnActivationKind.Relu:
                return Activations<T>.Relu(x);
            case RnnActivationKind.Affine:
                return TV.Fma(alpha, x, beta);
            case RnnActivationKind.LeakyRelu:
                return TV.Select(TV.LessThan(x, TV.Zero), alpha * x, x);
            case RnnActivationKind.ThresholdedRelu:
                return TV.Select(TV.GreaterThan(x, alpha), x, TV.Zero);
            case RnnActivationKind.ScaledTanh:
                return alpha * Activations<T>.Tanh(beta * x);
            case RnnActivationKind.HardSigmoid:
                return TV.Max(TV.Zero, TV.Min(TV.One, TV.Fma(alpha, x, beta)));
            case RnnActivationKind.Elu:
                return TV.Select(TV.LessThan(x, TV.Zero), alpha * (TV.Exp(x) - TV.One), x);
            default:
                return x / (TV.One + TV.Max(x, -x));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Derivative<TV>(RnnActivationKind kind, TV alpha, TV beta, TV x, TV y)
        where TV : unmanaged, IVec<TV, T>
    {
        switch (kind)
        {
            case RnnActivationKind.Sigmoid:
                return y * (TV.One - y);
            case RnnActivationKind.Tanh:
                return TV.FnmAdd(y, y, TV.One);
            case RnnActivationKind.Relu:
                return TV.Select(TV.GreaterThan(x, TV.Zero), TV.One, TV.Zero);
            case RnnActivationKind.Affine:
                return alpha;
            case RnnActivationKind.LeakyRelu:
                return TV.Select(TV.LessThan(x, TV.Zero), alpha, TV.One);
            case RnnActivationKind.ThresholdedRelu:
                return TV.Select(TV.GreaterThan(x, alpha), TV.One, TV.Zero);
            case RnnActivationKind.ScaledTanh:
                var t = Activations<T>.Tanh(beta * x);
                return alpha * beta * TV.FnmAdd(t, t, TV.One);
            case RnnActivationKind.HardSigmoid:
                var z = TV.Fma(alpha, x, beta);
                return TV.Select(TV.GreaterThan(z, TV.Zero) & TV.LessThan(z, TV.One), alpha, TV.Zero);
            case RnnActivationKind.Elu:
                return TV.Select(TV.LessThan(x, TV.Zero), y + alpha, TV.One);
            case RnnActivationKind.Softsign:
                var d = TV.One + TV.Max(x, -x);
                return TV.One / (d * d);
            default:
                return Activations<T>.Sigmoid(x);
        }
    }
}
