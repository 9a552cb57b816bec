namespace FastLstm.Bench;

/// <summary>Batch × steps × hidden (input = hidden), printed as e.g. B16 T50 H512.</summary>
public sealed record Size(int Batch, int Steps, int Hidden)
{
    public override string ToString() => $"B{Batch} T{Steps} H{Hidden}";
}

/// <summary>The cells benchmarked: one of each family (the GRU and RNN variants cost the same as their siblings).</summary>
public enum Cell
{
    Lstm,
    Gru,
    RnnTanh,
    SeedLstm,
}

public static class CellExtensions
{
    public static CellType ToCellType(this Cell cell) => cell switch
    {
        Cell.Lstm => CellType.Lstm,
        Cell.Gru => CellType.Gru,
        Cell.RnnTanh => CellType.RnnTanh,
        _ => CellType.SeedLstm,
    };
}
