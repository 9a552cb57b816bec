namespace FastLstm.Tests.Cli;

/// <summary>Runs the fastlstm tool in-process and captures its exit code and both streams.</summary>
internal static class CliRunner
{
    public static (int Exit, string Out, string Err) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int exit = FastLstm.Cli.Program.Run(args, output, error);
        return (exit, output.ToString(), error.ToString());
    }

    /// <summary>An error is exactly one line on stderr, starting with the tool's name, and never a stack trace.</summary>
    public static void AssertOneLineError((int Exit, string Out, string Err) r, int exit, string mentions)
    {
        Assert.Equal(exit, r.Exit);
        var lines = r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("fastlstm: ", lines[0], StringComparison.Ordinal);
        Assert.Contains(mentions, lines[0], StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", r.Err, StringComparison.Ordinal);
    }
}
