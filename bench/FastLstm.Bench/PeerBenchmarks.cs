using BenchmarkDotNet.Attributes;

namespace FastLstm.Bench;

/// <summary>
/// FastLstm against ONNX Runtime's own operators and libtorch 2.10 (TorchSharp) on the same weights, sizes and thread
/// counts (H = I). ONNX Runtime is the baseline of each row. Each benchmark process builds only the engine it times (a
/// libtorch load or an idle peer's threads would tax the others); <see cref="Setup"/> builds all three and checks every
/// peer's output equal to FastLstm's, which bench/peers.sh runs first (<c>--verify-peers</c>) in the same session.
/// </summary>
public class PeerBenchmarks
{
    private Workload _w = null!;
    private InferenceSession<float>? _session;
    private OnnxRunner? _onnx;
    private TorchPeer? _torch;

    public enum PeerCell
    {
        Lstm,
        Gru,
        RnnTanh,
    }

    [ParamsAllValues]
    public PeerCell Cell { get; set; }

    [ParamsSource(nameof(Cases))]
    public Size Size { get; set; } = null!;

    [Params(1, 2)]
    public int Threads { get; set; }

    public static IEnumerable<Size> Cases() =>
        [new(1, 1, 64), new(1, 1, 128), new(1, 1, 256), new(1, 1, 512), new(1, 100, 256), new(4, 150, 256), new(16, 50, 512), new(64, 25, 1024)];

    /// <summary>Every engine, each peer's output checked equal to FastLstm's.</summary>
    public void Setup()
    {
        SetupFused();
        SetupOnnx();
        SetupTorch();
        Verify(_w, _session!, _onnx!, _torch!);
    }

    [GlobalSetup(Target = nameof(Fused))]
    public void SetupFused()
    {
        CreateWorkload();
        _session = new InferenceSession<float>(_w.Model, Size.Batch, Size.Steps, Threads);

        // Here, not in an [IterationSetup]: that would make BenchmarkDotNet time one call per iteration, cold.
        int state = Size.Batch * Size.Hidden;
        (_h, _c, _hN, _cN) = (new float[state], new float[_w.C.Length], new float[state], new float[_w.C.Length]);
    }

    [GlobalSetup(Target = nameof(OnnxRuntime))]
    public void SetupOnnx()
    {
        CreateWorkload();
        _onnx = new OnnxRunner(_w.Model, Size.Batch, Size.Steps, Threads, _w.Input, _w.H, _w.C);
    }

    [GlobalSetup(Target = nameof(Libtorch))]
    public void SetupTorch()
    {
        CreateWorkload();
        _torch = new TorchPeer(_w, Threads, training: false);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _session?.Dispose();
        _onnx?.Dispose();
        _torch?.Dispose();
    }

    [Benchmark(Baseline = true)]
    public void OnnxRuntime() => _onnx!.Run();

    [Benchmark]
    public void Libtorch() => _torch!.Infer();

    [Benchmark]
    public void Fused() => _w.Run(_session!, _h, _c, _hN, _cN);

    private float[] _h = [], _c = [], _hN = [], _cN = [];

    private void CreateWorkload()
    {
        _w ??= new Workload(Cell switch { PeerCell.Lstm => CellType.Lstm, PeerCell.Gru => CellType.Gru, _ => CellType.RnnTanh }, Size.Batch, Size.Steps, Size.Hidden, Size.Hidden);
    }

    /// <summary>Every engine on the same input and initial state: outputs (and final states) must agree to float rounding.</summary>
    public static void Verify(Workload w, InferenceSession<float> session, OnnxRunner onnx, TorchPeer torch)
    {
        int state = w.Batch * w.Spec.HiddenSize;
        var hN = new float[state];
        var cN = new float[w.Spec.HasCellState ? state : 0];
        session.Forward(w.Input, w.Batch, w.Steps, w.Output, w.H, w.C, hN, cN);
        onnx.Run();
        var theirs = onnx.BatchFirstOutput();
        Check(w, "ONNX Runtime output", w.Output, theirs);
        Check(w, "ONNX Runtime hN", hN, onnx.HN);
        if (w.Spec.HasCellState)
        {
            Check(w, "ONNX Runtime cN", cN, onnx.CN);
        }

        Check(w, "libtorch output", w.Output, torch.Infer(keep: true)!);
    }

    /// <summary>Throws unless a peer's tensor equals FastLstm's to 1e-4 of its scale.</summary>
    public static void Check(Workload w, string name, float[] ours, float[] theirs)
    {
        double diff = 0, scale = 0;
        for (int i = 0; i < ours.Length; i++)
        {
            diff = Math.Max(diff, Math.Abs(ours[i] - theirs[i]));
            scale = Math.Max(scale, Math.Abs(theirs[i]));
        }

        if (ours.Length != theirs.Length || !(diff <= 1e-4 * Math.Max(scale, 1e-3)))
        {
            throw new InvalidOperationException($"{w.Spec.Cell} {name}: FastLstm and the peer differ by {diff:E2} (scale {scale:E2}).");
        }
    }
}
