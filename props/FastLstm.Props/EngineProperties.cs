using System.Numerics;
using FastLstm.Reference;
using FastLstm.Verification;
using FsCheck;
using FsCheck.Fluent;

namespace FastLstm.Props;

/// <summary>
/// The fused engine against its naive twin and against finite differences, for every cell × {uni, bi} ×
/// {1, 2 layers} × {full, ragged}: each combination is one test case in which FsCheck draws the shapes,
/// weights, states and data.
/// </summary>
public class EngineProperties
{
    public static TheoryData<CellType, bool, int, bool> Combinations()
    {
        var data = new TheoryData<CellType, bool, int, bool>();
        foreach (var cell in Enum.GetValues<CellType>())
        {
            foreach (bool bi in new[] { false, true })
            {
                foreach (int layers in new[] { 1, 2 })
                {
                    foreach (bool ragged in new[] { false, true })
                    {
                        data.Add(cell, bi, layers, ragged);
                    }
                }
            }
        }

        return data;
    }

    public static TheoryData<CellType, int, bool> Unidirectional()
    {
        var data = new TheoryData<CellType, int, bool>();
        foreach (var cell in Enum.GetValues<CellType>())
        {
            foreach (int layers in new[] { 1, 2 })
            {
                data.Add(cell, layers, false);
                data.Add(cell, layers, true);
            }
        }

        return data;
    }

    /// <summary>The ONNX cell options, one case each and all together (activations chosen to cross every formula).</summary>
    private static readonly Dictionary<string, Func<Shape, bool, int, RnnSpec>> OptionSets = new()
    {
        ["lstm peepholes"] = Lstm(new() { Peepholes = true }),
        ["lstm clip"] = Lstm(new() { CellClip = 0.6 }),
        ["lstm coupled"] = Lstm(new() { CoupledInputForget = true }),
        ["lstm smooth activations"] = Lstm(new()
        {
            GateActivation = new(RnnActivationKind.ScaledTanh, 0.5, 1.3),
            CellActivation = new(RnnActivationKind.Softsign),
            OutputActivation = new(RnnActivationKind.Softplus),
        }),
        ["lstm piecewise activations"] = Lstm(new()
        {
            GateActivation = new(RnnActivationKind.HardSigmoid, 0.3, 0.45),
            CellActivation = new(RnnActivationKind.Elu, 1.1),
            OutputActivation = new(RnnActivationKind.LeakyRelu, 0.2),
        }),
        ["lstm everything"] = Lstm(new()
        {
            Peepholes = true,
            CellClip = 0.9,
            CoupledInputForget = true,
            GateActivation = new(RnnActivationKind.Affine, 0.4, 0.5),
            CellActivation = new(RnnActivationKind.ThresholdedRelu, 0.1),
            OutputActivation = new(RnnActivationKind.Relu),
        }),
        ["gru clip"] = (s, bi, layers) => s.Spec(CellType.Gru, bi, layers) with { GruOptions = new() { CellClip = 0.5 } },
        ["gru activations"] = (s, bi, layers) => s.Spec(CellType.Gru, bi, layers) with
        {
            GruOptions = new() { CellClip = 1.2, GateActivation = new(RnnActivationKind.HardSigmoid, 0.25, 0.5), CandidateActivation = new(RnnActivationKind.Affine, 0.7, 0.2) },
        },
        ["gru reset-before options"] = (s, bi, layers) => s.Spec(CellType.GruResetBefore, bi, layers) with
        {
            GruOptions = new() { CellClip = 0.7, GateActivation = new(RnnActivationKind.Softsign), CandidateActivation = new(RnnActivationKind.LeakyRelu, 0.3) },
        },
        ["rnn clip"] = (s, bi, layers) => s.Spec(CellType.RnnTanh, bi, layers) with { SimpleRnnOptions = new() { CellClip = 0.4 } },
        ["rnn activation"] = (s, bi, layers) => s.Spec(CellType.RnnRelu, bi, layers) with
        {
            SimpleRnnOptions = new() { CellClip = 1.5, Activation = new(RnnActivationKind.Elu, 0.8) },
        },

        // Each direction its own activations (ONNX lists them per direction); unidirectional specs keep the forward ones.
        ["per-direction lstm"] = (s, bi, layers) => s.Spec(CellType.Lstm, bi, layers) with
        {
            LstmOptions = new() { Peepholes = true, CellClip = 0.8 },
            ReverseLstmOptions = bi
                ? new() { Peepholes = true, CellClip = 0.8, GateActivation = new(RnnActivationKind.HardSigmoid, 0.3, 0.45), CellActivation = new(RnnActivationKind.Softsign), OutputActivation = new(RnnActivationKind.Elu, 0.7) }
                : null,
        },
        ["per-direction gru"] = (s, bi, layers) => s.Spec(CellType.GruResetBefore, bi, layers) with
        {
            ReverseGruOptions = bi ? new() { GateActivation = new(RnnActivationKind.Softsign), CandidateActivation = new(RnnActivationKind.ScaledTanh, 0.9, 1.1) } : null,
        },
        ["per-direction rnn"] = (s, bi, layers) => s.Spec(CellType.RnnRelu, bi, layers) with
        {
            ReverseSimpleRnnOptions = bi ? new() { Activation = new(RnnActivationKind.Softplus) } : null,
        },
    };

