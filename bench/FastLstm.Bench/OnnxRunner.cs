using Microsoft.ML.OnnxRuntime;

namespace FastLstm.Bench;

/// <summary>
/// ONNX Runtime running its own LSTM / GRU / RNN operator, the fastest way its API offers: weights as initializers
/// (prepacked), every input and output an <see cref="OrtValue"/> allocated once and bound with an IO binding.
/// </summary>
public sealed class OnnxRunner : IDisposable
{
    private readonly InferenceSession _session;
    private readonly OrtIoBinding _binding;
    private readonly RunOptions _run = new();
    private readonly List<OrtValue> _values = [];

    private readonly int _batch, _steps, _hidden;

    public OnnxRunner(RnnModel<float> model, int batch, int steps, int threads, float[] input, float[] h0, float[] c0, bool int8 = false)
    {
        (_batch, _steps, _hidden) = (batch, steps, model.Spec.HiddenSize);
        var options = new SessionOptions
        {
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", "1");
        _session = new InferenceSession(OnnxModel.Build(model, batch, steps, int8), options);
        int h = model.Spec.HiddenSize;
        Output = new float[batch * steps * h];
        HN = new float[batch * h];
        CN = new float[batch * h];
        _binding = _session.CreateIoBinding();
        int i = model.Spec.InputSize;
        var timeMajor = new float[input.Length];
        for (int b = 0; b < batch; b++)
        {
            for (int t = 0; t < steps; t++)
            {
                input.AsSpan(((b * steps) + t) * i, i).CopyTo(timeMajor.AsSpan(((t * batch) + b) * i));
            }
        }

        Input = timeMajor;
        Bind(true, "X", timeMajor, [steps, batch, i]);
        Bind(true, "initial_h", h0, [1, batch, h]);
        Bind(false, "Y", Output, [steps, 1, batch, h]);
        Bind(false, "Y_h", HN, [1, batch, h]);
        if (model.Spec.Cell == CellType.Lstm)
        {
            Bind(true, "initial_c", c0, [1, batch, h]);
            Bind(false, "Y_c", CN, [1, batch, h]);
        }
    }

    /// <summary>X as bound, time-major [T, B, I]: writing it changes the next run's input.</summary>
    public float[] Input { get; }

    /// <summary>Y, time-major [T, 1, B, H].</summary>
    public float[] Output { get; }

    /// <summary><see cref="Output"/> batch-first [B, T, H], as FastLstm writes it.</summary>
    public float[] BatchFirstOutput()
    {
        var result = new float[Output.Length];
        for (int t = 0; t < _steps; t++)
        {
            for (int b = 0; b < _batch; b++)
            {
                Output.AsSpan(((t * _batch) + b) * _hidden, _hidden).CopyTo(result.AsSpan(((b * _steps) + t) * _hidden));
            }
        }

        return result;
    }

    public float[] HN { get; }

    public float[] CN { get; }

    public void Run() => _session.RunWithBinding(_run, _binding);

    public void Dispose()
    {
        _binding.Dispose();
        foreach (var v in _values)
        {
            v.Dispose();
        }

        _session.Dispose();
        _run.Dispose();
    }

    private void Bind(bool input, string name, float[] data, long[] shape)
    {
        var value = OrtValue.CreateTensorValueFromMemory(data, shape);
        _values.Add(value);
        if (input)
        {
            _binding.BindInput(name, value);
        }
        else
        {
            _binding.BindOutput(name, value);
        }
    }
}
