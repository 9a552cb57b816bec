using SharpFuzz;

namespace FastLstm.Fuzz;

/// <summary>
/// <c>FastLstm.Fuzz TARGET</c> under afl-fuzz (fuzz/run.sh instruments the assemblies first), or
/// <c>FastLstm.Fuzz TARGET FILE…</c> to run inputs once, as the replay test does.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length < 1 || !Targets.All.TryGetValue(args[0], out var target))
        {
            Console.Error.WriteLine($"usage: FastLstm.Fuzz {string.Join("|", Targets.All.Keys)} [FILE…]");
            return 2;
        }

        if (args.Length > 1)
        {
            foreach (string file in args.Skip(1))
            {
                target(File.ReadAllBytes(file));
            }

            return 0;
        }

        Fuzzer.OutOfProcess.Run(stream =>
        {
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            target(copy.ToArray());
        });
        return 0;
    }
}
