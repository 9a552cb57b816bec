using FastLstm.Reference;
using FastLstm.Verification;

namespace FastLstm.Tests;

/// <summary>Every public entry rejects bad arguments with an exception naming the argument, the expected and the actual value.</summary>
public class ArgumentTests
{
    private static readonly RnnSpec Lstm = new(CellType.Lstm, 3, 5, 2);
    private static readonly RnnSpec Gru = new(CellType.Gru, 3, 5, 1);

    private static void Named<TException>(Action call, string param, params string[] mentions)
        where TException : ArgumentException
    {
        var e = Assert.Throws<TException>(call);
        Assert.Equal(param, e.ParamName);
        foreach (var m in mentions)
        {
            Assert.Contains(m, e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void ModelRejectsBadSpecs()
    {
        Assert.Throws<ArgumentNullException>(() => new RnnModel<float>(null!));
        Named<ArgumentOutOfRangeException>(() => new RnnModel<float>(Lstm with { InputSize = 0 }), "InputSize", "expected 1..", "got 0");
        Named<ArgumentOutOfRangeException>(() => new RnnModel<float>(Lstm with { HiddenSize = -3 }), "HiddenSize", "got -3");
        Named<ArgumentOutOfRangeException>(() => new RnnModel<float>(Lstm with { Layers = 0 }), "Layers", "got 0");
        Named<ArgumentOutOfRangeException>(() => new RnnModel<float>(Lstm with { Cell = (CellType)99 }), "Cell", "got 99");
    }

    [Fact]
    public void UnknownParameterNamesTheValidOnes()
    {
        var model = new RnnModel<float>(Lstm);
        foreach (var call in new Action[] { () => model.Parameter("weight_ih_l7"), () => model.ParameterShape("bias"), () => new TrainingSession<float>(model, 1, 1).Gradient("w"), () => new NaiveRnn<float>(model).Gradient("x") })
        {
            var e = Assert.Throws<KeyNotFoundException>(call);
            Assert.Contains("weight_ih_l0", e.Message, StringComparison.Ordinal);
            Assert.Contains("bias_hh_l1", e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void SessionConstructorsCheckSizes()
    {
        var model = new RnnModel<float>(Lstm);
        Assert.Throws<ArgumentNullException>(() => new InferenceSession<float>(null!, 1, 1));
        Named<ArgumentOutOfRangeException>(() => new InferenceSession<float>(model, 0, 1), "maxBatch", "got 0");
        Named<ArgumentOutOfRangeException>(() => new InferenceSession<float>(model, 1, 0), "maxSteps", "got 0");
        Named<ArgumentOutOfRangeException>(() => new InferenceSession<float>(model, 1, 1, threads: 0), "threads", "got 0");
        Named<ArgumentOutOfRangeException>(() => new TrainingSession<float>(model, -1, 1), "maxBatch", "got -1");
        Named<ArgumentOutOfRangeException>(() => new TrainingSession<float>(model, 1, 1, threads: -2), "threads", "got -2");
    }

    [Fact]
    public void ForwardChecksEveryArgument()
    {
        var model = new RnnModel<float>(Lstm);
        using var s = new InferenceSession<float>(model, 4, 6);
        using var t = new TrainingSession<float>(model, 4, 6);
        var naive = new NaiveRnn<float>(model);
        var forwards = new Action<float[], int, int, float[], float[], float[], float[], float[], int[]>[]
        {
            (x, b, n, y, h0, c0, hN, cN, len) => s.Forward(x, b, n, y, h0, c0, hN, cN, len),
            (x, b, n, y, h0, c0, hN, cN, len) => t.Forward(x, b, n, y, h0, c0, hN, cN, len),
        };
        float[] input = new float[2 * 3 * 3], output = new float[2 * 3 * 5], state = new float[2 * 2 * 5];
        foreach (var f in forwards)
        {
            Named<ArgumentOutOfRangeException>(() => f(input, 0, 3, output, [], [], [], [], []), "batch", "1..4", "got 0");
            Named<ArgumentOutOfRangeException>(() => f(input, 5, 3, output, [], [], [], [], []), "batch", "1..4", "got 5");
            Named<ArgumentOutOfRangeException>(() => f(input, 2, 0, output, [], [], [], [], []), "steps", "1..6", "got 0");
            Named<ArgumentOutOfRangeException>(() => f(input, 2, 7, output, [], [], [], [], []), "steps", "1..6", "got 7");
            Named<ArgumentException>(() => f(new float[17], 2, 3, output, [], [], [], [], []), "input", "expected 18", "got 17");
            Named<ArgumentException>(() => f(input, 2, 3, new float[31], [], [], [], [], []), "output", "30", "got 31");
            Named<ArgumentException>(() => f(input, 2, 3, output, new float[19], [], [], [], []), "h0", "20", "got 19");
            Named<ArgumentException>(() => f(input, 2, 3, output, state, new float[1], [], [], []), "c0", "20", "got 1");
            Named<ArgumentException>(() => f(input, 2, 3, output, [], [], new float[21], [], []), "hN", "20", "got 21");
            Named<ArgumentException>(() => f(input, 2, 3, output, [], [], [], new float[2], []), "cN", "20", "got 2");
            Named<ArgumentException>(() => f(input, 2, 3, output, [], [], [], [], [3]), "lengths", "expected 2", "got 1");
            Named<ArgumentOutOfRangeException>(() => f(input, 2, 3, output, [], [], [], [], [3, 0]), "lengths", "lengths[1]", "1..3", "got 0");
            Named<ArgumentOutOfRangeException>(() => f(input, 2, 3, output, [], [], [], [], [4, 1]), "lengths", "lengths[0]", "got 4");
        }

        Named<ArgumentException>(() => naive.Forward(new float[17], 2, 3, output), "input", "expected 18", "got 17");
        Named<ArgumentOutOfRangeException>(() => naive.Forward(input, 2, 3, output, lengths: new[] { 1, 9 }), "lengths", "got 9");
    }

    [Fact]
    public void CellsWithoutCellStateRejectC()
    {
        var model = new RnnModel<double>(Gru);
        using var s = new InferenceSession<double>(model, 2, 2);
        var x = new double[2 * 3];
        Named<ArgumentException>(() => s.Forward(x, 1, 2, new double[10], c0: new double[5]), "c0", "Gru has no cell state", "got 5");
        Named<ArgumentException>(() => s.Step(new double[3], 1, new double[5], new double[5], new double[5]), "c", "Gru has no cell state");
        using var t = new TrainingSession<double>(model, 2, 2);
        t.Forward(x, 1, 2, new double[10]);
        Named<ArgumentException>(() => t.Backward(new double[10], dcN: new double[5]), "dcN", "no cell state");
        Named<ArgumentException>(() => t.Backward(new double[10], dc0: new double[5]), "dc0", "no cell state");
    }

    [Fact]
    public void StepChecksEveryArgument()
    {
        var model = new RnnModel<float>(Lstm);
        using var s = new InferenceSession<float>(model, 2, 1);
        float[] x = new float[3], y = new float[5], h = new float[2 * 5], c = new float[2 * 5];
        Named<ArgumentOutOfRangeException>(() => s.Step(x, 0, y, h, c), "batch", "got 0");
        Named<ArgumentOutOfRangeException>(() => s.Step(x, 3, y, h, c), "batch", "1..2", "got 3");
        Named<ArgumentException>(() => s.Step(new float[4], 1, y, h, c), "x", "expected 3", "got 4");
        Named<ArgumentException>(() => s.Step(x, 1, new float[6], h, c), "output", "5", "got 6");
        Named<ArgumentException>(() => s.Step(x, 1, y, new float[9], c), "h", "expected 10", "got 9");
        Named<ArgumentException>(() => s.Step(x, 1, y, h, []), "c", "expected 10", "got 0");

        using var bi = new InferenceSession<float>(new RnnModel<float>(Lstm with { Bidirectional = true }), 1, 1);
        Assert.Throws<InvalidOperationException>(() => bi.Step(x, 1, y, h, c));
    }

    [Fact]
    public void BackwardChecksEveryArgument()
    {
        var model = new RnnModel<float>(Lstm);
        using var t = new TrainingSession<float>(model, 4, 6);
        var e = Assert.Throws<InvalidOperationException>(() => t.Backward(new float[30]));
        Assert.Contains("Forward first", e.Message, StringComparison.Ordinal);
        t.Forward(new float[2 * 3 * 3], 2, 3, new float[30]);
        Named<ArgumentException>(() => t.Backward(new float[29]), "dOutput", "expected 30", "got 29");
        Named<ArgumentException>(() => t.Backward(new float[30], new float[17]), "dInput", "18", "got 17");
        Named<ArgumentException>(() => t.Backward(new float[30], dhN: new float[3]), "dhN", "20", "got 3");
        Named<ArgumentException>(() => t.Backward(new float[30], dcN: new float[3]), "dcN", "20", "got 3");
        Named<ArgumentException>(() => t.Backward(new float[30], dh0: new float[3]), "dh0", "20", "got 3");
        Named<ArgumentException>(() => t.Backward(new float[30], dc0: new float[3]), "dc0", "20", "got 3");

        var naive = new NaiveRnn<float>(model);
        Assert.Throws<InvalidOperationException>(() => naive.Backward(new float[30]));
        naive.Forward(new float[2 * 3 * 3], 2, 3, new float[30]);
        Named<ArgumentException>(() => naive.Backward(new float[29]), "dOutput", "expected 30", "got 29");
    }

    [Fact]
    public void DisposedSessionsThrow()
    {
        var model = new RnnModel<float>(Lstm);
        var s = new InferenceSession<float>(model, 1, 1);
        s.Dispose();
        Assert.Throws<ObjectDisposedException>(() => s.Forward(new float[3], 1, 1, new float[5]));
        var t = new TrainingSession<float>(model, 1, 1);
        t.Dispose();
        Assert.Throws<ObjectDisposedException>(() => t.Forward(new float[3], 1, 1, new float[5]));
    }

    [Fact]
    public void GradientCheckRejectsBadEpsilon()
    {
        Named<ArgumentOutOfRangeException>(() => GradientCheck.Run(Lstm, 1, 1, 1, epsilon: 0), "epsilon", "got 0");
        Named<ArgumentOutOfRangeException>(() => GradientCheck.Run(Lstm, 1, 1, 1, epsilon: double.NaN), "epsilon", "got NaN");
    }

    [Fact]
    public void OnlyFloatAndDoubleAreSupported() =>
        Assert.Throws<NotSupportedException>(() => new RnnModel<Half>(Lstm));
}
