using BenchmarkDotNet.Attributes;

namespace FastLstm.Bench;

/// <summary>One training step: forward keeping activations, then backpropagation through time (H = I).</summary>
public class TrainingBenchmarks
{
    private Workload _w = null!;
    private TrainingSession<float> _session = null!;
    private float[] _dInput = null!;

    [ParamsAllValues]
    public Cell Cell { get; set; }

    [ParamsSource(nameof(Sizes))]
    public Size Size { get; set; } = null!;

    public static IEnumerable<Size> Sizes() => [new(16, 50, 256)];

    [GlobalSetup]
    public void Setup()
    {
        _w = new Workload(Cell.ToCellType(), Size.Batch, Size.Steps, Size.Hidden, Size.Hidden);
        _session = new TrainingSession<float>(_w.Model, Size.Batch, Size.Steps);
        _dInput = new float[_w.Input.Length];
    }

    [GlobalCleanup]
    public void Cleanup() => _session.Dispose();

    [Benchmark(Baseline = true)]
    public void Naive()
    {
        _w.Naive.Forward(_w.Input, Size.Batch, Size.Steps, _w.Output, _w.H, _w.C);
        _w.Naive.Backward(_w.DOutput, _dInput);
    }

    [Benchmark]
    public void Fused()
    {
        _session.Forward(_w.Input, Size.Batch, Size.Steps, _w.Output, _w.H, _w.C);
        _session.Backward(_w.DOutput, _dInput);
    }
}
