using System.Numerics;
using FastLstm.Kernels;

namespace FastLstm.Training;

/// <summary>
/// How a model file stores the network's parameters: every one in the element type, or — version 5 — the weight matrices
/// the sessions pack (<see cref="ParameterLayout.IsPacked"/>) compressed, the rest as floats. bfloat16: 2 bytes a weight
/// (the float's high half, rounded to nearest even). int8: per matrix, a float step per row, then one signed byte a
/// weight in −127..127, each weight being its integer times its row's step. The integers are the ones an Int8 session
/// packs (the same rounding), and a float model read from such a file keeps the steps as its quantization grid, so an
/// Int8 session of it multiplies exactly the file's integers.
/// </summary>
internal static class StoredWeights
{
    /// <summary>The storage byte of the header: the element size, or 2 (float, bfloat16 matrices) or 1 (float, int8 matrices).</summary>
    public static byte Code(WeightFormat weights, int elementSize) => weights switch
    {
        WeightFormat.BFloat16 => 2,
        WeightFormat.Int8 => 1,
        _ => (byte)elementSize,
    };

    /// <summary>The element size and weight format a storage byte names in a file of <paramref name="version"/>, or null.</summary>
    public static (int ElementSize, WeightFormat Weights)? Decode(int code, uint version) => code switch
    {
        4 or 8 => (code, WeightFormat.Full),
        2 when version >= 5 => (4, WeightFormat.BFloat16),
        1 when version >= 5 => (4, WeightFormat.Int8),
        _ => null,
    };

    /// <summary>The bytes the network's parameters take.</summary>
    public static long Bytes(ParameterLayout layout, int elementSize, WeightFormat weights) =>
        layout.Tensors.Sum(t => !layout.IsPacked(t) || weights == WeightFormat.Full ? (long)t.Length * elementSize
            : weights == WeightFormat.BFloat16 ? 2L * t.Length : (4L * t.Shape[0]) + t.Length);

    /// <exception cref="ArgumentException">An int8 row holds a weight that is not finite.</exception>
    public static void Write<T>(BinaryWriter w, RnnModel<T> network, WeightFormat weights)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        var layout = network.Layout;
        ReadOnlySpan<T> all = network.Data;
        foreach (var t in layout.Tensors)
        {
            var values = all.Slice(t.Offset, t.Length);
            if (!layout.IsPacked(t) || weights == WeightFormat.Full)
            {
                ModelFile.WriteElements(w, values);
            }
            else if (weights == WeightFormat.BFloat16)
            {
                foreach (var v in values)
                {
                    w.Write(WeightCodec.ToBFloat16(float.CreateTruncating(v)));
                }
            }
            else
            {
                WriteInt8(w, t, values, network.QuantizationGrid(t.Name));
            }
        }
    }

    /// <summary>Reads what <see cref="Write"/> wrote into <paramref name="network"/>; the caller has checked the byte count.</summary>
    public static void Read<T>(ref ModelFile.Reader r, RnnModel<T> network, int elementSize, WeightFormat weights)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        var layout = network.Layout;
        var all = network.Parameters;
        foreach (var t in layout.Tensors)
        {
            var values = all.Slice(t.Offset, t.Length);
            if (!layout.IsPacked(t) || weights == WeightFormat.Full)
            {
                ModelFile.ReadElements(ref r, elementSize, values);
            }
            else if (weights == WeightFormat.BFloat16)
            {
                for (int i = 0; i < values.Length; i++)
                {
                    values[i] = T.CreateTruncating(WeightCodec.FromBFloat16(r.U16()));
                }
            }
            else
            {
                var steps = ReadInt8(ref r, t, values);
                if (typeof(T) == typeof(float))
                {
                    network.SetQuantizationGrid(t.Name, steps);
                }
            }
        }
    }

    private static void WriteInt8<T>(BinaryWriter w, ParameterLayout.Tensor t, ReadOnlySpan<T> values, float[]? grid)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int rows = t.Shape[0], cols = t.Shape[1];
        var steps = new float[rows];
        for (int r = 0; r < rows; r++)
        {
            float max = 0;
            foreach (var v in values.Slice(r * cols, cols))
            {
                max = MathF.Max(max, MathF.Abs(float.CreateTruncating(v)));
            }

            if (!float.IsFinite(max))
            {
                throw new ArgumentException($"model: {t.Name} row {r} holds a weight that is not finite ({max}); int8 cannot store it.", "model");
            }

            steps[r] = WeightCodec.Int8Step(max, grid?[r] ?? 0);
            w.Write(steps[r]);
        }

        for (int i = 0; i < values.Length; i++)
        {
            w.Write(WeightCodec.ToInt8(float.CreateTruncating(values[i]), steps[i / cols]));
        }
    }

    private static float[] ReadInt8<T>(ref ModelFile.Reader r, ParameterLayout.Tensor t, Span<T> values)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int rows = t.Shape[0], cols = t.Shape[1];
        var steps = new float[rows];
        for (int row = 0; row < rows; row++)
        {
            steps[row] = r.F32();
            if (!(steps[row] >= 0 && steps[row] <= float.MaxValue / 127))
            {
                throw ModelFile.Invalid($"{t.Name} row {row}: int8 step {steps[row]}, expected a finite value ≥ 0.");
            }
        }

        for (int i = 0; i < values.Length; i++)
        {
            int q = (sbyte)r.U8();
            float step = steps[i / cols];
            if (q == -128 || (step == 0 && q != 0))
            {
                throw ModelFile.Invalid($"{t.Name} row {i / cols}: int8 value {q} with step {step}, expected −127..127 (0 where the step is 0).");
            }

            values[i] = T.CreateTruncating(q * step);
        }

        return steps;
    }
}
