using System.Numerics;
using FsCheck;
using FsCheck.Fluent;

namespace FastLstm.Props;

/// <summary>
/// One drawn case: sizes, a seed every random tensor is drawn from, and (ragged) lengths. Printed in full on
/// failure, so a counterexample is reproduced by building the same Shape.
/// </summary>
public sealed record Shape(int Batch, int Steps, int Input, int Hidden, int Seed, int[] Lengths)
{
    /// <summary>batch 1–4, steps 1–6, input 1–9, hidden 1–17: odd sizes cross every SIMD and tile edge.</summary>
    public static Arbitrary<Shape> Arbitrary(bool ragged) =>
        (from batch in Gen.Choose(1, 4)
         from steps in Gen.Choose(1, 6)
         from input in Gen.Choose(1, 9)
         from hidden in Gen.Choose(1, 17)
         from seed in Gen.Choose(0, int.MaxValue)
         from lengths in ragged ? Gen.ArrayOf(Gen.Choose(1, steps), batch) : Gen.Constant(Array.Empty<int>())
         select new Shape(batch, steps, input, hidden, seed, lengths)).ToArbitrary();

    public RnnSpec Spec(CellType cell, bool bidirectional, int layers) => new(cell, Input, Hidden, layers, bidirectional);

    public override string ToString() =>
        $"Shape(batch {Batch}, steps {Steps}, input {Input}, hidden {Hidden}, seed {Seed}, lengths [{string.Join(", ", Lengths)}])";

    /// <summary>Input, initial states and an output-gradient probe, all drawn from <see cref="Seed"/>.</summary>
    public Tensors<T> Draw<T>(RnnSpec spec)
        where T : IBinaryFloatingPointIeee754<T>
    {
        var rng = new Random(Seed);
        int state = spec.Layers * spec.Directions * Batch * spec.HiddenSize;
        return new Tensors<T>(
            Uniform<T>(rng, Batch * Steps * spec.InputSize, 1.5),
            Uniform<T>(rng, state, 0.8),
            spec.HasCellState ? Uniform<T>(rng, state, 0.8) : [],
            Uniform<T>(rng, Batch * Steps * spec.OutputSize, 1),
            Uniform<T>(rng, state, 1),
            spec.HasCellState ? Uniform<T>(rng, state, 1) : []);
    }

    private static T[] Uniform<T>(Random rng, int n, double scale)
        where T : IBinaryFloatingPointIeee754<T>
    {
        var v = new T[n];
        for (int i = 0; i < n; i++)
        {
            v[i] = T.CreateTruncating(((rng.NextDouble() * 2) - 1) * scale);
        }

        return v;
    }
}

public sealed record Tensors<T>(T[] Input, T[] H0, T[] C0, T[] DOutput, T[] DhN, T[] DcN);
