using FastLstm.Onnx.Proto;

namespace FastLstm.Onnx.Graph;

/// <summary>
/// An ONNX LSTM, GRU or RNN node run on FastLstm's engine. Every attribute and input of the operator is mapped to an
/// <see cref="RnnSpec"/> (clip, activation lists, LSTM peepholes and input_forget through <see cref="LstmOptions"/>,
/// <see cref="GruOptions"/>, <see cref="SimpleRnnOptions"/>, the reverse direction's activations through the spec's
/// reverse options). Weights given as constants are converted once; weights given as graph inputs on every run.
/// </summary>
internal sealed class RecurrentOp : Op
{
    private RecurrentOp(NodeProto node, RnnSpec shape, bool reverseOnly, bool batchMajor)
        : base(node)
    {
        Shape = shape;
        ReverseOnly = reverseOnly;
        BatchMajor = batchMajor;
    }

    /// <summary>The node as a one-layer spec (cell, options, hidden size, directions) with input size 1.</summary>
    public RnnSpec Shape { get; }

    public CellType Cell => Shape.Cell;

    public int Hidden => Shape.HiddenSize;

    public int Directions => Shape.Directions;

    /// <summary>direction = "reverse": one direction running backwards in time (no RnnSpec has it).</summary>
    public bool ReverseOnly { get; }

    /// <summary>layout = 1: X, Y, the states batch-first.</summary>
    public bool BatchMajor { get; }

    /// <summary>The node as a one-layer model, when W, R, B (and P) are constants.</summary>
    public RnnModel<float>? Model { get; private set; }

    public override bool Foldable => false;

