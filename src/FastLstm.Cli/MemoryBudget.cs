namespace FastLstm.Cli;

/// <summary>Refuses, before any work starts, a run whose buffers cannot fit in the memory this process may use.</summary>
internal static class MemoryBudget
{
    /// <summary>Bytes this process may use: the GC's limit (the machine's memory, or a container's limit).</summary>
    public static long Available => GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;

    /// <summary>
    /// Throws a one-line error when <paramref name="bytes"/> (an estimate of what <paramref name="what"/> needs) is more
    /// than half of <see cref="Available"/>; half, because the estimate leaves out the runtime and its garbage.
    /// </summary>
    public static void Check(string what, double bytes)
    {
        long limit = Available / 2;
        if (bytes > limit)
        {
            throw new CliException($"{what} needs about {Gib(bytes)} of memory; this machine allows {Gib(limit)} for it. Use smaller sizes.");
        }
    }

    /// <summary>
    /// Training memory of one recurrent network and its Adam state: parameters, gradients, two moments and the packed
    /// copies (≈ 6 × parameters), plus the activations backpropagation keeps (≈ gates + states per step and layer).
    /// </summary>
    public static double Training(RnnSpec spec, int batch, int steps, int elementSize = 4)
    {
        double parameters = spec.ParameterCount;
        double activations = (double)batch * steps * spec.Layers * spec.Directions * spec.HiddenSize * (spec.GateCount + 3);
        return elementSize * ((6 * parameters) + (2 * activations));
    }

    private static string Gib(double bytes) => bytes >= 1 << 30 ? $"{bytes / (1 << 30):F1} GiB" : $"{bytes / (1 << 20):F0} MiB";
}
