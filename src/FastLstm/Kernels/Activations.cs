using System.Numerics;
using System.Runtime.CompilerServices;

namespace FastLstm.Kernels;

/// <summary>
/// The nonlinearities of the cells, written once over the vector width (<see cref="IVec{TSelf, T}"/>), each beside its
/// scalar twin with the same formula. The scalar twins are also what the naive reference uses, written with the BCL's
/// own functions.
/// </summary>
internal static class Activations<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    // σ(x) = 1 / (1 + e^-x): exact limits 0 and 1 at the extremes (e^-x overflows to +∞, 1/∞ = 0).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Sigmoid<TV>(TV x)
        where TV : unmanaged, IVec<TV, T>
        => TV.One / (TV.One + TV.Exp(-x));

    // tanh(x): for |x| < 0.625 the Cephes odd approximation x + x·x²·R(x²) (a polynomial for float, a rational
    // function for double), so the relative error stays at rounding level near 0; above, sign(x)·(1 − 2t / (1 + t))
    // with t = e^(−2|x|), which cannot overflow and rounds once where it matters: near saturation the backward pass
    // reads 1 − h² off h, so h must sit within half an ulp of 1 − 2t (the form −z / (z + 2) with z = t − 1 rounds
    // three times at 1's scale and put 2.5 ulps of error into a saturated gradient).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Tanh<TV>(TV x)
        where TV : unmanaged, IVec<TV, T>
    {
        var sign = x & TV.Create(-T.Zero);
        var y = x ^ sign;
        var t = TV.Exp(y * TV.Create(T.CreateTruncating(-2)));
        var large = TV.One - ((t + t) / (t + TV.One));
        var s = x * x;
        var small = TV.Fma(x * s, SmallTanhRatio(s), x);
        return TV.Select(TV.LessThan(y, TV.Create(T.CreateTruncating(0.625))), small, large ^ sign);
    }

    // R(s) with tanh(x) ≈ x + x·s·R(s), s = x², on |x| < 0.625 (Cephes tanhf / tanh coefficients).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV SmallTanhRatio<TV>(TV s)
        where TV : unmanaged, IVec<TV, T>
    {
        if (typeof(T) == typeof(float))
        {
            var p = C(-5.70498872745e-3);
            p = TV.Fma(p, s, C(2.06390887954e-2));
            p = TV.Fma(p, s, C(-5.37397155531e-2));
            p = TV.Fma(p, s, C(1.33314422036e-1));
            return TV.Fma(p, s, C(-3.33332819422e-1));
        }

        var num = TV.Fma(C(-9.64399179425052238628e-1), s, C(-9.92877231001918586564e1));
        num = TV.Fma(num, s, C(-1.61468768441708447952e3));
        var den = s + C(1.12811678491632931402e2);
        den = TV.Fma(den, s, C(2.23548839060100448583e3));
        den = TV.Fma(den, s, C(4.84406305325125486048e3));
        return num / den;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static TV C(double value) => TV.Create(T.CreateTruncating(value));
    }

    // relu(x) = max(x, 0); NaN propagates like the scalar twin.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Relu<TV>(TV x)
        where TV : unmanaged, IVec<TV, T>
        => TV.Select(TV.LessThan(x, TV.Zero), TV.Zero, x);

    public static T Sigmoid(T x) => T.One / (T.One + T.Exp(-x));

    public static T Tanh(T x) => T.Tanh(x);

    public static T Relu(T x) => x < T.Zero ? T.Zero : x;
}

