using FastLstm.Training;

namespace FastLstm.Cli;

/// <summary>Checks an output path before the work that produces it, so a typo costs nothing and no input is lost.</summary>
internal static class OutputPath
{
    /// <summary>
    /// Throws unless <paramref name="path"/>'s folder exists, the path is free or a regular file
    /// (<see cref="SafeFile.CheckTarget"/>), and it is none of the command's <paramref name="inputs"/> under any name.
    /// <paramref name="option"/> is how the user gave the path, for the message.
    /// </summary>
    public static void CheckWritable(string option, string path, params string?[] inputs)
    {
        if (string.IsNullOrEmpty(path))
        {
            throw new CliException($"{option}: expected a file name, got an empty path.");
        }

        try
        {
            SafeFile.CheckTarget(path);
        }
        catch (IOException e)
        {
            throw new CliException(e.Message);
        }

        foreach (var input in inputs)
        {
            if (!string.IsNullOrEmpty(input) && SafeFile.SameFile(path, input))
            {
                throw new CliException($"{path}: is the same file as the input {input}; writing there would destroy it. Choose another output path.");
            }
        }
    }
}