    public static RecurrentOp Compile(NodeProto node, NodeAttributes a, Func<string, Value?> constant)
    {
        // ONNX Runtime's quantize_dynamic turns an LSTM into com.microsoft's DynamicQuantizeLSTM: the same operator with
        // W and R as 8-bit integers (Dequantized back to floats here).
        bool quantized = node.OpType == "DynamicQuantizeLSTM";
        string op = quantized ? "LSTM" : node.OpType;
        string direction = a.String("direction") ?? "forward";
        int directions = direction switch
        {
            "forward" or "reverse" => 1,
            "bidirectional" => 2,
            _ => throw a.Fail($"direction '{direction}' is not forward, reverse or bidirectional", invalid: true),
        };

        long hidden = a.Int("hidden_size", 0);
        if (hidden < 1 || hidden > 1 << 16)
        {
            throw a.Fail($"hidden_size {hidden} is missing or outside 1..65536", invalid: true);
        }

        long layout = a.Int("layout", 0);
        if (layout is not (0 or 1))
        {
            throw a.Fail($"layout {layout} is not 0 or 1", invalid: true);
        }

        float[] alpha = a.Floats("activation_alpha") ?? [], beta = a.Floats("activation_beta") ?? [];
        string[] defaults = op switch { "LSTM" => ["Sigmoid", "Tanh", "Tanh"], "GRU" => ["Sigmoid", "Tanh"], _ => ["Tanh"] };
        string[] names = a.Strings("activations") ?? [.. Enumerable.Range(0, directions).SelectMany(_ => defaults)];
        if (names.Length != defaults.Length * directions)
        {
            throw a.Fail($"activations lists {names.Length} names; {op} with {directions} direction(s) takes {defaults.Length * directions}", invalid: true);
        }

        var activations = ParseActivations(names, alpha, beta, a);
        float? clip = a.Has("clip") ? a.Float("clip", 0) : null;
        if (clip is { } limit && !(limit > 0 && float.IsFinite(limit)))
        {
            throw a.Fail($"clip {limit} is not a finite value > 0", invalid: true);
        }

        double? cellClip = clip is { } cl ? Decimalish(cl) : null;
        bool two = directions == 2;
        var forward = activations[..defaults.Length];
        var backward = activations[^defaults.Length..];
        RnnSpec shape;
        if (op == "LSTM")
        {
            LstmOptions Options(RnnActivation[] f) => new()
            {
                Peepholes = Input(node, 7) != null,
                CellClip = cellClip,
                CoupledInputForget = a.Int("input_forget", 0) != 0,
                GateActivation = f[0],
                CellActivation = f[1],
                OutputActivation = f[2],
            };
            var o = Options(forward);
            var rev = Options(backward);
            shape = new RnnSpec(CellType.Lstm, 1, (int)hidden, 1, two) { LstmOptions = o.IsStandard ? null : o, ReverseLstmOptions = rev == o ? null : rev };
        }
        else if (op == "GRU")
        {
            GruOptions Options(RnnActivation[] f) => new() { CellClip = cellClip, GateActivation = f[0], CandidateActivation = f[1] };
            var o = Options(forward);
            var rev = Options(backward);
            bool linearBeforeReset = a.Int("linear_before_reset", 0) != 0;
            shape = new RnnSpec(linearBeforeReset ? CellType.Gru : CellType.GruResetBefore, 1, (int)hidden, 1, two)
            {
                GruOptions = o.IsStandard ? null : o,
                ReverseGruOptions = rev == o ? null : rev,
            };
        }
        else
        {
            // The cell type is the forward direction's tanh or ReLU when it is one of them; any other activation (either
            // direction) is named as an option.
            RnnActivation f = forward[0], g = backward[0];
            bool relu = f == RnnActivation.WithDefaults(RnnActivationKind.Relu);
            var own = relu ? f : RnnActivation.Tanh;
            var o = new SimpleRnnOptions { CellClip = cellClip, Activation = f == own ? null : f };
            var rev = new SimpleRnnOptions { CellClip = cellClip, Activation = g == own ? null : g };
            shape = new RnnSpec(relu ? CellType.RnnRelu : CellType.RnnTanh, 1, (int)hidden, 1, two)
            {
                SimpleRnnOptions = o.IsStandard ? null : o,
                ReverseSimpleRnnOptions = rev == o ? null : rev,
            };
        }

        var result = new RecurrentOp(node, shape, direction == "reverse", layout == 1);
        if (quantized)
        {
            Value Need(int k) => Input(node, k) is { } name && constant(name) is { } v
                ? v
                : throw a.Fail($"input {k} (W, R, their scales and zero points) must be a constant initializer", invalid: false);
            string? b = Input(node, 3), p = Input(node, 7);
            Value? cb = b == null ? null : constant(b) ?? throw a.Fail("B must be a constant initializer", invalid: false);
            Value? cp = p == null ? null : constant(p) ?? throw a.Fail("P must be a constant initializer", invalid: false);
            int g = 4 * (int)hidden;
            var (w, wSteps) = Dequantize(Need(1), Need(8), Need(9), "W", directions, g, a);
            var (r, rSteps) = Dequantize(Need(2), Need(10), Need(11), "R", directions, g, a);
            result.Model = result.BuildModel(w, r, cb, cp);
            result.SetGrids(result.Model, wSteps, rSteps);
        }
        else if (Input(node, 1) is { } w && Input(node, 2) is { } r && constant(w) is { } cw && constant(r) is { } cr)
        {
            string? b = Input(node, 3), p = Input(node, 7);
            Value? cb = b == null ? null : constant(b), cp = p == null ? null : constant(p);
            if ((b == null || cb != null) && (p == null || cp != null))
            {
                result.Model = result.BuildModel(cw, cr, cb, cp);
            }
        }

        return result;
    }

    /// <summary>
    /// A DynamicQuantizeLSTM weight [directions, K, 4H] of int8 or uint8 values as the LSTM operator's float W or R
    /// [directions, 4H, K]: (q − zero point) · scale, with one scale and zero point per direction or per output channel;
    /// and each channel's step (its scale), or 0 where some q − zero point is −128, which a symmetric int8 row cannot hold.
    /// </summary>
    private static (Value Weights, float[] Steps) Dequantize(Value q, Value scale, Value zeroPoint, string name, int directions, int gates, NodeAttributes a)
    {
        if (q.Type != OnnxElementType.Int32 || q.Rank != 3 || q.Shape[0] != directions || q.Shape[2] != gates || q.Shape[1] < 1)
        {
            throw a.Fail($"{name} is {q.Type} {Value.Format(q.Shape)}; expected 8-bit integers [{directions}, K, {gates}]", invalid: true);
        }

        bool perChannel = scale.Shape.SequenceEqual([directions, gates]);
        if (scale.Type != OnnxElementType.Float || !(perChannel || scale.Shape.SequenceEqual([directions]))
            || zeroPoint.Type != OnnxElementType.Int32 || !zeroPoint.Shape.SequenceEqual(scale.Shape))
        {
            throw a.Fail($"{name}_scale / {name}_zero_point are {scale.Type} {Value.Format(scale.Shape)} / {zeroPoint.Type} {Value.Format(zeroPoint.Shape)}; expected float and 8-bit integers, both [{directions}] or [{directions}, {gates}]", invalid: true);
        }

        int k = q.Shape[1];
        int[] values = (int[])q.Data, zeros = (int[])zeroPoint.Data;
        float[] scales = scale.Floats;
        var result = new float[directions * gates * k];
        var steps = new float[directions * gates];
        for (int d = 0; d < directions; d++)
        {
            for (int n = 0; n < gates; n++)
            {
                int c = perChannel ? (d * gates) + n : d;
                bool symmetric = true;
                for (int i = 0; i < k; i++)
                {
                    int level = values[(((d * k) + i) * gates) + n] - zeros[c];
                    symmetric &= level >= -127;
                    result[(((d * gates) + n) * k) + i] = level * scales[c];
                }

                steps[(d * gates) + n] = symmetric ? scales[c] : 0;
            }
        }

        return (new Value(result, [directions, gates, k]), steps);
    }