/// <summary>
/// An activation as an operator struct (a type argument, so a loop over it compiles to straight-line code): its value and
/// its derivative, scalar (what the naive twins use), per vector and over a block. A derivative takes the activation's
/// input x and output y, whichever gives it most cheaply.
/// </summary>
internal unsafe interface IActivation<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    /// <summary>
    /// Whether the kernels must apply it a block at a time (<see cref="Apply{TV}"/>, <see cref="Slopes{TV}"/>) rather than
    /// inside their own loops: true for <see cref="OnnxActivationOp{T}"/>, whose kind is decided once per block.
    /// </summary>
    static abstract bool Blockwise { get; }

    /// <summary>Whether the derivative is a function of the output alone, so a backward pass needs no saved input.</summary>
    static abstract bool SlopeFromOutput { get; }

    T Invoke(T x);

    T Derivative(T x, T y);

    TV Invoke<TV>(TV x)
        where TV : unmanaged, IVec<TV, T>;

    TV Derivative<TV>(TV x, TV y)
        where TV : unmanaged, IVec<TV, T>;

    /// <summary>dst[j] = f(src[j]) for j &lt; n (a multiple of the lane count); dst may be src.</summary>
    void Apply<TV>(T* dst, T* src, int n)
        where TV : unmanaged, IVec<TV, T>;

    /// <summary>dst[j] = f'(x[j]) given y[j] = f(x[j]), for j &lt; n; dst may be x or y.</summary>
    void Slopes<TV>(T* dst, T* x, T* y, int n)
        where TV : unmanaged, IVec<TV, T>;
}

