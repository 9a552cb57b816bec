using System.Text;
using FastLstm.Onnx.Proto;
using AttributeType = FastLstm.Onnx.Proto.AttributeProto.Types.AttributeType;

namespace FastLstm.Onnx.Graph;

/// <summary>
/// A node's attributes, read by name and type. Every attribute must be read by the op that compiles the node: one it
/// does not know would change the meaning of the node, so <see cref="RejectUnread"/> refuses it rather than ignore it.
/// </summary>
internal sealed class NodeAttributes
{
    private readonly Dictionary<string, AttributeProto> _all = new(StringComparer.Ordinal);
    private readonly HashSet<string> _read = new(StringComparer.Ordinal);
    private readonly NodeProto _node;
    private readonly string? _folder;

    public NodeAttributes(NodeProto node, int opset, string? folder)
    {
        _node = node;
        _folder = folder;
        Opset = opset;
        foreach (var a in node.Attribute)
        {
            if (!string.IsNullOrEmpty(a.RefAttrName))
            {
                throw Fail($"attribute '{a.Name}' refers to a function attribute, which a main graph cannot have", invalid: true);
            }

            if (!_all.TryAdd(a.Name, a))
            {
                throw Fail($"attribute '{a.Name}' is given twice", invalid: true);
            }
        }
    }

    /// <summary>The version of the default-domain opset the node binds to.</summary>
    public int Opset { get; }

    public string NodeLabel => OnnxGraphException.Label(_node);

    public bool Has(string name) => _all.ContainsKey(name);

    public long Int(string name, long fallback) => Get(name, AttributeType.Int) is { } a ? a.I : fallback;

    public float Float(string name, float fallback) => Get(name, AttributeType.Float) is { } a ? a.F : fallback;

    public string? String(string name) => Get(name, AttributeType.String) is { } a ? a.S.ToStringUtf8() : null;

    public long[]? Ints(string name) => Get(name, AttributeType.Ints) is { } a ? a.Ints.ToArray() : null;

    public float[]? Floats(string name) => Get(name, AttributeType.Floats) is { } a ? a.Floats.ToArray() : null;

    public string[]? Strings(string name) => Get(name, AttributeType.Strings) is { } a ? a.Strings.Select(s => Encoding.UTF8.GetString(s.Span)).ToArray() : null;

    public Value? Tensor(string name) => Get(name, AttributeType.Tensor) is { } a
        ? TensorDecoder.Decode(a.T ?? throw Fail($"attribute '{name}' has no tensor", invalid: true), $"{NodeLabel} attribute '{name}'", _folder)
        : null;

    public void RejectUnread()
    {
        foreach (string name in _all.Keys)
        {
            if (!_read.Contains(name))
            {
                throw Fail($"attribute '{name}' is not supported", invalid: false);
            }
        }
    }

    public Exception Fail(string message, bool invalid) => OnnxGraphException.For(_node, message, invalid);

    private AttributeProto? Get(string name, AttributeType type)
    {
        _read.Add(name);
        if (!_all.TryGetValue(name, out var a))
        {
            return null;
        }

        // Files from IR version 1 carry no type; accept those whose value field matches.
        if (a.Type != type && a.Type != AttributeType.Undefined)
        {
            throw Fail($"attribute '{name}' is {a.Type}, expected {type}", invalid: true);
        }

        return a;
    }
}

/// <summary>Builds the one-line errors that name the node, its op type and the problem.</summary>
internal static class OnnxGraphException
{
    public static string Label(NodeProto node) =>
        $"node '{(string.IsNullOrEmpty(node.Name) ? node.Output.FirstOrDefault(o => o.Length > 0) ?? "?" : node.Name)}' ({node.OpType})";

    public static Exception For(NodeProto node, string message, bool invalid) => invalid
        ? new InvalidDataException($"{Label(node)}: {message}.")
        : new NotSupportedException($"{Label(node)}: {message}.");
}
