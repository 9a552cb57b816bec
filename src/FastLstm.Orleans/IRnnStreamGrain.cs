namespace FastLstm.Orleans;

/// <summary>
/// One stream of a model registered on the silos, keyed "model/stream" (<see cref="RnnStreamClient.GetRnnStream"/>).
/// Its steps run through the hosting silo's <see cref="Serving.StreamBatcher{T}"/>, batched with every other stream the
/// silo hosts; its state is written to grain storage every <see cref="RnnStreamOptions.SaveEvery"/> steps and when the
/// grain deactivates. Calls to one stream run one at a time, in order.
/// </summary>
public interface IRnnStreamGrain : IGrainWithStringKey
{
    /// <summary>
    /// One step: <paramref name="x"/> [inputSize] → the last layer's new h [hidden]. <paramref name="position"/> is the
    /// number of steps the caller believes the stream has taken (-1: do not check); when the stream is elsewhere — it
    /// resumed from an older stored state after its silo died, or an earlier call is being retried — nothing is applied
    /// and the result says where the stream is, so the caller sends again from there and nothing is lost silently.
    /// </summary>
    Task<StreamStepResult> Step(long position, float[] x);

    /// <summary>Several steps in one call: <paramref name="xs"/> [steps, inputSize] → outputs [steps, hidden]; <paramref name="position"/> as in <see cref="Step"/>.</summary>
    Task<StreamStepResult> StepMany(long position, float[] xs);

    /// <summary>Forgets the stream: its stored state is deleted and the next step starts from zeros at step 0.</summary>
    Task Close();
}

/// <summary>What a call did.</summary>
/// <param name="Applied">
/// Whether the call's steps ran. False when the stream was not at the caller's position: after its silo died it resumed
/// from the last stored state, so the steps after <paramref name="Step"/> (at most <see cref="RnnStreamOptions.SaveEvery"/>
/// − 1) must be sent again.
/// </param>
/// <param name="Step">Steps the stream has taken, this call's included when applied.</param>
/// <param name="Output">The last layer's h after each of this call's steps, [steps, hidden]; empty when not applied.</param>
[GenerateSerializer, Immutable]
public sealed record StreamStepResult([property: Id(0)] bool Applied, [property: Id(1)] long Step, [property: Id(2)] float[] Output);

/// <summary>A stream's stored state.</summary>
[GenerateSerializer]
public sealed class RnnStreamState
{
    /// <summary>Steps taken when it was written.</summary>
    [Id(0)]
    public long Step { get; set; }

    /// <summary>h [layers, hidden].</summary>
    [Id(1)]
    public float[] H { get; set; } = [];

    /// <summary>c [layers, hidden] for cells with a cell state, else empty.</summary>
    [Id(2)]
    public float[] C { get; set; } = [];
}
