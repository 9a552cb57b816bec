using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Serialization;
using Orleans.Storage;

namespace FastLstm.Orleans;

/// <summary>Registers FastLstm streams on a silo.</summary>
public static class RnnStreamSiloBuilderExtensions
{
    /// <summary>
    /// Hosts <see cref="IRnnStreamGrain"/>s on this silo. Register the models with <see cref="AddFastLstmModel"/> and a
    /// grain storage provider under <see cref="RnnStreamOptions.StorageName"/> (for example <see cref="AddFastLstmFileStorage"/>).
    /// </summary>
    public static ISiloBuilder AddFastLstmStreams(this ISiloBuilder silo, Action<RnnStreamOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(silo);
        var options = silo.Services.AddOptions<RnnStreamOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.Validate(o => o.SaveEvery >= 1 && o.MaxStreams >= 1 && o.MaxBatch >= 1 && o.Threads >= 1 && o.MaxStepsPerCall >= 1,
            "RnnStreamOptions: SaveEvery, MaxStreams, MaxBatch, Threads and MaxStepsPerCall must each be at least 1.");
        silo.Services.AddSingleton(provider => new StreamModels(provider.GetServices<ModelRegistration>(), provider, provider.GetRequiredService<IOptions<RnnStreamOptions>>()));
        return silo;
    }

    /// <summary>Registers a model under <paramref name="name"/> (the part of a stream's key before '/').</summary>
    public static ISiloBuilder AddFastLstmModel(this ISiloBuilder silo, string name, Func<IServiceProvider, RnnModel<float>> model)
    {
        ArgumentNullException.ThrowIfNull(silo);
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(model);
        if (name.Contains('/', StringComparison.Ordinal))
        {
            throw new ArgumentException($"name: a model's name may not contain '/' (it ends the model part of a stream's key), got '{name}'.", nameof(name));
        }

        silo.Services.AddSingleton(new ModelRegistration(name, model));
        return silo;
    }

    /// <summary>
    /// Registers the recurrent network of a file under <paramref name="name"/>: an ONNX file (<c>.onnx</c>: its recurrent
    /// stack, <see cref="Onnx.OnnxModel.Rnn"/>) or a FastLstm model file (its network). Read when the silo first needs it.
    /// </summary>
    public static ISiloBuilder AddFastLstmModelFile(this ISiloBuilder silo, string name, string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = Path.GetFullPath(path);
        return silo.AddFastLstmModel(name, _ => string.Equals(Path.GetExtension(full), ".onnx", StringComparison.OrdinalIgnoreCase)
            ? Onnx.OnnxModel.Load(full).Rnn
            : Training.ModelFile.Load<float>(full).Network);
    }

    /// <summary>Stores the streams' states as files in <paramref name="directory"/> (<see cref="FileGrainStorage"/>).</summary>
    public static ISiloBuilder AddFastLstmFileStorage(this ISiloBuilder silo, string directory)
    {
        ArgumentNullException.ThrowIfNull(silo);
        silo.Services.AddKeyedSingleton<IGrainStorage>(RnnStreamOptions.StorageName, (provider, _) => new FileGrainStorage(directory, provider.GetRequiredService<Serializer>()));
        return silo;
    }
}

/// <summary>The client side: a stream is a grain keyed by model and stream name.</summary>
public static class RnnStreamClient
{
    /// <summary>The stream <paramref name="stream"/> of model <paramref name="model"/> (created at its first step).</summary>
    public static IRnnStreamGrain GetRnnStream(this IGrainFactory grains, string model, string stream)
    {
        ArgumentNullException.ThrowIfNull(grains);
        ArgumentException.ThrowIfNullOrEmpty(model);
        ArgumentException.ThrowIfNullOrEmpty(stream);
        return grains.GetGrain<IRnnStreamGrain>($"{model}/{stream}");
    }
}
