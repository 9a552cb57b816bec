using FastLstm.Cli;
using FastLstm.Training;

namespace FastLstm.Fuzz;

/// <summary>
/// The untrusted-input readers, each fed arbitrary bytes. The exceptions their contracts document are the expected way
/// to reject an input and are swallowed here; anything else (a crash, an overflow, an index error) escapes, which is
/// what the fuzzer and the replay test look for.
/// </summary>
public static class Targets
{
    public static readonly IReadOnlyDictionary<string, Action<byte[]>> All = new Dictionary<string, Action<byte[]>>
    {
        ["model"] = Model,
        ["csv"] = Csv,
        ["text"] = Text,
        ["onnx"] = Onnx,
        ["safetensors"] = SafeTensorsFile,
    };

    /// <summary>
    /// <see cref="FastLstm.Onnx.OnnxModel"/>'s loader, then (when a model loads) its stack and one run on inputs of the
    /// declared shapes (2 for each free dimension).
    /// </summary>
    public static void Onnx(byte[] bytes)
    {
        try
        {
            var model = FastLstm.Onnx.OnnxModel.Load(new MemoryStream(bytes, writable: false));
            try
            {
                _ = model.Rnn;
            }
            catch (NotSupportedException)
            {
            }

            var inputs = new Dictionary<string, FastLstm.Onnx.OnnxTensor>();
            foreach (var info in model.Inputs)
            {
                int[] shape = info.Shape.Select(d => int.TryParse(d, out int n) && n is >= 0 and <= 64 ? n : 2).ToArray();
                int count = shape.Aggregate(1, (a, d) => a * d);
                if (count > 1 << 16)
                {
                    return;
                }

                Array data = info.ElementType switch
                {
                    FastLstm.Onnx.OnnxElementType.Float => new float[count],
                    FastLstm.Onnx.OnnxElementType.Double => new double[count],
                    FastLstm.Onnx.OnnxElementType.Int32 => Enumerable.Repeat(1, count).ToArray(),
                    _ => new long[count],
                };
                inputs[info.Name] = new FastLstm.Onnx.OnnxTensor(data, shape);
            }

            using var session = model.CreateSession(4, 8);
            session.Run(inputs);
        }
        catch (Exception e) when (e is InvalidDataException or NotSupportedException or ArgumentException)
        {
        }
    }

    /// <summary><see cref="FastLstm.Onnx.SafeTensors"/>' header reader, then a load as a small LSTM and as the spec the names give.</summary>
    public static void SafeTensorsFile(byte[] bytes)
    {
        try
        {
            foreach (var t in FastLstm.Onnx.SafeTensors.List(new MemoryStream(bytes, writable: false), "fuzz.safetensors"))
            {
                _ = t.Name;
            }

            FastLstm.Onnx.SafeTensors.LoadRnn<float>(new MemoryStream(bytes, writable: false), "fuzz.safetensors", new RnnSpec(CellType.Lstm, 3, 4, 2, true), "lstm.");
        }
        catch (InvalidDataException)
        {
        }
    }

    /// <summary><see cref="ModelFile"/>'s reader, in both precisions.</summary>
    public static void Model(byte[] bytes)
    {
        try
        {
            ModelFile.Deserialize<float>(bytes);
            ModelFile.Deserialize<double>(bytes);
        }
        catch (InvalidDataException)
        {
        }
    }

    /// <summary>The CLI's CSV reader, on the column "v" and on the first column name the file has.</summary>
    public static void Csv(byte[] bytes)
    {
        foreach (string column in new[] { "v", "passengers" })
        {
            try
            {
                FastLstm.Cli.Csv.ReadColumn(new MemoryStream(bytes, writable: false), column, "fuzz.csv");
            }
            catch (CliException)
            {
            }
        }
    }

    /// <summary>The CLI's corpus reader.</summary>
    public static void Text(byte[] bytes)
    {
        try
        {
            Corpus.Decode(bytes, "fuzz.txt");
        }
        catch (CliException)
        {
        }
    }
}
