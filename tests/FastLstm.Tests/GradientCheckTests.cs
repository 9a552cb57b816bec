using FastLstm.Verification;

namespace FastLstm.Tests;

public class GradientCheckTests
{
    [Fact]
    public void LstmGradientsMatchFiniteDifferences()
    {
        var spec = new RnnSpec(CellType.Lstm, 3, 5, 2);
        var report = GradientCheck.Run(spec, 2, 4, seed: 1);
        string[] expected = [.. new RnnModel<double>(spec).ParameterNames, "input", "h0", "c0"];
        Assert.Equal(expected, report.Tensors.Select(t => t.Name));
        Assert.True(report.Passed(1e-6), report.ToString());
        Assert.True(report.Tensors.All(t => t.MaxRelativeError < 1e-6));
    }

    [Fact]
    public void TheCheckCanFail()
    {
        // A coarse step makes the central difference itself wrong by O(ε²): the check must notice.
        var report = GradientCheck.Run(new RnnSpec(CellType.Lstm, 3, 5), 2, 4, seed: 1, epsilon: 0.5);
        Assert.False(report.Passed(1e-6), report.ToString());
        Assert.True(report.MaxRelativeError > 1e-4);
    }

    [Fact]
    public void ReportNamesTheWorstElement()
    {
        var report = GradientCheck.Run(new RnnSpec(CellType.RnnTanh, 2, 3), 1, 2, seed: 4);
        string text = report.ToString();
        foreach (var t in report.Tensors)
        {
            Assert.Contains(t.Name, text, StringComparison.Ordinal);
            Assert.InRange(t.WorstIndex, 0, int.MaxValue);
        }

        Assert.DoesNotContain(report.Tensors, t => t.Name == "c0");
    }
}
