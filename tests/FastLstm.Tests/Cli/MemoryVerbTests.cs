namespace FastLstm.Tests.Cli;

/// <summary>gradient-flow and long-memory end to end: tables, plots, and their option errors.</summary>
public class MemoryVerbTests
{
    [Fact]
    public void GradientFlowPrintsEveryCellAndWritesThePlot()
    {
        string png = Path.Combine(Path.GetTempPath(), $"gf-{Guid.NewGuid():N}.png");
        try
        {
            var r = CliRunner.Run("gradient-flow", "--steps", "30", "--hidden", "8", "--every", "10", "--plot", png);
            Assert.Equal(0, r.Exit);
            foreach (var cell in new[] { "rnn-tanh", "rnn-relu", "gru", "lstm", "seed-lstm" })
            {
                Assert.Contains(cell, r.Out, StringComparison.Ordinal);
            }

            Assert.Contains("per-step factor", r.Out, StringComparison.Ordinal);
            Assert.True(new FileInfo(png).Length > 1000);
        }
        finally
        {
            File.Delete(png);
        }
    }

    [Fact]
    public void LongMemoryScoresAgainstTheTrivialPredictor()
    {
        string png = Path.Combine(Path.GetTempPath(), $"lm-{Guid.NewGuid():N}.png");
        try
        {
            var r = CliRunner.Run("long-memory", "--task", "recall", "--steps", "5,8", "--cell", "gru,rnn-tanh", "--hidden", "8", "--iterations", "30", "--plot", png);
            Assert.Equal(0, r.Exit);
            Assert.Contains("T = 8", r.Out, StringComparison.Ordinal);
            Assert.Contains("trivial", r.Out, StringComparison.Ordinal);
            Assert.True(new FileInfo(png).Length > 1000);
        }
        finally
        {
            File.Delete(png);
        }
    }

    [Fact]
    public void ExplodeComparesClippingWithout()
    {
        string png = Path.Combine(Path.GetTempPath(), $"ex-{Guid.NewGuid():N}.png");
        try
        {
            var r = CliRunner.Run("long-memory", "--explode", "--steps", "30", "--cell", "rnn-tanh", "--hidden", "16", "--iterations", "40", "--plot", png);
            Assert.Equal(0, r.Exit);
            Assert.Contains("no clipping", r.Out, StringComparison.Ordinal);
            Assert.Contains("clipped at norm 1", r.Out, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(png);
        }
    }

    [Theory]
    [InlineData("long-memory", "--steps", "10,x", "--steps")]
    [InlineData("long-memory", "--steps", "1", "--steps")]
    [InlineData("long-memory", "--cell", "lstm,lstmm", "--cell")]
    [InlineData("long-memory", "--task", "copy", "copy")]
    [InlineData("gradient-flow", "--steps", "0", "--steps")]
    public void BadOptionsAreOneLine(string verb, string option, string value, string mentions) =>
        CliRunner.AssertOneLineError(CliRunner.Run(verb, option, value), 2, mentions);
}
