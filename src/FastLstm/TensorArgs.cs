using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace FastLstm;

/// <summary>
/// Tensor arguments of the public surface: a dense tensor of the expected rank and lengths, seen as the span the span
/// overloads take. The message names the argument, the expected and the actual shape.
/// </summary>
internal static class TensorArgs
{
    /// <summary>Any length in that dimension (it fixes the others, as batch and steps do).</summary>
    public const long Any = -1;

    public static ReadOnlySpan<T> Read<T>(in ReadOnlyTensorSpan<T> tensor, string name, string names, ReadOnlySpan<long> expected)
    {
        Check(tensor.Lengths, tensor.Strides, tensor.IsDense, tensor.IsEmpty, name, names, expected);
        return tensor.IsEmpty ? default : MemoryMarshal.CreateReadOnlySpan(in tensor.GetPinnableReference(), checked((int)tensor.FlattenedLength));
    }

    public static Span<T> Write<T>(in TensorSpan<T> tensor, string name, string names, ReadOnlySpan<long> expected)
    {
        Check(tensor.Lengths, tensor.Strides, tensor.IsDense, tensor.IsEmpty, name, names, expected);
        return tensor.IsEmpty ? default : MemoryMarshal.CreateSpan(ref tensor.GetPinnableReference(), checked((int)tensor.FlattenedLength));
    }

    /// <summary>An empty tensor passes (the span overloads decide whether empty is allowed); else rank and every fixed length must match.</summary>
    private static void Check(ReadOnlySpan<nint> lengths, ReadOnlySpan<nint> strides, bool dense, bool empty, string name, string names, ReadOnlySpan<long> expected)
    {
        if (empty && lengths.Length <= 1)
        {
            return;
        }

        bool match = lengths.Length == expected.Length;
        for (int d = 0; match && d < expected.Length; d++)
        {
            match = expected[d] == Any || lengths[d] == expected[d];
        }

        if (!match)
        {
            string want = string.Join(", ", expected.ToArray().Select(v => v == Any ? "any" : v.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            throw new ArgumentException($"{name}: expected a tensor {names} = [{want}], got [{string.Join(", ", lengths.ToArray())}].", name);
        }

        if (!dense)
        {
            throw new ArgumentException($"{name}: expected a dense tensor (contiguous, row-major), got strides [{string.Join(", ", strides.ToArray())}]; copy it into a dense tensor first.", name);
        }
    }
}
