using BenchmarkDotNet.Attributes;

namespace FastLstm.Bench;

/// <summary>
/// What the ONNX cell options cost: each cell's general kernel (clip, other activations; LSTM peepholes and coupled gates)
/// against its standard one on the same sizes, a sequence and a streaming step, training forward + backward too.
/// </summary>
public class CellOptionsBenchmarks
{
    private Workload _w = null!;
    private InferenceSession<float> _session = null!;
    private TrainingSession<float> _training = null!;
    private float[] _h = [], _c = [];

    public enum Variant
    {
        LstmStandard,
        LstmPeepholes,
        LstmClipAndCoupled,
        LstmHardSigmoidSoftsign,
        GruStandard,
        GruClipHardSigmoid,
        RnnStandard,
        RnnClipElu,
    }

    [ParamsAllValues]
    public Variant Options { get; set; }

    [ParamsSource(nameof(Sizes))]
    public Size Size { get; set; } = null!;

    public static IEnumerable<Size> Sizes() => [new(1, 1, 256), new(16, 50, 256)];

    [GlobalSetup]
    public void Setup()
    {
        var cell = Options.ToString()[..3] switch { "Lst" => CellType.Lstm, "Gru" => CellType.Gru, _ => CellType.RnnTanh };
        _w = new Workload(cell, Size.Batch, Size.Steps, Size.Hidden, Size.Hidden);
        var spec = Options switch
        {
            Variant.LstmPeepholes => _w.Model.Spec with { LstmOptions = new() { Peepholes = true } },
            Variant.LstmClipAndCoupled => _w.Model.Spec with { LstmOptions = new() { CellClip = 3, CoupledInputForget = true } },
            Variant.LstmHardSigmoidSoftsign => _w.Model.Spec with
            {
                LstmOptions = new()
                {
                    GateActivation = RnnActivation.WithDefaults(RnnActivationKind.HardSigmoid),
                    CellActivation = new(RnnActivationKind.Softsign),
                    OutputActivation = new(RnnActivationKind.Softsign),
                },
            },
            Variant.GruClipHardSigmoid => _w.Model.Spec with { GruOptions = new() { CellClip = 3, GateActivation = RnnActivation.WithDefaults(RnnActivationKind.HardSigmoid) } },
            Variant.RnnClipElu => _w.Model.Spec with { SimpleRnnOptions = new() { CellClip = 3, Activation = RnnActivation.WithDefaults(RnnActivationKind.Elu) } },
            _ => _w.Model.Spec,
        };
        var model = RnnModel<float>.CreateRandom(spec, 1);
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
