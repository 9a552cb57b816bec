using FastLstm.Fuzz;

namespace FastLstm.Tests;

/// <summary>
/// The fuzzers' seed corpus and every crash input they ever found (fuzz/corpus, fuzz/crashes), run once through the same
/// targets: each must be rejected with a documented exception or read, never crash — so a fixed crash stays fixed.
/// </summary>
public class FuzzReplayTests
{
    private static readonly string Fuzz = Path.Combine(RepositoryRoot.Path, "fuzz");

    public static TheoryData<string, string> Inputs()
    {
        var data = new TheoryData<string, string>();
        foreach (string kind in new[] { "corpus", "crashes" })
        {
            foreach (string target in Targets.All.Keys)
            {
                string dir = Path.Combine(Fuzz, kind, target);
                foreach (string file in Directory.Exists(dir) ? Directory.GetFiles(dir).Order(StringComparer.Ordinal).ToArray() : [])
                {
                    data.Add(target, Path.GetRelativePath(Fuzz, file));
                }
            }
        }

        return data;
    }

    [Fact]
    public void EveryTargetHasASeedCorpus() =>
        Assert.All(Targets.All.Keys, t => Assert.NotEmpty(Directory.GetFiles(Path.Combine(Fuzz, "corpus", t))));

    [Theory]
    [MemberData(nameof(Inputs))]
    public void InputIsReadOrRejectedCleanly(string target, string file) =>
        Targets.All[target](File.ReadAllBytes(Path.Combine(Fuzz, file)));
}