    /// <summary>
    /// A float attribute as the double it was written from when that had a short decimal form (0.3f → 0.3, not
    /// 0.30000001192…), so a model exported and imported again has the same options; kernels round it to T either way.
    /// </summary>
    private static double Decimalish(float value) =>
        double.Parse(value.ToString("R", System.Globalization.CultureInfo.InvariantCulture), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// The activations with their α and β: each kind that takes α (β) consumes the next value of activation_alpha
    /// (activation_beta), in list order; the ONNX operators' defaults where the list has run out.
    /// </summary>
    private static RnnActivation[] ParseActivations(string[] names, float[] alpha, float[] beta, NodeAttributes a)
    {
        int ia = 0, ib = 0;
        var result = new RnnActivation[names.Length];
        for (int k = 0; k < names.Length; k++)
        {
            if (!Enum.TryParse<RnnActivationKind>(names[k], ignoreCase: true, out var kind) || !Enum.IsDefined(kind) || int.TryParse(names[k], out _))
            {
                throw a.Fail($"activation '{names[k]}' is not one of {string.Join(", ", Enum.GetNames<RnnActivationKind>())}", invalid: true);
            }

            var x = RnnActivation.WithDefaults(kind);
            if (x.TakesAlpha && ia < alpha.Length)
            {
                x = x with { Alpha = Decimalish(alpha[ia++]) };
            }

            if (x.TakesBeta && ib < beta.Length)
            {
                x = x with { Beta = Decimalish(beta[ib++]) };
            }

            result[k] = x;
        }

        if (ia < alpha.Length || ib < beta.Length)
        {
            throw a.Fail($"activation_alpha / activation_beta hold {alpha.Length} / {beta.Length} values; the activations take {ia} / {ib}", invalid: true);
        }

        return result;
    }

    private static string? Input(NodeProto node, int k) => k < node.Input.Count && node.Input[k].Length > 0 ? node.Input[k] : null;

    private int Gates => Cells.Cell.For(Cell).Gates;

    /// <summary>A one-layer model holding W, R, B converted to PyTorch names and gate order.</summary>
    public RnnModel<float> BuildModel(Value w, Value r, Value? b, Value? p)
    {
        int inputSize = CheckWeights(w, r, b, p);
        var model = new RnnModel<float>(Shape with { InputSize = inputSize });
        Fill(model, 0, w, r, b, p);
        return model;
    }

    /// <summary>Gives an imported 8-bit node's W and R their grids (<see cref="RnnModel{T}.QuantizationGrid"/>), in PyTorch's gate order.</summary>
    private void SetGrids(RnnModel<float> model, float[] wSteps, float[] rSteps)
    {
        int g = Gates, h = Hidden;
        for (int d = 0; d < Directions; d++)
        {
            string s = GateOrder.Suffix(0, d);
            foreach (var (name, steps) in new[] { ("weight_ih" + s, wSteps), ("weight_hh" + s, rSteps) })
            {
                var torch = new float[g * h];
                GateOrder.ToTorch(Cell, steps.AsSpan(d * g * h, g * h), torch, h, 1);
                model.SetQuantizationGrid(name, torch);
            }
        }
    }

    /// <summary>Writes this node's weights into layer <paramref name="layer"/> of <paramref name="model"/>.</summary>
    public void Fill(RnnModel<float> model, int layer, Value w, Value r, Value? b, Value? p)
    {
        int g = Gates, h = Hidden, input = w.Shape[2];
        for (int d = 0; d < Directions; d++)
        {
            string s = GateOrder.Suffix(layer, d);
            GateOrder.ToTorch(Cell, w.Floats.AsSpan(d * g * h * input, g * h * input), model.Parameter("weight_ih" + s), h, input);
            GateOrder.ToTorch(Cell, r.Floats.AsSpan(d * g * h * h, g * h * h), model.Parameter("weight_hh" + s), h, h);
            if (b != null)
            {
                GateOrder.ToTorch(Cell, b.Floats.AsSpan(d * 2 * g * h, g * h), model.Parameter("bias_ih" + s), h, 1);
                GateOrder.ToTorch(Cell, b.Floats.AsSpan((d * 2 * g * h) + (g * h), g * h), model.Parameter("bias_hh" + s), h, 1);
            }
            else
            {
                model.Parameter("bias_ih" + s).Clear();
                model.Parameter("bias_hh" + s).Clear();
            }

            if (p != null)
            {
                // ONNX stacks the peepholes i, o, f.
                var pd = p.Floats.AsSpan(d * 3 * h, 3 * h);
                pd[..h].CopyTo(model.Parameter("weight_peephole_i" + s));
                pd.Slice(h, h).CopyTo(model.Parameter("weight_peephole_o" + s));
                pd.Slice(2 * h, h).CopyTo(model.Parameter("weight_peephole_f" + s));
            }
            else if (Shape.LstmOptions is { Peepholes: true })
            {
                foreach (string k in (string[])["i", "f", "o"])
                {
                    model.Parameter($"weight_peephole_{k}" + s).Clear();
                }
            }
        }
    }

    private int CheckWeights(Value w, Value r, Value? b, Value? p)
    {
        int g = Gates, h = Hidden, d = Directions;
        if (w.Type != OnnxElementType.Float || w.Rank != 3 || w.Shape[0] != d || w.Shape[1] != g * h || w.Shape[2] < 1)
        {
            throw Fail($"W is {w.Type} {Value.Format(w.Shape)}; expected float [{d}, {g * h}, input_size]");
        }

        if (r.Type != OnnxElementType.Float || !r.Shape.SequenceEqual([d, g * h, h]))
        {
            throw Fail($"R is {r.Type} {Value.Format(r.Shape)}; expected float [{d}, {g * h}, {h}]");
        }

        if (b != null && (b.Type != OnnxElementType.Float || !b.Shape.SequenceEqual([d, 2 * g * h])))
        {
            throw Fail($"B is {b.Type} {Value.Format(b.Shape)}; expected float [{d}, {2 * g * h}]");
        }

        if (p != null && (p.Type != OnnxElementType.Float || !p.Shape.SequenceEqual([d, 3 * h])))
        {
            throw Fail($"P is {p.Type} {Value.Format(p.Shape)}; expected float [{d}, {3 * h}]");
        }

        return w.Shape[2];
    }

    private sealed class State(int maxBatch, int maxSteps, int threads, WeightFormat weights)
    {
        public readonly int MaxBatch = maxBatch, MaxSteps = maxSteps, Threads = threads;
        public readonly WeightFormat Weights = weights;
        public RnnModel<float>? Model;
        public InferenceSession<float>? Session;
    }

    public override object? CreateState(int maxBatch, int maxSteps, int threads, WeightFormat weights)
    {
        var s = new State(maxBatch, maxSteps, threads, weights);
        if (Model != null)
        {
            s.Model = Model;
            s.Session = new InferenceSession<float>(Model, maxBatch, maxSteps, threads, weights);
        }

        return s;
    }

    public static void DisposeState(object? state) => (state as State)?.Session?.Dispose();

    public override Value?[] Run(Value?[] inputs, object? state)
    {
        var s = (State)state!;
        var x = Need(inputs, 0);
        if (x.Type != OnnxElementType.Float || x.Rank != 3)
        {
            throw new ArgumentException($"{Label}: X is {x.Type} {Value.Format(x.Shape)}; expected a float tensor of rank 3.");
        }

        int steps = BatchMajor ? x.Shape[1] : x.Shape[0], batch = BatchMajor ? x.Shape[0] : x.Shape[1], input = x.Shape[2];
        if (Model == null)
        {
            Value w = Need(inputs, 1), r = Need(inputs, 2);
            Value? b = Optional(inputs, 3), p = Optional(inputs, 7);
            if (s.Model == null || s.Model.Spec.InputSize != CheckWeights(w, r, b, p))
            {
                s.Session?.Dispose();
                s.Model = BuildModel(w, r, b, p);
                s.Session = new InferenceSession<float>(s.Model, s.MaxBatch, s.MaxSteps, s.Threads, s.Weights);
            }
            else
            {
                Fill(s.Model, 0, w, r, b, p);
            }
        }

        var session = s.Session!;
        if (input != session.Model.Spec.InputSize)
        {
            throw new ArgumentException($"{Label}: X has {input} features per step; W expects {session.Model.Spec.InputSize}.");
        }

        if (batch < 1 || batch > s.MaxBatch || steps < 1 || steps > s.MaxSteps)
        {
            throw new ArgumentException($"{Label}: X has batch {batch} and {steps} steps; this session takes batch 1..{s.MaxBatch} and 1..{s.MaxSteps} steps.");
        }

        int h = Hidden, d = Directions;
        int[]? lengths = Lengths(Optional(inputs, 4), batch, steps);
        float[] xs = BatchMajor ? x.Floats : ShapeOps.Permute(x, [1, 0, 2]).Floats;
        if (ReverseOnly)
        {
            xs = ReverseInTime(xs, batch, steps, input, lengths);
        }

        float[] h0 = State0(Optional(inputs, 5), batch, "initial_h");
        float[] c0 = Cell == CellType.Lstm ? State0(Optional(inputs, 6), batch, "initial_c") : [];
        var y = new float[batch * steps * d * h];
        var hn = new float[d * batch * h];
        var cn = Cell == CellType.Lstm ? new float[d * batch * h] : [];
        session.Forward(xs, batch, steps, y, h0, c0, hn, cn, lengths);
        if (ReverseOnly)
        {
            y = ReverseInTime(y, batch, steps, h, lengths);
        }

        // Ours: y [batch, steps, d, h], states [d, batch, h].
        var yv = new Value(y, [batch, steps, d, h]);
        var hv = new Value(hn, [d, batch, h]);
        var outputs = new Value?[Cell == CellType.Lstm ? 3 : 2];
        outputs[0] = BatchMajor ? yv : ShapeOps.Permute(yv, [1, 2, 0, 3]);
        outputs[1] = BatchMajor ? ShapeOps.Permute(hv, [1, 0, 2]) : hv;
        if (Cell == CellType.Lstm)
        {
            var cv = new Value(cn, [d, batch, h]);
            outputs[2] = BatchMajor ? ShapeOps.Permute(cv, [1, 0, 2]) : cv;
        }

        return outputs;
    }

    private int[]? Lengths(Value? v, int batch, int steps)
    {
        if (v == null)
        {
            return null;
        }

        if (v.Type != OnnxElementType.Int32 || !v.Shape.SequenceEqual([batch]))
        {
            throw new ArgumentException($"{Label}: sequence_lens is {v.Type} {Value.Format(v.Shape)}; expected int32 [{batch}].");
        }

        var r = (int[])v.Data;
        foreach (int n in r)
        {
            if (n < 1 || n > steps)
            {
                throw new ArgumentException($"{Label}: sequence_lens holds {n}; expected 1..{steps}.");
            }
        }

        return r;
    }

    private float[] State0(Value? v, int batch, string name)
    {
        int h = Hidden, d = Directions;
        if (v == null)
        {
            return [];
        }

        int[] expected = BatchMajor ? [batch, d, h] : [d, batch, h];
        if (v.Type != OnnxElementType.Float || !v.Shape.SequenceEqual(expected))
        {
            throw new ArgumentException($"{Label}: {name} is {v.Type} {Value.Format(v.Shape)}; expected float {Value.Format(expected)}.");
        }

        return BatchMajor ? ShapeOps.Permute(v, [1, 0, 2]).Floats : v.Floats;
    }

    /// <summary>Each sequence's valid steps in reverse order (padding stays past its end); applying it twice is the identity.</summary>
    private static float[] ReverseInTime(float[] data, int batch, int steps, int width, int[]? lengths)
    {
        var r = new float[data.Length];
        for (int b = 0; b < batch; b++)
        {
            int n = lengths?[b] ?? steps;
            for (int t = 0; t < n; t++)
            {
                data.AsSpan(((b * steps) + (n - 1 - t)) * width, width).CopyTo(r.AsSpan(((b * steps) + t) * width, width));
            }
        }

        return r;
    }
}
