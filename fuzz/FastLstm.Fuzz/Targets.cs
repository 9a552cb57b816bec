using FastLstm.Cli;
using FastLstm.Training;

namespace FastLstm.Fuzz;

/// <summary>
/// The untrusted-input readers, each fed arbitrary bytes. The exceptions their contracts document are the expected way
/// to reject an input and are swallowed here; anything else (a crash, an overflow, an index error) escapes, which is
/// what the fuzzer and the replay test look for.
/// </summary>
public static class Targets
{
    public static readonly IReadOnlyDictionary<string, Action<byte[]>> All = new Dictionary<string, Action<byte[]>>
    {
        ["model"] = Model,
        ["csv"] = Csv,
        ["text"] = Text,
    };

    /// <summary><see cref="ModelFile"/>'s reader, in both precisions.</summary>
    public static void Model(byte[] bytes)
    {
        try
        {
            ModelFile.Deserialize<float>(bytes);
            ModelFile.Deserialize<double>(bytes);
        }
        catch (InvalidDataException)
        {
        }
    }

    /// <summary>The CLI's CSV reader, on the column "v" and on the first column name the file has.</summary>
    public static void Csv(byte[] bytes)
    {
        foreach (string column in new[] { "v", "passengers" })
        {
            try
            {
                FastLstm.Cli.Csv.ReadColumn(new MemoryStream(bytes, writable: false), column, "fuzz.csv");
            }
            catch (CliException)
            {
            }
        }
    }

    /// <summary>The CLI's corpus reader.</summary>
    public static void Text(byte[] bytes)
    {
        try
        {
            Corpus.Decode(bytes, "fuzz.txt");
        }
        catch (CliException)
        {
        }
    }
}