    private static Func<Shape, bool, int, RnnSpec> Lstm(LstmOptions options) =>
        (s, bi, layers) => s.Spec(CellType.Lstm, bi, layers) with { LstmOptions = options };

    public static TheoryData<string, bool, int, bool> OptionCombinations()
    {
        var data = new TheoryData<string, bool, int, bool>();
        foreach (string name in OptionSets.Keys)
        {
            data.Add(name, name.StartsWith("per-direction", StringComparison.Ordinal), 1, false);
            data.Add(name, true, 2, true);
        }

        return data;
    }

    private static Func<Shape, RnnSpec> Plain(CellType cell, bool bi, int layers) => s => s.Spec(cell, bi, layers);

    private static Func<Shape, RnnSpec> WithOptions(string options, bool bi, int layers) => s => OptionSets[options](s, bi, layers);

    /// <summary>(a) fused forward == naive forward: outputs and final states.</summary>
    [Theory]
    [MemberData(nameof(Combinations))]
    public void ForwardMatchesNaive(CellType cell, bool bi, int layers, bool ragged) => ForwardAgainstNaive(Plain(cell, bi, layers), ragged);

    /// <summary>(a) for the LSTM options.</summary>
    [Theory]
    [MemberData(nameof(OptionCombinations))]
    public void CellOptionsForwardMatchesNaive(string options, bool bi, int layers, bool ragged) => ForwardAgainstNaive(WithOptions(options, bi, layers), ragged);

    private static void ForwardAgainstNaive(Func<Shape, RnnSpec> spec, bool ragged) =>
        ForAll(ragged, 40, s =>
        {
            DoubleAgainstNaive(spec(s), s, FusedForward, NaiveForward, 1e-12);
            FloatAgainstTruth(spec(s), s, FusedForward, NaiveForward, NaiveForward, 1e-5);
        });

    /// <summary>(b) fused gradients == naive gradients: every parameter, the input and the initial states.</summary>
    [Theory]
    [MemberData(nameof(Combinations))]
    public void GradientsMatchNaive(CellType cell, bool bi, int layers, bool ragged) => GradientsAgainstNaive(Plain(cell, bi, layers), ragged);

    /// <summary>(b) for the LSTM options.</summary>
    [Theory]
    [MemberData(nameof(OptionCombinations))]
    public void CellOptionsGradientsMatchNaive(string options, bool bi, int layers, bool ragged) => GradientsAgainstNaive(WithOptions(options, bi, layers), ragged);

    private static void GradientsAgainstNaive(Func<Shape, RnnSpec> spec, bool ragged) =>
        ForAll(ragged, 30, s =>
        {
            DoubleAgainstNaive(spec(s), s, FusedGradients, NaiveGradients, 1e-11);
            FloatAgainstTruth(spec(s), s, FusedGradients, NaiveGradients, NaiveGradients, 1e-4);
        });

