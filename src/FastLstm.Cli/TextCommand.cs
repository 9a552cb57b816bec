using System.CommandLine;
using System.Globalization;
using FastLstm.Training;
using FastLstm.Training.Text;
using Spectre.Console;

namespace FastLstm.Cli;

/// <summary><c>fastlstm text train|generate</c>: character-level generation, many-to-many with softmax.</summary>
internal static class TextCommand
{
    public static Command Create(TextWriter output)
    {
        var command = new Command("text", "Character-level text models: train on a corpus, generate from a model.");
        command.Subcommands.Add(Train(output));
        command.Subcommands.Add(Generate(output));
        return command;
    }

    private static Command Train(TextWriter output)
    {
        var file = new Option<string>("--file") { Description = "Corpus (UTF-8 text).", Required = true };
        var outPath = new Option<string>("--out") { Description = "Model file to write (also MODEL.loss.png).", Required = true };
        var cell = Options.Cell();
        var hidden = Options.Int("--hidden", 256, 1, 4096, "Hidden units.");
        var layers = Options.Int("--layers", 2, 1, 16, "Stacked layers.");
        var seq = Options.Int("--seq", 100, 2, 10_000, "Characters per truncated-BPTT chunk.");
        var epochs = Options.Int("--epochs", 10, 1, 100_000, "Passes over the text.");
        var seed = Options.Int("--seed", 1, 0, int.MaxValue, "Seed of the weights.");
        var batch = Options.Int("--batch", 16, 1, 4096, "Parallel streams through the text.");
        var lr = Options.Double("--lr", 4e-3, 1e-7, 10, "Adam learning rate.");
        var clip = Options.Double("--clip", 5, 0, 1e6, "Gradient clipping by global norm (0: off).");
        var command = new Command("train", "Train a character-level model; reports bits per character on the held-out last 10%.")
        {
            file, outPath, cell, hidden, layers, seq, epochs, seed, batch, lr, clip,
        };
        command.SetAction(p =>
        {
            string path = p.GetValue(file)!, model = p.GetValue(outPath)!;
            OutputPath.CheckWritable("--out", model, path);
            OutputPath.CheckWritable("--out", model + ".loss.png", path);
            string text = Corpus.Read(path);
            var options = new TextModelOptions
            {
                Cell = p.Value(cell),
                Hidden = p.GetValue(hidden),
                Layers = p.GetValue(layers),
                SequenceLength = p.GetValue(seq),
                Streams = p.GetValue(batch),
            };
            var training = new TrainingOptions { Epochs = p.GetValue(epochs), LearningRate = p.GetValue(lr), Clip = p.GetValue(clip), Seed = p.GetValue(seed) };
            MemoryBudget.Check($"--hidden {options.Hidden} --layers {options.Layers} --seq {options.SequenceLength} --batch {options.Streams}",
                MemoryBudget.Training(new RnnSpec(options.Cell, Math.Max(1, text.EnumerateRunes().Distinct().Count()), options.Hidden, options.Layers), options.Streams, options.SequenceLength));
            var console = Output.Console(output);
            console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{path}: {text.EnumerateRunes().Count()} characters, {text.EnumerateRunes().Distinct().Count()} distinct; {Options.CellName(options.Cell)}, hidden {options.Hidden}, layers {options.Layers}, chunks of {options.SequenceLength}, {options.Streams} streams."));
            var (trained, history) = Progress.Run(console, "epoch", training.Epochs, report =>
                TextModel.Train(text, options, training, r => report(r.Epoch, string.Create(CultureInfo.InvariantCulture,
                    $"train {r.TrainBitsPerCharacter:F3} bits/char  held-out {r.HeldOutBitsPerCharacter:F3} bits/char"))));
            trained.Save(model);
            Plots.Loss(model + ".loss.png", "bits per character", history.Select(h => (h.TrainBitsPerCharacter, h.HeldOutBitsPerCharacter)).ToList());
            console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"held-out bits per character: {history[^1].HeldOutBitsPerCharacter:F3} after {history.Count} epochs ({history[^1].Elapsed.TotalSeconds:F0} s)"));
            var runes = text.EnumerateRunes().ToArray();
            string held = string.Concat(runes[(runes.Length - (int)(runes.Length * options.HeldOutFraction))..].Select(r => r.ToString()));
            console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"with compressed weights (text generate --weights): bf16 {trained.BitsPerCharacter(held, WeightFormat.BFloat16):F3}, int8 {trained.BitsPerCharacter(held, WeightFormat.Int8):F3} bits per character"));
            console.WriteLine($"wrote {model}, {model}.loss.png");
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Generate(TextWriter output)
    {
        var model = new Option<string>("--model") { Description = "Model file written by 'fastlstm text train', or an ONNX character model (with --vocab).", Required = true };
        var vocab = new Option<string?>("--vocab") { Description = "ONNX models: a text file whose distinct characters, in code-point order, are the model's (its training corpus)." };
        var prompt = new Option<string>("--prompt") { Description = "Text to start from.", DefaultValueFactory = _ => "" };
        var length = Options.Int("--length", 500, 0, 10_000_000, "Characters to generate.");
        var temperature = Options.Double("--temperature", 0.8, 1e-3, 100, "Sampling temperature: lower is more conservative.");
        var seed = Options.Int("--seed", 1, 0, int.MaxValue, "Seed of the sampling.");
        var weights = Options.Weights();
        var command = new Command("generate", "Generate text from a character-level model.") { model, prompt, length, temperature, seed, vocab, weights };
        command.SetAction(p =>
        {
            string path = p.GetValue(model)!;
            if (!File.Exists(path))
            {
                throw new CliException($"{path}: file not found.");
            }

            string? vocabPath = p.GetValue(vocab);
            bool onnx = InteropCommands.IsOnnx(path);
            if (onnx != (vocabPath is not null))
            {
                throw new CliException(onnx
                    ? $"{path}: an ONNX model carries no vocabulary; give --vocab FILE (its training corpus, or any text with the same distinct characters)."
                    : $"{path}: --vocab is for ONNX models; a model from 'fastlstm text train' holds its vocabulary.");
            }

            var text = onnx
                ? ImportedText.Generate(path, CharacterVocabulary.FromText(Corpus.Read(vocabPath!)), p.GetValue(prompt)!, p.GetValue(length), p.GetValue(temperature), p.GetValue(seed), p.Value(weights))
                : TextModel.Load(path).Generate(p.GetValue(prompt)!, p.GetValue(length), p.GetValue(temperature), p.GetValue(seed), p.Value(weights));
            output.WriteLine(text);
            return ExitCodes.Success;
        });
        return command;
    }
}
