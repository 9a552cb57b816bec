namespace FastLstm.Tests;

/// <summary>The checkout the tests run from (the folder holding FastLstm.sln), for samples, fuzz inputs and snapshots.</summary>
internal static class RepositoryRoot
{
    public static readonly string Path = Find();

    private static string Find()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(System.IO.Path.Combine(dir.FullName, "FastLstm.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("FastLstm.sln not found above the test assembly.");
    }
}
