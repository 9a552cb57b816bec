using BenchmarkDotNet.Attributes;

namespace FastLstm.Bench;

/// <summary>Training step (forward + backward through time, input gradients included) at the sizes libtorch is compared on.</summary>
public class TrainingPeerBenchmarks
{
    private Workload _w = null!;
    private TrainingSession<float> _session = null!;
    private float[] _dInput = null!;

    [ParamsAllValues]
    public PeerBenchmarks.PeerCell Cell { get; set; }

    [ParamsSource(nameof(Cases))]
    public Size Size { get; set; } = null!;

    [Params(1, 2)]
    public int Threads { get; set; }

    public static IEnumerable<Size> Cases() => [new(16, 50, 256), new(32, 25, 512)];

    [GlobalSetup]
    public void Setup()
    {
        var cell = Cell switch { PeerBenchmarks.PeerCell.Lstm => CellType.Lstm, PeerBenchmarks.PeerCell.Gru => CellType.Gru, _ => CellType.RnnTanh };
        _w = new Workload(cell, Size.Batch, Size.Steps, Size.Hidden, Size.Hidden);
        _session = new TrainingSession<float>(_w.Model, Size.Batch, Size.Steps, Threads);
        _dInput = new float[_w.Input.Length];
    }

    [GlobalCleanup]
    public void Cleanup() => _session.Dispose();

    [Benchmark]
    public void Fused()
    {
        _session.Forward(_w.Input, Size.Batch, Size.Steps, _w.Output, _w.H, _w.C);
        _session.Backward(_w.DOutput, _dInput);
    }
}
