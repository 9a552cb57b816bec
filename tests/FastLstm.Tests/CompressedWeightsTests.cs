using FastLstm.Cells;

namespace FastLstm.Tests;

/// <summary>
/// Sessions with compressed weights against the ideal: a double session of a model whose packed weight matrices hold the
/// ideally rounded values (bfloat16 to nearest even; int8 per row, the largest magnitude at 127), so what remains is float
/// rounding — and, for int8, the products' rounding of their inputs to 7 bits per row, which GemmTests holds exactly and
/// which moves these outputs by up to 2e-2 — for every cell, stacked and bidirectional, ragged, Forward and Step, at
/// every width and thread count.
/// </summary>
public class CompressedWeightsTests
{
    private static double Tolerance(WeightFormat format) => format == WeightFormat.Int8 ? 4e-2 : 2e-5;

    public static TheoryData<CellType, bool, WeightFormat> Cases()
    {
        var data = new TheoryData<CellType, bool, WeightFormat>();
        foreach (var format in new[] { WeightFormat.BFloat16, WeightFormat.Int8 })
        {
            foreach (var cell in Enum.GetValues<CellType>())
            {
                data.Add(cell, false, format);
                data.Add(cell, true, format);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ForwardIsTheRoundedModelsUpToFloatRounding(CellType cell, bool bidirectional, WeightFormat format)
    {
        var spec = new RnnSpec(cell, 37, 70, 2, bidirectional);
        var model = RnnModel<float>.CreateRandom(spec, 4);
        const int batch = 3, steps = 6;
        var rng = new Random(5);
        var x = TestData.Uniform<float>(rng, batch * steps * spec.InputSize);
        int[] lengths = [6, 2, 5];
        var expected = Reference(model, format, x, batch, steps, lengths);
        var full = new float[batch * steps * spec.OutputSize];
        using (var session = new InferenceSession<float>(model, batch, steps))
        {
            session.Forward(x, batch, steps, full, lengths: lengths);
        }

        foreach (int bits in TestData.Widths())
        {
            foreach (int threads in new[] { 1, 2 })
            {
                using var session = new InferenceSession<float>(model, batch, steps, threads, bits, format);
                Assert.Equal(format, session.Weights);
                var y = new float[full.Length];
                session.Forward(x, batch, steps, y, lengths: lengths);
                double err = Error(y, expected);
                Assert.True(err < Tolerance(format), $"{format} {bits}-bit, {threads} thread(s): relative error {err:E2} from the rounded model");
                // The session did round: Full is as far from the rounded model as the format's precision (int8's rounding of
                // the activations outweighs its weights').
                Assert.True(format == WeightFormat.Int8 || Error(full, expected) > 10 * err + 1e-5, $"{format}: Full is as close to the rounded model as {format}");
            }
        }
    }

    [Theory]
    [InlineData(CellType.Lstm, WeightFormat.Int8)]
    [InlineData(CellType.Gru, WeightFormat.BFloat16)]
    [InlineData(CellType.RnnRelu, WeightFormat.Int8)]
    public void StepsAreTheRoundedModelsAndSeeEdits(CellType cell, WeightFormat format)
    {
        var spec = new RnnSpec(cell, 9, 130, 2);
        var model = RnnModel<float>.CreateRandom(spec, 6);
        var rng = new Random(7);
        const int steps = 4;
        var x = TestData.Uniform<float>(rng, steps * spec.InputSize);
        foreach (int bits in TestData.Widths())
        {
            using var session = new InferenceSession<float>(model, 1, steps, threads: 2, bits, format);
            for (int edit = 0; edit < 2; edit++)
            {
                var expected = Reference(model, format, x, 1, steps, []);
                int state = spec.Layers * spec.HiddenSize;
                var h = new float[state];
                var c = spec.HasCellState ? new float[state] : [];
                var y = new float[spec.HiddenSize];
                for (int t = 0; t < steps; t++)
                {
                    session.Step(x.AsSpan(t * spec.InputSize, spec.InputSize), 1, y, h, c);
                    double err = Error(y, expected.AsSpan(t * spec.HiddenSize, spec.HiddenSize));
                    Assert.True(err < Tolerance(format), $"{format} {bits}-bit, edit {edit}, step {t}: relative error {err:E2}");
                }

                // An edit is packed (and rounded) again at the next call.
                model.Parameter("weight_hh_l1")[5] += 0.5f;
                model.MarkChanged();
            }

            model.Parameter("weight_hh_l1")[5] -= 1f;
            model.MarkChanged();
        }
    }

    /// <summary>
    /// From 256 hidden units, two threads split every step of full-length sequences by hidden units, each thread running
    /// its share of every gate block (the products' <c>blocks</c> form); 4 × 30 rows are more than one block of A's rows.
    /// </summary>
    [Theory]
    [InlineData(WeightFormat.Int8, false)]
    [InlineData(WeightFormat.Int8, true)]
    [InlineData(WeightFormat.BFloat16, true)]
    public void SplitStepsAreTheRoundedModels(WeightFormat format, bool bidirectional)
    {
        var spec = new RnnSpec(CellType.Lstm, 20, 256, 1, bidirectional);
        var model = RnnModel<float>.CreateRandom(spec, 8);
        const int batch = 4, steps = 30;
        var x = TestData.Uniform<float>(new Random(9), batch * steps * spec.InputSize);
        var expected = Reference(model, format, x, batch, steps, []);
        foreach (int bits in TestData.Widths())
        {
            using var session = new InferenceSession<float>(model, batch, steps, threads: 2, bits, format);
            var y = new float[expected.Length];
            session.Forward(x, batch, steps, y);
            double err = Error(y, expected);
            Assert.True(err < Tolerance(format), $"{format} {bits}-bit: relative error {err:E2} from the rounded model");
        }
    }

    /// <summary>
    /// A NaN or an infinity in one sequence's input makes that sequence's int8 outputs NaN from that step on, and no other
    /// sequence's: a row that cannot be rounded to levels is not rounded to a finite lie. It sits early in a row of several
    /// vectors, where the plain vector min and max of the row's range would drop a NaN.
    /// </summary>
    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    public void Int8OutputsNaNForNonFiniteInput(float bad)
    {
        var spec = new RnnSpec(CellType.Lstm, 40, 16);
        var model = RnnModel<float>.CreateRandom(spec, 10);
        const int batch = 3, steps = 4;
        var x = TestData.Uniform<float>(new Random(11), batch * steps * spec.InputSize);
        x[(((1 * steps) + 2) * spec.InputSize) + 3] = bad;
        foreach (int bits in TestData.Widths())
        {
            using var session = new InferenceSession<float>(model, batch, steps, threads: 1, bits, WeightFormat.Int8);
            var y = new float[batch * steps * spec.HiddenSize];
            session.Forward(x, batch, steps, y);
            for (int b = 0; b < batch; b++)
            {
                for (int t = 0; t < steps; t++)
                {
                    var yt = y.AsSpan(((b * steps) + t) * spec.HiddenSize, spec.HiddenSize).ToArray();
                    bool poisoned = b == 1 && t >= 2;
                    Assert.True(poisoned ? yt.All(float.IsNaN) : yt.All(float.IsFinite), $"{bits}-bit, sequence {b}, step {t}: {string.Join(", ", yt)}");
                }
            }
        }
    }

    [Fact]
    public void CompressedFormatsAreForFloatSessions()
    {
        var model = RnnModel<double>.CreateRandom(new RnnSpec(CellType.Lstm, 3, 4), 1);
        var e = Assert.Throws<ArgumentException>(() => new InferenceSession<double>(model, 1, 1, weights: WeightFormat.Int8));
        Assert.Equal("weights", e.ParamName);
        Assert.Contains("float", e.Message);
        var f = RnnModel<float>.CreateRandom(new RnnSpec(CellType.Lstm, 3, 4), 1);
        Assert.Equal("weights", Assert.Throws<ArgumentOutOfRangeException>(() => new InferenceSession<float>(f, 1, 1, weights: (WeightFormat)7)).ParamName);
        using var full = new InferenceSession<double>(model, 1, 1);
        Assert.Equal(WeightFormat.Full, full.Weights);
        var regressor = new FastLstm.Training.WindowRegressor<double>(new RnnSpec(CellType.Lstm, 3, 4), 2, 1, 1);
        Assert.Equal("weights", Assert.Throws<ArgumentException>(() => regressor.Weights = WeightFormat.BFloat16).ParamName);
    }

    /// <summary>The output of a double session of <paramref name="model"/> with every packed weight matrix rounded as <paramref name="format"/> stores it.</summary>
    private static double[] Reference(RnnModel<float> model, WeightFormat format, float[] x, int batch, int steps, int[] lengths)
    {
        var spec = model.Spec;
        var rounded = new RnnModel<double>(spec);
        string[] packed = ["weight_ih", "weight_hh", .. Cell.For(spec.Cell).Phase2 is { } p2 ? new[] { p2.Weight } : []];
        foreach (string name in model.ParameterNames)
        {
            var src = model.Parameter(name);
            var dst = rounded.Parameter(name);
            int[] shape = model.ParameterShape(name);
            bool round = shape.Length == 2 && packed.Any(k => name.StartsWith(k + "_l", StringComparison.Ordinal));
            int cols = shape[^1];
            for (int r = 0; r < src.Length / cols; r++)
            {
                var row = src.Slice(r * cols, cols);
                float scale = 0;
                foreach (float w in row)
                {
                    scale = Math.Max(scale, Math.Abs(w));
                }

                scale /= 127f;
                for (int j = 0; j < cols; j++)
                {
                    dst[(r * cols) + j] = !round ? row[j] : format == WeightFormat.Int8 ? Math.Round(row[j] / scale, MidpointRounding.ToEven) * scale : BFloat16(row[j]);
                }
            }
        }

        rounded.MarkChanged();
        var y = new double[batch * steps * spec.OutputSize];
        using var session = new InferenceSession<double>(rounded, batch, steps);
        session.Forward(x.Select(v => (double)v).ToArray(), batch, steps, y, lengths: lengths);
        return y;
    }

    private static double Error(float[] actual, ReadOnlySpan<double> expected) =>
        TestData.RelativeError<double>(actual.Select(v => (double)v).ToArray(), expected);

    private static double BFloat16(float x)
    {
        if (x == 0)
        {
            return 0;
        }

        double ulp = Math.ScaleB(1.0, Math.ILogB(x) - 7);
        return Math.Round(x / ulp, MidpointRounding.ToEven) * ulp;
    }
}
