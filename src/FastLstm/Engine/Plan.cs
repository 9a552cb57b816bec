using System.Numerics;
using FastLstm.Cells;
using FastLstm.Kernels;

namespace FastLstm.Engine;

/// <summary>
/// The sizes a session is built for and the kernels it runs, computed once. Hidden-sized rows are <see cref="Hp"/> wide:
/// the hidden size rounded up to 64 bytes whatever the vector width (padding lanes stay zero), so every width's kernels
/// see the same layout and have no scalar tails. Gate blocks of a row are Hp apart.
/// <para>The index maps say where each internal (padded) row or column comes from in the PyTorch tensors: entry n of a
/// map is the PyTorch index, or −1 for a padding lane.</para>
/// </summary>
internal sealed class Plan<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    public Plan(RnnModel<T> model, int maxBatch, int maxSteps, bool training, int threads, int bits, WeightFormat weights = WeightFormat.Full)
    {
        var spec = model.Spec;
        Weights = weights;
        Spec = spec;
        Parameters = model.Layout;
        Descriptor = Parameters.Cell;
        var forward = Descriptor.Fused<T>(bits);
        DirectionKernels = [forward, spec.HasReverseOptions ? Cell.For(spec, 1).Fused<T>(bits) : forward];
        Gemm = Gemm<T>.For(bits);
        Training = training;
        Threads = threads;
        Layers = spec.Layers;
        Dirs = spec.Directions;
        H = spec.HiddenSize;
        Hp = RoundUp(H, 64 / System.Runtime.CompilerServices.Unsafe.SizeOf<T>());
        Gw = Descriptor.Gates * Hp;
        G1w = Descriptor.RecurrentGates * Hp;
        LdG = training ? Stride(Gw) : Gw;
        LdG1 = training ? Stride(G1w) : G1w;
        AuxW = Descriptor.AuxBlocks * Hp;
        MaxBatch = maxBatch;
        MaxSteps = maxSteps;
        GateMap = Map(Descriptor.Gates, 0);
        RecurrentMap = Map(Descriptor.RecurrentGates, 0);
        HiddenMap = Map(1, 0);
        Phase2Map = Descriptor.Phase2 is { } p2 ? Map(1, p2.Block) : [];
        InputMap = new int[Layers][];
        for (int l = 0; l < Layers; l++)
        {
            InputMap[l] = l == 0 ? Enumerable.Range(0, spec.InputSize).ToArray() : Concat(Dirs, HiddenMap, H);
        }

        InputRuns = InputMap.Select(m => new MapRuns(m)).ToArray();
        HiddenRuns = new MapRuns(HiddenMap);
        InputGradientDirect = InputMap.Select(m => IsIdentity(GateMap) && IsIdentity(m)).ToArray();
        HiddenGradientDirect = IsIdentity(RecurrentMap) && IsIdentity(HiddenMap);
    }

    public RnnSpec Spec { get; }

    /// <summary>How the forward products' packed weights are stored (the backward ones are always full precision).</summary>
    public WeightFormat Weights { get; }

    /// <summary>Names, shapes and offsets of the model's tensors.</summary>
    public ParameterLayout Parameters { get; }

    /// <summary>The cell's structural facts (direction 0's; both directions share them).</summary>
    public Cell Descriptor { get; }

    /// <summary>The fused kernels of each direction (the same object twice unless the reverse direction has its own options).</summary>
    private FusedCell<T>[] DirectionKernels { get; }

    /// <summary>The fused kernels direction <paramref name="d"/> runs.</summary>
    public FusedCell<T> Kernels(int d) => DirectionKernels[d];

    public Gemm<T> Gemm { get; }

    public bool TwoPhase => Descriptor.Phase2 is not null;

    public bool Training { get; }

    public int Threads { get; }

    public int Layers { get; }

    public int Dirs { get; }

    public int H { get; }

    /// <summary>H rounded up to 64 bytes of T.</summary>
    public int Hp { get; }

    /// <summary>Width of all gate blocks (G·Hp).</summary>
    public int Gw { get; }

    /// <summary>Width of the gate blocks the per-step recurrent GEMM computes (G1·Hp).</summary>
    public int G1w { get; }

    /// <summary>
    /// Row stride of the gate matrices Gx and DGx [T·B, Gw]: when training, Gw plus one cache line if Gw is an even
    /// number of lines. The weight-gradient GEMMs read DGx transposed, a few columns from every row; at a power-of-two
    /// stride (4 KiB at H = 256) those rows fall into a few cache sets and the A block misses L2
    /// (bench/results/code-figures.md). Inference never reads them transposed and keeps Gw.
    /// </summary>
    public int LdG { get; }

    /// <summary>The same for Gh and DGh [rows, G1w].</summary>
    public int LdG1 { get; }

    public int AuxW { get; }

    public int MaxBatch { get; }

    public int MaxSteps { get; }

    /// <summary>Width of a layer's output row inside the engine: Hp per direction.</summary>
    public int YWidth => Dirs * Hp;

    public int[] GateMap { get; }

    public int[] RecurrentMap { get; }

    public int[] HiddenMap { get; }

    public int[] Phase2Map { get; }

    /// <summary>Per layer: the internal input column → the PyTorch column of weight_ih.</summary>
    public int[][] InputMap { get; }

    /// <summary><see cref="InputMap"/> as runs of consecutive columns.</summary>
    public MapRuns[] InputRuns { get; }

    /// <summary><see cref="HiddenMap"/> as runs of consecutive columns.</summary>
    public MapRuns HiddenRuns { get; }

    /// <summary>
    /// Per layer: whether weight_ih's gradient is laid out as the engine's (no padding; the maps cover every PyTorch
    /// index, so identity maps mean the same matrix), so that its GEMM can add straight into the PyTorch tensor.
    /// </summary>
    public bool[] InputGradientDirect { get; }

    /// <summary>The same for weight_hh.</summary>
    public bool HiddenGradientDirect { get; }

    /// <summary>Internal input width of layer l (GEMM K of its input projection).</summary>
    public int InputWidth(int l) => InputMap[l].Length;

    public static int RoundUp(int n, int m) => (n + m - 1) / m * m;

    private static int Stride(int width)
    {
        int line = 64 / System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
        return width / line % 2 == 0 ? width + line : width;
    }

    private static bool IsIdentity(int[] map)
    {
        for (int i = 0; i < map.Length; i++)
        {
            if (map[i] != i)
            {
                return false;
            }
        }

        return true;
    }

    private int[] Map(int gates, int firstBlock)
    {
        var map = new int[gates * Hp];
        for (int n = 0; n < map.Length; n++)
        {
            int j = n % Hp;
            map[n] = j < H ? ((firstBlock + (n / Hp)) * H) + j : -1;
        }

        return map;
    }

    private static int[] Concat(int parts, int[] map, int width)
    {
        var all = new int[parts * map.Length];
        for (int q = 0; q < parts; q++)
        {
            for (int n = 0; n < map.Length; n++)
            {
                all[(q * map.Length) + n] = map[n] < 0 ? -1 : (q * width) + map[n];
            }
        }

        return all;
    }
}