/// <summary>The block loops of the activations that run inside other loops as well.</summary>
internal static unsafe class ActivationLoops
{
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void Apply<T, TV, TAct>(TAct act, T* dst, T* src, int n)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TV : unmanaged, IVec<TV, T>
        where TAct : struct, IActivation<T>
    {
        for (int j = 0; j < n; j += TV.Count)
        {
            TV.Store(act.Invoke(TV.Load(src + j)), dst + j);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void Slopes<T, TV, TAct>(TAct act, T* dst, T* x, T* y, int n)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TV : unmanaged, IVec<TV, T>
        where TAct : struct, IActivation<T>
    {
        for (int j = 0; j < n; j += TV.Count)
        {
            TV.Store(act.Derivative(TV.Load(x + j), TV.Load(y + j)), dst + j);
        }
    }
}

internal readonly unsafe struct SigmoidOp<T> : IActivation<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    public static bool Blockwise => false;

    public static bool SlopeFromOutput => true;

    public T Invoke(T x) => Activations<T>.Sigmoid(x);

    public T Derivative(T x, T y) => y * (T.One - y);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TV Invoke<TV>(TV x)
        where TV : unmanaged, IVec<TV, T>
        => Activations<T>.Sigmoid(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TV Derivative<TV>(TV x, TV y)
        where TV : unmanaged, IVec<TV, T>
        => y * (TV.One - y);

    public void Apply<TV>(T* dst, T* src, int n)
        where TV : unmanaged, IVec<TV, T>
        => ActivationLoops.Apply<T, TV, SigmoidOp<T>>(this, dst, src, n);

    public void Slopes<TV>(T* dst, T* x, T* y, int n)
        where TV : unmanaged, IVec<TV, T>
        => ActivationLoops.Slopes<T, TV, SigmoidOp<T>>(this, dst, x, y, n);
}

internal readonly unsafe struct TanhOp<T> : IActivation<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    public static bool Blockwise => false;

    public static bool SlopeFromOutput => true;

    public T Invoke(T x) => Activations<T>.Tanh(x);

    public T Derivative(T x, T y) => T.One - (y * y);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TV Invoke<TV>(TV x)
        where TV : unmanaged, IVec<TV, T>
        => Activations<T>.Tanh(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TV Derivative<TV>(TV x, TV y)
        where TV : unmanaged, IVec<TV, T>
        => TV.FnmAdd(y, y, TV.One);

    public void Apply<TV>(T* dst, T* src, int n)
        where TV : unmanaged, IVec<TV, T>
        => ActivationLoops.Apply<T, TV, TanhOp<T>>(this, dst, src, n);

    public void Slopes<TV>(T* dst, T* x, T* y, int n)
        where TV : unmanaged, IVec<TV, T>
        => ActivationLoops.Slopes<T, TV, TanhOp<T>>(this, dst, x, y, n);
}

/// <summary>ReLU; its derivative [x &gt; 0] is read off the output, [y &gt; 0].</summary>
internal readonly unsafe struct ReluOp<T> : IActivation<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    public static bool Blockwise => false;

    public static bool SlopeFromOutput => true;

    public T Invoke(T x) => Activations<T>.Relu(x);

    public T Derivative(T x, T y) => y > T.Zero ? T.One : T.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TV Invoke<TV>(TV x)
        where TV : unmanaged, IVec<TV, T>
        => Activations<T>.Relu(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TV Derivative<TV>(TV x, TV y)
        where TV : unmanaged, IVec<TV, T>
        => TV.Select(TV.GreaterThan(y, TV.Zero), TV.One, TV.Zero);

    public void Apply<TV>(T* dst, T* src, int n)
        where TV : unmanaged, IVec<TV, T>
        => ActivationLoops.Apply<T, TV, ReluOp<T>>(this, dst, src, n);

    public void Slopes<TV>(T* dst, T* x, T* y, int n)
        where TV : unmanaged, IVec<TV, T>
        => ActivationLoops.Slopes<T, TV, ReluOp<T>>(this, dst, x, y, n);
}

/// <summary>
/// Any activation of the ONNX recurrent operators (<see cref="RnnActivation"/>) with its α and β. Its kind is a value,
/// so the kernels apply it a block at a time (<see cref="Blockwise"/>): each block switches on the kind once and runs
/// a loop in which the formula is a constant.
/// </summary>
internal readonly unsafe struct OnnxActivationOp<T>(RnnActivation a) : IActivation<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly RnnActivationKind _kind = a.Kind;
    private readonly T _alpha = T.CreateTruncating(a.Alpha);
    private readonly T _beta = T.CreateTruncating(a.Beta);

    public static bool Blockwise => true;

    public static bool SlopeFromOutput => false;

    public T Invoke(T x) => _kind switch
    {
        RnnActivationKind.Sigmoid => Activations<T>.Sigmoid(x),
        RnnActivationKind.Tanh => Activations<T>.Tanh(x),
        RnnActivationKind.Relu => Activations<T>.Relu(x),
        RnnActivationKind.Affine => (_alpha * x) + _beta,
        RnnActivationKind.LeakyRelu => x >= T.Zero ? x : _alpha * x,
        RnnActivationKind.ThresholdedRelu => x > _alpha ? x : T.Zero,
        RnnActivationKind.ScaledTanh => _alpha * T.Tanh(_beta * x),
        RnnActivationKind.HardSigmoid => T.Max(T.Zero, T.Min(T.One, (_alpha * x) + _beta)),
        RnnActivationKind.Elu => x >= T.Zero ? x : _alpha * (T.Exp(x) - T.One),
        RnnActivationKind.Softsign => x / (T.One + T.Abs(x)),
        _ => T.Log(T.One + T.Exp(x)),
    };

    public T Derivative(T x, T y) => _kind switch
    {
        RnnActivationKind.Sigmoid => y * (T.One - y),
        RnnActivationKind.Tanh => T.One - (y * y),
        RnnActivationKind.Relu => x > T.Zero ? T.One : T.Zero,
        RnnActivationKind.Affine => _alpha,
        RnnActivationKind.LeakyRelu => x >= T.Zero ? T.One : _alpha,
        RnnActivationKind.ThresholdedRelu => x > _alpha ? T.One : T.Zero,
        RnnActivationKind.ScaledTanh => _alpha * _beta * (T.One - (T.Tanh(_beta * x) * T.Tanh(_beta * x))),
        RnnActivationKind.HardSigmoid => (_alpha * x) + _beta > T.Zero && (_alpha * x) + _beta < T.One ? _alpha : T.Zero,
        RnnActivationKind.Elu => x >= T.Zero ? T.One : y + _alpha,
        RnnActivationKind.Softsign => T.One / ((T.One + T.Abs(x)) * (T.One + T.Abs(x))),
        _ => Activations<T>.Sigmoid(x),
    };

    public TV Invoke<TV>(TV x)
        where TV : unmanaged, IVec<TV, T>
        => WithFormula<TV, ValueAt<TV>>(_kind, new(TV.Create(_alpha), TV.Create(_beta), x));

    public TV Derivative<TV>(TV x, TV y)
        where TV : unmanaged, IVec<TV, T>
        => WithFormula<TV, SlopeAt<TV>>(_kind, new(TV.Create(_alpha), TV.Create(_beta), x, y));

    public void Apply<TV>(T* dst, T* src, int n)
        where TV : unmanaged, IVec<TV, T>
        => WithFormula<int, ApplyBlock<TV>>(_kind, new(TV.Create(_alpha), TV.Create(_beta), dst, src, n));

    public void Slopes<TV>(T* dst, T* x, T* y, int n)
        where TV : unmanaged, IVec<TV, T>
        => WithFormula<int, SlopeBlock<TV>>(_kind, new(TV.Create(_alpha), TV.Create(_beta), dst, x, y, n));

    // The kind decided once, here: each case continues with the kind's formula struct as a type argument.
    private static TResult WithFormula<TResult, TVisitor>(RnnActivationKind kind, TVisitor visitor)
        where TVisitor : struct, IFormulaVisitor<TResult>
        => kind switch
        {
            RnnActivationKind.Sigmoid => visitor.Visit<Formula.Sigmoid>(),
            RnnActivationKind.Tanh => visitor.Visit<Formula.Tanh>(),
            RnnActivationKind.Relu => visitor.Visit<Formula.Relu>(),
            RnnActivationKind.Affine => visitor.Visit<Formula.Affine>(),
            RnnActivationKind.LeakyRelu => visitor.Visit<Formula.LeakyRelu>(),
            RnnActivationKind.ThresholdedRelu => visitor.Visit<Formula.ThresholdedRelu>(),
            RnnActivationKind.ScaledTanh => visitor.Visit<Formula.ScaledTanh>(),
            RnnActivationKind.HardSigmoid => visitor.Visit<Formula.HardSigmoid>(),
            RnnActivationKind.Elu => visitor.Visit<Formula.Elu>(),
            RnnActivationKind.Softsign => visitor.Visit<Formula.Softsign>(),
            _ => visitor.Visit<Formula.Softplus>(),
        };

    private interface IFormulaVisitor<TResult>
    {
        TResult Visit<TKind>()
            where TKind : struct, Formula.IFormula;
    }

    private readonly struct ValueAt<TV>(TV alpha, TV beta, TV x) : IFormulaVisitor<TV>
        where TV : unmanaged, IVec<TV, T>
    {
        public TV Visit<TKind>()
            where TKind : struct, Formula.IFormula
            => TKind.Value(alpha, beta, x);
    }

    private readonly struct SlopeAt<TV>(TV alpha, TV beta, TV x, TV y) : IFormulaVisitor<TV>
        where TV : unmanaged, IVec<TV, T>
    {
        public TV Visit<TKind>()
            where TKind : struct, Formula.IFormula
            => TKind.Slope(alpha, beta, x, y);
    }

    // Each kind's loop is a method of its own, over the kind's formula struct: one method inlining every formula exceeds
    // the JIT's inlining budget and keeps calls in the loop.
    private readonly unsafe struct ApplyBlock<TV>(TV alpha, TV beta, T* dst, T* src, int n) : IFormulaVisitor<int>
        where TV : unmanaged, IVec<TV, T>
    {
        [MethodImpl(MethodImplOptions.NoInlining)]
        public int Visit<TKind>()
            where TKind : struct, Formula.IFormula
        {
            for (int j = 0; j < n; j += TV.Count)
            {
                TV.Store(TKind.Value(alpha, beta, TV.Load(src + j)), dst + j);
            }

            return n;
        }
    }

    private readonly unsafe struct SlopeBlock<TV>(TV alpha, TV beta, T* dst, T* x, T* y, int n) : IFormulaVisitor<int>
        where TV : unmanaged, IVec<TV, T>
    {
        [MethodImpl(MethodImplOptions.NoInlining)]
        public int Visit<TKind>()
            where TKind : struct, Formula.IFormula
        {
            for (int j = 0; j < n; j += TV.Count)
            {
                TV.Store(TKind.Slope(alpha, beta, TV.Load(x + j), TV.Load(y + j)), dst + j);
            }

            return n;
        }
    }

    /// <summary>Each ONNX activation's vector formula and its derivative as an operator struct of its own.</summary>
    private static class Formula
    {
        public interface IFormula
        {
            static abstract TV Value<TV>(TV alpha, TV beta, TV x)
                where TV : unmanaged, IVec<TV, T>;

            static abstract TV Slope<TV>(TV alpha, TV beta, TV x, TV y)
                where TV : unmanaged, IVec<TV, T>;
        }

        public readonly struct Sigmoid : IFormula
        {
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            public static TV Value<TV>(TV alpha, TV beta, TV x) where TV : unmanaged, IVec<TV, T> => Activations<T>.Sigmoid(x);

            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            public static TV Slope<TV>(TV alpha, TV beta, TV x, TV y) where TV : unmanaged, IVec<TV, T> => y * (TV.One - y);
        }

        public readonly struct Tanh : IFormula
        {
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            public static TV Value<TV>(TV alpha, TV beta, TV x) where TV : unmanaged, IVec<TV, T> => Activations<T>.Tanh(x);

            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            public static TV Slope<TV>(TV alpha, TV beta, TV x, TV y) where TV : unmanaged, IVec<TV, T> => TV.FnmAdd(y, y, TV.One);
        }

        public readonly struct Relu : IFormula
        {
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            public static TV Value<TV>(TV alpha, TV beta, TV x) where TV : unmanaged, IVec<TV, T> => Activations<T>.Relu(x);

            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            public static TV Slope<TV>(TV alpha, TV beta, TV x, TV y) where TV : unmanaged, IVec<TV, T> =>
                TV.Select(TV.GreaterThan(x, TV.Zero), TV.One, TV.Zero);
        }

        public readonly struct Affine : IFormula
        {
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            public static TV Value<TV>(TV alpha, TV beta, TV x) where TV : unmanaged, IVec<TV, T> => TV.Fma(alpha, x, beta);

            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            public static TV Slope<TV>(TV alpha, TV beta, TV x, TV y) where TV : unmanaged, IVec<TV, T> => alpha;
        }

        public readonly struct LeakyRelu : IFormula
        {
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            public static TV Value<TV>(TV alpha, TV beta, TV x) where TV : unmanaged, IVec<TV, T> =>
                TV.Select(TV.LessThan(x, TV.Zero), alpha * x, x);

            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            public static TV Slope<TV>(TV alpha, TV beta, TV x, TV y) where TV : unmanaged, IVec<TV, T> =>
                TV.Select(TV.LessThan(x, TV.Zero), alpha, TV.One);
        }

        public readonly struct ThresholdedRelu : IFormula
        {
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            public static TV Value<TV>(TV alpha, TV beta, TV x) where TV : unmanaged, IVec<TV, T> =>
                TV.Select(TV.GreaterThan(x, alpha), x, TV.Zero);

            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            public static TV Slope<TV>(TV alpha, TV beta, TV x, TV y) where TV : unmanaged, IVec<TV, T> =>
                TV.Select(TV.GreaterThan(x, alpha), TV.One, TV.Zero);
        }

        public readonly struct ScaledTanh : IFormula
        {
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            public static TV Value<TV>(TV alpha, TV beta, TV x) where TV : unmanaged, IVec<TV, T> => alpha * Activations<T>.Tanh(beta * x);

            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            public static TV Slope<TV>(TV alpha, TV beta, TV x, TV y) where TV : unmanaged, IVec<TV, T>
            {
                var t = Activations<T>.Tanh(beta * x);
                return alpha * beta * TV.FnmAdd(t, t, TV.One);
            }
        }

        public readonly struct HardSigmoid : IFormula
        {
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            public static TV Value<TV>(TV alpha, TV beta, TV x) where TV : unmanaged, IVec<TV, T> =>
                TV.Max(TV.Zero, TV.Min(TV.One, TV.Fma(alpha, x, beta)));

            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            public static TV Slope<TV>(TV alpha, TV beta, TV x, TV y) where TV : unmanaged, IVec<TV, T>
            {
                var z = TV.Fma(alpha, x, beta);
                return TV.Select(TV.GreaterThan(z, TV.Zero) & TV.LessThan(z, TV.One), alpha, TV.Zero);
            }
        }

        public readonly struct Elu : IFormula
        {
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            public static TV Value<TV>(TV alpha, TV beta, TV x) where TV : unmanaged, IVec<TV, T> =>
                TV.Select(TV.LessThan(x, TV.Zero), alpha * (TV.Exp(x) - TV.One), x);

            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            public static TV Slope<TV>(TV alpha, TV beta, TV x, TV y) where TV : unmanaged, IVec<TV, T> =>
                TV.Select(TV.LessThan(x, TV.Zero), y + alpha, TV.One);
        }

        public readonly struct Softsign : IFormula
        {
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            public static TV Value<TV>(TV alpha, TV beta, TV x) where TV : unmanaged, IVec<TV, T> => x / (TV.One + TV.Max(x, -x));

            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            public static TV Slope<TV>(TV alpha, TV beta, TV x, TV y) where TV : unmanaged, IVec<TV, T>
            {
                var d = TV.One + TV.Max(x, -x);
                return TV.One / (d * d);
            }
        }

        public readonly struct Softplus : IFormula
        {
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            public static TV Value<TV>(TV alpha, TV beta, TV x) where TV : unmanaged, IVec<TV, T> => TV.Log(TV.One + TV.Exp(x));

            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            public static TV Slope<TV>(TV alpha, TV beta, TV x, TV y) where TV : unmanaged, IVec<TV, T> => Activations<T>.Sigmoid(x);
        }
    }
}

/// <summary>Width-generic building blocks the vector types themselves are made of.</summary>
internal static class VecMath
{
    // e^x in single precision throughout (the BCL's float Exp widens to double, twice the work): x = n·ln2 + r with
    // |r| ≤ ln2/2 (ln2 split in two so n·ln2_hi is exact), e^r by its Taylor series to r⁷ (truncation 5e-9, under
    // half an ulp), and 2^n applied in two halves so that overflow to +∞ and gradual underflow to 0 come out of
    // the multiplications themselves. x is clamped first only to keep n within the exponent range; NaN is passed through.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV ExpSingle<TV, T>(TV x)
        where TV : unmanaged, IVec<TV, T>
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        var xc = TV.Min(TV.Max(x, C(-104)), C(89));
        var n = TV.Round(xc * C(1.44269504089));
        var r = TV.FnmAdd(n, C(0.693145751953125), xc);
        r = TV.FnmAdd(n, C(1.428606765330187e-6), r);
        var p = C(1.0 / 5040);
        p = TV.Fma(p, r, C(1.0 / 720));
        p = TV.Fma(p, r, C(1.0 / 120));
        p = TV.Fma(p, r, C(1.0 / 24));
        p = TV.Fma(p, r, C(1.0 / 6));
        p = TV.Fma(p, r, C(0.5));
        p = TV.Fma(p, r, TV.One);
        p = TV.Fma(p, r, TV.One);
        var half = TV.Floor(n * C(0.5));
        var e = p * TV.Pow2(half) * TV.Pow2(n - half);
        return TV.Select(TV.Equals(x, x), e, x);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static TV C(double value) => TV.Create(T.CreateTruncating(value));
    }
}
