using FastLstm.Onnx;
using FastLstm.Onnx.Proto;
using FastLstm.Training;
using Google.Protobuf;

namespace FastLstm.Tests.Onnx;

/// <summary><see cref="OnnxModel.Head"/>: the dense layer of an ONNX graph read back as a FastLstm head, or refused with the reason.</summary>
public sealed class OnnxHeadTests
{
    private static string Fixture(string name) => Path.Combine(OnnxFixtureTests.FolderOf(Path.Combine("torch", name)), "model.onnx");

    [Theory]
    [InlineData("lstm_last_step_head_o14", Activation.Linear, 1)]
    [InlineData("gru_bidir_last_step_sigmoid_o17", Activation.Sigmoid, 2)]
    public void The_head_of_a_pytorch_export_gives_pytorchs_prediction(string fixture, Activation activation, int outputs)
    {
        var model = OnnxModel.Load(Fixture(fixture));
        var head = model.Head ?? throw new Xunit.Sdk.XunitException("no head read");
        Assert.Equal(activation, head.Activation);
        Assert.Equal(outputs, head.Outputs);

        // PyTorch's own outputs for a batch of two (the reader checked itself on one seeded sequence only).
        var (inputs, expected) = OnnxFixtureTests.DataSet(Path.Combine("torch", fixture));
        var x = inputs["input"];
        int batch = x.Shape[0], steps = x.Shape[1], width = model.Rnn.Spec.OutputSize;
        var y = new float[batch * steps * width];
        using (var session = new InferenceSession<float>(model.Rnn, batch, steps))
        {
            session.Forward((float[])x.Data, batch, steps, y);
        }

        var last = new float[batch * width];
        for (int b = 0; b < batch; b++)
        {
            y.AsSpan((((b * steps) + steps - 1) * width), width).CopyTo(last.AsSpan(b * width));
        }

        var prediction = new float[batch * outputs];
        head.Forward(last, batch, prediction);
        OnnxFixtureTests.AssertClose(expected["prediction"].Data, prediction, fixture);
    }

    [Theory]
    [InlineData("gru_bidir_final_states_o17", "computes something else")]
    [InlineData("embedding_lstm_every_step_o14", "'/embed/Gather' (Gather)")]
    public void A_head_a_FastLstm_head_does_not_equal_is_refused_with_the_reason(string fixture, string words)
    {
        var model = OnnxModel.Load(Fixture(fixture));
        Assert.NotNull(model.Rnn);
        var e = Assert.Throws<NotSupportedException>(() => model.Head);
        Assert.Contains(words, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_graph_without_a_dense_layer_has_no_head() => Assert.Null(OnnxModel.Load(Fixture("lstm_seq_first_o14")).Head);

    [Theory]
    [InlineData(Activation.Linear)]
    [InlineData(Activation.Sigmoid)]
    [InlineData(Activation.Tanh)]
    [InlineData(Activation.Relu)]
    [InlineData(Activation.Softmax)]
    public void An_exported_head_reads_back_exactly(Activation activation)
    {
        var spec = new RnnSpec(CellType.Gru, 3, 6, 2, true);
        var head = DenseHead<float>.CreateRandom(spec.OutputSize, 4, activation, 5);
        string path = Temp();
        try
        {
            OnnxExport.Save(RnnModel<float>.CreateRandom(spec, 4), path, head);
            var back = OnnxModel.Load(path).Head!;
            Assert.Equal(activation, back.Activation);
            Assert.Equal(head.Parameters.ToArray(), back.Parameters.ToArray());
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>An export whose Gemm on the last step is replaced by MatMul + Add on every step (the character-model shape).</summary>
    [Fact]
    public void A_matmul_and_add_on_every_step_is_read_as_the_same_head()
    {
        var spec = new RnnSpec(CellType.Lstm, 3, 6, 1);
        var head = DenseHead<float>.CreateRandom(spec.OutputSize, 4, Activation.Linear, 8);
        string path = Temp();
        try
        {
            OnnxExport.Save(RnnModel<float>.CreateRandom(spec, 7), path, head);
            var proto = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
            var graph = proto.Graph;
            var gemm = graph.Node.Single(n => n.OpType == "Gemm");
            string sequence = graph.Node.Single(n => n.Output.Contains(gemm.Input[0])).Input[0];
            var transposed = new TensorProto { Name = "head_weight_t", DataType = (int)TensorProto.Types.DataType.Float };
            transposed.Dims.AddRange([head.Inputs, head.Outputs]);
            for (int k = 0; k < head.Inputs; k++)
            {
                for (int o = 0; o < head.Outputs; o++)
                {
                    transposed.FloatData.Add(head.Weight[(o * head.Inputs) + k]);
                }
            }

            graph.Initializer.Add(transposed);
            var matmul = new NodeProto { OpType = "MatMul", Name = "every_step_matmul" };
            matmul.Input.AddRange([sequence, "head_weight_t"]);
            matmul.Output.Add("every_step_product");
            var add = new NodeProto { OpType = "Add", Name = "every_step_add" };
            add.Input.AddRange(["head_bias", "every_step_product"]);
            add.Output.Add(gemm.Output[0]);
            int at = graph.Node.IndexOf(gemm);
            graph.Node.RemoveAt(at);
            graph.Node.Insert(at, add);
            graph.Node.Insert(at, matmul);
            File.WriteAllBytes(path, proto.ToByteArray());

            var back = OnnxModel.Load(path).Head!;
            Assert.Equal(head.Parameters.ToArray(), back.Parameters.ToArray());
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>An export without dynamic axes fixes the batch and the steps: the head is checked on those sizes.</summary>
    [Fact]
    public void A_graph_with_a_fixed_batch_and_length_is_checked_at_those_sizes()
    {
        var spec = new RnnSpec(CellType.Lstm, 3, 6, 1);
        var head = DenseHead<float>.CreateRandom(spec.OutputSize, 2, Activation.Tanh, 9);
        string path = Temp();
        try
        {
            OnnxExport.Save(RnnModel<float>.CreateRandom(spec, 10), path, head);
            var proto = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
            var dims = proto.Graph.Input.Single(i => i.Name == "input").Type.TensorType.Shape.Dim;
            dims[0] = new TensorShapeProto.Types.Dimension { DimValue = 3 };
            dims[1] = new TensorShapeProto.Types.Dimension { DimValue = 7 };
            File.WriteAllBytes(path, proto.ToByteArray());

            var model = OnnxModel.Load(path);
            Assert.Equal(["3", "7", "3"], model.Inputs[0].Shape);
            Assert.Equal(head.Parameters.ToArray(), model.Head!.Parameters.ToArray());
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static string Temp() => Path.Combine(Path.GetTempPath(), $"fastlstm-head-{Guid.NewGuid():N}.onnx");
}
