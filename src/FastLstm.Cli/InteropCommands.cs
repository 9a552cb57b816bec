using System.CommandLine;
using System.Globalization;
using FastLstm.Onnx;
using FastLstm.Training;
using FastLstm.Training.Forecasting;

namespace FastLstm.Cli;

/// <summary>
/// <c>fastlstm inspect FILE</c> and <c>fastlstm convert IN OUT</c>: ONNX files, safetensors state_dicts and FastLstm
/// model files, told apart by their first bytes (not their names).
/// </summary>
internal static class InteropCommands
{
    private enum Format
    {
        FastLstm,
        SafeTensors,
        Onnx,
    }

    public static Command Inspect(TextWriter output)
    {
        var file = new Argument<string>("FILE") { Description = "An ONNX file, a safetensors file or a FastLstm model file." };
        var prefix = PrefixOption();
        var command = new Command("inspect", "Show what a model file holds: format, cells, sizes, parameters, op types.") { file, prefix };
        command.SetAction(parse =>
        {
            string path = InputPath("FILE", parse.GetValue(file));
            switch (Detect(path))
            {
                case Format.FastLstm:
                    var saved = ModelFile.Load<float>(path);
                    output.WriteLine($"format: FastLstm model file, {new FileInfo(path).Length} bytes; weight matrices {Stored(saved.Weights)}");
                    WriteSpec(output, saved.Network);
                    output.WriteLine(saved.Head is { } h ? $"head: Dense {h.Inputs} → {h.Outputs}, {h.Activation}" : "head: none");
                    foreach (var line in Forecaster.Describe(saved.Metadata) ?? [])
                    {
                        output.WriteLine(line);
                    }

                    break;
                case Format.SafeTensors:
                    var tensors = SafeTensors.List(path);
                    output.WriteLine($"format: safetensors, {tensors.Count} tensors");
                    foreach (var t in tensors)
                    {
                        output.WriteLine($"  {t.Name}: {t.DType} [{string.Join(", ", t.Shape)}]");
                    }

                    try
                    {
                        var spec = SafeTensors.InferSpec(path, parse.GetValue(prefix)!);
                        output.WriteLine($"recurrent stack (prefix '{parse.GetValue(prefix)}'): {Describe(spec)}");
                    }
                    catch (InvalidDataException e)
                    {
                        output.WriteLine($"recurrent stack: none ({e.Message})");
                    }

                    break;
                default:
                    var onnx = OnnxModel.Load(path);
                    output.WriteLine($"format: ONNX, opset {onnx.Opset}{(onnx.Producer.Length > 0 ? $", from {onnx.Producer}" : "")}");
                    foreach (var i in onnx.Inputs)
                    {
                        output.WriteLine($"input: {i.Name} {i.ElementType} [{string.Join(", ", i.Shape)}]");
                    }

                    foreach (var o in onnx.Outputs)
                    {
                        output.WriteLine($"output: {o.Name} {o.ElementType} [{string.Join(", ", o.Shape)}]");
                    }

                    output.WriteLine($"ops run per call: {string.Join(", ", onnx.OpTypes.GroupBy(t => t).Select(g => g.Count() > 1 ? $"{g.Key} ×{g.Count()}" : g.Key))}");
                    if (onnx.OpTypes.Contains("DynamicQuantizeLSTM"))
                    {
                        output.WriteLine("weights: 8-bit integers in the file (DynamicQuantizeLSTM), dequantized to float on import; forecast and text generate run them as int8 with --weights int8");
                    }
                    try
                    {
                        WriteSpec(output, onnx.Rnn);
                    }
                    catch (NotSupportedException e)
                    {
                        output.WriteLine($"recurrent stack: not one FastLstm model ({e.Message})");
                    }

                    break;
            }

            return ExitCodes.Success;
        });
        return command;
    }

