namespace FastLstm.Serving;

/// <summary>How a <see cref="StreamBatcher{T}"/> gathers steps into batches.</summary>
public sealed record StreamBatcherOptions
{
    /// <summary>
    /// How long the oldest waiting step may wait for a batch to fill. Zero (the default): a step runs as soon as the engine is
    /// free, together with whatever arrived while the previous batch ran; a step that finds the engine idle runs at once on
    /// the caller's thread.
    /// </summary>
    public TimeSpan MaxQueueDelay { get; init; } = TimeSpan.Zero;

    /// <summary>
    /// Steps the batcher's queue holds, over all streams. A step issued when it is full waits for room behind the steps
    /// already waiting, in the order they were issued, and its task (or blocking call) ends that much later: callers that
    /// outrun the engine are slowed to its pace, as by a bounded channel, while the batcher keeps only its fixed queue (and
    /// each stream's pooled requests) in memory. Zero (the default) means twice the batcher's maxStreams.
    /// </summary>
    public int QueueCapacity { get; init; }

    /// <summary>
    /// Whether the code awaiting <see cref="RnnStream{T}.StepAsync"/> may resume on the thread that ran the batch, as
    /// <c>System.Threading.Channels</c>' option of the same name. False (the default): it resumes on the thread pool,
    /// so nothing a caller does can hold up the batches. True: no thread hop per step — a closed-loop caller issues its
    /// next step before the batch that answered it has fully ended, so the next batch is full at once (the fastest way to
    /// serve many streams), but the batches wait while that code runs to its next await, so it must not block.
    /// </summary>
    public bool AllowSynchronousContinuations { get; init; }

    /// <summary>
    /// Whether up to <c>threads</c> batches run at once, one core each, instead of every batch split over all <c>threads</c>
    /// cores. False (the default): every batch uses every core. True: no core waits for another between the phases of a
    /// step — more steps per second when many streams are ready (measured 1.35–1.74× at 64 rows, H = 256, 2 cores) —
    /// while a step that finds the whole engine idle still runs split over every core, on an engine of its own (one more
    /// copy of the packed weights).
    /// </summary>
    public bool ParallelBatches { get; init; }

    /// <summary>How the batcher's engine stores the weights (compressed formats for <see cref="float"/> only).</summary>
    public WeightFormat Weights { get; init; } = WeightFormat.Full;
}
