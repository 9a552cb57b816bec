using FastLstm.Onnx;

namespace FastLstm.Tests.Onnx;

/// <summary>An imported model served step by step with carried state (what ONNX Runtime's stateless Run cannot do).</summary>
public sealed class OnnxStreamingTests
{
    [Theory]
    [InlineData("torch/lstm_states_o14")]
    [InlineData("torch/gru_states_o17")]
    public void Streaming_an_imported_model_one_step_at_a_time_equals_the_whole_sequence_run_and_allocates_nothing(string fixture)
    {
        var model = OnnxModel.Load(Path.Combine(OnnxFixtureTests.FolderOf(fixture), "model.onnx"));
        var (inputs, _) = OnnxFixtureTests.DataSet(fixture);
        var x = inputs["input"];
        int batch = x.Shape[0], steps = x.Shape[1], features = x.Shape[2];
        using var whole = model.CreateSession(batch, steps);
        var expected = whole.Run(inputs);

        var rnn = model.Rnn;
        int width = rnn.Spec.OutputSize, layers = rnn.Spec.Layers * rnn.Spec.Directions, hidden = rnn.Spec.HiddenSize;
        float[] h = (float[])inputs["h0"].Floats.Clone();
        float[] c = rnn.Spec.HasCellState ? (float[])inputs["c0"].Floats.Clone() : [];
        var xt = new float[batch * features];
        var yt = new float[batch * width];
        var streamed = new float[batch * steps * width];
        using var stream = new InferenceSession<float>(rnn, batch, 1);
        // Warm-up on copies: the first call may JIT and pack, and steps alternate the order they read the weights in,
        // so each order's first run is warmed too.
        stream.Step(xt, batch, yt, h.ToArray(), c.ToArray());
        stream.Step(xt, batch, yt, h.ToArray(), c.ToArray());
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int t = 0; t < steps; t++)
        {
            for (int b = 0; b < batch; b++)
            {
                x.Floats.AsSpan(((b * steps) + t) * features, features).CopyTo(xt.AsSpan(b * features));
            }

            stream.Step(xt, batch, yt, h, c);
            for (int b = 0; b < batch; b++)
            {
                yt.AsSpan(b * width, width).CopyTo(streamed.AsSpan(((b * steps) + t) * width));
            }
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        OnnxFixtureTests.AssertClose(expected["output"].Data, streamed, "streamed output");
        OnnxFixtureTests.AssertClose(expected["h_n"].Data, h, "carried h");
        if (rnn.Spec.HasCellState)
        {
            OnnxFixtureTests.AssertClose(expected["c_n"].Data, c, "carried c");
        }

        Assert.Equal(layers * batch * hidden, h.Length);
    }
}
