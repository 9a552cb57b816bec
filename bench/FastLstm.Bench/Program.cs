using BenchmarkDotNet.Running;

namespace FastLstm.Bench;

/// <summary>
/// Runs the benchmarks: <c>dotnet run -c Release --project bench/FastLstm.Bench -- --filter '*'</c>.
/// <c>--verify-peers</c> only checks that ONNX Runtime, libtorch and FastLstm agree on every peer case;
/// <c>--verify-compressed</c> prints how far compressed weights move each engine's outputs;
/// <c>--peer-report RESULTS OUT</c> merges one session's reports; <c>--gemm-probe</c> times the GEMM alone;
/// <c>--streams [SECONDS]</c> serves many closed-loop streams with the batcher and its peers;
/// <c>--quick [FILTER...]</c> times FastLstm and the peers with a stopwatch, interleaved in one process, for tuning.
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
                    Console.WriteLine($"{cell} {size}: ONNX Runtime, libtorch and FastLstm agree");
                }

                foreach (var size in TrainingPeerBenchmarks.Cases())
                {
                    var b = new TrainingPeerBenchmarks { Cell = cell, Size = size, Threads = 2 };
                    b.Setup();
                    b.Cleanup();
                    Console.WriteLine($"{cell} {size} training: libtorch and FastLstm agree");
                }
            }

            return;
        }

        if (args is ["--verify-compressed"])
        {
            CompressedWeightsBenchmarks.Verify();
            return;
        }

        if (args is ["--quick", .. var filters])
        {
            QuickPeers.Run(filters);
            return;
        }

        if (args is ["--peer-report", string results, string output])
        {
            PeerReport.Run(results, output);
            return;
        }

        if (args is ["--streams", .. var rest])
        {
            StreamServing.Run(rest);
            return;
        }

        if (args is ["--gemm-probe"])
        {
            GemmProbe.Run();
            return;
        }

        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, BenchConfig.Create());
    }
}
