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
        CheckData(x.Length, y.Length, count);
        return Fit(new ArrayWindows<T>(x.ToArray(), y.ToArray(), Steps * Features, Outputs), options, onEpoch);
    }

    /// <summary>
    /// Fits on the windows of <paramref name="data"/>, read batch by batch (nothing beyond a batch is materialised), in
    /// time order: the last <see cref="TrainingOptions.ValidationFraction"/> of them validate. Returns every epoch's report;
    /// the weights end at the best validation epoch (the best training epoch without validation).
    /// </summary>
    public IReadOnlyList<EpochReport> Fit(WindowSet<T> data, TrainingOptions options, Action<EpochReport>? onEpoch = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        CheckSet(data);
        int count = data.Count;
        int validation = (int)(count * options.ValidationFraction);
        int train = count - validation;
        if (train < 1)
        {
            throw new ArgumentException($"x: {count} windows leave none for training after holding out {validation} for validation.", nameof(data));
        }

        int drawn = options.WindowsPerEpoch > 0 ? Math.Min(options.WindowsPerEpoch, train) : train;
        int batch = Math.Min(options.BatchSize, drawn);
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
            for (int start = 0; start < drawn; start += batch)
            {
                int b = Math.Min(batch, drawn - start);
                buffers.Gather(data, order.AsSpan(start, b));
                sum += double.CreateTruncating(TrainBatch(session, buffers, b)) * b;
                learner.Step();
            }

            double validationLoss = validation > 0 ? Evaluate(data, train, validation) : sum / drawn;
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

            var report = new EpochReport(epoch, options.Epochs, sum / drawn, validation > 0 ? validationLoss : double.NaN, isBest, clock.Elapsed);
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

    /// <summary>
    /// How <see cref="Predict"/> stores the network's weights (<see cref="WeightFormat"/>; compressed formats for float
    /// regressors only). Training always runs in full precision.
    /// </summary>
    public WeightFormat Weights
    {
        get => _weights;
        set
        {
            if (value != _weights)
            {
                Guard.Weights<T>(value);
                _predictBuffers?.Session.Dispose();
                _predictBuffers = null;
                _weights = value;
            }
        }
    }

    private WeightFormat _weights;

    /// <summary>Predictions [count, outputs] for windows [count, steps, features].</summary>
    public void Predict(ReadOnlySpan<T> x, int count, Span<T> predictions)
    {
        if ((long)count * Outputs != predictions.Length)
        {
            throw new ArgumentException($"predictions: expected count·outputs = {count}·{Outputs} elements, got {predictions.Length}.", nameof(predictions));
        }

        CheckData(x.Length, predictions.Length, count);
        const int chunk = 256;
        int batch = Math.Min(chunk, Math.Max(count, 1));
        var buffers = _predictBuffers is { } kept && kept.Batch >= batch ? kept : _predictBuffers = new PredictBuffers(this, batch);
        for (int start = 0; start < count; start += chunk)
        {
            int b = Math.Min(chunk, count - start);
            int window = Steps * Features;
            buffers.Session.Forward(x.Slice(start * window, b * window), b, Steps, buffers.Output.AsSpan(0, b * Steps * Network.Spec.OutputSize));
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

    /// <summary>Mean squared error over windows [first, first + count) of <paramref name="data"/>, a chunk at a time.</summary>
    public double Evaluate(WindowSet<T> data, int first, int count)
    {
        ArgumentNullException.ThrowIfNull(data);
        CheckSet(data);
        const int chunk = 256;
        int window = Steps * Features;
        var x = new T[Math.Min(chunk, count) * window];
        var y = new T[Math.Min(chunk, count) * Outputs];
        var predictions = new T[y.Length];
        double sum = 0;
        for (int start = 0; start < count; start += chunk)
        {
            int b = Math.Min(chunk, count - start);
            for (int r = 0; r < b; r++)
            {
                data.Read(first + start + r, x.AsSpan(r * window, window), y.AsSpan(r * Outputs, Outputs));
            }

            Predict(x.AsSpan(0, b * window), b, predictions.AsSpan(0, b * Outputs));
            sum += double.CreateTruncating(Loss.MeanSquaredError<T>(predictions.AsSpan(0, b * Outputs), y.AsSpan(0, b * Outputs), default)) * b;
        }

        return sum / count;
    }

    private PredictBuffers? _predictBuffers;

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

    private void CheckSet(WindowSet<T> data)
    {
        if (data.Count < 1 || data.Window != Steps * Features || data.Outputs != Outputs)
        {
            throw new ArgumentException($"data: expected windows of {Steps}·{Features} values with {Outputs} targets, got {data.Count} windows of {data.Window} with {data.Outputs}.", nameof(data));
        }
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

    /// <summary>
    /// A prediction session and its buffers, kept between calls: a forecast that feeds its predictions back asks for one
    /// window at a time, thousands of times, and the session re-reads the weights only when they changed.
    /// </summary>
    private sealed class PredictBuffers(WindowRegressor<T> owner, int batch)
    {
        private readonly int _width = owner.Network.Spec.OutputSize;

        public int Batch { get; } = batch;

        public InferenceSession<T> Session { get; } = new(owner.Network, batch, owner.Steps, weights: owner.Weights);

        public T[] Output { get; } = new T[batch * owner.Steps * owner.Network.Spec.OutputSize];

        public T[] Features { get; } = new T[batch * owner.Network.Spec.OutputSize];

        public void LastSteps(int b) => CopyLastSteps(Output, Features, b, owner.Steps, _width);
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

        public void Gather(WindowSet<T> data, ReadOnlySpan<int> rows)
        {
            int o = owner.Outputs;
            for (int r = 0; r < rows.Length; r++)
            {
                data.Read(rows[r], X.AsSpan(r * _window, _window), Y.AsSpan(r * o, o));
            }
        }

        public void LastSteps(int b) => CopyLastSteps(Output, Features, b, owner.Steps, _width);
    }

    /// <summary>features[r] = the output of sequence r at its last step.</summary>
    private static void CopyLastSteps(T[] output, T[] features, int b, int steps, int width)
    {
        for (int r = 0; r < b; r++)
        {
            output.AsSpan(((r * steps) + steps - 1) * width, width).CopyTo(features.AsSpan(r * width));
        }
    }
}

/// <summary>Training examples for <see cref="WindowRegressor{T}"/>, read one at a time: a window of inputs and its targets.</summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
public abstract class WindowSet<T>
{
    /// <summary>Examples, in time order.</summary>
    public abstract int Count { get; }

    /// <summary>Input values per example (steps · features).</summary>
    public abstract int Window { get; }

    /// <summary>Targets per example.</summary>
    public abstract int Outputs { get; }

    /// <summary>Copies example <paramref name="index"/> into <paramref name="x"/> [Window] and <paramref name="y"/> [Outputs].</summary>
    public abstract void Read(int index, Span<T> x, Span<T> y);
}

/// <summary>Examples held in two arrays: x [count, window], y [count, outputs].</summary>
public sealed class ArrayWindows<T>(T[] x, T[] y, int window, int outputs) : WindowSet<T>
{
    /// <inheritdoc/>
    public override int Count => y.Length / outputs;

    /// <inheritdoc/>
    public override int Window => window;

    /// <inheritdoc/>
    public override int Outputs => outputs;

    /// <inheritdoc/>
    public override void Read(int index, Span<T> xOut, Span<T> yOut)
    {
        x.AsSpan(index * window, window).CopyTo(xOut);
        y.AsSpan(index * outputs, outputs).CopyTo(yOut);
    }
}

/// <summary>
/// The windows of one series, never materialised: example i reads the <paramref name="steps"/> values before position
/// <c>first + i</c> and predicts the <paramref name="horizon"/> values from there.
/// </summary>
public sealed class SeriesWindows<T>(T[] series, int steps, int horizon, int first, int count) : WindowSet<T>
{
    /// <inheritdoc/>
    public override int Count => count;

    /// <inheritdoc/>
    public override int Window => steps;

    /// <inheritdoc/>
    public override int Outputs => horizon;

    /// <inheritdoc/>
    public override void Read(int index, Span<T> x, Span<T> y)
    {
        int t = first + index;
        series.AsSpan(t - steps, steps).CopyTo(x);
        series.AsSpan(t, horizon).CopyTo(y);
    }
}
