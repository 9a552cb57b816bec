using BenchmarkDotNet.Attributes;

namespace FastLstm.Bench;

/// <summary>Streaming inference: one timestep of one sequence, state carried in place (H = I).</summary>
public class StepBenchmarks
{
    private Workload _w = null!;
    private InferenceSession<float> _session = null!;

    [ParamsAllValues]
    public Cell Cell { get; set; }

    [Params(64, 128, 256, 512)]
    public int Hidden { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _w = new Workload(Cell.ToCellType(), 1, 1, Hidden, Hidden);
        _session = new InferenceSession<float>(_w.Model, 1, 1);
    }

    [GlobalCleanup]
    public void Cleanup() => _session.Dispose();

    [Benchmark(Baseline = true)]
    public void Naive() => _w.Naive.Forward(_w.Input, 1, 1, _w.Output, _w.H, _w.C, _w.H, _w.C);

    [Benchmark]
    public void Fused() => _session.Step(_w.Input, 1, _w.Output, _w.H, _w.C);
}
