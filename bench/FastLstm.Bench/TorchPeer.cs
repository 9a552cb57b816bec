using TorchSharp;
using static TorchSharp.torch;

namespace FastLstm.Bench;

/// <summary>
/// libtorch 2.10 through TorchSharp-cpu 0.107, as a .NET user runs it: an <c>nn.LSTM</c> / <c>nn.GRU</c> / <c>nn.RNN</c>
/// (batch_first) holding FastLstm's weights, inference under <c>inference_mode</c>, training as <c>zero_grad</c> +
/// forward + loss + <c>backward</c>, the thread count set with <c>torch.set_num_threads</c>. Tensors made by a call are
/// freed by a dispose scope per call, TorchSharp's own pattern.
/// </summary>
public sealed class TorchPeer : IDisposable
{
    private readonly nn.Module _module;
    private readonly Tensor _x, _h0, _c0, _dOutput;
    private readonly bool _lstm;

    public TorchPeer(Workload w, int threads, bool training)
    {
        TorchNative.EnsureLoadable();
        torch.set_num_threads(threads);
        int b = w.Batch, t = w.Steps, i = w.Spec.InputSize, h = w.Spec.HiddenSize;
        _lstm = w.Spec.Cell == CellType.Lstm;
        _module = w.Spec.Cell switch
        {
            CellType.Lstm => nn.LSTM(i, h, 1, true, true),
            CellType.Gru => nn.GRU(i, h, 1, true, true),
            CellType.RnnTanh => nn.RNN(i, h, 1, nn.NonLinearities.Tanh, true, true),
            _ => throw new ArgumentException($"libtorch has no {w.Spec.Cell}", nameof(w)),
        };
        using (torch.no_grad())
        {
            foreach (var (name, p) in _module.named_parameters())
            {
                p.copy_(torch.tensor(w.Model.Parameter(name).ToArray(), p.shape));
            }
        }

        _x = torch.tensor(w.Input, [b, t, i]);
        _h0 = torch.tensor(w.H, [1, b, h]);
        _c0 = _lstm ? torch.tensor(w.C, [1, b, h]) : torch.zeros(1);
        _dOutput = torch.tensor(w.DOutput, [b, t, h]);
        if (training)
        {
            _x.requires_grad_(true);
        }
    }

    /// <summary>One inference call; returns the output [B, T, H] when <paramref name="keep"/> (for checking), else null.</summary>
    public float[]? Infer(bool keep = false)
    {
        using var scope = torch.NewDisposeScope();
        using var mode = torch.inference_mode(true);
        var y = Forward();
        return keep ? y.data<float>().ToArray() : null;
    }

    /// <summary>One training step: gradients cleared, forward, loss = Σ output ⊙ dOutput, backward.</summary>
    public void Train()
    {
        using var scope = torch.NewDisposeScope();
        _module.zero_grad();
        _x.grad?.zero_();
        var loss = (Forward() * _dOutput).sum();
        loss.backward();
    }

    /// <summary>After <see cref="Train"/>: ∂loss/∂weight_hh_l0 and ∂loss/∂input.</summary>
    public (float[] WeightHh, float[] Input) Gradients() =>
        (_module.named_parameters().Single(p => p.name == "weight_hh_l0").parameter.grad!.data<float>().ToArray(), _x.grad!.data<float>().ToArray());

    public void Dispose()
    {
        _module.Dispose();
        _x.Dispose();
        _h0.Dispose();
        _c0.Dispose();
        _dOutput.Dispose();
    }

    private Tensor Forward() => _module switch
    {
        TorchSharp.Modules.LSTM lstm => lstm.call(_x, (_h0, _c0)).Item1,
        TorchSharp.Modules.GRU gru => gru.call(_x, _h0).Item1,
        TorchSharp.Modules.RNN rnn => rnn.call(_x, _h0).Item1,
        _ => throw new InvalidOperationException(),
    };
}

/// <summary>
/// TorchSharp's native shim <c>libLibTorchSharp.so</c> declares a <c>GLIBCXX_3.4.32</c> requirement that Debian 12's
/// libstdc++ (3.4.30) lacks; the only symbol bound to it, <c>_ZSt21ios_base_library_initv</c>, is an unused iostream
/// marker. Marking that version requirement weak (<c>VER_FLG_WEAK</c> in its <c>.gnu.version_r</c> entry) lets the loader
/// accept it. Done on the copy in this program's own output folder (rewritten beside it and renamed over it, so a file
/// shared with the NuGet cache is never written), before TorchSharp loads it.
/// </summary>
public static class TorchNative
{
    private static readonly Lazy<bool> Patched = new(() =>
        ElfVersions.MarkWeak(Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so"), "GLIBCXX_3.4.32"));

    public static void EnsureLoadable() => _ = Patched.Value;
}
