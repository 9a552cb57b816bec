using System.Diagnostics.CodeAnalysis;

namespace FastLstm;

/// <summary>Argument checks of the public surface: each names the argument, what was expected and what came.</summary>
internal static class Guard
{
    /// <summary>The checks every session's constructor shares.</summary>
    public static void Session(object model, int maxBatch, int maxSteps, int threads)
    {
        ArgumentNullException.ThrowIfNull(model);
        Range(maxBatch, 1, 1 << 20, nameof(maxBatch), "sequences per call");
        Range(maxSteps, 1, 1 << 24, nameof(maxSteps), "steps per call");
        Range(threads, 1, 1024, nameof(threads), "cores");
    }

    /// <summary>A defined format, compressed only for float (the kernels widen bfloat16 and int8 to float lanes).</summary>
    public static void Weights<T>(WeightFormat weights)
    {
        if (!Enum.IsDefined(weights))
        {
            throw new ArgumentOutOfRangeException(nameof(weights), weights, $"weights: expected one of {string.Join(", ", Enum.GetNames<WeightFormat>())}, got {(int)weights}.");
        }

        if (weights != WeightFormat.Full && typeof(T) != typeof(float))
        {
            throw new ArgumentException($"weights: {weights} is for float sessions; a {typeof(T).Name} session takes {nameof(WeightFormat.Full)}.", nameof(weights));
        }
    }

    public static void Range(int value, int min, int max, string name, string what)
    {
        if (value < min || value > max)
        {
            ThrowRange(value, min, max, name, what);
        }
    }

    /// <summary>A span that must have exactly <paramref name="expected"/> elements.</summary>
    public static void Length(int actual, long expected, string name, Shape shape)
    {
        if (actual != expected)
        {
            ThrowLength(actual, expected, name, shape, optional: false);
        }
    }

    /// <summary>A span that is either empty or exactly <paramref name="expected"/> long.</summary>
    public static void OptionalLength(int actual, long expected, string name, Shape shape)
    {
        if (actual != 0 && actual != expected)
        {
            ThrowLength(actual, expected, name, shape, optional: true);
        }
    }

    /// <summary>Cells without a cell state take no c spans.</summary>
    public static void NoCellState(int actual, RnnSpec spec, string name)
    {
        if (actual != 0)
        {
            Throw(new ArgumentException($"{name}: {spec.Cell} has no cell state, so expected an empty span, got {actual} elements.", name));
        }
    }

    /// <summary>Each lengths[b] in 1..steps, and lengths has one entry per sequence.</summary>
    public static void Lengths(ReadOnlySpan<int> lengths, int batch, int steps)
    {
        if (lengths.IsEmpty)
        {
            return;
        }

        Length(lengths.Length, batch, "lengths", new Shape("[batch]", batch));
        for (int b = 0; b < lengths.Length; b++)
        {
            if (lengths[b] < 1 || lengths[b] > steps)
            {
                Throw(new ArgumentOutOfRangeException("lengths", lengths[b], $"lengths[{b}]: expected 1..{steps} (steps), got {lengths[b]}."));
            }
        }
    }

    /// <summary>The checks every Forward shares (sessions and the naive twin).</summary>
    public static void Forward<T>(RnnSpec spec, int maxBatch, int maxSteps, ReadOnlySpan<T> input, int batch, int steps, Span<T> output,
        ReadOnlySpan<T> h0, ReadOnlySpan<T> c0, Span<T> hN, Span<T> cN, ReadOnlySpan<int> lengths)
    {
        Range(batch, 1, maxBatch, nameof(batch), "maxBatch");
        Range(steps, 1, maxSteps, nameof(steps), "maxSteps");
        Length(input.Length, (long)batch * steps * spec.InputSize, nameof(input), new Shape("[batch, steps, inputSize]", batch, steps, spec.InputSize));
        OptionalLength(output.Length, (long)batch * steps * spec.OutputSize, nameof(output), new Shape("[batch, steps, directions·hidden]", batch, steps, spec.OutputSize));
        States(spec, batch, h0.Length, c0.Length, nameof(h0), nameof(c0));
        States(spec, batch, hN.Length, cN.Length, nameof(hN), nameof(cN));
        Lengths(lengths, batch, steps);
    }

    /// <summary>The checks of Backward, against the shapes of the Forward before it.</summary>
    public static void Backward<T>(RnnSpec spec, int batch, int steps, ReadOnlySpan<T> dOutput, Span<T> dInput,
        ReadOnlySpan<T> dhN, ReadOnlySpan<T> dcN, Span<T> dh0, Span<T> dc0)
    {
        Length(dOutput.Length, (long)batch * steps * spec.OutputSize, nameof(dOutput), new Shape("[batch, steps, directions·hidden] of the last Forward", batch, steps, spec.OutputSize));
        OptionalLength(dInput.Length, (long)batch * steps * spec.InputSize, nameof(dInput), new Shape("[batch, steps, inputSize] of the last Forward", batch, steps, spec.InputSize));
        States(spec, batch, dhN.Length, dcN.Length, nameof(dhN), nameof(dcN));
        States(spec, batch, dh0.Length, dc0.Length, nameof(dh0), nameof(dc0));
    }

    /// <summary>Optional state spans [layers·directions, batch, hidden].</summary>
    public static void States(RnnSpec spec, int batch, int h, int c, string hName, string cName)
    {
        long n = (long)spec.Layers * spec.Directions * batch * spec.HiddenSize;
        var shape = new Shape("[layers·directions, batch, hidden]", spec.Layers * spec.Directions, batch, spec.HiddenSize);
        OptionalLength(h, n, hName, shape);
        if (spec.HasCellState)
        {
            OptionalLength(c, n, cName, shape);
        }
        else
        {
            NoCellState(c, spec, cName);
        }
    }

    [DoesNotReturn]
    private static void ThrowRange(int value, int min, int max, string name, string what) =>
        throw new ArgumentOutOfRangeException(name, value, $"{name}: expected {min}..{max} ({what}), got {value}.");

    [DoesNotReturn]
    private static void ThrowLength(int actual, long expected, string name, Shape shape, bool optional) =>
        throw new ArgumentException($"{name}: expected {(optional ? "an empty span or " : "")}{expected} elements ({shape}), got {actual}.", name);

    [DoesNotReturn]
    private static void Throw(Exception e) => throw e;

    /// <summary>A shape for error messages, formatted only when an exception is thrown (checks must not allocate).</summary>
    public readonly struct Shape(string names, int d0, int d1 = -1, int d2 = -1)
    {
        public override string ToString() =>
            $"{names} = [{d0}{(d1 >= 0 ? $", {d1}" : "")}{(d2 >= 0 ? $", {d2}" : "")}]";
    }
}
