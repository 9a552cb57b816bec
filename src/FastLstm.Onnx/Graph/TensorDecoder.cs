using System.Buffers.Binary;
using FastLstm.Onnx.Proto;
using DataType = FastLstm.Onnx.Proto.TensorProto.Types.DataType;

namespace FastLstm.Onnx.Graph;

/// <summary>
/// Turns an untrusted TensorProto into a <see cref="Value"/>: dims checked (non-negative, product within the limit),
/// the data present checked to be exactly what the dims claim before anything is allocated, external data only from a
/// regular file inside the model's folder and only the bytes that file really holds.
/// </summary>
internal static class TensorDecoder
{
    public static Value Decode(TensorProto t, string what, string? folder)
    {
        var shape = new int[t.Dims.Count];
        for (int i = 0; i < shape.Length; i++)
        {
            long d = t.Dims[i];
            if (d < 0 || d > Value.MaxElements)
            {
                throw new InvalidDataException($"{what}: dimension {i} is {d}; expected 0..{Value.MaxElements}.");
            }

            shape[i] = (int)d;
        }

        long count = Value.Product(shape);
        if (count > Value.MaxElements)
        {
            throw new InvalidDataException($"{what}: dims {Value.Format(shape)} claim more than {Value.MaxElements} elements.");
        }

        if (t.Segment != null)
        {
            throw new NotSupportedException($"{what}: segmented tensors are not supported.");
        }

        var type = (DataType)t.DataType;
        OnnxElementType element = type switch
        {
            DataType.Float or DataType.Float16 or DataType.Bfloat16 => OnnxElementType.Float,
            DataType.Double => OnnxElementType.Double,
            DataType.Int32 or DataType.Int8 or DataType.Uint8 or DataType.Int16 or DataType.Uint16 or DataType.Bool => OnnxElementType.Int32,
            DataType.Int64 => OnnxElementType.Int64,
            _ => throw new NotSupportedException($"{what}: data type {type} is not supported (float, double, float16, bfloat16, the integer types and bool are)."),
        };

        int size = ByteSize(type);
        if (t.DataLocation == TensorProto.Types.DataLocation.External)
        {
            byte[] bytes = ReadExternal(t, what, folder, count * size);
            return FromBytes(bytes, type, element, (int)count, shape);
        }

        if (!t.RawData.IsEmpty)
        {
            if (t.RawData.Length != count * size)
            {
                throw new InvalidDataException($"{what}: raw_data has {t.RawData.Length} bytes; dims {Value.Format(shape)} of {type} need {count * size}.");
            }

            return FromBytes(t.RawData.Span, type, element, (int)count, shape);
        }

        int present = type switch
        {
            DataType.Float => t.FloatData.Count,
            DataType.Double => t.DoubleData.Count,
            DataType.Int64 => t.Int64Data.Count,
            _ => t.Int32Data.Count,
        };
        if (present != count)
        {
            throw new InvalidDataException($"{what}: {present} values present; dims {Value.Format(shape)} need {count}.");
        }

        Array data = Value.Allocate(element, count, what);
        switch (type)
        {
            case DataType.Float:
                t.FloatData.CopyTo((float[])data, 0);
                break;
            case DataType.Double:
                t.DoubleData.CopyTo((double[])data, 0);
                break;
            case DataType.Int64:
                t.Int64Data.CopyTo((long[])data, 0);
                break;
            case DataType.Float16:
            case DataType.Bfloat16:
                var f = (float[])data;
                for (int i = 0; i < f.Length; i++)
                {
                    f[i] = Half16((ushort)t.Int32Data[i], type);
                }

                break;
            default:
                t.Int32Data.CopyTo((int[])data, 0);
                break;
        }

        return new Value(data, shape);
    }

    private static int ByteSize(DataType type) => type switch
    {
        DataType.Double or DataType.Int64 => 8,
        DataType.Float or DataType.Int32 => 4,
        DataType.Float16 or DataType.Bfloat16 or DataType.Int16 or DataType.Uint16 => 2,
        _ => 1,
    };

    private static float Half16(ushort bits, DataType type) =>
        type == DataType.Float16 ? (float)BitConverter.UInt16BitsToHalf(bits) : BitConverter.Int32BitsToSingle(bits << 16);