    /// <summary>(c) fused gradients == central finite differences in double, max relative error &lt; 1e-6 per tensor.</summary>
    [Theory]
    [MemberData(nameof(Combinations))]
    public void GradientsMatchFiniteDifferences(CellType cell, bool bi, int layers, bool ragged) => AgainstFiniteDifferences(Plain(cell, bi, layers), ragged);

    /// <summary>(c) for the LSTM options.</summary>
    [Theory]
    [MemberData(nameof(OptionCombinations))]
    public void CellOptionsGradientsMatchFiniteDifferences(string options, bool bi, int layers, bool ragged) => AgainstFiniteDifferences(WithOptions(options, bi, layers), ragged);

    private static void AgainstFiniteDifferences(Func<Shape, RnnSpec> spec, bool ragged) =>
        ForAll(ragged, 6, s =>
        {
            var report = GradientCheck.Run(spec(s), s.Batch, s.Steps, s.Seed, 1e-6, s.Lengths);
            Assert.True(report.Passed(1e-6), report.ToString());
        });

    /// <summary>(d) Step run T times == Forward over T steps (unidirectional), with ragged batches stepping only live rows.</summary>
    [Theory]
    [MemberData(nameof(Unidirectional))]
    public void StepMatchesForward(CellType cell, int layers, bool ragged) => StepAgainstForward(Plain(cell, false, layers), ragged);

    /// <summary>(d) for the LSTM options.</summary>
    [Theory]
    [MemberData(nameof(OptionCombinations))]
    public void CellOptionsStepMatchesForward(string options, bool bi, int layers, bool ragged) => StepAgainstForward(WithOptions(options, false, layers), ragged && !bi);

    private static void StepAgainstForward(Func<Shape, RnnSpec> spec, bool ragged) =>
        ForAll(ragged, 40, s =>
        {
            StepAgainstForward<double>(spec(s), s, 1e-12);
            StepAgainstForward<float>(spec(s), s, 1e-5);
        });

    /// <summary>(e) Results do not depend on the thread count: forward, final states and every gradient, threads 1 vs 2 and 3.</summary>
    [Theory]
    [MemberData(nameof(Combinations))]
    public void ThreadsDoNotChangeResults(CellType cell, bool bi, int layers, bool ragged) => ThreadsAgainstOne(Plain(cell, bi, layers), ragged);

    /// <summary>(e) for the LSTM options.</summary>
    [Theory]
    [MemberData(nameof(OptionCombinations))]
    public void CellOptionsThreadsDoNotChangeResults(string options, bool bi, int layers, bool ragged) => ThreadsAgainstOne(WithOptions(options, bi, layers), ragged);

    private static void ThreadsAgainstOne(Func<Shape, RnnSpec> specOf, bool ragged) =>
        ForAll(ragged, 15, s =>
        {
            var spec = specOf(s);
            var one = Threaded(spec, s, 1);
            double floor = Floor(one, DoubleFloor);
            foreach (int threads in new[] { 2, 3 })
            {
                foreach (var (name, values) in Threaded(spec, s, threads))
                {
                    Close($"{name} (threads {threads})", values, one[name], 1e-12, floor);
                }
            }
        });

    private static Dictionary<string, double[]> Threaded(RnnSpec spec, Shape s, int threads)
    {
        var model = RnnModel<double>.CreateRandom(spec, s.Seed);
        var d = s.Draw<double>(spec);
        var o = new Outputs<double>(spec, s);
        var g = new Gradients<double>(spec, s);
        using var session = new TrainingSession<double>(model, s.Batch, s.Steps, threads);
        session.Forward(d.Input, s.Batch, s.Steps, o.Y, d.H0, d.C0, o.H, o.C, s.Lengths);
        session.Backward(d.DOutput, g.Input, d.DhN, d.DcN, g.H0, g.C0);
        var all = g.Named(model, name => session.Gradient(name).ToArray());
        foreach (var (name, values) in o.Named())
        {
            all[name] = values;
        }

        return all;
    }

