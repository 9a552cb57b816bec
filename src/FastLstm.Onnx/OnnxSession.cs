using FastLstm.Onnx.Graph;

namespace FastLstm.Onnx;

/// <summary>
/// Runs an <see cref="OnnxModel"/> as ONNX Runtime would: inputs and outputs by name, row-major. Owns one FastLstm
/// engine session per recurrent node (its workers and buffers), so create it once and reuse it; one thread at a time.
/// </summary>
public sealed class OnnxSession : IDisposable
{
    private const string InputsName = "inputs";

    private readonly OnnxModel _model;
    private readonly object?[] _states;
    private int _busy;
    private bool _disposed;

    internal OnnxSession(OnnxModel model, int maxBatch, int maxSteps, int threads, WeightFormat weights)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatch, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxSteps, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        _model = model;
        MaxBatch = maxBatch;
        MaxSteps = maxSteps;
        Guard.Weights<float>(weights);
        _states = model.Graph.Ops.Select(o => o.CreateState(maxBatch, maxSteps, threads, weights)).ToArray();
    }

    /// <summary>Most sequences per run.</summary>
    public int MaxBatch { get; }

    /// <summary>Most steps per sequence per run.</summary>
    public int MaxSteps { get; }

    /// <summary>
    /// Runs the graph. <paramref name="inputs"/> holds every graph input by name (an input no node reads may be omitted);
    /// returns every graph output by name.
    /// </summary>
    /// <exception cref="ArgumentException">An input is missing, unknown, of the wrong type or shape.</exception>
    public IReadOnlyDictionary<string, OnnxTensor> Run(IReadOnlyDictionary<string, OnnxTensor> inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs, InputsName);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (Interlocked.Exchange(ref _busy, 1) != 0)
        {
            throw new InvalidOperationException("this OnnxSession is already running on another thread; use one session per thread.");
        }

        try
        {
            return RunGraph(inputs);
        }
        finally
        {
            Volatile.Write(ref _busy, 0);
        }
    }

    private Dictionary<string, OnnxTensor> RunGraph(IReadOnlyDictionary<string, OnnxTensor> inputs)
    {
        var graph = _model.Graph;
        var values = new Dictionary<string, Value>(graph.Constants, StringComparer.Ordinal);
        foreach (string name in inputs.Keys)
        {
            if (!graph.Inputs.Any(i => i.Name == name))
            {
                throw new ArgumentException($"inputs: '{name}' is not a graph input (inputs: {string.Join(", ", graph.Inputs.Select(i => i.Name))}).", InputsName);
            }
        }

        foreach (var info in graph.Inputs)
        {
            if (inputs.TryGetValue(info.Name, out var t))
            {
                values[info.Name] = Check(info, t);
            }
        }

        for (int k = 0; k < graph.Ops.Count; k++)
        {
            var op = graph.Ops[k];
            var args = new Value?[op.Inputs.Length];
            for (int i = 0; i < args.Length; i++)
            {
                string name = op.Inputs[i];
                if (name.Length > 0)
                {
                    args[i] = values.TryGetValue(name, out var v)
                        ? v
                        : throw new ArgumentException($"inputs: '{name}' is needed by {op.Label} but was not given.", InputsName);
                }
            }

            var outs = op.Run(args, _states[k]);
            for (int o = 0; o < op.Outputs.Length && o < outs.Length; o++)
            {
                if (op.Outputs[o].Length > 0 && outs[o] is { } v)
                {
                    values[op.Outputs[o]] = v;
                }
            }
        }

        var result = new Dictionary<string, OnnxTensor>(StringComparer.Ordinal);
        foreach (var info in graph.Outputs)
        {
            var v = values[info.Name];
            result[info.Name] = new OnnxTensor(v.Data, (int[])v.Shape.Clone());
        }

        return result;
    }

    private static Value Check(OnnxValueInfo info, OnnxTensor t)
    {
        ArgumentNullException.ThrowIfNull(t, $"inputs['{info.Name}']");
        var value = t.Data switch
        {
            float[] or double[] or int[] or long[] => new Value(t.Data, t.Shape ?? throw new ArgumentException($"inputs['{info.Name}']: Shape is null.", InputsName)),
            _ => throw new ArgumentException($"inputs['{info.Name}']: Data is {t.Data?.GetType().Name ?? "null"}; expected float[], double[], int[] or long[].", InputsName),
        };
        if (value.Type != info.ElementType)
        {
            throw new ArgumentException($"inputs['{info.Name}']: {value.Type} data; the graph declares {info.ElementType}.", InputsName);
        }

        if (t.Shape.Any(d => d < 0) || Value.Product(t.Shape) != t.Data.Length)
        {
            throw new ArgumentException($"inputs['{info.Name}']: shape {Value.Format(t.Shape)} does not match {t.Data.Length} elements.", InputsName);
        }

        bool rankKnown = info.Shape.Count > 0;
        if (rankKnown && (t.Shape.Length != info.Shape.Count || info.Shape.Where((d, i) => int.TryParse(d, out int n) && n != t.Shape[i]).Any()))
        {
            throw new ArgumentException($"inputs['{info.Name}']: shape {Value.Format(t.Shape)}; the graph declares [{string.Join(", ", info.Shape)}].", InputsName);
        }

        return value;
    }

    /// <summary>Releases the engine sessions' workers and buffers.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        if (Volatile.Read(ref _busy) != 0)
        {
            throw new InvalidOperationException("this OnnxSession is running; dispose it after Run returns.");
        }

        _disposed = true;
        foreach (var s in _states)
        {
            RecurrentOp.DisposeState(s);
        }
    }
}
