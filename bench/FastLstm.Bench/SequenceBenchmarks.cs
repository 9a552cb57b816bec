using BenchmarkDotNet.Attributes;

namespace FastLstm.Bench;

/// <summary>Sequence inference over all steps (H = I), many-to-many.</summary>
public class SequenceBenchmarks
{
    private Workload _w = null!;
    private InferenceSession<float> _session = null!;

    [ParamsAllValues]
    public Cell Cell { get; set; }

    [ParamsSource(nameof(Sizes))]
    public Size Size { get; set; } = null!;

    public static IEnumerable<Size> Sizes() => [new(1, 100, 256), new(16, 50, 512)];

    [GlobalSetup]
    public void Setup()
    {
        _w = new Workload(Cell.ToCellType(), Size.Batch, Size.Steps, Size.Hidden, Size.Hidden);
        _session = new InferenceSession<float>(_w.Model, Size.Batch, Size.Steps);
    }

    [GlobalCleanup]
    public void Cleanup() => _session.Dispose();

    [Benchmark(Baseline = true)]
    public void Naive() => _w.Naive.Forward(_w.Input, Size.Batch, Size.Steps, _w.Output, _w.H, _w.C);

    [Benchmark]
    public void Fused() => _session.Forward(_w.Input, Size.Batch, Size.Steps, _w.Output, _w.H, _w.C);
}
