using System.Numerics.Tensors;
using System.Text;
using FastLstm.Training;
using FastLstm.Training.Text;

namespace FastLstm.Samples.Serving;

/// <summary>A character model as the server runs it: one-hot characters into the network, its h through the head, softmax.</summary>
public sealed class CharacterModel
{
    private readonly Dictionary<Rune, int> _codes;

    public CharacterModel(RnnModel<float> network, DenseHead<float> head, IReadOnlyList<Rune> vocabulary)
    {
        if (network.Spec.Bidirectional || network.Spec.InputSize != vocabulary.Count || head.Inputs != network.Spec.HiddenSize || head.Outputs != vocabulary.Count)
        {
            throw new ArgumentException($"network: expected a unidirectional network reading {vocabulary.Count} one-hot characters and a head from its {network.Spec.HiddenSize} units to {vocabulary.Count} logits.", nameof(network));
        }

        Network = network;
        Head = head;
        Vocabulary = vocabulary;
        _codes = vocabulary.Select((rune, code) => (rune, code)).ToDictionary(p => p.rune, p => p.code);
    }

    public RnnModel<float> Network { get; }

    public DenseHead<float> Head { get; }

    public IReadOnlyList<Rune> Vocabulary { get; }

    /// <summary>A model written by <c>fastlstm text train</c>.</summary>
    public static CharacterModel Load(string path)
    {
        var text = TextModel.Load(path);
        return new CharacterModel(text.Network, text.Head, text.Vocabulary);
    }

    /// <summary>The character's index in <see cref="Vocabulary"/>, or -1.</summary>
    public int Code(Rune character) => _codes.GetValueOrDefault(character, -1);

    /// <summary>The next-character distribution from the network's new h.</summary>
    public void Distribution(ReadOnlySpan<float> hidden, Span<float> probabilities)
    {
        Head.Affine(hidden, 1, probabilities);
        TensorPrimitives.SoftMax(probabilities, probabilities);
    }
}
