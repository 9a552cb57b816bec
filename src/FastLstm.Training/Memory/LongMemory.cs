using System.Numerics.Tensors;

namespace FastLstm.Training.Memory;

/// <summary>The long-memory experiments.</summary>
public enum MemoryTask
{
    /// <summary>
    /// Hochreiter and Schmidhuber's adding problem (1997, experiment 4): at each step a value drawn from U(0, 1) and a
    /// marker; two steps are marked, one in the first tenth of the sequence and one in the first half; the target, read
    /// after the last step, is the sum of the two marked values. Predicting the mean sum (1) scores MSE 1/6.
    /// </summary>
    Adding,

    /// <summary>
    /// Delayed recall: the first step shows one of 8 symbols (one-hot), the steps after it are blank, the last one carries
    /// a query flag; the network must name the first symbol. Guessing scores cross-entropy ln 8 and 1/8 accuracy.
    /// </summary>
    Recall,
}

/// <summary>How a long-memory experiment trains: the same budget for every cell and length.</summary>
public sealed record LongMemoryOptions
{
    /// <summary>Hidden units of the one recurrent layer.</summary>
    public int Hidden { get; init; } = 64;

    /// <summary>Optimisation steps, each on a fresh batch of random sequences.</summary>
    public int Iterations { get; init; } = 1500;

    /// <summary>Sequences per step.</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Step size (Adam, or SGD when <see cref="Sgd"/>).</summary>
    public double LearningRate { get; init; } = 2e-3;

    /// <summary>Global-norm clipping; 0 turns it off.</summary>
    public double Clip { get; init; } = 1.0;

    /// <summary>Plain SGD instead of Adam (Adam's steps are bounded whatever the gradient, which hides an explosion).</summary>
    public bool Sgd { get; init; }

    /// <summary>Multiplies the initial recurrent weights (W_hh): above 1 makes gradients grow with the lag.</summary>
    public double RecurrentScale { get; init; } = 1.0;

    /// <summary>
    /// Initial bias of the forget gate (LSTM and the notes' LSTM; bias_ih, so the total is this plus PyTorch's random
    /// bias_hh): 1 as Gers et al. (2000) and Jozefowicz et al. (2015) recommend, so the cell state starts by keeping what it
    /// holds. 0 leaves PyTorch's initialisation.
    /// </summary>
    public double ForgetBias { get; init; } = 1.0;

    /// <summary>Iterations averaged into one point of <see cref="LongMemoryResult.Curve"/>.</summary>
    public int CurveEvery { get; init; } = 25;

    /// <summary>Held-out sequences the test loss is measured on.</summary>
    public int TestSequences { get; init; } = 1000;

    /// <summary>Seeds the weights, the training data and the test data.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Throws when a field is out of range, naming it.</summary>
    public void Validate()
    {
        Check(Hidden is >= 1 and <= 4096, nameof(Hidden), Hidden, "1..4096");
        Check(Iterations is >= 1 and <= 10_000_000, nameof(Iterations), Iterations, "1..10000000");
        Check(BatchSize is >= 1 and <= 4096, nameof(BatchSize), BatchSize, "1..4096");
        Check(LearningRate > 0 && double.IsFinite(LearningRate), nameof(LearningRate), LearningRate, "> 0");
        Check(Clip >= 0 && double.IsFinite(Clip), nameof(Clip), Clip, "≥ 0");
        Check(RecurrentScale > 0 && double.IsFinite(RecurrentScale), nameof(RecurrentScale), RecurrentScale, "> 0");
        Check(TestSequences is >= 1 and <= 1_000_000, nameof(TestSequences), TestSequences, "1..1000000");
        Check(CurveEvery is >= 1 and <= 1_000_000, nameof(CurveEvery), CurveEvery, "1..1000000");
        Check(double.IsFinite(ForgetBias), nameof(ForgetBias), ForgetBias, "finite");

        static void Check(bool ok, string name, object value, string expected)
        {
            if (!ok)
            {
                throw new ArgumentOutOfRangeException(name, value, $"{name}: expected {expected}, got {value}.");
            }
        }
    }
}

/// <summary>What one cell learned on one task and length.</summary>
/// <param name="Cell">The cell trained.</param>
/// <param name="Task">The task.</param>
/// <param name="Steps">Sequence length.</param>
/// <param name="TestLoss">Held-out loss: MSE (adding) or cross-entropy in nats (recall).</param>
/// <param name="Baseline">The trivial predictor's loss on the same held-out sequences (the mean sum; uniform guessing).</param>
/// <param name="Accuracy">Recall only: the share of held-out sequences named right (NaN for adding).</param>
/// <param name="Curve">Training loss, averaged over every <see cref="LongMemoryOptions.CurveEvery"/> iterations (NaN or ∞ once it diverged).</param>
/// <param name="GradientNorms">The largest global gradient norm (before clipping) in each of those windows.</param>
/// <param name="Elapsed">Training time.</param>
public sealed record LongMemoryResult(CellType Cell, MemoryTask Task, int Steps, double TestLoss, double Baseline, double Accuracy,
    IReadOnlyList<double> Curve, IReadOnlyList<double> GradientNorms, TimeSpan Elapsed)
{
    /// <summary>Test loss as a fraction of the baseline's: near 0 solved, near 1 learned nothing.</summary>
    public double Ratio => TestLoss / Baseline;

    /// <summary>Whether training ran into non-finite values.</summary>
    public bool Diverged => !double.IsFinite(TestLoss) || Curve.Any(l => !double.IsFinite(l));
}

