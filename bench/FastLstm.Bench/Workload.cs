using FastLstm.Reference;

namespace FastLstm.Bench;

/// <summary>One model with its input, states and output buffers, shared by the fused and naive runs of a benchmark.</summary>
public sealed class Workload
{
    public Workload(CellType cell, int batch, int steps, int input, int hidden)
    {
        Spec = new RnnSpec(cell, input, hidden);
        Batch = batch;
        Steps = steps;
        Model = RnnModel<float>.CreateRandom(Spec, 1);
        var rng = new Random(2);
        Input = Uniform(rng, batch * steps * input);
        Output = new float[batch * steps * hidden];
        DOutput = Uniform(rng, Output.Length);
        H = Uniform(rng, batch * hidden);
        C = Spec.HasCellState ? Uniform(rng, batch * hidden) : [];
        Naive = new NaiveRnn<float>(Model);
    }

    public RnnSpec Spec { get; }

    public int Batch { get; }

    public int Steps { get; }

    public RnnModel<float> Model { get; }

    public NaiveRnn<float> Naive { get; }

    public float[] Input { get; }

    public float[] Output { get; }

    public float[] DOutput { get; }

    public float[] H { get; }

    public float[] C { get; }

    /// <summary>
    /// One timed call of a FastLstm session: a streaming step with the state carried (h, c read and written in place)
    /// when Steps is 1, else the whole sequence.
    /// </summary>
    public void Run(InferenceSession<float> session, float[] h, float[] c, float[] hN, float[] cN)
    {
        if (Steps == 1)
        {
            H.CopyTo(h, 0);
            C.CopyTo(c, 0);
            session.Step(Input, Batch, Output, h, c);
        }
        else
        {
            session.Forward(Input, Batch, Steps, Output, H, C, hN, cN);
        }
    }

    private static float[] Uniform(Random rng, int n)
    {
        var v = new float[n];
        for (int i = 0; i < n; i++)
        {
            v[i] = (float)((rng.NextDouble() * 2) - 1);
        }

        return v;
    }
}
