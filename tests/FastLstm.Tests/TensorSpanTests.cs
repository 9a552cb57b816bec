using System.Numerics.Tensors;

namespace FastLstm.Tests;

/// <summary>The TensorSpan overloads are the span calls with shapes taken from and checked against the tensors.</summary>
public class TensorSpanTests
{
    [Fact]
    public void ForwardOnTensorsIsForwardOnSpans()
    {
        var spec = new RnnSpec(CellType.Lstm, 5, 4, 2, Bidirectional: true);
        var model = RnnModel<float>.CreateRandom(spec, 1);
        const int batch = 3, steps = 6;
        var rng = new Random(2);
        var x = TestData.Uniform<float>(rng, batch * steps * spec.InputSize);
        int state = spec.Layers * spec.Directions * batch * spec.HiddenSize;
        var h0 = TestData.Uniform<float>(rng, state);
        var c0 = TestData.Uniform<float>(rng, state);
        using var session = new InferenceSession<float>(model, batch, steps);
        float[] y = new float[batch * steps * spec.OutputSize], hN = new float[state], cN = new float[state];
        session.Forward(x, batch, steps, y, h0, c0, hN, cN);

        float[] yt = new float[y.Length], hNt = new float[state], cNt = new float[state];
        nint[] states = [spec.Layers * spec.Directions, batch, spec.HiddenSize];
        session.Forward(new ReadOnlyTensorSpan<float>(x, [batch, steps, spec.InputSize]), new TensorSpan<float>(yt, [batch, steps, spec.OutputSize]),
            new ReadOnlyTensorSpan<float>(h0, states), new ReadOnlyTensorSpan<float>(c0, states), new TensorSpan<float>(hNt, states), new TensorSpan<float>(cNt, states));
        Assert.Equal(y, yt);
        Assert.Equal(hN, hNt);
        Assert.Equal(cN, cNt);
    }

    [Fact]
    public void StepOnTensorsIsStepOnSpans()
    {
        var spec = new RnnSpec(CellType.Gru, 3, 4, 2);
        var model = RnnModel<float>.CreateRandom(spec, 3);
        const int batch = 2;
        var rng = new Random(4);
        var x = TestData.Uniform<float>(rng, batch * spec.InputSize);
        var h = TestData.Uniform<float>(rng, spec.Layers * batch * spec.HiddenSize);
        var ht = h.ToArray();
        using var session = new InferenceSession<float>(model, batch, 1);
        var y = new float[batch * spec.HiddenSize];
        var yt = new float[y.Length];
        session.Step(x, batch, y, h);
        session.Step(new ReadOnlyTensorSpan<float>(x, [batch, spec.InputSize]), new TensorSpan<float>(yt, [batch, spec.HiddenSize]), new TensorSpan<float>(ht, [spec.Layers, batch, spec.HiddenSize]));
        Assert.Equal(y, yt);
        Assert.Equal(h, ht);
    }

    [Fact]
    public void AWrongShapeNamesTheArgumentAndBothShapes()
    {
        var model = RnnModel<float>.CreateRandom(new RnnSpec(CellType.RnnTanh, 5, 4), 5);
        using var session = new InferenceSession<float>(model, 4, 4);
        var e = Assert.Throws<ArgumentException>(() => session.Forward(new ReadOnlyTensorSpan<float>(new float[24], [2, 3, 4]), default));
        Assert.Equal("input", e.ParamName);
        Assert.Contains("[batch, steps, inputSize] = [any, any, 5], got [2, 3, 4]", e.Message);

        e = Assert.Throws<ArgumentException>(() => session.Forward(new ReadOnlyTensorSpan<float>(new float[30], [2, 3, 5]), new TensorSpan<float>(new float[24], [3, 2, 4])));
        Assert.Equal("output", e.ParamName);
        Assert.Contains("= [2, 3, 4], got [3, 2, 4]", e.Message);

        e = Assert.Throws<ArgumentException>(() => session.Step(new ReadOnlyTensorSpan<float>(new float[10], [2, 5]), default, new TensorSpan<float>(new float[8], [2, 4])));
        Assert.Equal("h", e.ParamName);
        Assert.Contains("[layers, batch, hidden] = [1, 2, 4], got [2, 4]", e.Message);

        // The span call behind it still checks what tensors cannot: a batch beyond maxBatch.
        Assert.Equal("batch", Assert.Throws<ArgumentOutOfRangeException>(() => session.Step(new ReadOnlyTensorSpan<float>(new float[25], [5, 5]), default, new TensorSpan<float>(new float[20], [1, 5, 4]))).ParamName);
    }

    [Fact]
    public void AStridedTensorIsRefused()
    {
        var model = RnnModel<float>.CreateRandom(new RnnSpec(CellType.RnnTanh, 5, 4), 6);
        using var session = new InferenceSession<float>(model, 4, 4);
        var every = new float[2 * 3 * 10];
        var e = Assert.Throws<ArgumentException>(() => session.Forward(new ReadOnlyTensorSpan<float>(every, [2, 3, 5], [30, 10, 1]), default));
        Assert.Equal("input", e.ParamName);
        Assert.Contains("dense", e.Message);
    }
}
