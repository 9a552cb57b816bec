using System.Net;
using FastLstm.Orleans;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using FastLstm.Samples;

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

    /// <summary>Characters the model reads one-hot (its input size).</summary>
    public static int InputSize(string model) => FastLstm.Training.ModelFile.Load<float>(model).Network.Spec.InputSize;

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
    /// <paramref name="seconds"/> after a warm-up of 1 s.
    /// </summary>
    public static Task<ClosedLoopResult> LoadAsync(IGrainFactory grains, int inputs, int streams, double seconds, string prefix, CancellationToken cancellationToken) =>
        ClosedLoop.RunAsync(streams, s =>
        {
            var grain = grains.GetRnnStream("genesis", $"{prefix}{s}");
            var x = new float[inputs];
            long position = -1;
            var rng = new Random(s);
            return async () =>
            {
                Array.Clear(x);
                x[rng.Next(inputs)] = 1;
                var result = await grain.Step(position, x);
                if (!result.Applied)
                {
                    throw new InvalidOperationException($"stream {s}: at step {result.Step}, not {position}.");
                }

                position = result.Step;
            };
        }, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(seconds), cancellationToken);
}