    private static void ForAll(bool ragged, int count, Action<Shape> property) =>
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(count).WithQuietOnSuccess(true), Prop.ForAll(Shape.Arbitrary(ragged), property));

    /// <summary>What one engine computes from a model and drawn data: named tensors (outputs, or gradients).</summary>
    private delegate Dictionary<string, T[]> Run<T>(RnnSpec spec, Shape s, RnnModel<T> model, Tensors<T> data)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>;

    private static void DoubleAgainstNaive(RnnSpec spec, Shape s, Run<double> fused, Run<double> naive, double tolerance)
    {
        var model = RnnModel<double>.CreateRandom(spec, s.Seed);
        var data = s.Draw<double>(spec);
        var expected = naive(spec, s, model, data);
        double floor = Floor(expected, DoubleFloor);
        foreach (var (name, f) in fused(spec, s, model, data))
        {
            Close(name, f, expected[name], tolerance, floor);
        }
    }

    /// <summary>
    /// Float, against the exact answer for the float inputs: the naive twin run in double on the same float-rounded
    /// weights and data. Within <paramref name="tolerance"/>, or, where float itself cannot get there, no worse than 4×
    /// what the problem's conditioning allows: the naive float twin's own error, or how far the exact answer itself moves
    /// when every weight and input moves by one float rounding (a saturated tanh whose 1 − h² cancels turns an ulp into
    /// 10⁻⁴; the naive twin's correctly rounded tanh can be luckier there than any vector tanh). Over 10,000 random cases
    /// the fused float forward stayed below 1.3e-6 and the gradients below 1e-5 except in such ill-conditioned cases.
    /// </summary>
    private static void FloatAgainstTruth(RnnSpec spec, Shape s, Run<float> fused, Run<float> naive, Run<double> truthRun, double tolerance)
    {
        var model = RnnModel<float>.CreateRandom(spec, s.Seed);
        var data = s.Draw<float>(spec);
        var naiveResult = naive(spec, s, model, data);
        var truth = truthRun(spec, s, Widen(model), Widen<double>(data));
        var nudge = new Random(s.Seed);
        var moved = truthRun(spec, s, Nudge(Widen(model), nudge), Nudge(Widen<double>(data), nudge));
        double floor = Floor(truth, FloatFloor);
        foreach (var (name, f) in fused(spec, s, model, data))
        {
            double naiveError = RelativeError(naiveResult[name].Select(v => (double)v).ToArray(), truth[name], floor, out _);
            double conditioning = RelativeError(moved[name], truth[name], floor, out _);
            double fusedError = RelativeError(f.Select(v => (double)v).ToArray(), truth[name], floor, out int worst);
            if (!(fusedError <= Math.Max(tolerance, 4 * Math.Max(naiveError, conditioning))))
            {
                Assert.Fail($"Single {name}: relative error {fusedError:E2} > {tolerance:E0} against double (naive float: {naiveError:E2}, conditioning: {conditioning:E2}); worst [{worst}]: {f[worst]} vs {truth[name][worst]}");
            }
        }
    }

    /// <summary>Every value times (1 ± 2⁻²⁴), the sign drawn: one float rounding of each input.</summary>
    private static RnnModel<double> Nudge(RnnModel<double> model, Random rng)
    {
        Nudge(model.Parameters, rng);
        return model;
    }

    private static Tensors<double> Nudge(Tensors<double> t, Random rng)
    {
        foreach (var v in new[] { t.Input, t.H0, t.C0, t.DOutput, t.DhN, t.DcN })
        {
            Nudge(v, rng);
        }

        return t;
    }

    private static void Nudge(Span<double> values, Random rng)
    {
        foreach (ref var v in values)
        {
            v *= 1 + (rng.Next(2) == 0 ? -1 : 1) * Math.ScaleB(1, -24);
        }
    }

    private static Dictionary<string, T[]> FusedForward<T>(RnnSpec spec, Shape s, RnnModel<T> model, Tensors<T> d)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        var o = new Outputs<T>(spec, s);
        using var session = new InferenceSession<T>(model, s.Batch, s.Steps);
        session.Forward(d.Input, s.Batch, s.Steps, o.Y, d.H0, d.C0, o.H, o.C, s.Lengths);
        return o.Named();
    }

    private static Dictionary<string, T[]> NaiveForward<T>(RnnSpec spec, Shape s, RnnModel<T> model, Tensors<T> d)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        var o = new Outputs<T>(spec, s);
        new NaiveRnn<T>(model).Forward(d.Input, s.Batch, s.Steps, o.Y, d.H0, d.C0, o.H, o.C, s.Lengths);
        return o.Named();
    }

    private static Dictionary<string, T[]> FusedGradients<T>(RnnSpec spec, Shape s, RnnModel<T> model, Tensors<T> d)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        var g = new Gradients<T>(spec, s);
        using var session = new TrainingSession<T>(model, s.Batch, s.Steps);
        session.Forward(d.Input, s.Batch, s.Steps, new T[d.DOutput.Length], d.H0, d.C0, default, default, s.Lengths);
        session.Backward(d.DOutput, g.Input, d.DhN, d.DcN, g.H0, g.C0);
        return g.Named(model, name => session.Gradient(name).ToArray());
    }

    private static Dictionary<string, T[]> NaiveGradients<T>(RnnSpec spec, Shape s, RnnModel<T> model, Tensors<T> d)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        var g = new Gradients<T>(spec, s);
        var twin = new NaiveRnn<T>(model);
        twin.Forward(d.Input, s.Batch, s.Steps, new T[d.DOutput.Length], d.H0, d.C0, default, default, s.Lengths);
        twin.Backward(d.DOutput, g.Input, d.DhN, d.DcN, g.H0, g.C0);
        return g.Named(model, name => twin.Gradient(name).ToArray());
    }

    private static RnnModel<double> Widen(RnnModel<float> model)
    {
        var wide = new RnnModel<double>(model.Spec);
        for (int i = 0; i < model.Parameters.Length; i++)
        {
            wide.Parameters[i] = model.Parameters[i];
        }

        return wide;
    }

    private static Tensors<T> Widen<T>(Tensors<float> f)
        where T : IBinaryFloatingPointIeee754<T>
    {
        static T[] W(float[] v) => v.Select(T.CreateTruncating).ToArray();
        return new Tensors<T>(W(f.Input), W(f.H0), W(f.C0), W(f.DOutput), W(f.DhN), W(f.DcN));
    }

    private static void StepAgainstForward<T>(RnnSpec spec, Shape s, double tolerance)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        var model = RnnModel<T>.CreateRandom(spec, s.Seed);
        var d = s.Draw<T>(spec);
        var whole = new Outputs<T>(spec, s);
        using var session = new InferenceSession<T>(model, s.Batch, s.Steps);
        session.Forward(d.Input, s.Batch, s.Steps, whole.Y, d.H0, d.C0, whole.H, whole.C, s.Lengths);

        // One sequence at a time, so a ragged batch steps each sequence only over its own length.
        int h = spec.HiddenSize, i = spec.InputSize, layers = spec.Layers;
        var stepped = new Outputs<T>(spec, s);
        for (int b = 0; b < s.Batch; b++)
        {
            var hs = new T[layers * h];
            var cs = new T[spec.HasCellState ? layers * h : 0];
            for (int l = 0; l < layers; l++)
            {
                d.H0.AsSpan(((l * s.Batch) + b) * h, h).CopyTo(hs.AsSpan(l * h));
                if (spec.HasCellState)
                {
                    d.C0.AsSpan(((l * s.Batch) + b) * h, h).CopyTo(cs.AsSpan(l * h));
                }
            }

            int len = s.Lengths.Length == 0 ? s.Steps : s.Lengths[b];
            for (int t = 0; t < len; t++)
            {
                session.Step(d.Input.AsSpan(((b * s.Steps) + t) * i, i), 1, stepped.Y.AsSpan(((b * s.Steps) + t) * h, h), hs, cs);
            }

            for (int l = 0; l < layers; l++)
            {
                hs.AsSpan(l * h, h).CopyTo(stepped.H.AsSpan(((l * s.Batch) + b) * h));
                if (spec.HasCellState)
                {
                    cs.AsSpan(l * h, h).CopyTo(stepped.C.AsSpan(((l * s.Batch) + b) * h));
                }
            }
        }

        Close("output", stepped.Y, whole.Y, tolerance);
        Close("hN", stepped.H, whole.H, tolerance);
        Close("cN", stepped.C, whole.C, tolerance);
    }

    /// <summary>
    /// The scale no tensor is judged below, as a fraction of the largest magnitude among all the tensors compared. A
    /// tensor that nearly vanishes (a small difference of larger terms, a short small input) carries rounding at the
    /// scale of those terms, not of itself; a real bug in it still shows far above these tolerances. Float rounds at
    /// about 1e-7 of the terms, so its floor is higher. 1e-4 was too low once in many runs: a weight_ih gradient element
    /// of 5.2e-6, a sum of terms near 0.3, off by 3.5e-16 (rounding), read as 1.3e-11 relative against the 1e-11 tolerance.
    /// </summary>
    private const double DoubleFloor = 1e-3;

    private const double FloatFloor = 1e-2;

    private static double Floor<T>(Dictionary<string, T[]> tensors, double fraction)
        where T : IBinaryFloatingPointIeee754<T>
    {
        double max = 0;
        foreach (var t in tensors.Values)
        {
            foreach (var v in t)
            {
                max = Math.Max(max, Math.Abs(double.CreateTruncating(v)));
            }
        }

        return fraction * max;
    }

    /// <summary>Normwise: max |a − e| / max(max |e|, floor) over the tensor, so rounding in near-zero elements is judged against the tensor's scale.</summary>
    private static void Close<TA, TE>(string name, ReadOnlySpan<TA> actual, ReadOnlySpan<TE> expected, double tolerance, double floor = 0)
        where TA : IBinaryFloatingPointIeee754<TA>
        where TE : IBinaryFloatingPointIeee754<TE>
    {
        double[] a = new double[actual.Length], e = new double[expected.Length];
        for (int k = 0; k < a.Length; k++)
        {
            a[k] = double.CreateTruncating(actual[k]);
        }

        for (int k = 0; k < e.Length; k++)
        {
            e[k] = double.CreateTruncating(expected[k]);
        }

        double rel = RelativeError(a, e, floor, out int worst);
        if (!(rel <= tolerance))
        {
            Assert.Fail($"{typeof(TA).Name} {name}: relative error {rel:E2} > {tolerance:E0} at [{worst}]: {a[worst]} vs {e[worst]}");
        }
    }

    private static double RelativeError(double[] actual, double[] expected, double floor, out int worst)
    {
        Assert.Equal(expected.Length, actual.Length);
        double diff = 0, scale = 0;
        worst = 0;
        for (int k = 0; k < actual.Length; k++)
        {
            double dk = double.IsNaN(actual[k]) || double.IsNaN(expected[k]) ? double.PositiveInfinity : Math.Abs(actual[k] - expected[k]);
            if (dk > diff)
            {
                (diff, worst) = (dk, k);
            }

            scale = Math.Max(scale, Math.Abs(expected[k]));
        }

        return diff == 0 ? 0 : diff / Math.Max(Math.Max(scale, floor), double.Epsilon);
    }

    private sealed class Outputs<T>(RnnSpec spec, Shape s)
    {
        public T[] Y { get; } = new T[s.Batch * s.Steps * spec.OutputSize];

        public T[] H { get; } = new T[spec.Layers * spec.Directions * s.Batch * spec.HiddenSize];

        public T[] C { get; } = new T[spec.HasCellState ? spec.Layers * spec.Directions * s.Batch * spec.HiddenSize : 0];

        public Dictionary<string, T[]> Named() => new() { ["output"] = Y, ["hN"] = H, ["cN"] = C };
    }

    private sealed class Gradients<T>(RnnSpec spec, Shape s)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        public T[] Input { get; } = new T[s.Batch * s.Steps * spec.InputSize];

        public T[] H0 { get; } = new T[spec.Layers * spec.Directions * s.Batch * spec.HiddenSize];

        public T[] C0 { get; } = new T[spec.HasCellState ? spec.Layers * spec.Directions * s.Batch * spec.HiddenSize : 0];

        public Dictionary<string, T[]> Named(RnnModel<T> model, Func<string, T[]> gradient)
        {
            var all = model.ParameterNames.ToDictionary(n => n, gradient);
            all["dInput"] = Input;
            all["dh0"] = H0;
            all["dc0"] = C0;
            return all;
        }
    }
}
