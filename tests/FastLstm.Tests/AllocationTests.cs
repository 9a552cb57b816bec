namespace FastLstm.Tests;

/// <summary>After warm-up, Forward, Step and Backward allocate nothing, for float and double and every cell.</summary>
public class AllocationTests
{
    public static TheoryData<CellType, bool> Cells()
    {
        var data = new TheoryData<CellType, bool>();
        foreach (var cell in Enum.GetValues<CellType>())
        {
            data.Add(cell, false);
            data.Add(cell, true);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cells))]
    public void FloatSessionsAllocateNothing(CellType cell, bool bidirectional) => Check<float>(cell, bidirectional);

    [Theory]
    [MemberData(nameof(Cells))]
    public void DoubleSessionsAllocateNothing(CellType cell, bool bidirectional) => Check<double>(cell, bidirectional);

    private static void Check<T>(CellType cell, bool bidirectional)
        where T : unmanaged, System.Numerics.IBinaryFloatingPointIeee754<T>
    {
        var spec = new RnnSpec(cell, 7, 13, 2, bidirectional);
        var model = RnnModel<T>.CreateRandom(spec, 1);
        const int batch = 3, steps = 5;
        var rng = new Random(2);
        var x = TestData.Uniform<T>(rng, batch * steps * spec.InputSize);
        var y = new T[batch * steps * spec.OutputSize];
        int state = spec.Layers * spec.Directions * batch * spec.HiddenSize;
        var h = TestData.Uniform<T>(rng, state);
        var c = spec.HasCellState ? TestData.Uniform<T>(rng, state) : [];
        var hN = new T[state];
        var cN = new T[c.Length];
        var dx = new T[x.Length];
        int[] lengths = [5, 2, 4];

        using var inference = new InferenceSession<T>(model, batch, steps);
        using var training = new TrainingSession<T>(model, batch, steps);
        var calls = new List<(string Name, Action Call)>
        {
            ("InferenceSession.Forward", () => inference.Forward(x, batch, steps, y, h, c, hN, cN, lengths)),
            ("TrainingSession.Forward", () => training.Forward(x, batch, steps, y, h, c, hN, cN, lengths)),
            ("TrainingSession.Backward", () => training.Backward(y, dx, hN, cN, hN, cN)),
        };
        if (!bidirectional)
        {
            var hs = h.AsSpan(0, spec.Layers * batch * spec.HiddenSize).ToArray();
            var cs = c.Length == 0 ? [] : c.AsSpan(0, spec.Layers * batch * spec.HiddenSize).ToArray();
            var ys = new T[batch * spec.HiddenSize];
            calls.Add(("InferenceSession.Step", () => inference.Step(x.AsSpan(0, batch * spec.InputSize), batch, ys, hs, cs)));
        }

        foreach (var (_, call) in calls)
        {
            call();
            call();
        }

        foreach (var (name, call) in calls)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            call();
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.True(allocated == 0, $"{name} allocated {allocated} bytes");
        }
    }
}
