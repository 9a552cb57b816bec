using System.Numerics;

namespace FastLstm.Training;

/// <summary>
/// One optimisation step over a recurrent network and its head together: clip both gradients by their joint
/// norm, Adam on each, zero the gradients. Allocates nothing per step.
/// </summary>
internal sealed class Learner<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly RnnModel<T> _network;
    private readonly TrainingSession<T> _session;
    private readonly DenseHead<T> _head;
    private readonly Adam<T> _networkOptimizer;
    private readonly Adam<T> _headOptimizer;
    private readonly T _clip;

    public Learner(RnnModel<T> network, TrainingSession<T> session, DenseHead<T> head, TrainingOptions options)
    {
        _network = network;
        _session = session;
        _head = head;
        T lr = T.CreateTruncating(options.LearningRate);
        _networkOptimizer = new Adam<T>(network.Parameters.Length, lr);
        _headOptimizer = new Adam<T>(head.Parameters.Length, lr);
        _clip = T.CreateTruncating(options.Clip);
    }

    /// <summary>Applies and clears the accumulated gradients; returns their norm before clipping.</summary>
    public T Step()
    {
        T norm = _clip > T.Zero
            ? GradientClipping.ByGlobalNorm(_clip, _session.Gradients, _head.Gradients)
            : T.Zero;
        _networkOptimizer.Step(_network.Parameters, _session.Gradients);
        _headOptimizer.Step(_head.Parameters, _head.Gradients);
        _session.ZeroGradients();
        _head.ZeroGradients();
        return norm;
    }
}
