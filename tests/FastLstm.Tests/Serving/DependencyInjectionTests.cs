using FastLstm.Serving;
using Microsoft.Extensions.DependencyInjection;

namespace FastLstm.Tests.Serving;

public class DependencyInjectionTests
{
    /// <summary>One batcher per model under its key, made once, disposed with the container.</summary>
    [Fact]
    public void EachModelGetsItsOwnBatcherDisposedWithTheContainer()
    {
        var lstm = RnnModel<float>.CreateRandom(new RnnSpec(CellType.Lstm, 3, 4), 1);
        var gru = RnnModel<float>.CreateRandom(new RnnSpec(CellType.Gru, 2, 5), 2);
        var services = new ServiceCollection()
            .AddKeyedStreamBatcher("lstm", _ => lstm, maxStreams: 4)
            .AddKeyedStreamBatcher("gru", _ => gru, maxStreams: 2, maxBatch: 8, threads: 2, new StreamBatcherOptions { QueueCapacity = 3 })
            .AddStreamBatcher(_ => lstm, maxStreams: 1);
        StreamBatcher<float> first;
        using (var provider = services.BuildServiceProvider())
        {
            first = provider.GetRequiredKeyedService<StreamBatcher<float>>("lstm");
            var second = provider.GetRequiredKeyedService<StreamBatcher<float>>("gru");
            Assert.Same(first, provider.GetRequiredKeyedService<StreamBatcher<float>>("lstm"));
            Assert.Same(lstm, first.Model);
            Assert.Same(gru, second.Model);
            Assert.Equal((2, 8, 2, 3), (second.MaxStreams, second.MaxBatch, second.Threads, second.Options.QueueCapacity));
            Assert.Equal(1, provider.GetRequiredService<StreamBatcher<float>>().MaxStreams);
            using var stream = first.Open();
            stream.Step([1, 2, 3], new float[4]);
        }

        Assert.Throws<ObjectDisposedException>(() => first.Open());
    }
}
