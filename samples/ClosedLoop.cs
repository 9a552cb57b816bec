using System.Diagnostics;

namespace FastLstm.Samples;

/// <summary>What a closed-loop run measured.</summary>
/// <param name="Steps">Steps answered in the measured time.</param>
/// <param name="StepsPerSecond">Answers per second over all clients.</param>
/// <param name="P50">Median time from issuing a step to its answer, in microseconds.</param>
/// <param name="P99">99th percentile of the same.</param>
/// <param name="BytesPerStep">Bytes the process allocated in the measured time per step.</param>
public sealed record ClosedLoopResult(long Steps, double StepsPerSecond, double P50, double P99, double BytesPerStep);

/// <summary>
/// Closed-loop clients, each issuing its next step when the previous one answered (the samples' load generators and the
/// stream benchmark): a warm-up, then a measured window; latency is issue to answer.
/// </summary>
public static class ClosedLoop
{
    /// <param name="clients">How many.</param>
    /// <param name="client">Makes client i's step (it keeps the client's own state between steps).</param>
    /// <param name="warmUp">Run before measuring.</param>
    /// <param name="measured">The measured window.</param>
    /// <param name="cancellationToken">Stops the clients.</param>
    public static async Task<ClosedLoopResult> RunAsync(int clients, Func<int, Func<ValueTask>> client, TimeSpan warmUp, TimeSpan measured, CancellationToken cancellationToken = default)
    {
        var samples = new long[16 << 20];
        long recorded = 0;
        bool measuring = false, stop = false;
        var loops = Enumerable.Range(0, clients).Select(i => Task.Run(async () =>
        {
            var step = client(i);
            while (!Volatile.Read(ref stop))
            {
                long start = Stopwatch.GetTimestamp();
                await step().ConfigureAwait(false);
                long took = Stopwatch.GetTimestamp() - start;
                if (Volatile.Read(ref measuring))
                {
                    long at = Interlocked.Increment(ref recorded) - 1;
                    if (at < samples.Length)
                    {
                        samples[at] = took;
                    }
                }
            }
        }, cancellationToken)).ToArray();

        await Task.Delay(warmUp, cancellationToken).ConfigureAwait(false);
        long bytes = GC.GetTotalAllocatedBytes(precise: true);
        var clock = Stopwatch.StartNew();
        Volatile.Write(ref measuring, true);
        await Task.Delay(measured, cancellationToken).ConfigureAwait(false);
        Volatile.Write(ref measuring, false);
        double elapsed = clock.Elapsed.TotalSeconds;
        long steps = Interlocked.Read(ref recorded);
        bytes = GC.GetTotalAllocatedBytes(precise: true) - bytes;
        Volatile.Write(ref stop, true);
        await Task.WhenAll(loops).ConfigureAwait(false);
        return Summarize(samples, steps, elapsed, bytes);
    }

    /// <summary>Rate, percentiles (µs) and bytes per step from <paramref name="steps"/> latency samples in Stopwatch ticks.</summary>
    public static ClosedLoopResult Summarize(long[] samples, long steps, double elapsed, long bytes)
    {
        int kept = (int)Math.Min(steps, samples.Length);
        Array.Sort(samples, 0, kept);
        double Percentile(double p) => kept == 0 ? double.NaN : samples[(int)Math.Min(kept - 1, p * kept)] * 1e6 / Stopwatch.Frequency;
        return new ClosedLoopResult(steps, steps / elapsed, Percentile(0.5), Percentile(0.99), (double)bytes / Math.Max(1, steps));
    }
}
