using System.Diagnostics;
using System.Text;

namespace FastLstm.Training.Text;

/// <summary>How a character-level model is shaped and trained.</summary>
public sealed record TextModelOptions
{
    /// <summary>The recurrent cell.</summary>
    public CellType Cell { get; init; } = CellType.Lstm;

    /// <summary>Hidden units per layer.</summary>
    public int Hidden { get; init; } = 256;

    /// <summary>Stacked layers.</summary>
    public int Layers { get; init; } = 2;

    /// <summary>Characters per truncated-BPTT chunk: gradients stop at chunk boundaries, the state carries on.</summary>
    public int SequenceLength { get; init; } = 100;

    /// <summary>Parallel streams through the text (the batch).</summary>
    public int Streams { get; init; } = 16;

    /// <summary>The final fraction of the text, held out to measure bits per character.</summary>
    public double HeldOutFraction { get; init; } = 0.1;
}

/// <summary>What text training reports after each epoch.</summary>
/// <param name="Epoch">1-based.</param>
/// <param name="Epochs">Epochs requested.</param>
/// <param name="TrainBitsPerCharacter">Mean training cross-entropy of the epoch, in bits.</param>
/// <param name="HeldOutBitsPerCharacter">Cross-entropy on the held-out text, in bits per character.</param>
/// <param name="Elapsed">Time since training started.</param>
public sealed record TextEpochReport(int Epoch, int Epochs, double TrainBitsPerCharacter, double HeldOutBitsPerCharacter, TimeSpan Elapsed);

/// <summary>
/// Character-level language model (many-to-many with softmax): one-hot characters in, a recurrent network, a dense
/// softmax head on every step. Trains with truncated backpropagation through time over parallel streams of the text,
/// carrying the state across chunks; generates by sampling with a temperature.
/// </summary>
public sealed class TextModel
{
    /// <summary>Most characters one <see cref="Generate"/> call writes.</summary>
    public const int MaxGeneratedLength = 10_000_000;

    private const double Kind = 2;
    private readonly CharacterVocabulary _vocabulary;

    private TextModel(RnnModel<float> network, DenseHead<float> head, Rune[] vocabulary)
    {
        Network = network;
        Head = head;
        _vocabulary = new CharacterVocabulary(vocabulary);
    }

    /// <summary>The recurrent layers.</summary>
    public RnnModel<float> Network { get; }

    /// <summary>The softmax head over the vocabulary.</summary>
    public DenseHead<float> Head { get; }

    /// <summary>The characters (Unicode scalar values, so a character outside the BMP is one entry) the model knows, in index order.</summary>
    public IReadOnlyList<Rune> Vocabulary => _vocabulary.Runes;

    /// <summary>
    /// Trains on all but the last <see cref="TextModelOptions.HeldOutFraction"/> of <paramref name="text"/>, reporting
    /// held-out bits per character after each epoch.
    /// </summary>
    public static (TextModel Model, IReadOnlyList<TextEpochReport> History) Train(
        string text, TextModelOptions options, TrainingOptions training, Action<TextEpochReport>? onEpoch = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(training);
        training.Validate();
        var characters = CharacterVocabulary.Characters(text);
        int heldOut = (int)(characters.Length * options.HeldOutFraction);
        int trainLength = characters.Length - heldOut;
        int streamLength = trainLength / Math.Max(options.Streams, 1);
        if (options.SequenceLength < 1 || options.Streams < 1 || streamLength < options.SequenceLength + 1 || heldOut < 2)
        {
            throw new ArgumentException(
                $"text: {characters.Length} characters are too few for {options.Streams} streams of chunks of {options.SequenceLength} plus a held-out part; need at least {(options.Streams * (options.SequenceLength + 1) / (1 - options.HeldOutFraction)) + 2:F0}.",
                nameof(text));
        }

        var vocabulary = characters.Distinct().Order().ToArray();
        var spec = new RnnSpec(options.Cell, vocabulary.Length, options.Hidden, options.Layers);
        var model = new TextModel(
            RnnModel<float>.CreateRandom(spec, training.Seed),
            DenseHead<float>.CreateRandom(options.Hidden, vocabulary.Length, Activation.Softmax, training.Seed + 1),
            vocabulary);
        var codes = model._vocabulary.Encode(characters);
        var train = codes.AsSpan(0, trainLength).ToArray();
        var held = codes.AsSpan(trainLength).ToArray();

        int b = options.Streams, seq = options.SequenceLength, v = vocabulary.Length, h = options.Hidden;
        using var session = new TrainingSession<float>(model.Network, b, seq);
        var learner = new Learner<float>(model.Network, session, model.Head, training);
        var x = new float[b * seq * v];
        var output = new float[b * seq * h];
        var dOutput = new float[output.Length];
        var logits = new float[b * seq * v];
        var dLogits = new float[logits.Length];
        var targets = new int[b * seq];
        int state = options.Layers * b * h;
        float[] h0 = new float[state], hN = new float[state];
        float[] c0 = spec.HasCellState ? new float[state] : [], cN = spec.HasCellState ? new float[state] : [];
        var history = new List<TextEpochReport>();
        var clock = Stopwatch.StartNew();
        for (int epoch = 1; epoch <= training.Epochs; epoch++)
        {
            Array.Clear(h0);
            Array.Clear(c0);
            double nats = 0;
            int chunks = 0;
            for (int pos = 0; pos + seq + 1 <= streamLength; pos += seq)
            {
                Array.Clear(x);
                for (int s = 0; s < b; s++)
                {
                    int start = (s * streamLength) + pos;
                    for (int t = 0; t < seq; t++)
                    {
                        x[(((s * seq) + t) * v) + train[start + t]] = 1;
                        targets[(s * seq) + t] = train[start + t + 1];
                    }
                }

                session.Forward(x, b, seq, output, h0, c0, hN, cN);
                model.Head.Affine(output, b * seq, logits);
                nats += Loss.SoftmaxCrossEntropy<float>(logits, targets, v, dLogits);
                model.Head.AffineBackward(output, dLogits, b * seq, dOutput);
                session.Backward(dOutput);
                learner.Step();
                hN.CopyTo(h0.AsSpan());
                cN.CopyTo(c0.AsSpan());
                chunks++;
            }

            var report = new TextEpochReport(epoch, training.Epochs, nats / chunks / Math.Log(2), model.BitsPerCharacter(held, seq), clock.Elapsed);
            history.Add(report);
            onEpoch?.Invoke(report);
        }

        return (model, history);
    }

