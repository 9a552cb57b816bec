using System.Numerics;
using System.Numerics.Tensors;

namespace FastLstm.Training;

/// <summary>
/// A dense output layer on recurrent features: <c>y = act(x·Wᵀ + b)</c> per row, W [outputs, inputs] (PyTorch
/// <c>nn.Linear</c> layout). Apply it to the last step's h (many-to-one) or to every step (many-to-many): the
/// caller chooses the rows. Parameters and gradients are each one flat span, weight then bias.
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
public sealed class DenseHead<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly T[] _parameters;
    private readonly T[] _gradients;

    /// <summary>A head with zero weights.</summary>
    public DenseHead(int inputs, int outputs, Activation activation)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inputs, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outputs, 1);
        if (!Enum.IsDefined(activation))
        {
            throw new ArgumentOutOfRangeException(nameof(activation), activation, $"activation: unknown value {activation}.");
        }

        long count = ((long)outputs * inputs) + outputs;
        if (count > Array.MaxLength)
        {
            throw new ArgumentOutOfRangeException(nameof(outputs), outputs, $"outputs, inputs: a head [{outputs}, {inputs}] needs {count} parameters; at most {Array.MaxLength} fit in one array.");
        }

        Inputs = inputs;
        Outputs = outputs;
        Activation = activation;
        _parameters = new T[count];
        _gradients = new T[_parameters.Length];
    }

    /// <summary>Features per row in.</summary>
    public int Inputs { get; }

    /// <summary>Values per row out.</summary>
    public int Outputs { get; }

    /// <summary>Applied after the affine map.</summary>
    public Activation Activation { get; }

    /// <summary>W then b, flat.</summary>
    public Span<T> Parameters => _parameters;

    /// <summary>∂L/∂W then ∂L/∂b, flat; <see cref="Backward"/> adds into it.</summary>
    public Span<T> Gradients => _gradients;

    /// <summary>[outputs, inputs], row-major.</summary>
    public Span<T> Weight => _parameters.AsSpan(0, Outputs * Inputs);

    /// <summary>[outputs].</summary>
    public Span<T> Bias => _parameters.AsSpan(Outputs * Inputs);

    /// <summary>PyTorch's <c>nn.Linear</c> initialisation: U(-1/√inputs, 1/√inputs), seeded.</summary>
    public static DenseHead<T> CreateRandom(int inputs, int outputs, Activation activation, int seed)
    {
        var head = new DenseHead<T>(inputs, outputs, activation);
        var rng = new Random(seed);
        double bound = 1 / Math.Sqrt(inputs);
        foreach (ref var p in head._parameters.AsSpan())
        {
            p = T.CreateTruncating(((rng.NextDouble() * 2) - 1) * bound);
        }

        return head;
    }

    /// <summary>Sets every gradient to zero.</summary>
    public void ZeroGradients() => Array.Clear(_gradients);

    /// <summary>output [rows, outputs] = act(input [rows, inputs] · Wᵀ + b).</summary>
    public void Forward(ReadOnlySpan<T> input, int rows, Span<T> output)
    {
        Affine(input, rows, output);
        Activations.Forward<T>(Activation, output, output, Outputs);
    }

    /// <summary>
    /// From ∂L/∂output and the output of <see cref="Forward"/>: adds into <see cref="Gradients"/>, writes ∂L/∂input
    /// (if not empty). <paramref name="dOutput"/> is overwritten with ∂L/∂(pre-activation).
    /// </summary>
    public void Backward(ReadOnlySpan<T> input, ReadOnlySpan<T> output, Span<T> dOutput, int rows, Span<T> dInput)
    {
        Activations.Backward<T>(Activation, output, dOutput, dOutput, Outputs);
        AffineBackward(input, dOutput, rows, dInput);
    }

    /// <summary>The pre-activation only: logits [rows, outputs] = input · Wᵀ + b (for a loss fused with the softmax).</summary>
    public void Affine(ReadOnlySpan<T> input, int rows, Span<T> logits)
    {
        CheckRows(input.Length, logits.Length, rows);
        ReadOnlySpan<T> w = Weight, b = Bias;
        for (int r = 0; r < rows; r++)
        {
            var x = input.Slice(r * Inputs, Inputs);
            var y = logits.Slice(r * Outputs, Outputs);
            for (int o = 0; o < Outputs; o++)
            {
                y[o] = TensorPrimitives.Dot(x, w.Slice(o * Inputs, Inputs)) + b[o];
            }
        }
    }

    /// <summary>The backward of <see cref="Affine"/>: adds ∂L/∂W and ∂L/∂b, writes ∂L/∂input if not empty.</summary>
    public void AffineBackward(ReadOnlySpan<T> input, ReadOnlySpan<T> dLogits, int rows, Span<T> dInput)
    {
        CheckRows(input.Length, dLogits.Length, rows);
        if (!dInput.IsEmpty && dInput.Length != input.Length)
        {
            throw new ArgumentException($"dInput: expected an empty span or {input.Length} elements, got {dInput.Length}.", nameof(dInput));
        }

        ReadOnlySpan<T> w = Weight;
        Span<T> dw = _gradients.AsSpan(0, Outputs * Inputs), db = _gradients.AsSpan(Outputs * Inputs);
        dInput.Clear();
        for (int r = 0; r < rows; r++)
        {
            var x = input.Slice(r * Inputs, Inputs);
            var dy = dLogits.Slice(r * Outputs, Outputs);
            TensorPrimitives.Add(db, dy, db);
            for (int o = 0; o < Outputs; o++)
            {
                var dwo = dw.Slice(o * Inputs, Inputs);
                TensorPrimitives.MultiplyAdd(x, dy[o], dwo, dwo);
                if (!dInput.IsEmpty)
                {
                    var dx = dInput.Slice(r * Inputs, Inputs);
                    TensorPrimitives.MultiplyAdd(w.Slice(o * Inputs, Inputs), dy[o], dx, dx);
                }
            }
        }
    }

    /// <summary>The naive twin of <see cref="Affine"/>: the sums written out.</summary>
    public void NaiveAffine(ReadOnlySpan<T> input, int rows, Span<T> logits)
    {
        for (int r = 0; r < rows; r++)
        {
            for (int o = 0; o < Outputs; o++)
            {
                T sum = _parameters[(Outputs * Inputs) + o];
                for (int i = 0; i < Inputs; i++)
                {
                    sum += _parameters[(o * Inputs) + i] * input[(r * Inputs) + i];
                }

                logits[(r * Outputs) + o] = sum;
            }
        }
    }

    /// <summary>The naive twin of <see cref="AffineBackward"/>.</summary>
    public void NaiveAffineBackward(ReadOnlySpan<T> input, ReadOnlySpan<T> dLogits, int rows, Span<T> dInput)
    {
        dInput.Clear();
        for (int r = 0; r < rows; r++)
        {
            for (int o = 0; o < Outputs; o++)
            {
                T d = dLogits[(r * Outputs) + o];
                _gradients[(Outputs * Inputs) + o] += d;
                for (int i = 0; i < Inputs; i++)
                {
                    _gradients[(o * Inputs) + i] += d * input[(r * Inputs) + i];
                    if (!dInput.IsEmpty)
                    {
                        dInput[(r * Inputs) + i] += d * _parameters[(o * Inputs) + i];
                    }
                }
            }
        }
    }

    private void CheckRows(int inputLength, int outputLength, int rows)
    {
        if (rows < 0 || (long)rows * Inputs != inputLength)
        {
            throw new ArgumentException($"input: expected rows·inputs = {rows}·{Inputs} elements, got {inputLength}.", "input");
        }

        if ((long)rows * Outputs != outputLength)
        {
            throw new ArgumentException($"output: expected rows·outputs = {rows}·{Outputs} elements, got {outputLength}.", "output");
        }
    }
}
