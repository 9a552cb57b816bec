using System.Runtime.Intrinsics;
using FastLstm.Kernels;

namespace FastLstm;

/// <summary>
/// The vector width every session of this process runs its kernels at, picked once: the widest the CPU accelerates
/// (512, then 256, then 128 bits), or a narrower one named by the <c>FASTLSTM_ISA</c> environment variable
/// (<c>512</c>, <c>256</c> or <c>128</c>), which tests and benchmarks use to run every width on one machine.
/// </summary>
public static class Isa
{
    /// <summary>The environment variable that forces a narrower width.</summary>
    public const string Variable = "FASTLSTM_ISA";

    private static readonly Lazy<int> Chosen = new(() => Choose(Environment.GetEnvironmentVariable(Variable), Widest));

    /// <summary>The width in bits every new session uses: 128, 256 or 512.</summary>
    /// <exception cref="InvalidOperationException"><c>FASTLSTM_ISA</c> names a width this CPU does not accelerate, or is not a width.</exception>
    public static int Bits => Chosen.Value;

    /// <summary>The widest width this CPU runs in hardware vectors (with FMA for 256 and 512).</summary>
    public static int Widest =>
        V512<float>.IsAccelerated ? 512 : V256<float>.IsAccelerated ? 256 : 128;

    /// <summary>What the selected width is called in reports: its bits and the instruction set behind them.</summary>
    public static string Describe(int bits) => bits switch
    {
        512 => "512-bit (AVX-512)",
        256 => "256-bit (AVX2 + FMA)",
        _ => Vector128.IsHardwareAccelerated ? "128-bit (SSE / AdvSimd)" : "128-bit (software)",
    };

    /// <summary>
    /// The instructions int8 weights (<see cref="WeightFormat.Int8"/>) multiply with at a width: four byte products per
    /// int32 lane in one instruction where the 256-bit kernels have AVX-VNNI, in two elsewhere.
    /// </summary>
    public static string DescribeInt8(int bits) => bits switch
    {
        512 => "vpmaddubsw + vpmaddwd (AVX-512 BW)",
        256 => System.Runtime.Intrinsics.X86.AvxVnni.IsSupported ? "vpdpbusd (AVX-VNNI)" : "vpmaddubsw + vpmaddwd (AVX2)",
        _ => System.Runtime.Intrinsics.X86.Ssse3.IsSupported ? "pmaddubsw + pmaddwd (SSSE3)" : "byte products in 32-bit lanes (software)",
    };

    /// <summary>The width for a requested value (null or empty: the widest) on a CPU whose widest is <paramref name="widest"/>.</summary>
    internal static int Choose(string? requested, int widest)
    {
        if (string.IsNullOrWhiteSpace(requested))
        {
            return widest;
        }

        if (!int.TryParse(requested.Trim(), out int bits) || bits is not (128 or 256 or 512))
        {
            throw new InvalidOperationException($"{Variable}: expected 512, 256 or 128, got '{requested}'.");
        }

        if (bits > widest)
        {
            throw new InvalidOperationException($"{Variable}={bits}: this CPU accelerates vectors of at most {widest} bits.");
        }

        return bits;
    }
}
