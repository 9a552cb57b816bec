namespace FastLstm.Tests.Cli;

public class VerificationVerbTests
{
    [Theory]
    [InlineData("lstm")]
    [InlineData("gru")]
    [InlineData("gru-reset-before")]
    [InlineData("rnn-tanh")]
    [InlineData("rnn-relu")]
    [InlineData("seed-lstm")]
    public void GradCheckPassesForEveryCell(string cell)
    {
        var r = CliRunner.Run("gradcheck", "--cell", cell, "--bidirectional", "--layers", "2");
        Assert.Equal(0, r.Exit);
        Assert.Contains("passed", r.Out, StringComparison.Ordinal);
        Assert.Contains("weight_hh_l1_reverse", r.Out, StringComparison.Ordinal);
        Assert.Empty(r.Err);
    }

    [Fact]
    public void GradCheckFailsAboveTolerance()
    {
        var r = CliRunner.Run("gradcheck", "--tolerance", "1e-14");
        Assert.Equal(1, r.Exit);
        Assert.Contains("failed", r.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void BenchPrintsBothEnginesAndTheRatio()
    {
        var r = CliRunner.Run("bench", "--input", "8", "--hidden", "8", "--steps", "3");
        Assert.Equal(0, r.Exit);
        Assert.Contains("naive twin", r.Out, StringComparison.Ordinal);
        Assert.Contains("fused", r.Out, StringComparison.Ordinal);
        Assert.Contains("×", r.Out, StringComparison.Ordinal);
        var int8 = CliRunner.Run("bench", "--input", "8", "--hidden", "8", "--steps", "3", "--weights", "int8");
        Assert.Equal(0, int8.Exit);
        Assert.Contains("fused, int8 weights", int8.Out, StringComparison.Ordinal);
        Assert.Matches(@"int8 outputs differ from full ones by up to [\d.]+E-\d+ \([\d.]+ ?% of the largest\)\.", int8.Out);
    }

    [Theory]
    [InlineData("--cell", "lstmm", "--cell")]
    [InlineData("--hidden", "0", "--hidden")]
    [InlineData("--steps", "x", "x")]
    [InlineData("--tolerance", "2", "--tolerance")]
    [InlineData("--nope", "1", "--nope")]
    public void BadOptionsAreOneLineErrors(string option, string value, string mentions) =>
        CliRunner.AssertOneLineError(CliRunner.Run("gradcheck", option, value), 2, mentions);

    [Fact]
    public void UnknownVerbIsAnError() =>
        CliRunner.AssertOneLineError(CliRunner.Run("frobnicate"), 2, "frobnicate");
}
