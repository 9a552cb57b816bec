using FastLstm.Onnx;
using FastLstm.Training;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace FastLstm.Tests.Onnx;

/// <summary>Exported files run in ONNX Runtime 1.31.1 with FastLstm's outputs, and import back to the same model.</summary>
public sealed class OnnxExportTests
{
    public static TheoryData<CellType, int, bool, Activation?> Models() => new()
    {
        { CellType.Lstm, 1, false, null },
        { CellType.Lstm, 2, true, Activation.Linear },
        { CellType.Gru, 2, false, Activation.Sigmoid },
        { CellType.Gru, 1, true, Activation.Softmax },
        { CellType.GruResetBefore, 2, true, Activation.Tanh },
        { CellType.RnnTanh, 3, false, Activation.Relu },
        { CellType.RnnRelu, 2, true, null },
    };

    [Theory]
    [MemberData(nameof(Models))]
    public void Onnx_Runtime_runs_the_export_with_FastLstm_outputs(CellType cell, int layers, bool bidirectional, Activation? activation) =>
        AgainstOnnxRuntime(new RnnSpec(cell, 3, 6, layers, bidirectional), activation);

    /// <summary>
    /// The LSTM options against ONNX Runtime's own LSTM kernel, an independent implementation of the operator: peephole
    /// order, where the clip applies, how activation_alpha / activation_beta are consumed.
    /// </summary>
    public static TheoryData<string> OptionCases() => new(LstmOptionCases.Keys);

    private static readonly Dictionary<string, LstmOptions> LstmOptionCases = new()
    {
        ["peepholes"] = new() { Peepholes = true },
        ["clip"] = new() { CellClip = 0.3 },
        ["input_forget"] = new() { CoupledInputForget = true },
        ["Affine, Elu, ScaledTanh"] = new()
        {
            GateActivation = new(RnnActivationKind.Affine, 0.3, 0.4),
            CellActivation = new(RnnActivationKind.Elu, 0.7),
            OutputActivation = new(RnnActivationKind.ScaledTanh, 1.5, 0.6),
        },
        ["HardSigmoid, Softsign, Softplus"] = new()
        {
            GateActivation = new(RnnActivationKind.HardSigmoid, 0.25, 0.55),
            CellActivation = new(RnnActivationKind.Softsign),
            OutputActivation = new(RnnActivationKind.Softplus),
        },
        ["LeakyRelu, ThresholdedRelu, Relu"] = new()
        {
            GateActivation = new(RnnActivationKind.LeakyRelu, 0.05),
            CellActivation = new(RnnActivationKind.ThresholdedRelu, 0.2),
            OutputActivation = new(RnnActivationKind.Relu),
        },
        ["everything, bidirectional"] = new()
        {
            Peepholes = true,
            CellClip = 0.8,
            CoupledInputForget = true,
            GateActivation = new(RnnActivationKind.Sigmoid),
            CellActivation = new(RnnActivationKind.ScaledTanh, 0.9, 1.1),
            OutputActivation = new(RnnActivationKind.Tanh),
        },
    };

    [Theory]
    [MemberData(nameof(OptionCases))]
    public void Onnx_Runtime_computes_the_lstm_options_as_FastLstm_does(string name) =>
        AgainstOnnxRuntime(new RnnSpec(CellType.Lstm, 3, 6, 2, name.Contains("bidirectional", StringComparison.Ordinal)) { LstmOptions = LstmOptionCases[name] }, Activation.Linear);

    public static TheoryData<string> GruAndRnnOptionCases() => new(GruAndRnnOptions.Keys);

    private static readonly Dictionary<string, RnnSpec> GruAndRnnOptions = new()
    {
        ["GRU clip"] = new(CellType.Gru, 3, 6, 2) { GruOptions = new() { CellClip = 0.3 } },
        ["GRU HardSigmoid, Softsign, bidirectional"] = new(CellType.Gru, 3, 6, 1, true)
        {
            GruOptions = new() { GateActivation = new(RnnActivationKind.HardSigmoid, 0.25, 0.55), CandidateActivation = new(RnnActivationKind.Softsign) },
        },
        ["GRU ScaledTanh candidate, clip"] = new(CellType.Gru, 3, 6, 2)
        {
            GruOptions = new() { CellClip = 0.5, CandidateActivation = new(RnnActivationKind.ScaledTanh, 1.2, 0.8) },
        },
        ["GRU linear_before_reset = 0, clip, Elu candidate"] = new(CellType.GruResetBefore, 3, 6, 2, true)
        {
            GruOptions = new() { CellClip = 0.4, CandidateActivation = new(RnnActivationKind.Elu, 0.9) },
        },
        ["RNN clip"] = new(CellType.RnnTanh, 3, 6, 2) { SimpleRnnOptions = new() { CellClip = 0.2 } },
        ["RNN Elu, bidirectional"] = new(CellType.RnnTanh, 3, 6, 2, true) { SimpleRnnOptions = new() { Activation = new(RnnActivationKind.Elu, 0.6) } },
        ["RNN Relu, clip"] = new(CellType.RnnRelu, 3, 6, 1) { SimpleRnnOptions = new() { CellClip = 0.25 } },
        ["RNN Softplus"] = new(CellType.RnnTanh, 3, 6, 1) { SimpleRnnOptions = new() { Activation = new(RnnActivationKind.Softplus) } },
        ["LSTM per-direction activations, peepholes"] = new(CellType.Lstm, 3, 6, 2, true)
        {
            LstmOptions = new() { Peepholes = true, CellClip = 0.9 },
            ReverseLstmOptions = new() { Peepholes = true, CellClip = 0.9, GateActivation = new(RnnActivationKind.HardSigmoid, 0.3, 0.45), OutputActivation = new(RnnActivationKind.Softsign) },
        },
        ["GRU per-direction activations"] = new(CellType.Gru, 3, 6, 2, true)
        {
            ReverseGruOptions = new() { CandidateActivation = new(RnnActivationKind.ScaledTanh, 1.1, 0.9) },
        },
        ["GRU linear_before_reset = 0, per-direction activations"] = new(CellType.GruResetBefore, 3, 6, 1, true)
        {
            GruOptions = new() { GateActivation = new(RnnActivationKind.Softsign) },
            ReverseGruOptions = new() { CandidateActivation = new(RnnActivationKind.LeakyRelu, 0.2) },
        },
        ["RNN Relu forward, Tanh reverse"] = new(CellType.RnnRelu, 3, 6, 2, true) { ReverseSimpleRnnOptions = new() { Activation = RnnActivation.Tanh } },
    };

