using FastLstm.Serving;
using Microsoft.Extensions.Options;

namespace FastLstm.Orleans;

/// <summary>The models registered on a silo, by name, each with the silo's one batcher for it (made at first use).</summary>
public sealed class StreamModels : IDisposable
{
    private readonly Dictionary<string, Lazy<StreamBatcher<float>>> _batchers;

    internal StreamModels(IEnumerable<ModelRegistration> models, IServiceProvider services, IOptions<RnnStreamOptions> options)
    {
        var o = options.Value;
        _batchers = models.ToDictionary(
            m => m.Name,
            m => new Lazy<StreamBatcher<float>>(() => new StreamBatcher<float>(m.Model(services), o.MaxStreams, o.MaxBatch, o.Threads)),
            StringComparer.Ordinal);
    }

    /// <summary>The registered names.</summary>
    public IReadOnlyCollection<string> Names => _batchers.Keys;

    /// <summary>The silo's batcher for <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">No model is registered under that name.</exception>
    public StreamBatcher<float> Batcher(string name) =>
        _batchers.TryGetValue(name, out var batcher) ? batcher.Value
            : throw new ArgumentException($"model: no model '{name}' is registered on this silo; registered: {string.Join(", ", _batchers.Keys)}.", nameof(name));

    /// <summary>Stops the batchers made so far.</summary>
    public void Dispose()
    {
        foreach (var batcher in _batchers.Values.Where(b => b.IsValueCreated))
        {
            batcher.Value.Dispose();
        }
    }
}

internal sealed record ModelRegistration(string Name, Func<IServiceProvider, RnnModel<float>> Model);
