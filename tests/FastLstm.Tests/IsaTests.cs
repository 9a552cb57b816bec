using FastLstm.Kernels;

namespace FastLstm.Tests;

/// <summary>
/// The width selector. CI runs the whole suite once per width (FASTLSTM_ISA=512 and 256, then DOTNET_EnableAVX2=0 for
/// 128); the first test makes each run prove it used the width it was started for, so a switch that silently did nothing
/// fails instead of testing the same width three times.
/// </summary>
public class IsaTests
{
    [Fact]
    public void RunUsesTheWidthItWasStartedFor()
    {
        string? requested = Environment.GetEnvironmentVariable(Isa.Variable);
        bool noAvx2 = Environment.GetEnvironmentVariable("DOTNET_EnableAVX2") == "0";
        int expected = noAvx2 ? 128 : string.IsNullOrEmpty(requested) ? Isa.Widest : int.Parse(requested);
        Assert.Equal(expected, Isa.Bits);
        if (noAvx2)
        {
            Assert.False(V256<float>.IsAccelerated);
            Assert.False(V512<float>.IsAccelerated);
        }

        using var session = new InferenceSession<float>(RnnModel<float>.CreateRandom(new RnnSpec(CellType.Lstm, 3, 5), 1), 1, 1);
        Assert.Contains($"_v{expected}_", session.Kernel);
    }

    [Theory]
    [InlineData(null, 512, 512)]
    [InlineData("", 256, 256)]
    [InlineData("256", 512, 256)]
    [InlineData(" 128 ", 512, 128)]
    [InlineData("512", 512, 512)]
    public void ChoosesTheRequestedOrWidestWidth(string? requested, int widest, int expected) =>
        Assert.Equal(expected, Isa.Choose(requested, widest));

    [Theory]
    [InlineData("512", 256, "at most 256 bits")]
    [InlineData("1024", 512, "expected 512, 256 or 128")]
    [InlineData("avx2", 512, "expected 512, 256 or 128")]
    public void RejectsWidthsItCannotRun(string requested, int widest, string message)
    {
        var e = Assert.Throws<InvalidOperationException>(() => Isa.Choose(requested, widest));
        Assert.Contains(Isa.Variable, e.Message);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void KernelsAreNamedByOperationWidthPrecisionAndTile()
    {
        Assert.Equal("sgemm_v512_6x64", Gemm<float>.For(512).Name);
        Assert.Equal("dgemm_v512_6x32", Gemm<double>.For(512).Name);
        Assert.Equal(System.Runtime.Intrinsics.X86.Avx512F.IsSupported ? "sgemm_v256_6x32" : "sgemm_v256_6x16", Gemm<float>.For(256).Name);
        Assert.Equal("sgemm_v128_6x8", Gemm<float>.For(128).Name);
    }
}
