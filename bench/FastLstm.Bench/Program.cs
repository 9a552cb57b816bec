using BenchmarkDotNet.Running;

namespace FastLstm.Bench;

/// <summary>
/// Runs the benchmarks: <c>dotnet run -c Release --project bench/FastLstm.Bench -- --filter '*'</c>.
/// <c>--verify-peers</c> only checks that ONNX Runtime and FastLstm agree on every peer case;
/// <c>--export-peer-cases DIR</c> writes the cases the libtorch runner (torch_peer.py) reads; <c>--gemm-probe</c> times the GEMM alone.
/// </summary>
public static class Program
{
    public static void Main(string[] args)
    {
        if (args is ["--verify-peers"])
        {
            foreach (var cell in Enum.GetValues<PeerBenchmarks.PeerCell>())
            {
                foreach (var size in PeerBenchmarks.Cases())
                {
                    var b = new PeerBenchmarks { Cell = cell, Size = size, Threads = 2 };
                    b.Setup();
                    b.Cleanup();
                    Console.WriteLine($"{cell} {size}: ONNX Runtime and FastLstm agree");
                }
            }

            return;
        }

        if (args is ["--peer-report", string results, string output, .. var torch])
        {
            PeerReport.Run(results, output, torch);
            return;
        }

        if (args is ["--gemm-probe"])
        {
            GemmProbe.Run();
            return;
        }

        if (args is ["--export-peer-cases", string dir])
        {
            PeerCases.Export(dir);
            return;
        }

        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, BenchConfig.Create());
    }
}
