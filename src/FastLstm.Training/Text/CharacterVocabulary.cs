using System.Text;

namespace FastLstm.Training.Text;

/// <summary>
/// The characters a character-level model reads and writes, in index order (character k is one-hot position k and
/// logit k), and the sampling every such model generates with — FastLstm's own text models and imported ones alike.
/// </summary>
public sealed class CharacterVocabulary
{
    private readonly Rune[] _runes;
    private readonly Dictionary<Rune, int> _index;

    /// <summary>A vocabulary of <paramref name="runes"/> in that order.</summary>
    /// <exception cref="ArgumentException">Empty, or a character given twice.</exception>
    public CharacterVocabulary(IEnumerable<Rune> runes)
    {
        ArgumentNullException.ThrowIfNull(runes);
        _runes = [.. runes];
        _index = new Dictionary<Rune, int>(_runes.Length);
        for (int i = 0; i < _runes.Length; i++)
        {
            if (!_index.TryAdd(_runes[i], i))
            {
                throw new ArgumentException($"runes: '{_runes[i]}' (U+{_runes[i].Value:X4}) is given twice (at {_index[_runes[i]]} and {i}).", nameof(runes));
            }
        }

        if (_runes.Length == 0)
        {
            throw new ArgumentException("runes: a vocabulary needs at least one character.", nameof(runes));
        }
    }

    /// <summary>The characters, in index order.</summary>
    public IReadOnlyList<Rune> Runes => _runes;

    /// <summary>Characters in the vocabulary.</summary>
    public int Count => _runes.Length;

    /// <summary>
    /// The distinct characters of <paramref name="text"/> in code-point order: what FastLstm's text training uses, and
    /// what Python's <c>sorted(set(text))</c> gives — so a PyTorch character model's vocabulary comes from its corpus.
    /// </summary>
    public static CharacterVocabulary FromText(string text) => new(Characters(text).Distinct().Order());

    /// <summary>The Unicode scalar values of <paramref name="text"/>; a lone surrogate (broken UTF-16) is an error, not a character.</summary>
    public static Rune[] Characters(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var runes = new List<Rune>(text.Length);
        for (int i = 0; i < text.Length;)
        {
            if (Rune.DecodeFromUtf16(text.AsSpan(i), out var rune, out int used) != System.Buffers.OperationStatus.Done)
            {
                throw new ArgumentException($"text: a lone surrogate U+{(int)text[i]:X4} at UTF-16 index {i} is not a character.", nameof(text));
            }

            runes.Add(rune);
            i += used;
        }

        return [.. runes];
    }

    /// <summary>Each character's index.</summary>
    /// <exception cref="ArgumentException">A character outside the vocabulary (named with its position).</exception>
    public int[] Encode(ReadOnlySpan<Rune> text)
    {
        var codes = new int[text.Length];
        for (int i = 0; i < text.Length; i++)
        {
            if (!_index.TryGetValue(text[i], out codes[i]))
            {
                throw new ArgumentException($"text: character '{text[i]}' (U+{text[i].Value:X4}) at {i} is not in the model's vocabulary.", nameof(text));
            }
        }

        return codes;
    }

    /// <summary>Reads one character (its index) into a model and writes the logits of the next one.</summary>
    public delegate void Advance(int code, Span<float> logits);

    /// <summary>
    /// Continues <paramref name="prompt"/> by <paramref name="length"/> characters: feeds the prompt through
    /// <paramref name="advance"/>, then samples each next character from softmax(logits / temperature) and feeds it back.
    /// Reproducible for a seed. An empty prompt starts from a newline when the vocabulary has one (else character 0),
    /// which is not written out.
    /// </summary>
    public string Generate(string prompt, int length, double temperature, int seed, Advance advance)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentNullException.ThrowIfNull(advance);
        if (length < 0 || length > TextModel.MaxGeneratedLength)
        {
            throw new ArgumentOutOfRangeException(nameof(length), length, $"length: expected 0..{TextModel.MaxGeneratedLength} characters, got {length}.");
        }

        if (!(temperature > 0 && double.IsFinite(temperature)))
        {
            throw new ArgumentOutOfRangeException(nameof(temperature), temperature, $"temperature: expected > 0, got {temperature}.");
        }

        var start = prompt.Length > 0 ? prompt : (_index.ContainsKey(new Rune('\n')) ? "\n" : _runes[0].ToString());
        var codes = Encode(Characters(start));
        int v = _runes.Length;
        var logits = new float[v];
        var p = new double[v];
        var rng = new Random(seed);
        var sb = new StringBuilder(prompt, prompt.Length + length);
        int next = 0;
        foreach (int code in codes)
        {
            next = Step(code);
        }

        for (int i = 0; i < length; i++)
        {
            sb.Append(_runes[next].ToString());
            next = Step(next);
        }

        return sb.ToString();

        int Step(int code)
        {
            advance(code, logits);
            double max = logits.Max(), sum = 0;
            for (int k = 0; k < v; k++)
            {
                p[k] = Math.Exp((logits[k] - max) / temperature);
                sum += p[k];
            }

            double u = rng.NextDouble() * sum;
            for (int k = 0; k < v; k++)
            {
                u -= p[k];
                if (u <= 0)
                {
                    return k;
                }
            }

            return v - 1;
        }
    }
}
