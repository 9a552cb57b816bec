using FastLstm.Onnx;
using FastLstm.Training.Forecasting;

namespace FastLstm.Cli;

/// <summary>
/// <c>fastlstm forecast</c> with an ONNX file exported elsewhere: a network reading a window of values
/// <c>[batch, lookback, 1]</c> (or sequence-first) and predicting the next value or the next K values — from its last step
/// (<c>[batch, K]</c>) or every step (<c>[batch, lookback, K]</c>, the last one used). One-step predictions are fed back;
/// K-step ones are used K at a time. Values are fed as they are, or as (x − mean) / scale with <c>--normalize</c> (which
/// also covers a min-max scaler: mean = min, scale = max − min), and predictions mapped back. Prediction intervals come
/// from a rolling-origin backtest of the same network on the end of the history.
/// </summary>
internal sealed class ImportedForecast : ForecastMethod, IDisposable
{
    private const int Origins = 24;

    private readonly string _path;
    private readonly OnnxModel _model;
    private readonly OnnxValueInfo _input;
    private readonly bool _sequenceFirst;
    private readonly Dictionary<string, OnnxTensor> _inputs = new(StringComparer.Ordinal);
    private readonly string _output;
    private readonly double _mean, _scale;
    private readonly OnnxSession _session;
    private readonly int _perCall;
    private readonly bool _everyStep;

    private ImportedForecast(string path, OnnxModel model, int lookback, (double Mean, double Scale)? normalize, WeightFormat weights)
    {
        _path = path;
        _model = model;
        Lookback = lookback;
        (_mean, _scale) = normalize ?? (0, 1);
        _input = model.Inputs[0];
        _sequenceFirst = SequenceFirst(_input);
        foreach (var info in model.Inputs.Skip(1))
        {
            _inputs[info.Name] = info.ElementType is OnnxElementType.Int64 or OnnxElementType.Int32 && info.Shape.Count == 1
                ? Lengths(info, 1)
                : ImportedGraph.Zeros(path, info);
        }

        _output = model.Outputs.FirstOrDefault(o => o.Name == "prediction")?.Name ?? model.Outputs[0].Name;
        _session = model.CreateSession(1, lookback, weights: weights);

        // What the output holds is seen by running it: a count that follows the window's length is one row per step.
        var window = new double[lookback];
        int full = Run(window, lookback).Length;
        int shorter = lookback > 1 ? Run(window, lookback - 1).Length : full;
        _everyStep = full != shorter;
        _perCall = _everyStep ? full / lookback : full;
        if (_perCall < 1 || (_everyStep && (full != _perCall * lookback || shorter != _perCall * (lookback - 1))))
        {
            throw new CliException($"{path}: output '{_output}' holds {full} values for a window of {lookback} (and {shorter} for {lookback - 1}); expected K predictions, or K per step.");
        }
    }

    /// <summary>Values a forecast reads.</summary>
    public int Lookback { get; }

    public override string Name => $"imported network ({(_perCall == 1 ? "one step, fed back" : $"{_perCall} steps at once")}, window {Lookback})";

    /// <summary>Opens <paramref name="path"/> as a forecaster of windows of <paramref name="lookback"/> values (null: the input's fixed length).</summary>
    public static ImportedForecast Open(string path, int? lookback, (double Mean, double Scale)? normalize, WeightFormat weights = WeightFormat.Full)
    {
        var model = OnnxModel.Load(path);
        var input = model.Inputs.Count > 0 && model.Outputs.Count > 0 ? model.Inputs[0] : throw new CliException($"{path}: the graph has no inputs or no outputs.");
        if (input.ElementType != OnnxElementType.Float || input.Shape.Count != 3 || ImportedGraph.Fixed(input, 2) is not (1 or null))
        {
            throw new CliException($"{path}: input '{input.Name}' is {ImportedGraph.Describe(input)}; a forecaster reads float [batch, steps, 1].");
        }

        int? fixedLength = ImportedGraph.Fixed(input, SequenceFirst(input) ? 0 : 1);
        if (fixedLength is { } n && lookback is { } l && n != l)
        {
            throw new CliException($"{path}: input '{input.Name}' reads windows of exactly {n} values; --lookback {l} does not fit.");
        }

        int window = fixedLength ?? lookback
            ?? throw new CliException($"{path}: input '{input.Name}' takes any number of steps; give --lookback (the window length the model was trained on).");
        if (window is < 1 or > 100_000)
        {
            throw new CliException($"{path}: a window of {window} values is outside 1..100000.");
        }

        return new ImportedForecast(path, model, window, normalize, weights);
    }

