using Microsoft.Extensions.Options;
using FastLstm.Serving;

namespace FastLstm.Orleans;

/// <summary>A stream as a grain: its steps through the silo's batcher, its state saved every few steps.</summary>
internal sealed class RnnStreamGrain(
    [PersistentState("stream", RnnStreamOptions.StorageName)] IPersistentState<RnnStreamState> stored,
    StreamModels models,
    IOptions<RnnStreamOptions> options) : Grain, IRnnStreamGrain
{
    private readonly int _saveEvery = options.Value.SaveEvery;
    private readonly int _maxSteps = options.Value.MaxStepsPerCall;
    private RnnStream<float>? _stream;
    private long _step;
    private int _unsaved;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        string key = this.GetPrimaryKeyString();
        int slash = key.IndexOf('/', StringComparison.Ordinal);
        var batcher = models.Batcher(slash > 0 ? key[..slash] : key);
        _stream = batcher.Open();
        if (stored.RecordExists)
        {
            _stream.WriteState(stored.State.H, stored.State.C);
            _step = stored.State.Step;
        }

        return Task.CompletedTask;
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        if (_unsaved > 0)
        {
            await Save();
        }

        _stream?.Dispose();
    }

    public Task<StreamStepResult> Step(long position, float[] x) => StepMany(position, x);

    public async Task<StreamStepResult> StepMany(long position, float[] xs)
    {
        ArgumentNullException.ThrowIfNull(xs);
        if (position >= 0 && position != _step)
        {
            return new StreamStepResult(false, _step, []);
        }

        var spec = _stream!.Batcher.Model.Spec;
        int steps = xs.Length / spec.InputSize;
        if (xs.Length == 0 || xs.Length % spec.InputSize != 0 || steps > _maxSteps)
        {
            throw new ArgumentException($"xs: expected [steps, inputSize] with inputSize {spec.InputSize} and 1..{_maxSteps} steps, got {xs.Length} values.", nameof(xs));
        }

        var output = new float[steps * spec.HiddenSize];
        for (int t = 0; t < steps; t++)
        {
            await _stream.StepAsync(xs.AsMemory(t * spec.InputSize, spec.InputSize), output.AsMemory(t * spec.HiddenSize, spec.HiddenSize));
            _step++;
            if (++_unsaved >= _saveEvery)
            {
                await Save();
            }
        }

        return new StreamStepResult(true, _step, output);
    }

    public async Task Close()
    {
        await stored.ClearStateAsync();
        _stream!.Reset();
        _step = 0;
        _unsaved = 0;
    }

    private async Task Save()
    {
        var spec = _stream!.Batcher.Model.Spec;
        int size = spec.Layers * spec.HiddenSize;
        var state = stored.State;
        if (state.H.Length != size)
        {
            state.H = new float[size];
            state.C = spec.HasCellState ? new float[size] : [];
        }

        _stream.ReadState(state.H, state.C);
        state.Step = _step;
        await stored.WriteStateAsync();
        _unsaved = 0;
    }
}
