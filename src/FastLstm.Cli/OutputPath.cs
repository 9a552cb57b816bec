using FastLstm.Training;

namespace FastLstm.Cli;

/// <summary>Checks an output path before the work that produces it, so a typo costs nothing.</summary>
internal static class OutputPath
{
    /// <summary>Throws unless <paramref name="path"/>'s folder exists and the path is free or a regular file (<see cref="SafeFile.CheckTarget"/>).</summary>
    public static void CheckWritable(string path)
    {
        try
        {
            SafeFile.CheckTarget(path);
        }
        catch (IOException e)
        {
            throw new CliException(e.Message);
        }
    }
}
