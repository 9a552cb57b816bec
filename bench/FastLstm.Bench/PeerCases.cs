using System.Text.Json;

namespace FastLstm.Bench;

/// <summary>
/// Writes every peer case for the libtorch runner (bench/torch_peer.py): the weights in PyTorch order and layout, the
/// input and initial states, and FastLstm's own output (and, for training cases, its gradients) so that libtorch's
/// results are checked against them before it is timed.
/// </summary>
public static class PeerCases
{
    public static IEnumerable<(CellType Cell, Size Size, bool Training)> All()
    {
        foreach (var cell in new[] { CellType.Lstm, CellType.Gru, CellType.RnnTanh })
        {
            foreach (var size in PeerBenchmarks.Cases())
            {
                yield return (cell, size, false);
            }

            foreach (var size in TrainingPeerBenchmarks.Cases())
            {
                yield return (cell, size, true);
            }
        }
    }

    public static void Export(string dir)
    {
        Directory.CreateDirectory(dir);
        var manifest = new List<object>();
        int n = 0;
        foreach (var (cell, size, training) in All())
        {
            var w = new Workload(cell, size.Batch, size.Steps, size.Hidden, size.Hidden);
            string name = $"case{n++}";
            Write(dir, name + ".params", w.Model.Parameters);
            Write(dir, name + ".input", w.Input);
            Write(dir, name + ".h0", w.H);
            Write(dir, name + ".c0", w.C);
            if (training)
            {
                using var session = new TrainingSession<float>(w.Model, size.Batch, size.Steps);
                var dInput = new float[w.Input.Length];
                session.Forward(w.Input, size.Batch, size.Steps, w.Output, w.H, w.C);
                session.Backward(w.DOutput, dInput);
                Write(dir, name + ".doutput", w.DOutput);
                Write(dir, name + ".grad_weight_hh", session.Gradient("weight_hh_l0"));
                Write(dir, name + ".dinput", dInput);
            }
            else
            {
                using var session = new InferenceSession<float>(w.Model, size.Batch, size.Steps);
                session.Forward(w.Input, size.Batch, size.Steps, w.Output, w.H, w.C);
            }

            Write(dir, name + ".output", w.Output);
            manifest.Add(new { name, cell = cell.ToString(), batch = size.Batch, steps = size.Steps, hidden = size.Hidden, training });
        }

        File.WriteAllText(Path.Combine(dir, "cases.json"), JsonSerializer.Serialize(manifest));
    }

    private static void Write(string dir, string file, ReadOnlySpan<float> values) =>
        File.WriteAllBytes(Path.Combine(dir, file), System.Runtime.InteropServices.MemoryMarshal.AsBytes(values).ToArray());
}