/// <summary>
/// Trains a one-layer network with a linear (adding) or softmax (recall) head on the last step, from fresh random batches,
/// and scores it on held-out sequences against the trivial predictor. Deterministic for a seed (one thread).
/// </summary>
public static class LongMemory
{
    private const int Symbols = 8;

    /// <summary>Input features per step of a task.</summary>
    public static int Features(MemoryTask task) => task == MemoryTask.Adding ? 2 : Symbols + 1;

    /// <summary>Outputs of a task's head: the sum, or a score per symbol.</summary>
    public static int Outputs(MemoryTask task) => task == MemoryTask.Adding ? 1 : Symbols;

    /// <summary>
    /// Writes <paramref name="count"/> sequences [count, steps, features] into <paramref name="x"/> and their targets into
    /// <paramref name="y"/>: [count] sums (adding) or [count] symbol indices (recall).
    /// </summary>
    public static void Generate(MemoryTask task, int steps, int count, Random rng, Span<float> x, Span<float> y)
    {
        ArgumentNullException.ThrowIfNull(rng);
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 2);
        int f = Features(task);
        if (x.Length != (long)count * steps * f || y.Length != count)
        {
            throw new ArgumentException($"x, y: expected {count}·{steps}·{f} and {count} elements, got {x.Length} and {y.Length}.", nameof(x));
        }