    public static Command Convert(TextWriter output)
    {
        var input = new Argument<string>("IN") { Description = "An ONNX file, a safetensors file or a FastLstm model file." };
        var target = new Argument<string>("OUT") { Description = "The file to write; its format from its extension: .onnx, .safetensors, anything else a FastLstm model file." };
        var prefix = PrefixOption();
        var cell = Cli.Options.OptionalCell("The cell of a safetensors file where names cannot tell (gru-reset-before, rnn-relu).");
        var weights = Cli.Options.Weights("How a FastLstm model file OUT stores the network's weight matrices: full precision, bfloat16 or int8 (half, or about a quarter, of their bytes; int8 as an Int8 session rounds them, so --weights int8 then runs exactly the stored integers).");
        var command = new Command("convert", "Convert between ONNX, safetensors and FastLstm model files: the recurrent stack, and its dense head between ONNX and FastLstm model files (checked by running both); from one FastLstm model file to another, everything it holds, e.g. to store its weights compressed.")
        {
            input, target, prefix, cell, weights,
        };
        command.SetAction(parse =>
        {
            string from = InputPath("IN", parse.GetValue(input)), to = parse.GetValue(target)!;
            string p = parse.GetValue(prefix)!;
            var stored = parse.Value(weights);
            string extension = Path.GetExtension(to).ToLowerInvariant();
            if (stored != WeightFormat.Full && extension is ".onnx" or ".safetensors")
            {
                throw new CliException($"--weights: {Cli.Options.FormatName(stored)} storage is for FastLstm model files; OUT ({to}) is {(extension == ".onnx" ? "an ONNX" : "a safetensors")} file.", ExitCodes.Usage);
            }

            OutputPath.CheckWritable("OUT", to, from);
            RnnModel<float> network;
            DenseHead<float>? head = null;
            string? notCarried = null;
            IReadOnlyList<string>? forecaster = null;
            IReadOnlyDictionary<string, double[]> metadata = new Dictionary<string, double[]>();
            switch (Detect(from))
            {
                case Format.FastLstm:
                    var saved = ModelFile.Load<float>(from);
                    (network, head) = (saved.Network, saved.Head);
                    forecaster = Forecaster.Describe(saved.Metadata);
                    metadata = saved.Metadata;
                    break;
                case Format.SafeTensors:
                    network = SafeTensors.LoadRnn<float>(from, SafeTensors.InferSpec(from, p, parse.GetValue(cell)), p);
                    break;
                default:
                    var onnx = OnnxModel.Load(from);
                    network = onnx.Rnn;
                    try
                    {
                        head = onnx.Head;
                    }
                    catch (NotSupportedException e)
                    {
                        notCarried = e.Message;
                    }

                    break;
            }

            bool whole = extension is not (".onnx" or ".safetensors") && Detect(from) == Format.FastLstm;
            if (extension == ".onnx")
            {
                OnnxExport.Save(network, to, head);
            }
            else if (extension == ".safetensors")
            {
                SafeTensors.Save(network, to, p);
            }
            else
            {
                ModelFile.Save(to, new SavedModel<float>(network, head, metadata), stored);
            }

            output.WriteLine($"wrote {to}: {Describe(network.Spec)}{(head != null && extension != ".safetensors" ? $", head {head.Inputs} → {head.Outputs} {head.Activation}" : "")}"
                + (extension is ".onnx" or ".safetensors" ? "" : $"; weight matrices {Stored(stored)}, {new FileInfo(to).Length} bytes"));
            if (head != null && extension == ".safetensors")
            {
                output.WriteLine("note: safetensors holds the recurrent stack only; the head was not written.");
            }

            if (notCarried != null)
            {
                output.WriteLine($"note: the graph's head was not carried, only the recurrent stack: {notCarried}");
            }

            if (forecaster != null && whole)
            {
                // Its other networks are metadata, which is kept as it is.
                output.WriteLine($"note: {from} is a forecaster; {to} holds all of it, and its networks after the first keep their full precision.");
            }
            else if (forecaster != null)
            {
                // A forecaster is more than its first network: say what stays behind, so nobody takes the file for it.
                output.WriteLine($"note: {from} is a forecaster; {to} holds its first network{(head != null && extension != ".safetensors" ? " and head" : "")} only, without the rest of it:");
                foreach (var line in forecaster)
                {
                    output.WriteLine($"  {line}");
                }
            }

            return ExitCodes.Success;
        });
        return command;
    }

    private static string Stored(WeightFormat weights) => weights switch
    {
        WeightFormat.BFloat16 => "as bfloat16",
        WeightFormat.Int8 => "as int8 (a step per row)",
        _ => "in full precision",
    };

