using FastLstm.Onnx;
using FastLstm.Training;

namespace FastLstm.Tests.Cli;

/// <summary><c>fastlstm inspect</c> and <c>convert</c> across ONNX, safetensors and FastLstm model files.</summary>
public sealed class InteropVerbTests
{
    private static string Fixture(string name) => Path.Combine(RepositoryRoot.Path, "tests", "fixtures", "onnx", "torch", name, "model.onnx");

    [Fact]
    public void Inspect_names_the_cells_sizes_and_ops_of_a_pytorch_export()
    {
        var (exit, output, error) = CliRunner.Run("inspect", Fixture("gru_l2_bidir_o17"));
        Assert.Equal(0, exit);
        Assert.Equal("", error);
        Assert.Contains("format: ONNX, opset 17, from pytorch", output, StringComparison.Ordinal);
        Assert.Contains("recurrent stack: Gru, input 3, hidden 5, 2 layers, bidirectional", output, StringComparison.Ordinal);
        Assert.Contains("GRU ×2", output, StringComparison.Ordinal);
        Assert.Contains("weight_hh_l1_reverse: [15, 5]", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Inspect_names_a_model_files_cell_options_in_words()
    {
        var (exit, output, _) = CliRunner.Run("inspect", Path.Combine(RepositoryRoot.Path, "tests", "fixtures", "model-files", "v2-lstm-options.fastlstm"));
        Assert.Equal(0, exit);
        Assert.Contains("bidirectional, peepholes, clip 1.5, coupled input and forget gates, gates HardSigmoid(α=0.3, β=0.4), output Softsign, 468 parameters", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Convert_goes_onnx_to_safetensors_to_model_file_to_onnx_without_changing_a_parameter()
    {
        string dir = Directory.CreateTempSubdirectory("fastlstm-convert").FullName;
        try
        {
            string st = Path.Combine(dir, "m.safetensors"), model = Path.Combine(dir, "m.fastlstm"), onnx = Path.Combine(dir, "m.onnx");
            Assert.Equal(0, CliRunner.Run("convert", Fixture("lstm_l2_bidir_o14"), st, "--prefix", "lstm.").Exit);
            Assert.Equal(0, CliRunner.Run("convert", st, model, "--prefix", "lstm.").Exit);
            Assert.Equal(0, CliRunner.Run("convert", model, onnx).Exit);
            var original = OnnxModel.Load(Fixture("lstm_l2_bidir_o14")).Rnn;
            var back = OnnxModel.Load(onnx).Rnn;
            Assert.Equal(original.Spec, back.Spec);
            Assert.Equal(original.Parameters.ToArray(), back.Parameters.ToArray());
            Assert.Equal(original.Parameters.ToArray(), ModelFile.Load<float>(model).Network.Parameters.ToArray());
            var (exit, output, _) = CliRunner.Run("inspect", st, "--prefix", "lstm.");
            Assert.Equal(0, exit);
            Assert.Contains("lstm.weight_ih_l1_reverse: F32 [20, 10]", output, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>
    /// From one FastLstm model file to another, convert carries everything (a text model stays one) and stores the weight
    /// matrices as <c>--weights</c> says; inspect names the storage; ONNX and safetensors targets refuse compressed storage.
    /// </summary>
    [Fact]
    public void Convert_stores_a_model_files_weights_compressed()
    {
        string dir = Directory.CreateTempSubdirectory("fastlstm-convert").FullName;
        try
        {
            string model = Path.Combine(dir, "m.fastlstm"), small = Path.Combine(dir, "m8.fastlstm");
            var saved = new SavedModel<float>(RnnModel<float>.CreateRandom(new RnnSpec(CellType.Gru, 6, 32, 2), 3), DenseHead<float>.CreateRandom(32, 6, Activation.Softmax, 4),
                new Dictionary<string, double[]> { ["vocabulary"] = [97, 98, 99, 100, 101, 102] });
            ModelFile.Save(model, saved);
            var (exit, output, error) = CliRunner.Run("convert", model, small, "--weights", "int8");
            Assert.Equal(0, exit);
            Assert.Equal("", error);
            long bytes = new FileInfo(small).Length;
            Assert.Contains($"weight matrices as int8 (a step per row), {bytes} bytes", output, StringComparison.Ordinal);
            Assert.True(bytes < new FileInfo(model).Length / 2, $"{bytes} bytes against {new FileInfo(model).Length}");
            var back = ModelFile.Load<float>(small);
            Assert.Equal(WeightFormat.Int8, back.Weights);
            Assert.Equal(saved.Metadata["vocabulary"], back.Metadata["vocabulary"]);
            Assert.Equal(saved.Head!.Parameters.ToArray(), back.Head!.Parameters.ToArray());
            Assert.Contains($"format: FastLstm model file, {bytes} bytes; weight matrices as int8 (a step per row)", CliRunner.Run("inspect", small).Out, StringComparison.Ordinal);
            Assert.Contains("weight matrices in full precision", CliRunner.Run("inspect", model).Out, StringComparison.Ordinal);

            CliRunner.AssertOneLineError(CliRunner.Run("convert", model, Path.Combine(dir, "m.onnx"), "--weights", "bf16"), 2, "--weights: bf16 storage is for FastLstm model files");
            CliRunner.AssertOneLineError(CliRunner.Run("convert", model, Path.Combine(dir, "m.safetensors"), "--weights", "int8"), 2, "a safetensors file");
            Assert.False(File.Exists(Path.Combine(dir, "m.onnx")));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Convert_carries_an_onnx_head_into_the_model_file_or_says_why_not()
    {
        string dir = Directory.CreateTempSubdirectory("fastlstm-convert").FullName;
        try
        {
            string model = Path.Combine(dir, "m.fastlstm"), other = Path.Combine(dir, "states.fastlstm");
            var (exit, output, error) = CliRunner.Run("convert", Fixture("gru_bidir_last_step_sigmoid_o17"), model);
            Assert.Equal((0, ""), (exit, error));
            Assert.Contains("head 10 → 2 Sigmoid", output, StringComparison.Ordinal);
            var saved = ModelFile.Load<float>(model);
            Assert.Equal(OnnxModel.Load(Fixture("gru_bidir_last_step_sigmoid_o17")).Head!.Parameters.ToArray(), saved.Head!.Parameters.ToArray());

            (exit, output, error) = CliRunner.Run("convert", Fixture("gru_bidir_final_states_o17"), other);
            Assert.Equal((0, ""), (exit, error));
            Assert.Contains("note: the graph's head was not carried, only the recurrent stack", output, StringComparison.Ordinal);
            Assert.Null(ModelFile.Load<float>(other).Head);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData("README.md", "not a model file fastlstm reads (it starts '# FastLs')")]
    [InlineData("tests/fixtures/onnx/node/test_lstm_with_peepholes/model.onnx", "W, R or B is not a constant")]
    [InlineData("damaged", "not a model file fastlstm reads (it starts 'FASTLSTX')")]
    public void Files_it_cannot_convert_get_one_line_and_exit_1(string file, string words)
    {
        if (file == "damaged")
        {
            file = Path.Combine(Path.GetTempPath(), $"fastlstm-{Guid.NewGuid():N}.model");
            File.WriteAllText(file, "FASTLSTX then what a model file holds");
        }

        string target = Path.Combine(Path.GetTempPath(), $"fastlstm-{Guid.NewGuid():N}.safetensors");
        var (exit, _, error) = CliRunner.Run("convert", Path.Combine(RepositoryRoot.Path, file), target);
        Assert.Equal(1, exit);
        Assert.Contains(words, error, StringComparison.Ordinal);
        Assert.Single(error.TrimEnd().Split('\n'));
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
        Assert.False(File.Exists(target));
    }
}
