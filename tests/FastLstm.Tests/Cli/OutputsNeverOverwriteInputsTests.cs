using System.Diagnostics;

namespace FastLstm.Tests.Cli;

/// <summary>
/// The contract that no command destroys its own input: every verb, with every output option pointed at each of its
/// inputs under several names (as given, absolute, relative, through "..", a symbolic link and a hard link), is refused
/// with one line, and every input is byte-identical afterwards.
/// </summary>
public sealed class OutputsNeverOverwriteInputsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fastlstm-inputs-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void EveryVerbRefusesToWriteOverItsInputs()
    {
        string csv = Path.Combine(_dir, "air.csv"), corpus = Path.Combine(_dir, "corpus.txt"), model = Path.Combine(_dir, "air.model");
        string onnx = Path.Combine(_dir, "lstm.onnx"), safetensors = Path.Combine(_dir, "lstm.safetensors"), network = Path.Combine(_dir, "lstm.fastlstm");
        File.Copy(Path.Combine(RepositoryRoot.Path, "samples", "air-passengers.csv"), csv);
        File.WriteAllText(corpus, string.Concat(Enumerable.Repeat("In the beginning God created the heaven and the earth.\n", 40)));
        File.Copy(Path.Combine(RepositoryRoot.Path, "tests", "fixtures", "onnx", "torch", "lstm_l2_bidir_o14", "model.onnx"), onnx);
        Ok(CliRunner.Run("train", "--csv", csv, "--column", "passengers", "--out", model, "--hidden", "4", "--epochs", "1", "--ensemble", "1", "--season", "12"));
        Ok(CliRunner.Run("convert", onnx, safetensors));
        Ok(CliRunner.Run("convert", onnx, network));
        var inputs = new[] { csv, corpus, model, onnx, safetensors, network };
        var before = inputs.ToDictionary(f => f, File.ReadAllBytes);

        var runs = new List<(string[] Args, string Target)>();
        foreach (var name in Names(csv))
        {
            runs.Add((["train", "--csv", csv, "--column", "passengers", "--out", name, "--epochs", "1"], csv));
            runs.Add((["forecast", "--model", model, "--csv", csv, "--column", "passengers", "--out", name, "--plot", Path.Combine(_dir, "f.png")], csv));
            runs.Add((["forecast", "--model", model, "--csv", csv, "--column", "passengers", "--out", Path.Combine(_dir, "f.csv"), "--plot", name], csv));
        }

        foreach (var name in Names(model))
        {
            runs.Add((["forecast", "--model", model, "--csv", csv, "--column", "passengers", "--out", name, "--plot", Path.Combine(_dir, "f.png")], model));
            runs.Add((["forecast", "--model", model, "--csv", csv, "--column", "passengers", "--out", Path.Combine(_dir, "f.csv"), "--plot", name], model));
            runs.Add((["convert", model, name], model));
        }

        foreach (var name in Names(corpus))
        {
            runs.Add((["text", "train", "--file", corpus, "--out", name, "--epochs", "1", "--hidden", "4"], corpus));
        }

        foreach (var input in new[] { onnx, safetensors, network })
        {
            foreach (var name in Names(input))
            {
                runs.Add((["convert", input, name], input));
            }
        }

        foreach (var name in Names(network))
        {
            runs.Add((["gradient-flow", "--model", network, "--plot", name, "--steps", "10"], network));
        }

        foreach (var (args, target) in runs)
        {
            var r = CliRunner.Run(args);
            CliRunner.AssertOneLineError(r, 1, "is the same file as the input");
            Assert.True(File.ReadAllBytes(target).AsSpan().SequenceEqual(before[target]), $"{string.Join(' ', args)} changed {target}");
        }

        foreach (var input in inputs)
        {
            Assert.True(File.ReadAllBytes(input).AsSpan().SequenceEqual(before[input]), $"{input} changed");
        }

        Assert.True(runs.Count >= 60, $"{runs.Count} runs");
    }

    /// <summary>The same file under every name this test can give it.</summary>
    private IEnumerable<string> Names(string path)
    {
        string name = Path.GetFileName(path);
        yield return path;
        yield return Path.GetRelativePath(Environment.CurrentDirectory, path);
        yield return Path.Combine(_dir, "..", Path.GetFileName(_dir), name);
        yield return Path.Combine(_dir, ".", name);
        string symbolic = Path.Combine(_dir, "symbolic-" + name);
        if (!File.Exists(symbolic))
        {
            File.CreateSymbolicLink(symbolic, path);
        }

        yield return symbolic;
        if (OperatingSystem.IsLinux())
        {
            string hard = Path.Combine(_dir, "hard-" + name);
            if (!File.Exists(hard))
            {
                using var ln = Process.Start("ln", [path, hard]);
                ln.WaitForExit();
                Assert.Equal(0, ln.ExitCode);
            }

            yield return hard;
        }
    }

    private static void Ok((int Exit, string Out, string Err) r) => Assert.True(r.Exit == 0, r.Err);
}
