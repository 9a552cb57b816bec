using FastLstm.Orleans;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.TestingHost;

namespace FastLstm.Tests.Orleans;

/// <summary>
/// Streams as grains on a real in-process cluster (Orleans' TestingHost, in-memory transport): spread over silos, equal
/// to a session's run, and surviving a silo's crash and a deactivation through the file storage the silos share.
/// </summary>
public sealed class ClusterTests : IAsyncLifetime
{
    private const int Steps = 12;
    private static readonly RnnModel<float> Model = RnnModel<float>.CreateRandom(new RnnSpec(CellType.Lstm, 3, 8, 2), 5);
    private readonly string _storage = Path.Combine(Path.GetTempPath(), $"fastlstm-orleans-{Guid.NewGuid():N}");
    private InProcessTestCluster? _cluster;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }

        if (Directory.Exists(_storage))
        {
            Directory.Delete(_storage, recursive: true);
        }
    }

    [Fact]
    public async Task StreamsSpreadOverTheSilosMatchASessionRun()
    {
        var cluster = await Start(silos: 2, saveEvery: 1);
        var inputs = Inputs(count: 16, seed: 1);
        var outputs = await Task.WhenAll(inputs.Select((x, s) => RunAsync(cluster.Client.GetRnnStream("lstm", $"s{s}"), x, 0, Steps, useMany: s % 2 == 1)));
        for (int s = 0; s < inputs.Length; s++)
        {
            AssertClose(Alone(inputs[s]), outputs[s]);
        }

        var hosted = cluster.Silos.Select(silo => silo.ServiceProvider.GetRequiredService<StreamModels>().Batcher("lstm").OpenStreams).ToArray();
        Assert.True(hosted.All(n => n > 0), $"streams per silo: {string.Join(", ", hosted)}; expected every silo to host some");
        Assert.Equal(inputs.Length, hosted.Sum());
    }

    /// <summary>
    /// A silo killed mid-run: its streams resume on the other from their stored state; a stream that lost steps says from
    /// which one instead of applying the next input to an older state, and once they are sent again it is back on its
    /// sequence. Saving after every step loses none.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public async Task AKilledSilosStreamsResumeFromTheirStoredState(int saveEvery)
    {
        var cluster = await Start(silos: 2, saveEvery);
        var inputs = Inputs(count: 8, seed: 2);
        var grains = Enumerable.Range(0, inputs.Length).Select(s => cluster.Client.GetRnnStream("lstm", $"k{s}")).ToArray();
        const int before = 7;
        var outputs = await Task.WhenAll(grains.Select((g, s) => RunAsync(g, inputs[s], 0, before, useMany: false)));
        var victim = cluster.Silos[1];
        int onVictim = victim.ServiceProvider.GetRequiredService<StreamModels>().Batcher("lstm").OpenStreams;
        Assert.True(onVictim > 0, "no stream on the silo to kill");
        await cluster.KillSiloAsync(victim);

        int rewound = 0;
        for (int s = 0; s < grains.Length; s++)
        {
            var next = await Retry(() => grains[s].Step(before, Slice(inputs[s], before, before + 1)));
            if (!next.Applied)
            {
                rewound++;
                Assert.InRange(before - next.Step, 1, saveEvery - 1);
                next = await grains[s].StepMany(next.Step, Slice(inputs[s], (int)next.Step, before + 1));
                Assert.True(next.Applied);
            }

            Assert.Equal(before + 1, next.Step);
            Array.Copy(next.Output, next.Output.Length - 8, outputs[s], before * 8, 8);
        }

        Assert.Equal(saveEvery == 1 ? 0 : onVictim, rewound);
        for (int s = 0; s < grains.Length; s++)
        {
            var rest = await grains[s].StepMany(before + 1, Slice(inputs[s], before + 1, Steps));
            Assert.True(rest.Applied);
            Array.Copy(rest.Output, 0, outputs[s], (before + 1) * 8, rest.Output.Length);
            AssertClose(Alone(inputs[s]), outputs[s]);
        }
    }

    /// <summary>Deactivated between saves, a stream saves on the way out and resumes exactly where it was; Close forgets it.</summary>
    [Fact]
    public async Task ADeactivatedStreamResumesExactly()
    {
        var cluster = await Start(silos: 1, saveEvery: 100);
        var x = Inputs(count: 1, seed: 3)[0];
        var grain = cluster.Client.GetRnnStream("lstm", "d");
        var output = await RunAsync(grain, x, 0, 5, useMany: false);
        await cluster.DeactivateAsync(grain);
        var next = await grain.StepMany(5, Slice(x, 5, Steps));
        Assert.True(next.Applied);
        Assert.Equal(Steps, next.Step);
        Array.Copy(next.Output, 0, output, 5 * 8, next.Output.Length);
        AssertClose(Alone(x), output);

        var stale = await grain.Step(3, Slice(x, 3, 4));
        Assert.Equal((false, (long)Steps, 0), (stale.Applied, stale.Step, stale.Output.Length));

        await grain.Close();
        var fresh = await grain.Step(0, Slice(x, 0, 1));
        Assert.Equal((true, 1L), (fresh.Applied, fresh.Step));
        AssertClose(Alone(x)[..8], fresh.Output);
    }

    /// <summary>Models registered from a FastLstm model file and from an ONNX file run as the files' networks do.</summary>
    [Fact]
    public async Task ModelsRegisteredFromFilesRunAsTheirNetworks()
    {
        string genesis = Path.Combine(RepositoryRoot.Path, "samples", "serving", "genesis.model");
        string air = Path.Combine(RepositoryRoot.Path, "samples", "pytorch", "air-passengers-lstm.onnx");
        var cluster = await Start(silos: 1, saveEvery: 1, silo => silo.AddFastLstmModelFile("genesis", genesis).AddFastLstmModelFile("air", air));
        foreach (var (name, network) in new[] { ("genesis", FastLstm.Training.ModelFile.Load<float>(genesis).Network), ("air", FastLstm.Onnx.OnnxModel.Load(air).Rnn) })
        {
            var x = TestData.Uniform<float>(new Random(4), network.Spec.InputSize);
            var result = await cluster.Client.GetRnnStream(name, "one").Step(0, x);
            using var session = new InferenceSession<float>(network, 1, 1);
            var y = new float[network.Spec.HiddenSize];
            session.Forward(x, 1, 1, y);
            AssertClose(y, result.Output);
        }
    }

    [Fact]
    public async Task AnUnknownModelOrAWrongShapeIsRefusedByName()
    {
        var cluster = await Start(silos: 1, saveEvery: 1);
        var unknown = await Assert.ThrowsAnyAsync<Exception>(() => cluster.Client.GetRnnStream("nope", "a").Step(-1, [1, 2, 3]));
        Assert.Contains("no model 'nope'", unknown.Message);
        var shape = await Assert.ThrowsAsync<ArgumentException>(() => cluster.Client.GetRnnStream("lstm", "a").StepMany(-1, [1, 2, 3, 4]));
        Assert.Contains("inputSize 3", shape.Message);
    }

    private async Task<InProcessTestCluster> Start(short silos, int saveEvery, Action<ISiloBuilder>? more = null)
    {
        var builder = new InProcessTestClusterBuilder(silos);
        builder.Options.ConfigureFileLogging = false;
        builder.ConfigureSilo((_, silo) => silo
            .AddFastLstmStreams(o => o.SaveEvery = saveEvery)
            .AddFastLstmModel("lstm", _ => Model)
            .AddFastLstmFileStorage(_storage)
            .Configure<ClusterMembershipOptions>(o =>
            {
                // A killed silo is declared dead in about a second rather than the production default's tens of seconds.
                o.ProbeTimeout = TimeSpan.FromMilliseconds(300);
                o.NumMissedProbesLimit = 2;
                o.NumVotesForDeathDeclaration = 1;
                o.TableRefreshTimeout = TimeSpan.FromMilliseconds(500);
            }));
        if (more is not null)
        {
            builder.ConfigureSilo((_, silo) => more(silo));
        }

        _cluster = builder.Build();
        await _cluster.DeployAsync();
        return _cluster;
    }

    /// <summary>Steps [from, to) of <paramref name="x"/>, one call each or all in one; the outputs in a [Steps, hidden] array.</summary>
    private static async Task<float[]> RunAsync(IRnnStreamGrain grain, float[] x, int from, int to, bool useMany)
    {
        var output = new float[Steps * 8];
        if (useMany)
        {
            var result = await grain.StepMany(from, Slice(x, from, to));
            Assert.Equal((true, (long)to), (result.Applied, result.Step));
            result.Output.CopyTo(output, from * 8);
            return output;
        }

        for (int t = from; t < to; t++)
        {
            var result = await grain.Step(t, Slice(x, t, t + 1));
            Assert.Equal((true, (long)t + 1), (result.Applied, result.Step));
            result.Output.CopyTo(output, t * 8);
        }

        return output;
    }

    private static float[] Slice(float[] x, int from, int to) => x[(from * 3)..(to * 3)];

    /// <summary>Calls to a killed silo's grains fail until the cluster has declared it dead; a client retries them.</summary>
    private static async Task<StreamStepResult> Retry(Func<Task<StreamStepResult>> call)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            try
            {
                return await call();
            }
            catch (Exception) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(200);
            }
        }
    }

    private static float[][] Inputs(int count, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => TestData.Uniform<float>(rng, Steps * 3)).ToArray();
    }

    private static float[] Alone(float[] x)
    {
        using var session = new InferenceSession<float>(Model, 1, Steps);
        var y = new float[Steps * 8];
        session.Forward(x, 1, Steps, y);
        return y;
    }

    private static void AssertClose(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5f * (1 + Math.Abs(expected[i])), $"[{i}]: expected {expected[i]}, got {actual[i]}");
        }
    }
}