    [Theory]
    [MemberData(nameof(GruAndRnnOptionCases))]
    public void Onnx_Runtime_computes_the_gru_and_rnn_options_as_FastLstm_does(string name) =>
        AgainstOnnxRuntime(GruAndRnnOptions[name], Activation.Linear);

    private static void AgainstOnnxRuntime(RnnSpec spec, Activation? activation)
    {
        var model = RnnModel<float>.CreateRandom(spec, 11);
        foreach (string p in model.ParameterNames.Where(n => n.Contains("peephole", StringComparison.Ordinal)))
        {
            // Peepholes PyTorch-initialised like the rest are small; larger ones make a wrong gate order visible.
            var v = model.Parameter(p);
            for (int i = 0; i < v.Length; i++)
            {
                v[i] = (i % 3) - 1 + (0.1f * i);
            }
        }

        var head = activation is { } a ? DenseHead<float>.CreateRandom(spec.OutputSize, 4, a, 12) : null;
        string path = Path.Combine(Path.GetTempPath(), $"fastlstm-export-{Guid.NewGuid():N}.onnx");
        try
        {
            OnnxExport.Save(model, path, head);
            int batch = 3, steps = 5;
            var x = new float[batch * steps * spec.InputSize];
            var rng = new Random(5);
            for (int i = 0; i < x.Length; i++)
            {
                x[i] = (float)((rng.NextDouble() * 2) - 1);
            }

            // FastLstm itself.
            var y = new float[batch * steps * spec.OutputSize];
            var hn = new float[spec.Layers * spec.Directions * batch * spec.HiddenSize];
            var cn = spec.HasCellState ? new float[hn.Length] : [];
            using (var session = new InferenceSession<float>(model, batch, steps))
            {
                session.Forward(x, batch, steps, y, hN: hn, cN: cn);
            }

            var expected = new Dictionary<string, float[]> { ["output"] = y, ["h_n"] = hn };
            if (spec.HasCellState)
            {
                expected["c_n"] = cn;
            }

            if (head != null)
            {
                var last = new float[batch * spec.OutputSize];
                for (int b = 0; b < batch; b++)
                {
                    y.AsSpan(((b * steps) + steps - 1) * spec.OutputSize, spec.OutputSize).CopyTo(last.AsSpan(b * spec.OutputSize));
                }

                var prediction = new float[batch * head.Outputs];
                head.Forward(last, batch, prediction);
                expected["prediction"] = prediction;
            }

            // ONNX Runtime on the file.
            using (var ort = new InferenceSession(path))
            {
                var input = new DenseTensor<float>(x, [batch, steps, spec.InputSize]);
                using var results = ort.Run([NamedOnnxValue.CreateFromTensor("input", input)]);
                Assert.Equal(expected.Keys.Order(), results.Select(r => r.Name).Order());
                foreach (var r in results)
                {
                    // The bound for exports: ONNX Runtime within 1e-5 of FastLstm.
                    OnnxFixtureTests.AssertClose(expected[r.Name], r.AsTensor<float>().ToArray(), $"ORT {r.Name}", 1e-5);
                }
            }

            // FastLstm's importer on the file: the same model, exactly, and the same outputs.
            var imported = OnnxModel.Load(path);
            Assert.Equal(spec, imported.Rnn.Spec);
            foreach (string name in model.ParameterNames)
            {
                Assert.Equal(model.Parameter(name).ToArray(), imported.Rnn.Parameter(name).ToArray());
            }

            using var onnx = imported.CreateSession(batch, steps);
            var ours = onnx.Run(new Dictionary<string, OnnxTensor> { ["input"] = OnnxTensor.FromFloats(x, batch, steps, spec.InputSize) });
            foreach (var (name, want) in expected)
            {
                OnnxFixtureTests.AssertClose(want, ours[name].Data, $"import {name}");
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void SeedLstm_has_no_onnx_operator()
    {
        var model = new RnnModel<float>(new RnnSpec(CellType.SeedLstm, 2, 3));
        var e = Assert.Throws<NotSupportedException>(() => OnnxExport.Save(model, Path.Combine(Path.GetTempPath(), "never.onnx")));
        Assert.Contains("SeedLstm", e.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(Path.GetTempPath(), "never.onnx")));
    }

    [Fact]
    public void A_head_of_the_wrong_width_is_refused()
    {
        var model = new RnnModel<float>(new RnnSpec(CellType.Lstm, 2, 3, 1, true));
        var e = Assert.Throws<ArgumentException>(() => OnnxExport.Save(model, "x.onnx", new DenseHead<float>(3, 1, Activation.Linear)));
        Assert.Contains("expected 6 inputs", e.Message, StringComparison.Ordinal);
    }
}
