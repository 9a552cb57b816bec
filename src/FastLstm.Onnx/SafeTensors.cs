using System.Buffers.Binary;
using System.Numerics;
using System.Text;
using System.Text.Json;
using FastLstm.Training;

namespace FastLstm.Onnx;

/// <summary>One tensor listed in a safetensors header.</summary>
/// <param name="Name">Its name (PyTorch's state_dict key).</param>
/// <param name="DType">The safetensors dtype: F32, F64, F16, BF16, I64, …</param>
/// <param name="Shape">Its dimensions.</param>
public sealed record SafeTensorInfo(string Name, string DType, IReadOnlyList<long> Shape);

/// <summary>
/// safetensors files (Hugging Face's format, what <c>safetensors.torch.save_file(module.state_dict(), path)</c> writes)
/// with PyTorch's parameter names. The header is untrusted JSON: its size, every offset, every size and overlap are
/// checked before any tensor is read, and nothing larger than the file is allocated.
/// </summary>
public static class SafeTensors
{
    /// <summary>Largest header accepted, in bytes.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    /// <summary>Reads the parameters of a network of shape <paramref name="spec"/>, named <paramref name="prefix"/> + PyTorch's names.</summary>
    /// <exception cref="InvalidDataException">The file is malformed, or a tensor is missing, of another shape or not a float type.</exception>
    public static RnnModel<T> LoadRnn<T>(string path, RnnSpec spec, string prefix = "")
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(prefix);
        spec.Validate();
        using var file = SafeFile.OpenRead(path);
        return LoadRnn<T>(file, path, spec, prefix);
    }

    /// <summary>The reader behind <see cref="LoadRnn{T}(string, RnnSpec, string)"/>, on any seekable stream (the fuzz target's).</summary>
    internal static RnnModel<T> LoadRnn<T>(Stream file, string path, RnnSpec spec, string prefix)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        var (entries, dataStart) = ReadHeader(file, path);
        // The layout names and shapes the tensors without allocating the parameters, so a spec larger than the file fails here.
        var layout = new ParameterLayout(spec);
        foreach (var (name, shape) in layout.Tensors.Select(t => (t.Name, t.Shape)))
        {
            if (!entries.TryGetValue(prefix + name, out var e))
            {
                throw new InvalidDataException($"{path}: tensor '{prefix + name}' is missing (the spec {Describe(spec)} needs it).");
            }

            if (ElementSize(e.DType) is not (2 or 4 or 8) || !e.DType.StartsWith('F') && e.DType != "BF16")
            {
                throw new InvalidDataException($"{path}: tensor '{prefix + name}' has dtype {e.DType}; expected F32, F64, F16 or BF16.");
            }

            if (!e.Shape.SequenceEqual(shape.Select(d => (long)d)))
            {
                throw new InvalidDataException($"{path}: tensor '{prefix + name}' has shape [{string.Join(", ", e.Shape)}]; the spec needs [{string.Join(", ", shape)}].");
            }
        }

        var model = new RnnModel<T>(spec);
        foreach (string name in layout.Names)
        {
            var e = entries[prefix + name];
            var bytes = new byte[e.End - e.Begin];
            file.Seek(dataStart + e.Begin, SeekOrigin.Begin);
            file.ReadExactly(bytes);
            Convert(bytes, e.DType, model.Parameter(name));
        }

        return model;
    }

    /// <summary>Writes every parameter as <paramref name="prefix"/> + its PyTorch name (F32 for float, F64 for double); atomic.</summary>
    public static void Save<T>(RnnModel<T> model, string path, string prefix = "")
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(prefix);
        ArgumentException.ThrowIfNullOrEmpty(path);
        int size = System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
        string dtype = size == 4 ? "F32" : "F64";
        var header = new MemoryStream();
        using (var json = new Utf8JsonWriter(header))
        {
            json.WriteStartObject();
            json.WriteStartObject("__metadata__");
            json.WriteString("format", "pt");
            json.WriteEndObject();
            long offset = 0;
            foreach (string name in model.ParameterNames)
            {
                int[] shape = model.ParameterShape(name);
                long bytes = shape.Aggregate(1L, (a, d) => a * d) * size;
                json.WriteStartObject(prefix + name);
                json.WriteString("dtype", dtype);
                json.WriteStartArray("shape");
                foreach (int d in shape)
                {
                    json.WriteNumberValue(d);
                }

                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + bytes);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += bytes;
            }

            json.WriteEndObject();
        }

        // The format pads the header with spaces so the data starts 8-byte aligned.
        while (header.Length % 8 != 0)
        {
            header.WriteByte((byte)' ');
        }

        SafeFile.Write(path, stream =>
        {
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
            stream.Write(length);
            header.Position = 0;
            header.CopyTo(stream);
            foreach (string name in model.ParameterNames)
            {
                ReadOnlySpan<T> values = model.Parameter(name);
                stream.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values));
            }
        });
    }

    /// <summary>The tensors a file holds, in header order, after the header's checks.</summary>
    public static IReadOnlyList<SafeTensorInfo> List(string path)
    {
        using var file = SafeFile.OpenRead(path);
        return List(file, path);
    }

    internal static IReadOnlyList<SafeTensorInfo> List(Stream file, string path)
    {
        var (entries, _) = ReadHeader(file, path);
        return entries.Values.OrderBy(e => e.Begin).Select(e => new SafeTensorInfo(e.Name, e.DType, e.Shape)).ToArray();
    }

    /// <summary>
    /// The network shape a file's PyTorch names describe: cell from the gate rows (4 → LSTM, or SeedLstm when
    /// <c>weight_use_l0</c> is there; 3 → GRU; 1 → tanh RNN), sizes, layers, directions.
    /// <paramref name="cell"/> overrides the cell where the names cannot tell (GruResetBefore, RnnRelu).
    /// </summary>
    public static RnnSpec InferSpec(string path, string prefix = "", CellType? cell = null)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        var tensors = List(path).ToDictionary(t => t.Name, StringComparer.Ordinal);
        SafeTensorInfo Need(string name) => tensors.TryGetValue(prefix + name, out var t) && t.Shape.Count == 2
            ? t
            : throw new InvalidDataException($"{path}: no 2-D tensor '{prefix + name}', so the file holds no PyTorch recurrent layer under prefix '{prefix}'.");
        var ih = Need("weight_ih_l0");
        var hh = Need("weight_hh_l0");
        long rows = hh.Shape[0], hidden = hh.Shape[1];
        if (hidden < 1 || hidden > 1 << 16 || rows % hidden != 0 || (rows / hidden) is not (1 or 3 or 4) || ih.Shape[1] < 1 || ih.Shape[1] > 1 << 20)
        {
            throw new InvalidDataException($"{path}: weight_hh_l0 [{rows}, {hidden}] is not a recurrent layer's (1, 3 or 4 gates × hidden).");
        }

        CellType inferred = (rows / hidden) switch
        {
            4 => tensors.ContainsKey(prefix + "weight_use_l0") ? CellType.SeedLstm : CellType.Lstm,
            3 => CellType.Gru,
            _ => CellType.RnnTanh,
        };
        int layers = 0;
        while (layers < 1 << 10 && tensors.ContainsKey($"{prefix}weight_ih_l{layers}"))
        {
            layers++;
        }

        return new RnnSpec(cell ?? inferred, (int)ih.Shape[1], (int)hidden, layers, tensors.ContainsKey(prefix + "weight_ih_l0_reverse"));
    }

    private static string Describe(RnnSpec s) => $"{s.Cell} {s.InputSize}→{s.HiddenSize} × {s.Layers}{(s.Bidirectional ? " bidirectional" : "")}";

    private sealed record Entry(string Name, string DType, long[] Shape, long Begin, long End);

    private static (Dictionary<string, Entry> Entries, long DataStart) ReadHeader(Stream file, string path)
    {
        long length = file.Length;
        Span<byte> prefix = stackalloc byte[8];
        if (length < 8)
        {
            throw new InvalidDataException($"{path}: {length} bytes is too short for a safetensors file.");
        }

        file.ReadExactly(prefix);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (n > MaxHeaderBytes || (long)n > length - 8)
        {
            throw new InvalidDataException($"{path}: header claims {n} bytes; at most {Math.Min(MaxHeaderBytes, length - 8)} are possible.");
        }

        var header = new byte[n];
        file.ReadExactly(header);
        long dataStart = 8 + (long)n, dataLength = length - dataStart;
        if (!System.Text.Unicode.Utf8.IsValid(header))
        {
            throw new InvalidDataException($"{path}: the header is not valid UTF-8.");
        }

        var entries = new Dictionary<string, Entry>(StringComparer.Ordinal);
        try
        {
            using var doc = JsonDocument.Parse(header, new JsonDocumentOptions { MaxDepth = 8 });
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException($"{path}: the header is not a JSON object.");
            }

            foreach (var p in doc.RootElement.EnumerateObject())
            {
                if (p.Name == "__metadata__")
                {
                    continue;
                }

                var e = ParseEntry(p, path, dataLength);
                if (!entries.TryAdd(e.Name, e))
                {
                    throw new InvalidDataException($"{path}: tensor '{e.Name}' is listed twice.");
                }
            }
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: the header is not valid JSON ({e.Message}).", e);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"{path}: the header is not valid UTF-8 JSON ({e.Message}).", e);
        }

        Entry? previous = null;
        foreach (var e in entries.Values.OrderBy(e => e.Begin).ThenBy(e => e.End))
        {
            if (previous != null && e.Begin < previous.End)
            {
                throw new InvalidDataException($"{path}: tensors '{previous.Name}' and '{e.Name}' overlap.");
            }

            previous = e;
        }

        return (entries, dataStart);
    }

    private static Entry ParseEntry(JsonProperty p, string path, long dataLength)
    {
        string what = $"{path}: tensor '{p.Name}'";
        var v = p.Value;
        if (v.ValueKind != JsonValueKind.Object
            || !v.TryGetProperty("dtype", out var dtype) || dtype.ValueKind != JsonValueKind.String
            || !v.TryGetProperty("shape", out var shape) || shape.ValueKind != JsonValueKind.Array
            || !v.TryGetProperty("data_offsets", out var offsets) || offsets.ValueKind != JsonValueKind.Array || offsets.GetArrayLength() != 2)
        {
            throw new InvalidDataException($"{what}: expected {{\"dtype\": …, \"shape\": […], \"data_offsets\": [begin, end]}}.");
        }

        string type = dtype.GetString()!;
        int size = ElementSize(type);
        if (size == 0)
        {
            throw new InvalidDataException($"{what}: unknown dtype '{type}'.");
        }

        var dims = new long[shape.GetArrayLength()];
        long count = 1;
        int i = 0;
        foreach (var d in shape.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long n) || n < 0 || n > dataLength)
            {
                throw new InvalidDataException($"{what}: shape entry {d} is not a size.");
            }

            dims[i++] = n;
            count = n == 0 ? 0 : count > dataLength / n ? dataLength + 1 : count * n;
        }

        long begin = Offset(offsets[0]), end = Offset(offsets[1]);
        if (begin > end || end > dataLength)
        {
            throw new InvalidDataException($"{what}: data_offsets [{begin}, {end}] are outside the {dataLength} data bytes.");
        }

        if (count > dataLength || end - begin != count * size)
        {
            throw new InvalidDataException($"{what}: data_offsets hold {end - begin} bytes; shape [{string.Join(", ", dims)}] of {type} needs {(count > dataLength ? "more than the file" : (count * size).ToString(System.Globalization.CultureInfo.InvariantCulture))}.");
        }

        return new Entry(p.Name, type, dims, begin, end);

        long Offset(JsonElement e) => e.ValueKind == JsonValueKind.Number && e.TryGetInt64(out long o) && o >= 0
            ? o
            : throw new InvalidDataException($"{what}: data_offsets entry {e} is not a byte offset.");
    }

    private static int ElementSize(string dtype) => dtype switch
    {
        "F64" or "I64" or "U64" => 8,
        "F32" or "I32" or "U32" => 4,
        "F16" or "BF16" or "I16" or "U16" => 2,
        "I8" or "U8" or "BOOL" or "F8_E4M3" or "F8_E5M2" => 1,
        _ => 0,
    };

    private static void Convert<T>(byte[] bytes, string dtype, Span<T> target)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        for (int i = 0; i < target.Length; i++)
        {
            target[i] = dtype switch
            {
                "F32" => T.CreateChecked(BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(4 * i))),
                "F64" => T.CreateChecked(BinaryPrimitives.ReadDoubleLittleEndian(bytes.AsSpan(8 * i))),
                "F16" => T.CreateChecked((float)BinaryPrimitives.ReadHalfLittleEndian(bytes.AsSpan(2 * i))),
                _ => T.CreateChecked(BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(2 * i)) << 16)),
            };
        }
    }
}