        x.Clear();
        for (int s = 0; s < count; s++)
        {
            var seq = x.Slice(s * steps * f, steps * f);
            if (task == MemoryTask.Adding)
            {
                for (int t = 0; t < steps; t++)
                {
                    seq[t * f] = (float)rng.NextDouble();
                }

                int first = rng.Next(Math.Max(1, steps / 10));
                int second = first;
                while (second == first)
                {
                    second = rng.Next(Math.Max(2, steps / 2));
                }

                seq[(first * f) + 1] = 1;
                seq[(second * f) + 1] = 1;
                y[s] = seq[first * f] + seq[second * f];
            }
            else
            {
                int symbol = rng.Next(Symbols);
                seq[symbol] = 1;
                seq[((steps - 1) * f) + Symbols] = 1;
                y[s] = symbol;
            }
        }
    }

    /// <summary>Trains <paramref name="cell"/> on <paramref name="task"/> at <paramref name="steps"/> steps and scores it.</summary>
    public static LongMemoryResult Run(CellType cell, MemoryTask task, int steps, LongMemoryOptions options, Action<int, double>? onProgress = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 2);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(steps, 100_000);
        int f = Features(task), outputs = Outputs(task), b = options.BatchSize;
        var spec = new RnnSpec(cell, f, options.Hidden);
        var network = RnnModel<float>.CreateRandom(spec, options.Seed);
        System.Numerics.Tensors.TensorPrimitives.Multiply(network.Parameter("weight_hh_l0"), (float)options.RecurrentScale, network.Parameter("weight_hh_l0"));
        if (spec.HasCellState && options.ForgetBias != 0)
        {
            // Gate rows i, f, …: the forget gate's biases are rows H..2H.
            network.Parameter("bias_ih_l0").Slice(options.Hidden, options.Hidden).Fill((float)options.ForgetBias);
        }
        var head = DenseHead<float>.CreateRandom(options.Hidden, outputs, Activation.Linear, options.Seed + 1);
        Optimizer<float> netOpt = options.Sgd ? new Sgd<float>(network.Parameters.Length, (float)options.LearningRate, 0) : new Adam<float>(network.Parameters.Length, (float)options.LearningRate);
        Optimizer<float> headOpt = options.Sgd ? new Sgd<float>(head.Parameters.Length, (float)options.LearningRate, 0) : new Adam<float>(head.Parameters.Length, (float)options.LearningRate);

        var rng = new Random(options.Seed + 2);
        var x = new float[b * steps * f];
        var y = new float[b];
        var output = new float[b * steps * options.Hidden];
        var dOutput = new float[output.Length];
        var last = new float[b * options.Hidden];
        var dLast = new float[last.Length];
        var logits = new float[b * outputs];
        var dLogits = new float[logits.Length];
        var curve = new List<double>();
        var norms = new List<double>();
        double largest = 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        double window = 0;
        using (var session = new TrainingSession<float>(network, b, steps))
        {
            for (int it = 1; it <= options.Iterations; it++)
            {
                Generate(task, steps, b, rng, x, y);
                session.Forward(x, b, steps, output);
                LastSteps(output, steps, options.Hidden, b, last);
                head.Affine(last, b, logits);
                double loss = LossAndGradient(task, logits, y, b, dLogits);
                head.AffineBackward(last, dLogits, b, dLast);
                dOutput.AsSpan().Clear();
                for (int r = 0; r < b; r++)
                {
                    dLast.AsSpan(r * options.Hidden, options.Hidden).CopyTo(dOutput.AsSpan(((r * steps) + steps - 1) * options.Hidden));
                }

                session.Backward(dOutput);
                double norm = Math.Sqrt(TensorPrimitives.SumOfSquares<float>(session.Gradients) + TensorPrimitives.SumOfSquares<float>(head.Gradients));
                largest = Math.Max(largest, double.IsNaN(norm) ? double.PositiveInfinity : norm);
                if (options.Clip > 0)
                {
                    GradientClipping.ByGlobalNorm((float)options.Clip, session.Gradients, head.Gradients);
                }

                netOpt.Step(network.Parameters, session.Gradients);
                headOpt.Step(head.Parameters, head.Gradients);
                session.ZeroGradients();
                head.ZeroGradients();
                window += loss;
                int every = options.CurveEvery;
                if (it % every == 0 || it == options.Iterations)
                {
                    int n = it % every == 0 ? every : it % every;
                    curve.Add(window / n);
                    norms.Add(largest);
                    onProgress?.Invoke(it, window / n);
                    window = 0;
                    largest = 0;
                }
            }
        }

        var elapsed = clock.Elapsed;
        var (testLoss, baseline, accuracy) = Test(task, steps, network, head, options);
        return new LongMemoryResult(cell, task, steps, testLoss, baseline, accuracy, curve, norms, elapsed);
    }

    private static (double Loss, double Baseline, double Accuracy) Test(MemoryTask task, int steps, RnnModel<float> network, DenseHead<float> head, LongMemoryOptions options)
    {
        int f = Features(task), outputs = Outputs(task), n = options.TestSequences, chunk = Math.Min(n, 256);
        var rng = new Random(unchecked((options.Seed * 7919) + 13));
        var x = new float[chunk * steps * f];
        var y = new float[chunk];
        var output = new float[chunk * steps * options.Hidden];
        var last = new float[chunk * options.Hidden];
        var logits = new float[chunk * outputs];
        var scratch = new float[logits.Length];
        double loss = 0, baseline = 0;
        int right = 0;
        using var session = new InferenceSession<float>(network, chunk, steps);
        for (int start = 0; start < n; start += chunk)
        {
            int b = Math.Min(chunk, n - start);
            Generate(task, steps, b, rng, x.AsSpan(0, b * steps * f), y.AsSpan(0, b));
            session.Forward(x.AsSpan(0, b * steps * f), b, steps, output.AsSpan(0, b * steps * options.Hidden));
            LastSteps(output, steps, options.Hidden, b, last);
            head.Affine(last.AsSpan(0, b * options.Hidden), b, logits.AsSpan(0, b * outputs));
            loss += LossAndGradient(task, logits.AsSpan(0, b * outputs), y.AsSpan(0, b), b, scratch.AsSpan(0, b * outputs)) * b;
            for (int r = 0; r < b; r++)
            {
                if (task == MemoryTask.Adding)
                {
                    baseline += (y[r] - 1.0) * (y[r] - 1.0);
                }
                else
                {
                    baseline += Math.Log(Symbols);
                    right += TensorPrimitives.IndexOfMax<float>(logits.AsSpan(r * outputs, outputs)) == (int)y[r] ? 1 : 0;
                }
            }
        }

        return (loss / n, baseline / n, task == MemoryTask.Recall ? (double)right / n : double.NaN);
    }

    /// <summary>The mean loss of a batch, and its gradient in <paramref name="dLogits"/>.</summary>
    private static double LossAndGradient(MemoryTask task, ReadOnlySpan<float> logits, ReadOnlySpan<float> y, int b, Span<float> dLogits)
    {
        if (task == MemoryTask.Adding)
        {
            return Loss.MeanSquaredError<float>(logits, y[..b], dLogits);
        }

        var labels = new int[b];
        for (int r = 0; r < b; r++)
        {
            labels[r] = (int)y[r];
        }

        return Loss.SoftmaxCrossEntropy<float>(logits, labels, Symbols, dLogits);
    }

    private static void LastSteps(ReadOnlySpan<float> output, int steps, int hidden, int b, Span<float> last)
    {
        for (int r = 0; r < b; r++)
        {
            output.Slice(((r * steps) + steps - 1) * hidden, hidden).CopyTo(last.Slice(r * hidden));
        }
    }
}
