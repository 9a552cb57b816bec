using System.Diagnostics;
using System.Numerics;

namespace FastLstm.Training;

/// <summary>
/// Many-to-one regression: a window of <c>steps × features</c> values → <c>outputs</c> values, through the recurrent
/// network and a linear head on the last step's output. Fits with mini-batches, seeded shuffling, a time-ordered
/// validation split and early stopping; deterministic for a seed.
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
public sealed class WindowRegressor<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    /// <summary>Wraps an existing network and head (e.g. loaded from a file).</summary>
    public WindowRegressor(RnnModel<T> network, DenseHead<T> head, int steps)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(head);
        if (head.Inputs != network.Spec.OutputSize)
        {
            throw new ArgumentException($"head: expected {network.Spec.OutputSize} inputs (the network's output width), got {head.Inputs}.", nameof(head));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        Network = network;
        Head = head;
        Steps = steps;
    }

    /// <summary>A fresh network and linear head, initialised from <paramref name="seed"/>.</summary>
    public WindowRegressor(RnnSpec spec, int steps, int outputs, int seed)
        : this(RnnModel<T>.CreateRandom(spec, seed), DenseHead<T>.CreateRandom(spec.OutputSize, outputs, Activation.Linear, seed + 1), steps)
    {
    }

    /// <summary>The recurrent layers.</summary>
    public RnnModel<T> Network { get; }

    /// <summary>The linear head on the last step.</summary>
    public DenseHead<T> Head { get; }

    /// <summary>Window length.</summary>
    public int Steps { get; }

    private int Features => Network.Spec.InputSize;

    private int Outputs => Head.Outputs;

    /// <summary>
    /// Fits on <paramref name="count"/> windows <paramref name="x"/> [count, steps, features] → <paramref name="y"/>
    /// [count, outputs], in time order: the last <see cref="TrainingOptions.ValidationFraction"/> of them validate.
    /// Returns every epoch's report; the weights end at the best validation epoch.
    /// </summary>
    public IReadOnlyList<EpochReport> Fit(ReadOnlySpan<T> x, ReadOnlySpan<T> y, int count, TrainingOptions options, Action<EpochReport>? onEpoch = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        CheckData(x.Length, y.Length, count);
        int validation = (int)(count * options.ValidationFraction);
        int train = count - validation;
        if (train < 1)
        {
            throw new ArgumentException($"x: {count} windows leave none for training after holding out {validation} for validation.", nameof(x));
        }

        int batch = Math.Min(options.BatchSize, train);
        using var session = new TrainingSession<T>(Network, Math.Max(batch, 1), Steps);
        var learner = new Learner<T>(Network, session, Head, options);
        var buffers = new Buffers(this, batch);
        var order = Enumerable.Range(0, train).ToArray();
        var rng = new Random(options.Seed);
        var best = (Network: Network.Parameters.ToArray(), Head: Head.Parameters.ToArray(), Loss: double.PositiveInfinity);
        var reports = new List<EpochReport>();
        var clock = Stopwatch.StartNew();
        int sinceBest = 0;
        for (int epoch = 1; epoch <= options.Epochs; epoch++)
        {
            rng.Shuffle(order);
            double sum = 0;
            for (int start = 0; start < train; start += batch)
            {
                int b = Math.Min(batch, train - start);
                buffers.Gather(x, y, order.AsSpan(start, b));
                sum += double.CreateTruncating(TrainBatch(session, buffers, b)) * b;
                learner.Step();
            }

            double validationLoss = validation > 0 ? Evaluate(x[(train * Steps * Features)..], y[(train * Outputs)..], validation) : sum / train;
            bool isBest = validationLoss < best.Loss;
            if (isBest)
            {
                best = (Network.Parameters.ToArray(), Head.Parameters.ToArray(), validationLoss);
                sinceBest = 0;
            }
            else
            {
                sinceBest++;
            }

            var report = new EpochReport(epoch, options.Epochs, sum / train, validation > 0 ? validationLoss : double.NaN, isBest, clock.Elapsed);
            reports.Add(report);
            onEpoch?.Invoke(report);
            if (sinceBest >= options.Patience)
            {
                break;
            }
        }

        best.Network.CopyTo(Network.Parameters);
        best.Head.CopyTo(Head.Parameters);
        return reports;
    }

    /// <summary>Predictions [count, outputs] for windows [count, steps, features].</summary>
    public void Predict(ReadOnlySpan<T> x, int count, Span<T> predictions)
    {
        if ((long)count * Outputs != predictions.Length)
        {
            throw new ArgumentException($"predictions: expected count·outputs = {count}·{Outputs} elements, got {predictions.Length}.", nameof(predictions));
        }

        CheckData(x.Length, predictions.Length, count);
        const int chunk = 256;
        using var session = new InferenceSession<T>(Network, Math.Min(chunk, Math.Max(count, 1)), Steps);
        var buffers = new Buffers(this, Math.Min(chunk, Math.Max(count, 1)));
        for (int start = 0; start < count; start += chunk)
        {
            int b = Math.Min(chunk, count - start);
            int window = Steps * Features;
            session.Forward(x.Slice(start * window, b * window), b, Steps, buffers.Output.AsSpan(0, b * Steps * Network.Spec.OutputSize));
            buffers.LastSteps(b);
            Head.Affine(buffers.Features.AsSpan(0, b * Head.Inputs), b, predictions.Slice(start * Outputs, b * Outputs));
        }
    }

    /// <summary>Mean squared error over <paramref name="count"/> windows.</summary>
    public double Evaluate(ReadOnlySpan<T> x, ReadOnlySpan<T> y, int count)
    {
        var predictions = new T[count * Outputs];
        Predict(x, count, predictions);
        return double.CreateTruncating(Loss.MeanSquaredError<T>(predictions, y[..(count * Outputs)], default));
    }

    private T TrainBatch(TrainingSession<T> session, Buffers s, int b)
    {
        int width = Network.Spec.OutputSize;
        session.Forward(s.X.AsSpan(0, b * Steps * Features), b, Steps, s.Output.AsSpan(0, b * Steps * width));
        s.LastSteps(b);
        Span<T> prediction = s.Prediction.AsSpan(0, b * Outputs);
        Head.Affine(s.Features.AsSpan(0, b * width), b, prediction);
        T loss = Loss.MeanSquaredError<T>(prediction, s.Y.AsSpan(0, b * Outputs), s.DPrediction.AsSpan(0, b * Outputs));
        Head.AffineBackward(s.Features.AsSpan(0, b * width), s.DPrediction.AsSpan(0, b * Outputs), b, s.DFeatures.AsSpan(0, b * width));
        Span<T> dOutput = s.DOutput.AsSpan(0, b * Steps * width);
        dOutput.Clear();
        for (int r = 0; r < b; r++)
        {
            s.DFeatures.AsSpan(r * width, width).CopyTo(dOutput.Slice(((r * Steps) + Steps - 1) * width));
        }

        session.Backward(dOutput);
        return loss;
    }

    private void CheckData(int xLength, int yLength, int count)
    {
        if (count < 1 || (long)count * Steps * Features != xLength)
        {
            throw new ArgumentException($"x: expected count·steps·features = {count}·{Steps}·{Features} elements, got {xLength}.", "x");
        }

        if ((long)count * Outputs != yLength)
        {
            throw new ArgumentException($"y: expected count·outputs = {count}·{Outputs} elements, got {yLength}.", "y");
        }
    }

    /// <summary>Per-batch buffers, allocated once per fit or prediction.</summary>
    private sealed class Buffers(WindowRegressor<T> owner, int batch)
    {
        private readonly int _window = owner.Steps * owner.Features;
        private readonly int _width = owner.Network.Spec.OutputSize;

        public T[] X { get; } = new T[batch * owner.Steps * owner.Features];

        public T[] Y { get; } = new T[batch * owner.Outputs];

        public T[] Output { get; } = new T[batch * owner.Steps * owner.Network.Spec.OutputSize];

        public T[] DOutput { get; } = new T[batch * owner.Steps * owner.Network.Spec.OutputSize];

        public T[] Features { get; } = new T[batch * owner.Network.Spec.OutputSize];

        public T[] DFeatures { get; } = new T[batch * owner.Network.Spec.OutputSize];

        public T[] Prediction { get; } = new T[batch * owner.Outputs];

        public T[] DPrediction { get; } = new T[batch * owner.Outputs];

        public void Gather(ReadOnlySpan<T> x, ReadOnlySpan<T> y, ReadOnlySpan<int> rows)
        {
            int o = owner.Outputs;
            for (int r = 0; r < rows.Length; r++)
            {
                x.Slice(rows[r] * _window, _window).CopyTo(X.AsSpan(r * _window));
                y.Slice(rows[r] * o, o).CopyTo(Y.AsSpan(r * o));
            }
        }

        /// <summary>Features[r] = the output of sequence r at its last step.</summary>
        public void LastSteps(int b)
        {
            int steps = owner.Steps;
            for (int r = 0; r < b; r++)
            {
                Output.AsSpan((((r * steps) + steps - 1) * _width), _width).CopyTo(Features.AsSpan(r * _width));
            }
        }
    }
}