    /// <summary>The forecast with intervals from the backtest errors at each step (at most 24 origins, as history allows).</summary>
    public ForecastResult Forecast(ReadOnlySpan<double> history, int steps, out int origins)
    {
        if (history.Length < Lookback + 1)
        {
            throw new CliException($"{_path}: the history has {history.Length} values; a window of {Lookback} needs at least {Lookback + 1} (one to score the intervals on).");
        }

        int horizon = Math.Min(steps, history.Length - Lookback);
        var backtest = Backtest.Plan(history, horizon, Origins, Lookback, 0);
        origins = backtest.Origins.Count;
        var sigma = backtest.Score(this, history, fitted: true).RmseByStep;
        return ForecastResult.WithIntervals(Forecast(history, steps), sigma);
    }

    public override void Fit(ReadOnlySpan<double> series)
    {
    }

    public override double[] Forecast(ReadOnlySpan<double> history, int steps)
    {
        var window = history[^Lookback..].ToArray();
        var result = new double[steps];
        int done = 0;
        while (done < steps)
        {
            var predicted = Run(window, Lookback);
            int from = predicted.Length - _perCall;
            for (int k = 0; k < _perCall; k++)
            {
                double v = (predicted[from + k] * _scale) + _mean;
                if (done < steps)
                {
                    result[done++] = v;
                }

                Array.Copy(window, 1, window, 0, Lookback - 1);
                window[^1] = v;
            }
        }

        return result;
    }

    public void Dispose() => _session.Dispose();

    /// <summary>The output for the last <paramref name="steps"/> values of <paramref name="window"/>.</summary>
    private float[] Run(double[] window, int steps)
    {
        var x = new float[steps];
        for (int t = 0; t < steps; t++)
        {
            x[t] = (float)((window[Lookback - steps + t] - _mean) / _scale);
        }

        _inputs[_input.Name] = new OnnxTensor(x, _sequenceFirst ? [steps, 1, 1] : [1, steps, 1]);
        foreach (var info in _model.Inputs.Skip(1).Where(i => i.Shape.Count == 1 && i.ElementType != OnnxElementType.Float))
        {
            _inputs[info.Name] = Lengths(info, steps);
        }

        var values = ImportedGraph.Floats(_path, _session.Run(_inputs), _output);
        foreach (float v in values)
        {
            if (!float.IsFinite(v))
            {
                throw new CliException($"{_path}: output '{_output}' holds {v}; the network does not give a finite forecast for this history.");
            }
        }

        return values;
    }

    /// <summary>An integer input of one dimension: the sequence length (a packed-sequence export's <c>lengths</c>).</summary>
    private static OnnxTensor Lengths(OnnxValueInfo info, int steps) =>
        info.ElementType == OnnxElementType.Int64 ? new OnnxTensor(new long[] { steps }, [1]) : new OnnxTensor(new[] { steps }, [1]);

    /// <summary>
    /// Whether the input is [steps, batch, 1] (PyTorch's default layout): its first dimension is named as time is, or is a
    /// fixed length over a batch fixed at 1. Otherwise batch-first, as <c>batch_first=True</c> and FastLstm are.
    /// </summary>
    private static bool SequenceFirst(OnnxValueInfo input) =>
        input.Shape[0] is var d && (d.Contains("seq", StringComparison.OrdinalIgnoreCase) || d.Contains("time", StringComparison.OrdinalIgnoreCase)
            || d.Contains("step", StringComparison.OrdinalIgnoreCase) || (ImportedGraph.Fixed(input, 0) > 1 && ImportedGraph.Fixed(input, 1) == 1));
}
