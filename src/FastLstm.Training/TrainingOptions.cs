namespace FastLstm.Training;

/// <summary>How a trainer fits: epochs, mini-batches, Adam, clipping, validation and early stopping.</summary>
public sealed record TrainingOptions
{
    /// <summary>Most passes over the training windows.</summary>
    public int Epochs { get; init; } = 100;

    /// <summary>Windows per optimisation step.</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Adam's step size.</summary>
    public double LearningRate { get; init; } = 1e-3;

    /// <summary>Global-norm gradient clipping (the notes' remedy for exploding gradients); 0 turns it off.</summary>
    public double Clip { get; init; } = 1.0;

    /// <summary>Seeds the initial weights and the shuffling: a fit is reproducible for a given seed (one thread).</summary>
    public int Seed { get; init; } = 1;

    /// <summary>The latest fraction of the training examples held out to choose the epoch (early stopping).</summary>
    public double ValidationFraction { get; init; } = 0.1;

    /// <summary>Epochs without a better validation loss before stopping; the best epoch's weights are kept.</summary>
    public int Patience { get; init; } = 15;

    /// <summary>
    /// Most training windows an epoch draws, a fresh random subset each epoch (0: all of them). Windows of a long series
    /// overlap almost entirely, so an epoch over thousands of them costs far more than it teaches.
    /// </summary>
    public int WindowsPerEpoch { get; init; }

    /// <summary>Throws when a field is out of range, naming it.</summary>
    public void Validate()
    {
        Check(Epochs >= 1, nameof(Epochs), Epochs, "≥ 1");
        Check(BatchSize >= 1, nameof(BatchSize), BatchSize, "≥ 1");
        Check(LearningRate > 0 && double.IsFinite(LearningRate), nameof(LearningRate), LearningRate, "> 0");
        Check(Clip >= 0 && double.IsFinite(Clip), nameof(Clip), Clip, "≥ 0");
        Check(ValidationFraction is >= 0 and < 1, nameof(ValidationFraction), ValidationFraction, "in [0, 1)");
        Check(Patience >= 1, nameof(Patience), Patience, "≥ 1");
        Check(WindowsPerEpoch >= 0, nameof(WindowsPerEpoch), WindowsPerEpoch, "≥ 0 (0: all)");

        static void Check(bool ok, string name, object value, string expected)
        {
            if (!ok)
            {
                throw new ArgumentOutOfRangeException(name, value, $"{name}: expected {expected}, got {value}.");
            }
        }
    }
}

/// <summary>What a trainer reports after each epoch.</summary>
/// <param name="Epoch">1-based.</param>
/// <param name="Epochs">The most the fit will run.</param>
/// <param name="TrainLoss">Mean training loss of the epoch.</param>
/// <param name="ValidationLoss">Loss on the held-out examples (NaN without any).</param>
/// <param name="IsBest">Whether this epoch's weights are the best so far (and kept).</param>
/// <param name="Elapsed">Time since the fit started.</param>
public sealed record EpochReport(int Epoch, int Epochs, double TrainLoss, double ValidationLoss, bool IsBest, TimeSpan Elapsed);

/// <summary>
/// Every network of a fit ended with a non-finite loss (NaN or ∞): the learning rate is too large for the series, or the
/// gradients exploded without clipping. No epoch's weights were usable.
/// </summary>
public sealed class TrainingDivergedException(string message) : ArithmeticException(message);
