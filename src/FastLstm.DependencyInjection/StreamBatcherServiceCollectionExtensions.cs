using System.Numerics;
using FastLstm;
using FastLstm.Serving;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// A <see cref="StreamBatcher{T}"/> as a singleton: made on first use from the model the factory gives, disposed with the
/// container (pending steps then end with <see cref="ObjectDisposedException"/>). One batcher per model: register each
/// model under its own key.
/// </summary>
public static class StreamBatcherServiceCollectionExtensions
{
    /// <summary>Registers the batcher of one model, resolved as <see cref="StreamBatcher{T}"/>.</summary>
    public static IServiceCollection AddStreamBatcher<T>(this IServiceCollection services, Func<IServiceProvider, RnnModel<T>> model,
        int maxStreams, int maxBatch = 64, int threads = 1, StreamBatcherOptions? options = null)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(model);
        return services.AddSingleton(provider => new StreamBatcher<T>(model(provider), maxStreams, maxBatch, threads, options));
    }

    /// <summary>Registers the batcher of one of several models under <paramref name="key"/> (resolved with <c>[FromKeyedServices(key)]</c>).</summary>
    public static IServiceCollection AddKeyedStreamBatcher<T>(this IServiceCollection services, object? key, Func<IServiceProvider, RnnModel<T>> model,
        int maxStreams, int maxBatch = 64, int threads = 1, StreamBatcherOptions? options = null)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(model);
        return services.AddKeyedSingleton(key, (provider, _) => new StreamBatcher<T>(model(provider), maxStreams, maxBatch, threads, options));
    }
}
