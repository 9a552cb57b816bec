using BenchmarkDotNet.Attributes;

namespace FastLstm.Bench;

/// <summary>
/// Compressed weights, LSTM (I = H): FastLstm's Full, BFloat16 and Int8 sessions against ONNX Runtime's float LSTM (the
/// baseline of each row) and its int8 <c>DynamicQuantizeLSTM</c> (what <c>quantize_dynamic</c> makes of the model,
/// per-channel), same weights, sizes and thread counts. Streaming steps carry their state; sequences run whole.
/// <c>--verify-compressed</c> prints how far each compressed engine's outputs are from the float model's.
/// </summary>
public class CompressedWeightsBenchmarks
{
    private Workload _w = null!;
    private InferenceSession<float>? _session;
    private OnnxRunner? _onnx;
    private float[] _h = [], _c = [], _hN = [], _cN = [];

    [ParamsSource(nameof(Cases))]
    public Size Size { get; set; } = null!;

    [Params(1, 2)]
    public int Threads { get; set; }

    public static IEnumerable<Size> Cases() =>
        [new(1, 1, 128), new(1, 1, 256), new(1, 1, 512), new(1, 100, 256), new(4, 150, 256), new(16, 50, 512), new(64, 25, 1024)];

    [GlobalSetup(Target = nameof(OnnxRuntime))]
    public void SetupOnnx() => _onnx = new OnnxRunner(Workload().Model, Size.Batch, Size.Steps, Threads, _w.Input, _w.H, _w.C);

    [GlobalSetup(Target = nameof(OnnxRuntimeInt8))]
    public void SetupOnnxInt8() => _onnx = new OnnxRunner(Workload().Model, Size.Batch, Size.Steps, Threads, _w.Input, _w.H, _w.C, int8: true);

    [GlobalSetup(Target = nameof(Full))]
    public void SetupFull() => Setup(WeightFormat.Full);

    [GlobalSetup(Target = nameof(BFloat16))]
    public void SetupBFloat16() => Setup(WeightFormat.BFloat16);

    [GlobalSetup(Target = nameof(Int8))]
    public void SetupInt8() => Setup(WeightFormat.Int8);

    [GlobalCleanup]
    public void Cleanup()
    {
        _session?.Dispose();
        _onnx?.Dispose();
    }

    [Benchmark(Baseline = true)]
    public void OnnxRuntime() => _onnx!.Run();

    [Benchmark]
    public void OnnxRuntimeInt8() => _onnx!.Run();

    [Benchmark]
    public void Full() => Run();

    [Benchmark]
    public void BFloat16() => Run();

    [Benchmark]
    public void Int8() => Run();

    /// <summary>For every case, the largest difference of each compressed engine's outputs from FastLstm's Full ones, relative to their largest magnitude.</summary>
    public static void Verify()
    {
        foreach (var size in Cases().Where(s => s.Steps > 1))
        {
            var b = new CompressedWeightsBenchmarks { Size = size, Threads = 2 };
            var full = b.Outputs(WeightFormat.Full);
            var line = $"{size}: largest |output − Full's| / largest |Full output|:";
            foreach (var format in new[] { WeightFormat.BFloat16, WeightFormat.Int8 })
            {
                line += $" FastLstm {format} {Difference(b.Outputs(format), full):E2},";
            }

            using var onnx = new OnnxRunner(b._w.Model, size.Batch, size.Steps, 2, b._w.Input, b._w.H, b._w.C, int8: true);
            onnx.Run();
            line += $" ONNX Runtime int8 {Difference(onnx.BatchFirstOutput(), full):E2}";
            Console.WriteLine(line);
        }
    }

    private static double Difference(float[] a, float[] b) =>
        a.Zip(b, (x, y) => Math.Abs(x - y)).Max() / b.Max(Math.Abs);

    private float[] Outputs(WeightFormat format)
    {
        Setup(format);
        _session!.Forward(_w.Input, Size.Batch, Size.Steps, _w.Output, _w.H, _w.C);
        _session.Dispose();
        return (float[])_w.Output.Clone();
    }

    private void Setup(WeightFormat format)
    {
        _session = new InferenceSession<float>(Workload().Model, Size.Batch, Size.Steps, Threads, format);
        int state = Size.Batch * Size.Hidden;
        (_h, _c, _hN, _cN) = (new float[state], new float[state], new float[state], new float[state]);
    }

    private void Run() => _w.Run(_session!, _h, _c, _hN, _cN);

    private Workload Workload() => _w ??= new Workload(CellType.Lstm, Size.Batch, Size.Steps, Size.Hidden, Size.Hidden);
}