    /// <summary>Cross-entropy of the model on <paramref name="text"/>, in bits per character (one stream, state carried).</summary>
    public double BitsPerCharacter(string text, WeightFormat weights = WeightFormat.Full) =>
        BitsPerCharacter(_vocabulary.Encode(CharacterVocabulary.Characters(text)), 100, weights);

    /// <summary>
    /// Continues <paramref name="prompt"/> by <paramref name="length"/> characters, sampling from softmax(logits /
    /// temperature); reproducible for a seed. An empty prompt starts from a newline
    /// when the vocabulary has one.
    /// </summary>
    public string Generate(string prompt, int length, double temperature, int seed, WeightFormat weights = WeightFormat.Full)
    {
        var spec = Network.Spec;
        int v = _vocabulary.Count, hidden = spec.HiddenSize;
        using var session = new InferenceSession<float>(Network, 1, 1, weights: weights);
        var x = new float[v];
        var y = new float[hidden];
        var h = new float[spec.Layers * hidden];
        var c = spec.HasCellState ? new float[spec.Layers * hidden] : [];
        return _vocabulary.Generate(prompt, length, temperature, seed, (code, logits) =>
        {
            Array.Clear(x);
            x[code] = 1;
            session.Step(x, 1, y, h, c);
            Head.Affine(y, 1, logits);
        });
    }

    /// <summary>Saves network, head and vocabulary in one model file.</summary>
    public void Save(string path) => ModelFile.Save(path, new SavedModel<float>(Network, Head, new Dictionary<string, double[]>
    {
        ["kind"] = [Kind],
        ["vocabulary"] = _vocabulary.Runes.Select(r => (double)r.Value).ToArray(),
    }));

    /// <summary>Loads a model saved by <see cref="Save"/>.</summary>
    /// <exception cref="InvalidDataException">Not a valid text model file.</exception>
    public static TextModel Load(string path)
    {
        var saved = ModelFile.Load<float>(path);
        if (!saved.Metadata.TryGetValue("kind", out var kind) || kind is not [Kind] || saved.Head is null
            || !saved.Metadata.TryGetValue("vocabulary", out var codes))
        {
            throw new InvalidDataException($"{path}: not a text model (train one with 'fastlstm text train').");
        }

        if (codes.Length != saved.Network.Spec.InputSize || codes.Length != saved.Head.Outputs
            || codes.Any(ch => ch is < 0 or > 0x10FFFF || ch != Math.Floor(ch) || !Rune.IsValid((int)ch)) || codes.Distinct().Count() != codes.Length)
        {
            throw new InvalidDataException($"{path}: the vocabulary does not match the network ({codes.Length} characters).");
        }

        return new TextModel(saved.Network, saved.Head, codes.Select(ch => new Rune((int)ch)).ToArray());
    }

    private double BitsPerCharacter(int[] codes, int seq, WeightFormat weights = WeightFormat.Full)
    {
        var spec = Network.Spec;
        int v = _vocabulary.Count, hidden = spec.HiddenSize;
        seq = Math.Min(seq, codes.Length - 1);
        using var session = new InferenceSession<float>(Network, 1, seq, weights: weights);
        var x = new float[seq * v];
        var output = new float[seq * hidden];
        var logits = new float[seq * v];
        var targets = new int[seq];
        var h = new float[spec.Layers * hidden];
        var c = spec.HasCellState ? new float[spec.Layers * hidden] : [];
        double nats = 0;
        int count = 0;
        for (int pos = 0; pos + 1 < codes.Length; pos += seq)
        {
            int n = Math.Min(seq, codes.Length - 1 - pos);
            Array.Clear(x);
            for (int t = 0; t < n; t++)
            {
                x[(t * v) + codes[pos + t]] = 1;
                targets[t] = codes[pos + t + 1];
            }

            session.Forward(x.AsSpan(0, n * v), 1, n, output.AsSpan(0, n * hidden), h, c, h, c);
            Head.Affine(output.AsSpan(0, n * hidden), n, logits.AsSpan(0, n * v));
            nats += Loss.SoftmaxCrossEntropy<float>(logits.AsSpan(0, n * v), targets.AsSpan(0, n), v, default) * n;
            count += n;
        }

        return nats / count / Math.Log(2);
    }
}