    private static Option<string> PrefixOption() => new("--prefix")
    {
        Description = "Prefix of the recurrent tensors' names in a safetensors file (e.g. \"lstm.\" for a module's submodule named lstm).",
        DefaultValueFactory = _ => "",
    };

    /// <summary>The full path of an input argument, refusing an empty one by its name.</summary>
    private static string InputPath(string argument, string? path) =>
        string.IsNullOrEmpty(path) ? throw new CliException($"{argument}: expected a file name, got an empty path.") : Path.GetFullPath(path);

    /// <summary>Whether <paramref name="path"/> is an ONNX file (neither a FastLstm model file nor safetensors).</summary>
    public static bool IsOnnx(string path) => Detect(path) == Format.Onnx;

    private static Format Detect(string path)
    {
        using var stream = SafeFile.OpenRead(path);
        Span<byte> head = stackalloc byte[9];
        int n = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        if (n >= 8 && head[..8].SequenceEqual("FASTLSTM"u8))
        {
            return Format.FastLstm;
        }

        // safetensors: an 8-byte header size, then the JSON header's opening brace.
        if (n == 9 && head[8] == (byte)'{')
        {
            return Format.SafeTensors;
        }

        // ONNX: a protobuf ModelProto, which every exporter starts with its ir_version (field 1, a varint: byte 0x08).
        if (n > 0 && head[0] == 0x08)
        {
            return Format.Onnx;
        }

        string start = new([.. head[..Math.Min(n, 8)].ToArray().Select(b => b is >= 0x20 and < 0x7F ? (char)b : '.')]);
        throw new CliException($"{path}: not a model file fastlstm reads (it starts '{start}'): a FastLstm model file starts 'FASTLSTM', a safetensors file with a header size and '{{', an ONNX model with its IR version.");
    }

    private static void WriteSpec(TextWriter output, RnnModel<float> model)
    {
        output.WriteLine($"recurrent stack: {Describe(model.Spec)}");
        foreach (string name in model.ParameterNames)
        {
            output.WriteLine($"  {name}: [{string.Join(", ", model.ParameterShape(name))}]");
        }
    }

    private static string Describe(RnnSpec s) =>
        $"{s.Cell}, input {s.InputSize}, hidden {s.HiddenSize}, {s.Layers} layer{(s.Layers == 1 ? "" : "s")}{(s.Bidirectional ? ", bidirectional" : "")}{Options(s, 0)}{(s.HasReverseOptions ? $", reverse direction{Options(s, 1)}" : "")}, {s.ParameterCount} parameters";

    /// <summary>A direction's non-standard cell options, as ", options" (empty when the cell is standard).</summary>
    private static string Options(RnnSpec s, int direction)
    {
        var parts = new List<string>();
        void Clip(double? clip)
        {
            if (clip is { } c)
            {
                parts.Add(string.Create(CultureInfo.InvariantCulture, $"clip {c}"));
            }
        }

        void Activation(string role, RnnActivation a, RnnActivation standard)
        {
            if (a != standard)
            {
                parts.Add($"{role} {a}");
            }
        }

        switch (s.Cell)
        {
            case CellType.Lstm:
                var l = s.LstmOptionsOf(direction);
                if (l.Peepholes)
                {
                    parts.Add("peepholes");
                }

                Clip(l.CellClip);
                if (l.CoupledInputForget)
                {
                    parts.Add("coupled input and forget gates");
                }

                Activation("gates", l.GateActivation, RnnActivation.Sigmoid);
                Activation("candidate", l.CellActivation, RnnActivation.Tanh);
                Activation("output", l.OutputActivation, RnnActivation.Tanh);
                break;
            case CellType.Gru or CellType.GruResetBefore:
                var g = s.GruOptionsOf(direction);
                Clip(g.CellClip);
                Activation("gates", g.GateActivation, RnnActivation.Sigmoid);
                Activation("candidate", g.CandidateActivation, RnnActivation.Tanh);
                break;
            case CellType.RnnTanh or CellType.RnnRelu:
                var r = s.SimpleRnnOptionsOf(direction);
                Clip(r.CellClip);
                if (r.Activation is { } f)
                {
                    parts.Add($"activation {f}");
                }

                break;
        }

        return parts.Count == 0 ? "" : $", {string.Join(", ", parts)}";
    }
}
