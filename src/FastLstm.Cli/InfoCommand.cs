using System.CommandLine;
using System.Runtime.InteropServices;

namespace FastLstm.Cli;

/// <summary>
/// <c>fastlstm info</c>: what this machine gives the engine — the CPU, the vector width the kernels run at (and the widest
/// the CPU has), the GEMM micro-kernel, the runtime. One <c>key: value</c> line each, for bug reports and scripts.
/// </summary>
internal static class InfoCommand
{
    public static Command Create(TextWriter output)
    {
        var command = new Command("info", "Print the CPU, the vector width the kernels run at, and the runtime.");
        command.SetAction(_ =>
        {
            int bits = Isa.Bits;
            using var session = new InferenceSession<float>(RnnModel<float>.CreateRandom(new RnnSpec(CellType.Lstm, 1, 1), 1), 1, 1);
            // The same string as --version (the package version and the commit it was built from).
            output.WriteLine($"fastlstm: {Program.Version}");
            output.WriteLine($"cpu: {CpuName()}, {Environment.ProcessorCount} logical cores");
            output.WriteLine($"vectors: {Isa.Describe(bits)}{(Environment.GetEnvironmentVariable(Isa.Variable) is { Length: > 0 } v ? $", forced by {Isa.Variable}={v}" : "")}");
            output.WriteLine($"widest: {Isa.Widest}");
            output.WriteLine($"kernel: {session.Kernel}");
            output.WriteLine($"int8: {Isa.DescribeInt8(bits)}");
            output.WriteLine($"runtime: {RuntimeInformation.FrameworkDescription}, {RuntimeInformation.OSDescription}, {RuntimeInformation.ProcessArchitecture}");
            return ExitCodes.Success;
        });
        return command;
    }

    private static string CpuName()
    {
        const string cpuinfo = "/proc/cpuinfo";
        if (File.Exists(cpuinfo))
        {
            foreach (var line in File.ReadLines(cpuinfo))
            {
                if (line.StartsWith("model name", StringComparison.Ordinal) && line.IndexOf(':') is int colon and > 0)
                {
                    return line[(colon + 1)..].Trim();
                }
            }
        }

        return RuntimeInformation.ProcessArchitecture.ToString();
    }
}