    private static Value FromBytes(ReadOnlySpan<byte> raw, DataType type, OnnxElementType element, int count, int[] shape)
    {
        Array data = Value.Allocate(element, count, "tensor");
        for (int i = 0; i < count; i++)
        {
            switch (type)
            {
                case DataType.Float:
                    ((float[])data)[i] = BinaryPrimitives.ReadSingleLittleEndian(raw[(4 * i)..]);
                    break;
                case DataType.Double:
                    ((double[])data)[i] = BinaryPrimitives.ReadDoubleLittleEndian(raw[(8 * i)..]);
                    break;
                case DataType.Int64:
                    ((long[])data)[i] = BinaryPrimitives.ReadInt64LittleEndian(raw[(8 * i)..]);
                    break;
                case DataType.Int32:
                    ((int[])data)[i] = BinaryPrimitives.ReadInt32LittleEndian(raw[(4 * i)..]);
                    break;
                case DataType.Float16:
                case DataType.Bfloat16:
                    ((float[])data)[i] = Half16(BinaryPrimitives.ReadUInt16LittleEndian(raw[(2 * i)..]), type);
                    break;
                case DataType.Int16:
                    ((int[])data)[i] = BinaryPrimitives.ReadInt16LittleEndian(raw[(2 * i)..]);
                    break;
                case DataType.Uint16:
                    ((int[])data)[i] = BinaryPrimitives.ReadUInt16LittleEndian(raw[(2 * i)..]);
                    break;
                case DataType.Int8:
                    ((int[])data)[i] = (sbyte)raw[i];
                    break;
                default:
                    ((int[])data)[i] = raw[i];
                    break;
            }
        }

        return new Value(data, shape);
    }

    private static byte[] ReadExternal(TensorProto t, string what, string? folder, long need)
    {
        if (folder == null)
        {
            throw new InvalidDataException($"{what}: external data needs the model's folder; load the model from a path, not a stream.");
        }

        string? location = null;
        long offset = 0, length = -1;
        foreach (var e in t.ExternalData)
        {
            switch (e.Key)
            {
                case "location":
                    location = e.Value;
                    break;
                case "offset":
                    offset = ParseSize(e.Value, what, "offset");
                    break;
                case "length":
                    length = ParseSize(e.Value, what, "length");
                    break;
            }
        }

        if (string.IsNullOrEmpty(location) || Path.IsPathRooted(location) || location.Contains('\0', StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{what}: external data location '{location}' must be a relative path inside the model's folder.");
        }

        string root = Path.GetFullPath(folder);
        string full = Path.GetFullPath(Path.Combine(root, location));
        string resolved = new FileInfo(full).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? full;
        if (!resolved.StartsWith(root.TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{what}: external data location '{location}' is outside the model's folder.");
        }

        if (length >= 0 && length != need)
        {
            throw new InvalidDataException($"{what}: external length {length} bytes; dims need {need}.");
        }

        FileStream fs;
        try
        {
            fs = FastLstm.Training.SafeFile.OpenRead(resolved);
        }
        catch (IOException e)
        {
            throw new InvalidDataException($"{what}: external data file '{location}': {e.Message}", e);
        }

        using var _ = fs;
        if (offset + need > fs.Length)
        {
            throw new InvalidDataException($"{what}: external data needs bytes {offset}..{offset + need} of '{location}', which has {fs.Length}.");
        }

        fs.Seek(offset, SeekOrigin.Begin);
        var buffer = new byte[need];
        fs.ReadExactly(buffer);
        return buffer;
    }

    private static long ParseSize(string s, string what, string key) =>
        long.TryParse(s, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long v) && v <= Value.MaxElements * 8
            ? v
            : throw new InvalidDataException($"{what}: external data {key} '{s}' is not a size.");
}

/// <summary>Reads a serialized TensorProto (the <c>input_K.pb</c> files of ONNX test data) as a named tensor.</summary>
internal static class TensorFile
{
    public static (string Name, OnnxTensor Tensor) Read(string path)
    {
        var proto = TensorProto.Parser.ParseFrom(File.ReadAllBytes(path));
        var v = TensorDecoder.Decode(proto, path, null);
        return (proto.Name, new OnnxTensor(v.Data, v.Shape));
    }
}
