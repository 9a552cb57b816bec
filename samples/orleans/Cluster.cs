using System.Diagnostics;
using System.Net;
using FastLstm.Orleans;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace FastLstm.Samples.Orleans;

/// <summary>Silos and a client on localhost (TCP, development clustering), and a closed-loop load of streams.</summary>
public static class Cluster
{
    public const int SiloPort = 11111, GatewayPort = 30000;

    /// <summary>Silo <paramref name="instance"/> (0 is the primary the others join), serving the Genesis model as "genesis".</summary>
    public static async Task<IHost> StartSiloAsync(int instance, string model, string storage, int saveEvery, int threads, CancellationToken cancellationToken)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.UseOrleans(silo => silo
            .UseLocalhostClustering(SiloPort + instance, GatewayPort + instance, new IPEndPoint(IPAddress.Loopback, SiloPort))
            .AddFastLstmStreams(o =>
            {
                o.SaveEvery = saveEvery;
                o.Threads = threads;
            })
            .AddFastLstmModelFile("genesis", model)
            .AddFastLstmFileStorage(storage));
        var host = builder.Build();
        await host.StartAsync(cancellationToken);
        return host;
    }

    public static async Task<IHost> StartClientAsync(int silos, CancellationToken cancellationToken)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.UseOrleansClient(client => client.UseLocalhostClustering(Enumerable.Range(GatewayPort, silos).ToArray()));
        var host = builder.Build();
        await host.StartAsync(cancellationToken);
        return host;
    }

    /// <summary>
    /// <paramref name="streams"/> streams, each sending its next one-hot character when the previous step answered, for
    /// <paramref name="seconds"/> after a warm-up: steps per second and p50 / p99 latency in milliseconds.
    /// </summary>
    public static async Task<(double StepsPerSecond, double P50, double P99)> LoadAsync(IGrainFactory grains, int inputs, int streams, double seconds, string prefix, CancellationToken cancellationToken)
    {
        var samples = new long[8 << 20];
        long recorded = 0;
        bool measuring = false, stop = false;
        var clients = Enumerable.Range(0, streams).Select(s => Task.Run(async () =>
        {
            var grain = grains.GetRnnStream("genesis", $"{prefix}{s}");
            var x = new float[inputs];
            long position = -1;
            var rng = new Random(s);
            while (!Volatile.Read(ref stop))
            {
                Array.Clear(x);
                x[rng.Next(inputs)] = 1;
                long start = Stopwatch.GetTimestamp();
                var result = await grain.Step(position, x);
                long took = Stopwatch.GetTimestamp() - start;
                if (!result.Applied)
                {
                    throw new InvalidOperationException($"stream {s}: at step {result.Step}, not {position}.");
                }

                position = result.Step;
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
        await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
        var clock = Stopwatch.StartNew();
        Volatile.Write(ref measuring, true);
        await Task.Delay(TimeSpan.FromSeconds(seconds), cancellationToken);
        Volatile.Write(ref measuring, false);
        double elapsed = clock.Elapsed.TotalSeconds;
        long steps = Interlocked.Read(ref recorded);
        Volatile.Write(ref stop, true);
        await Task.WhenAll(clients);
        int kept = (int)Math.Min(steps, samples.Length);
        Array.Sort(samples, 0, kept);
        double Percentile(double p) => kept == 0 ? double.NaN : samples[(int)Math.Min(kept - 1, p * kept)] * 1e3 / Stopwatch.Frequency;
        return (steps / elapsed, Percentile(0.5), Percentile(0.99));
    }
}
