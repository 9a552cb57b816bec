using System.Numerics;
using System.Runtime.CompilerServices;
using FastLstm.Kernels;

namespace FastLstm.Cells;

/// <summary>The ONNX clip of an activation's input as an operator struct: <see cref="NoClip{T}"/> or <see cref="ClipOp{T}"/>.</summary>
internal interface IClip<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    static abstract bool On { get; }

    T Apply(T x);

    /// <summary>1 where the clip lets the input through (its gradient), 0 where it is clipped.</summary>
    T Pass(T raw);

    TV Apply<TV>(TV x)
        where TV : unmanaged, IVec<TV, T>;

    TV Pass<TV>(TV raw)
        where TV : unmanaged, IVec<TV, T>;
}

internal readonly struct NoClip<T> : IClip<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    public static bool On => false;

    public T Apply(T x) => x;

    public T Pass(T raw) => T.One;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TV Apply<TV>(TV x)
        where TV : unmanaged, IVec<TV, T>
        => x;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TV Pass<TV>(TV raw)
        where TV : unmanaged, IVec<TV, T>
        => TV.One;
}

/// <summary>Clips to [−limit, limit]; with an infinite limit (what the naive twins use for "no clip") it changes nothing.</summary>
internal readonly struct ClipOp<T>(T limit) : IClip<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly T _limit = limit;

    public static bool On => true;

    /// <summary>The scalar clip of an option value (null: none).</summary>
    public static ClipOp<T> Of(double? clip) => new(clip is { } c ? T.CreateTruncating(c) : T.PositiveInfinity);

    public T Apply(T x) => T.Clamp(x, -_limit, _limit);

    public T Pass(T raw) => T.Abs(raw) > _limit ? T.Zero : T.One;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TV Apply<TV>(TV x)
        where TV : unmanaged, IVec<TV, T>
        => TV.Max(TV.Create(-_limit), TV.Min(TV.Create(_limit), x));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TV Pass<TV>(TV raw)
        where TV : unmanaged, IVec<TV, T>
        => TV.Select(TV.GreaterThan(TV.Max(raw, -raw), TV.Create(_limit)), TV.Zero, TV.One);
}

/// <summary>A yes / no option (peepholes, coupled gates) as a type argument, so the kernels fold it away.</summary>
internal interface IFlag
{
    static abstract bool On { get; }
}

internal readonly struct Yes : IFlag
{
    public static bool On => true;
}

internal readonly struct No : IFlag
{
    public static bool On => false;
}

/// <summary>Continues with the operator struct an option value was turned into (its type now a type argument).</summary>
internal interface IActivationVisitor<T, TResult>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    TResult Visit<TAct>(TAct act)
        where TAct : struct, IActivation<T>;
}

/// <summary>Continues with the clip struct an option value was turned into.</summary>
internal interface IClipVisitor<T, TResult>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    TResult Visit<TClip>(TClip clip)
        where TClip : struct, IClip<T>;
}

/// <summary>
/// Turns option values into operator structs once, when a cell's kernels are made: sigmoid, tanh and ReLU as their own
/// structs, any other activation as <see cref="OnnxActivationOp{T}"/>, a clip or none. A cell chains one visitor per
/// option and instantiates its kernels with every struct as a type argument.
/// </summary>
internal static class Operators<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    public static TResult Activation<TResult, TVisitor>(RnnActivation a, TVisitor visitor)
        where TVisitor : struct, IActivationVisitor<T, TResult>
        => a.Kind switch
        {
            RnnActivationKind.Sigmoid => visitor.Visit(default(SigmoidOp<T>)),
            RnnActivationKind.Tanh => visitor.Visit(default(TanhOp<T>)),
            RnnActivationKind.Relu => visitor.Visit(default(ReluOp<T>)),
            _ => visitor.Visit(new OnnxActivationOp<T>(a)),
        };

    public static TResult Clip<TResult, TVisitor>(double? clip, TVisitor visitor)
        where TVisitor : struct, IClipVisitor<T, TResult>
        => clip is { } c ? visitor.Visit(new ClipOp<T>(T.CreateTruncating(c))) : visitor.Visit(default(NoClip<T>));
}

/// <summary>What the naive twins need of the options beyond the operator structs.</summary>
internal static class OptionMath
{
    /// <summary>
    /// How close an unclipped input is to the clip's edge or to a corner of its (clipped) activation: finite differences
    /// across such a point are meaningless.
    /// </summary>
    public static double Kink(double? clip, in RnnActivation a, double raw)
    {
        double distance = clip is { } c ? Math.Abs(Math.Abs(raw) - c) : double.PositiveInfinity;
        double x = clip is { } limit ? Math.Clamp(raw, -limit, limit) : raw;
        return Math.Min(distance, a.Kind switch
        {
            RnnActivationKind.Relu or RnnActivationKind.LeakyRelu or RnnActivationKind.Elu => Math.Abs(x),
            RnnActivationKind.ThresholdedRelu => Math.Abs(x - a.Alpha),
            RnnActivationKind.HardSigmoid => Math.Min(Math.Abs((a.Alpha * x) + a.Beta), Math.Abs((a.Alpha * x) + a.Beta - 1)) / Math.Max(Math.Abs(a.Alpha), 1e-300),
            _ => double.PositiveInfinity,
        });
    }
}

/// <summary>
/// How an option is written as a named value: a flag as [1], a clip as [limit], an activation as [kind, α, β]. Reading
/// checks each value's form; the options' own Validate checks the ranges.
/// </summary>
internal static class OptionValue
{
    public static double[] Of(RnnActivation a) => [(double)a.Kind, a.Alpha, a.Beta];

    public static bool Flag((string Name, double[] Values) v) =>
        v.Values is [1] ? true : throw Malformed(v, "[1]");

    public static double Clip((string Name, double[] Values) v) =>
        v.Values is [var c] ? c : throw Malformed(v, "[limit]");

    public static RnnActivation Activation((string Name, double[] Values) v) =>
        v.Values is [var k, var alpha, var beta] && k is >= 0 and <= 64 && k == Math.Floor(k) && Enum.IsDefined((RnnActivationKind)(int)k)
            ? new RnnActivation((RnnActivationKind)(int)k, alpha, beta)
            : throw Malformed(v, "[kind, α, β] with a known kind");

    public static ArgumentException Unknown(string name, CellType cell, string[] known) =>
        new($"option '{name}' is not one of a {cell} cell's ({(known.Length == 0 ? "it has none" : string.Join(", ", known))}).", "values");

    private static ArgumentException Malformed((string Name, double[] Values) v, string expected) =>
        new($"option '{v.Name}': expected {expected}, got [{string.Join(", ", v.Values)}].", "values");
}
