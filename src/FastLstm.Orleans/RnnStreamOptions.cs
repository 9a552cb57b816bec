namespace FastLstm.Orleans;

/// <summary>How the silos serve streams.</summary>
public sealed class RnnStreamOptions
{
    /// <summary>Name of the grain storage provider the streams' states are written to (register one under it).</summary>
    public const string StorageName = "fastlstm";

    /// <summary>Steps between writes of a stream's state to storage: 1 writes after every step (nothing lost when a silo dies); N loses at most N − 1.</summary>
    public int SaveEvery { get; set; } = 1;

    /// <summary>Streams one silo hosts at once, per model.</summary>
    public int MaxStreams { get; set; } = 4096;

    /// <summary>Most steps in one batch.</summary>
    public int MaxBatch { get; set; } = 64;

    /// <summary>Cores each batch uses.</summary>
    public int Threads { get; set; } = 1;

    /// <summary>Most steps one <see cref="IRnnStreamGrain.StepMany"/> call may carry.</summary>
    public int MaxStepsPerCall { get; set; } = 4096;
}
