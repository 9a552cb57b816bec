using FastLstm.Onnx;
using FastLstm.Training.Text;

namespace FastLstm.Cli;

/// <summary>
/// <c>fastlstm text generate</c> with an ONNX character model exported elsewhere. Its first input is the characters:
/// token ids <c>[batch, steps]</c> (int64 or int32, e.g. into an embedding) or one-hot floats <c>[batch, steps, V]</c>; its
/// output holds V logits (or probabilities: a final softmax is undone) for the last step or for every step. When the
/// graph also takes states as inputs and returns them (<c>h0, c0</c> → <c>h_n, c_n</c>, paired in order), it is stepped one
/// character at a time with the state carried; otherwise each step runs the whole text so far. The vocabulary is the
/// distinct characters of a text file in code-point order — Python's <c>sorted(set(text))</c> of the training corpus.
/// </summary>
internal static class ImportedText
{
    /// <summary>Longest text a model without state inputs may produce: each character re-runs all before it.</summary>
    public const int MaxStatelessLength = 20_000;

    public static string Generate(string path, CharacterVocabulary vocabulary, string prompt, int length, double temperature, int seed, WeightFormat weights)
    {
        var model = OnnxModel.Load(path);
        var tokens = model.Inputs.Count > 0 && model.Outputs.Count > 0 ? model.Inputs[0] : throw new CliException($"{path}: the graph has no inputs or no outputs.");
        bool ids = tokens.ElementType is OnnxElementType.Int64 or OnnxElementType.Int32 && tokens.Shape.Count == 2;
        bool oneHot = tokens.ElementType == OnnxElementType.Float && tokens.Shape.Count == 3;
        int v = vocabulary.Count;
        if (!ids && !oneHot)
        {
            throw new CliException($"{path}: input '{tokens.Name}' is {ImportedGraph.Describe(tokens)}; a character model reads token ids [batch, steps] or one-hot floats [batch, steps, V].");
        }

        if (oneHot && ImportedGraph.Fixed(tokens, 2) is { } width && width != v)
        {
            throw new CliException($"{path}: input '{tokens.Name}' reads {width} characters per step; the vocabulary has {v}.");
        }

        var logitsInfo = model.Outputs.FirstOrDefault(o => o.Name is "logits" or "prediction")
            ?? model.Outputs.FirstOrDefault(o => o.Shape.Count > 0 && ImportedGraph.Fixed(o, o.Shape.Count - 1) == v) ?? model.Outputs[0];
        var states = model.Inputs.Skip(1).ToArray();
        var initial = states.ToDictionary(s => s.Name, s => ImportedGraph.Zeros(path, s), StringComparer.Ordinal);
        var stateOutputs = new List<OnnxValueInfo>();
        foreach (var state in states)
        {
            if (model.Outputs.FirstOrDefault(o => o != logitsInfo && !stateOutputs.Contains(o) && Carries(o, state)) is { } carried)
            {
                stateOutputs.Add(carried);
            }
        }

        bool stateful = states.Length > 0 && stateOutputs.Count == states.Length;
        int total = prompt.Length + length + 1;
        if (!stateful && total > MaxStatelessLength)
        {
            throw new CliException($"{path}: the graph takes no state inputs, so every character re-runs the text before it; at most {MaxStatelessLength} characters (prompt and output) — export it with its states as inputs and outputs to generate more.");
        }

        string logitsName = logitsInfo.Name;
        using var session = model.CreateSession(1, stateful ? 1 : total, weights: weights);
        var inputs = new Dictionary<string, OnnxTensor>(initial, StringComparer.Ordinal);
        var text = new List<int>();
        return vocabulary.Generate(prompt, length, temperature, seed, (code, logits) =>
        {
            text.Add(code);
            var feed = stateful ? [code] : text;
            inputs[tokens.Name] = Encode(feed, ids, tokens.ElementType, v);
            var outputs = session.Run(inputs);
            var values = ImportedGraph.Floats(path, outputs, logitsName);
            if (values.Length % v != 0 || (values.Length != v && values.Length != feed.Count * v))
            {
                throw new CliException($"{path}: output '{logitsName}' holds {values.Length} values for {feed.Count} step(s); expected {v} (the vocabulary) for the last step or per step.");
            }

            Logits(values.AsSpan(values.Length - v), logits);
            if (stateful)
            {
                for (int k = 0; k < states.Length; k++)
                {
                    inputs[states[k].Name] = outputs[stateOutputs[k].Name];
                }
            }
        });
    }

    /// <summary>Whether <paramref name="output"/> can be the next value of state input <paramref name="state"/>: same rank, same fixed sizes.</summary>
    private static bool Carries(OnnxValueInfo output, OnnxValueInfo state) =>
        output.ElementType == state.ElementType && output.Shape.Count == state.Shape.Count
        && Enumerable.Range(0, state.Shape.Count).All(a => ImportedGraph.Fixed(state, a) is not { } n || ImportedGraph.Fixed(output, a) == n);

    private static OnnxTensor Encode(IReadOnlyList<int> codes, bool ids, OnnxElementType type, int v)
    {
        int n = codes.Count;
        if (ids)
        {
            return type == OnnxElementType.Int64
                ? new OnnxTensor(codes.Select(c => (long)c).ToArray(), [1, n])
                : new OnnxTensor(codes.ToArray(), [1, n]);
        }

        var x = new float[n * v];
        for (int t = 0; t < n; t++)
        {
            x[(t * v) + codes[t]] = 1;
        }

        return new OnnxTensor(x, [1, n, v]);
    }

    /// <summary>Logits as they are; a probability vector (non-negative, summing to 1: a softmax ends the graph) as its logarithm.</summary>
    private static void Logits(ReadOnlySpan<float> values, Span<float> logits)
    {
        double sum = 0;
        bool probabilities = true;
        foreach (float p in values)
        {
            probabilities &= p >= 0;
            sum += p;
        }

        probabilities &= Math.Abs(sum - 1) < 1e-4;
        for (int k = 0; k < values.Length; k++)
        {
            logits[k] = probabilities ? MathF.Log(values[k]) : values[k];
        }
    }
}
