using System.Diagnostics;
using FastLstm.Training;
using FastLstm.Training.Forecasting;
using FastLstm.Verification;

namespace FastLstm.Tests.Training;

/// <summary>What an adversarial user found (issue 12): saves that replace what they must not, and unclear exceptions.</summary>
public class HardeningTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fastlstm-hard-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static SavedModel<float> Small() => ModelFileTests.Sample<float>(new RnnSpec(CellType.Lstm, 2, 3));

    [Fact]
    public void SaveRefusesAFifoAndLeavesItAFifo()
    {
        string fifo = Path.Combine(_dir, "fifo");
        Run("mkfifo", fifo);
        var e = Assert.Throws<IOException>(() => ModelFile.Save(fifo, Small()));
        Assert.Contains("a FIFO, not a regular file", e.Message, StringComparison.Ordinal);
        Assert.Equal("fifo", Run("stat", "-c", "%F", fifo).Trim());
        Assert.Equal(["fifo"], Directory.GetFileSystemEntries(_dir).Select(Path.GetFileName));
    }

    [Fact]
    public void SaveRefusesACharacterDevice() =>
        Assert.Contains("a character device", Assert.Throws<IOException>(() => SafeFile.CheckTarget("/dev/null")).Message, StringComparison.Ordinal);

    [Fact]
    public void SaveRefusesAFolderAndAMissingFolder()
    {
        Assert.Contains("a folder", Assert.Throws<IOException>(() => ModelFile.Save(_dir, Small())).Message, StringComparison.Ordinal);
        Assert.Contains("does not exist", Assert.Throws<IOException>(() => ModelFile.Save(Path.Combine(_dir, "no", "m"), Small())).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SaveThroughASymlinkReplacesItsTargetAndKeepsTheLink()
    {
        string target = Path.Combine(_dir, "real.model"), link = Path.Combine(_dir, "link.model");
        File.WriteAllText(target, "old");
        File.CreateSymbolicLink(link, target);
        ModelFile.Save(link, Small());
        Assert.NotNull(new FileInfo(link).LinkTarget);
        Assert.Equal(ModelFile.Serialize(Small()), File.ReadAllBytes(target));
    }

    [Fact]
    public void SaveRefusesWhatLoadWouldReject()
    {
        var network = RnnModel<float>.CreateRandom(new RnnSpec(CellType.Gru, 2, 3), 1);
        var many = Enumerable.Range(0, ModelFile.MaxMetadataEntries + 1).ToDictionary(i => $"m{i}", _ => new double[1]);
        Assert.Contains("metadata entries", Assert.Throws<ArgumentException>(() => ModelFile.Save(Path.Combine(_dir, "a"), new SavedModel<float>(network, null, many))).Message, StringComparison.Ordinal);
        var wrongHead = new DenseHead<float>(4, 2, Activation.Linear);
        Assert.Contains("head", Assert.Throws<ArgumentException>(() => ModelFile.Save(Path.Combine(_dir, "b"), new SavedModel<float>(network, wrongHead, new Dictionary<string, double[]>()))).Message, StringComparison.Ordinal);
        var nullArray = new Dictionary<string, double[]> { ["x"] = null! };
        Assert.Contains("null", Assert.Throws<ArgumentException>(() => ModelFile.Save(Path.Combine(_dir, "c"), new SavedModel<float>(network, null, nullArray))).Message, StringComparison.Ordinal);
        var huge = new Dictionary<string, double[]> { ["x"] = new double[ModelFile.MaxMetadataValues + 1] };
        Assert.Contains("at most", Assert.Throws<ArgumentException>(() => ModelFile.Save(Path.Combine(_dir, "d"), new SavedModel<float>(network, null, huge))).Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(_dir));
    }

    [Fact]
    public void LoadReadsTheHeaderBeforeTheRest()
    {
        // A sparse 2 GiB file of zeros: refused from its size, without reading it.
        string big = Path.Combine(_dir, "big");
        using (var f = File.Create(big))
        {
            f.SetLength(1L << 31);
        }

        Assert.Contains("more than a model file may hold", Assert.Throws<InvalidDataException>(() => ModelFile.Load<float>(big)).Message, StringComparison.Ordinal);

        // 200 MB of garbage under the limit: bad magic from the first bytes.
        using (var f = File.Create(big))
        {
            f.SetLength(200L << 20);
        }

        // This thread only: other tests allocate in parallel.
        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Contains("bad magic", Assert.Throws<InvalidDataException>(() => ModelFile.Load<float>(big)).Message, StringComparison.Ordinal);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20, "garbage was read before its header was checked");
    }

    [Fact]
    public void ClippingAGradientOfHugeFiniteValuesKeepsItsDirection()
    {
        float[] g = [1e20f, -1e20f, 3e19f];
        float norm = GradientClipping.ByGlobalNorm(1f, g);
        Assert.True(float.IsFinite(norm) && norm > 1e20f, $"norm {norm}");
        Assert.Equal(1.0, Math.Sqrt(g.Sum(x => (double)x * x)), 1e-5);
        Assert.True(g[0] > 0 && g[1] < 0 && g[2] > 0);
    }

    [Fact]
    public void OptimizerArgumentsAreCheckedAndNamed()
    {
        Assert.Equal("count", Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd<float>(-1, 0.1f, 0.9f)).ParamName);
        Assert.Equal("momentum", Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd<float>(3, 0.1f, 1f)).ParamName);
        Assert.Equal("beta1", Assert.Throws<ArgumentOutOfRangeException>(() => new Adam<float>(3, 0.1f, beta1: 1)).ParamName);
        Assert.Equal("beta2", Assert.Throws<ArgumentOutOfRangeException>(() => new Adam<float>(3, 0.1f, beta2: double.NaN)).ParamName);
        Assert.Equal("learningRate", Assert.Throws<ArgumentOutOfRangeException>(() => new Adam<float>(3, float.NaN)).ParamName);
        var adam = new Adam<float>(3, 0.1f);
        Assert.Equal("LearningRate", Assert.Throws<ArgumentOutOfRangeException>(() => adam.LearningRate = float.NaN).ParamName);
        Assert.Equal("LearningRate", Assert.Throws<ArgumentOutOfRangeException>(() => adam.LearningRate = float.PositiveInfinity).ParamName);
    }

    [Fact]
    public void OtherBoundariesNameTheirArgument()
    {
        Assert.Equal("outputs", Assert.Throws<ArgumentOutOfRangeException>(() => new DenseHead<float>(65536, 65536, Activation.Linear)).ParamName);
        Assert.Equal("batch", Assert.Throws<ArgumentOutOfRangeException>(() => GradientCheck.Run(new RnnSpec(CellType.Lstm, 2, 3), 1_000_000, 1_000_000, 1)).ParamName);
        Assert.Equal("steps", Assert.Throws<ArgumentOutOfRangeException>(() => GradientCheck.Run(new RnnSpec(CellType.Lstm, 2, 3), 1, 1_000_000, 1)).ParamName);
        Assert.Equal("history", Assert.Throws<ArgumentException>(() => new SeriesTransform(false, 1, 0).Invert(1, [])).ParamName);
        var ar = LinearAutoregression.FromWeights([0.5, 0.2, 0.3]);
        Assert.Equal("window", Assert.Throws<ArgumentException>(() => ar.Predict([1.0])).ParamName);
    }

    private static string Run(string file, params string[] args)
    {
        using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardOutput = true })!;
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
        return output;
    }
}
