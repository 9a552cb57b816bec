using BenchmarkDotNet.Attributes;

namespace FastLstm.Bench;

/// <summary>
/// What the ONNX LSTM options cost: the general LSTM kernel (peepholes, clip, coupled gates, other activations) against
/// the standard one on the same sizes, a sequence and a streaming step, training forward + backward too.
/// </summary>
public class LstmOptionsBenchmarks
{
    private Workload _w = null!;
    private InferenceSession<float> _session = null!;
    private TrainingSession<float> _training = null!;
    private float[] _h = [], _c = [];

    public enum Variant
    {
        Standard,
        Peepholes,
        ClipAndCoupled,
        HardSigmoidSoftsign,
    }

    [ParamsAllValues]
    public Variant Options { get; set; }

    [ParamsSource(nameof(Sizes))]
    public Size Size { get; set; } = null!;

    public static IEnumerable<Size> Sizes() => [new(1, 1, 256), new(16, 50, 256)];

    [GlobalSetup]
    public void Setup()
    {
        _w = new Workload(CellType.Lstm, Size.Batch, Size.Steps, Size.Hidden, Size.Hidden);
        var options = Options switch
        {
            Variant.Peepholes => new LstmOptions { Peepholes = true },
            Variant.ClipAndCoupled => new LstmOptions { CellClip = 3, CoupledInputForget = true },
            Variant.HardSigmoidSoftsign => new LstmOptions
            {
                GateActivation = RnnActivation.WithDefaults(RnnActivationKind.HardSigmoid),
                CellActivation = new(RnnActivationKind.Softsign),
                OutputActivation = new(RnnActivationKind.Softsign),
            },
            _ => null,
        };
        var model = RnnModel<float>.CreateRandom(_w.Model.Spec with { LstmOptions = options }, 1);
        _session = new InferenceSession<float>(model, Size.Batch, Size.Steps);
        _training = new TrainingSession<float>(model, Size.Batch, Size.Steps);
        (_h, _c) = (new float[_w.H.Length], new float[_w.C.Length]);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _session.Dispose();
        _training.Dispose();
    }

    [Benchmark]
    public void Inference()
    {
        if (Size.Steps == 1)
        {
            _w.H.CopyTo(_h, 0);
            _w.C.CopyTo(_c, 0);
            _session.Step(_w.Input, Size.Batch, _w.Output, _h, _c);
        }
        else
        {
            _session.Forward(_w.Input, Size.Batch, Size.Steps, _w.Output, _w.H, _w.C);
        }
    }

    [Benchmark]
    public void Training()
    {
        _training.Forward(_w.Input, Size.Batch, Size.Steps, _w.Output, _w.H, _w.C);
        _training.Backward(_w.DOutput);
    }
}
