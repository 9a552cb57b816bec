using BenchmarkDotNet.Attributes;

namespace FastLstm.Bench;

/// <summary>
/// A training step (forward + backward through time, input gradients included) against libtorch 2.10 (TorchSharp), whose
/// output and gradients are checked equal to FastLstm's in setup. libtorch is the baseline.
/// </summary>
public class TrainingPeerBenchmarks
{
    private Workload _w = null!;
    private TrainingSession<float>? _session;
    private TorchPeer? _torch;
    private float[] _dInput = null!;

    [ParamsAllValues]
    public PeerBenchmarks.PeerCell Cell { get; set; }

    [ParamsSource(nameof(Cases))]
    public Size Size { get; set; } = null!;

    [Params(1, 2)]
    public int Threads { get; set; }

    public static IEnumerable<Size> Cases() => [new(16, 50, 256), new(32, 25, 512)];

    /// <summary>Both engines, libtorch's output gradients checked equal to FastLstm's (bench/peers.sh's <c>--verify-peers</c>).</summary>
    public void Setup()
    {
        SetupFused();
        SetupTorch();
        Fused();
        _torch!.Train();
        var (weightHh, input) = _torch.Gradients();
        PeerBenchmarks.Check(_w, "libtorch grad weight_hh_l0", _session!.Gradient("weight_hh_l0").ToArray(), weightHh);
        PeerBenchmarks.Check(_w, "libtorch grad input", _dInput, input);
    }

    [GlobalSetup(Target = nameof(Fused))]
    public void SetupFused()
    {
        CreateWorkload();
        _session = new TrainingSession<float>(_w.Model, Size.Batch, Size.Steps, Threads);
        _dInput = new float[_w.Input.Length];
    }

    [GlobalSetup(Target = nameof(Libtorch))]
    public void SetupTorch()
    {
        CreateWorkload();
        _torch = new TorchPeer(_w, Threads, training: true);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _session?.Dispose();
        _torch?.Dispose();
    }

    [Benchmark(Baseline = true)]
    public void Libtorch() => _torch!.Train();

    [Benchmark]
    public void Fused()
    {
        _session!.ZeroGradients();
        _session.Forward(_w.Input, Size.Batch, Size.Steps, _w.Output, _w.H, _w.C);
        _session.Backward(_w.DOutput, _dInput);
    }

    private void CreateWorkload()
    {
        _w ??= new Workload(Cell switch { PeerBenchmarks.PeerCell.Lstm => CellType.Lstm, PeerBenchmarks.PeerCell.Gru => CellType.Gru, _ => CellType.RnnTanh }, Size.Batch, Size.Steps, Size.Hidden, Size.Hidden);
    }
}
