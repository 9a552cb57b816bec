using System.CommandLine;
using System.Globalization;

namespace FastLstm.Cli;

/// <summary>Option factories with range checks that fail parsing with one clear message.</summary>
internal static class Options
{
    private static readonly Dictionary<string, CellType> Cells = new(StringComparer.OrdinalIgnoreCase)
    {
        ["lstm"] = CellType.Lstm,
        ["gru"] = CellType.Gru,
        ["gru-reset-before"] = CellType.GruResetBefore,
        ["rnn-tanh"] = CellType.RnnTanh,
        ["rnn-relu"] = CellType.RnnRelu,
        ["seed-lstm"] = CellType.SeedLstm,
    };

    /// <summary>The documented range of every numeric option, as the user types its ends (what the CLI contract test walks).</summary>
    internal static readonly System.Runtime.CompilerServices.ConditionalWeakTable<Option, Range> Ranges = [];

    /// <summary>
    /// Defaults of the options whose value .NET's help would print in another spelling than users type (an enum's name,
    /// a list joined by '|'): these have no default value factory; their description says the default as typed, and
    /// <see cref="Value{T}"/> supplies it.
    /// </summary>
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<Option, object> Defaults = [];

    /// <summary>An option's smallest and largest accepted values; <see cref="IsInteger"/> for whole numbers.</summary>
    internal sealed record Range(double Min, double Max, bool IsInteger);

    public static string CellName(CellType cell) => Cells.First(p => p.Value == cell).Key;

    public static Option<int> Int(string name, int defaultValue, int min, int max, string description) =>
        Number(name, defaultValue, min, max, description, (string text, out int v) => int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out v), "an integer");

    public static Option<double> Double(string name, double defaultValue, double min, double max, string description) =>
        Number(name, defaultValue, min, max, description, (string text, out double v) => double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out v), "a number");

    private delegate bool TryParse<T>(string text, out T value);

    private static Option<T> Number<T>(string name, T defaultValue, T min, T max, string description, TryParse<T> parse, string what)
        where T : struct, IComparable<T>, IConvertible
    {
        var option = new Option<T>(name)
        {
            Description = $"{description} Range {min}..{max}.",
            HelpName = what == "an integer" ? "int" : "number",
            DefaultValueFactory = _ => defaultValue,
            CustomParser = r =>
            {
                string text = r.Tokens.Count > 0 ? r.Tokens[0].Value : "";
                if (!parse(text, out T v))
                {
                    // A number too large for the type is a range error, not a malformed one.
                    bool number = double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out _);
                    r.AddError(number ? $"{name}: expected {min}..{max}, got {text}." : $"{name}: expected {what}, got '{text}'.");
                }
                else if (v.CompareTo(min) < 0 || v.CompareTo(max) > 0)
                {
                    r.AddError($"{name}: expected {min}..{max}, got {text}.");
                }

                return v;
            },
        };
        Ranges.Add(option, new Range(min.ToDouble(CultureInfo.InvariantCulture), max.ToDouble(CultureInfo.InvariantCulture), typeof(T) == typeof(int)));
        return option;
    }

    /// <summary>A comma-separated list of cells.</summary>
    public static Option<CellType[]> CellList(string name, CellType[] defaultValue, string description) =>
        Shown(string.Join(",", defaultValue.Select(CellName)), defaultValue, new Option<CellType[]>(name)
        {
            Description = description,
            HelpName = "cell,cell…",
            CustomParser = r =>
            {
                string text = r.Tokens.Count > 0 ? r.Tokens[0].Value : "";
                var cells = new List<CellType>();
                foreach (var part in text.Split(',', StringSplitOptions.TrimEntries))
                {
                    if (!Cells.TryGetValue(part, out var cell))
                    {
                        r.AddError($"{name}: expected a comma-separated list of {string.Join(", ", Cells.Keys)}, got '{part}'.");
                        return [];
                    }

                    cells.Add(cell);
                }

                return [.. cells.Distinct()];
            },
        });

    /// <summary>A comma-separated list of integers, each in [min, max].</summary>
    public static Option<int[]> IntList(string name, int[] defaultValue, int min, int max, string description) =>
        Shown(string.Join(",", defaultValue), defaultValue, new Option<int[]>(name)
        {
            Description = $"{description} Each in {min}..{max}.",
            HelpName = "n,n…",
            CustomParser = r =>
            {
                string text = r.Tokens.Count > 0 ? r.Tokens[0].Value : "";
                var values = new List<int>();
                foreach (var part in text.Split(',', StringSplitOptions.TrimEntries))
                {
                    if (!int.TryParse(part, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) || v < min || v > max)
                    {
                        r.AddError($"{name}: expected a comma-separated list of integers in {min}..{max}, got '{part}'.");
                        return [];
                    }

                    values.Add(v);
                }

                return [.. values];
            },
        });

    public static Option<CellType> Cell(CellType defaultValue = CellType.Lstm)
    {
        var option = new Option<CellType>("--cell")
        {
            Description = "Recurrent cell.",
            HelpName = string.Join("|", Cells.Keys),
            CustomParser = r => ParseCell(r) ?? default,
        };
        option.CompletionSources.Add(Cells.Keys.ToArray());
        return Shown(CellName(defaultValue), defaultValue, option);
    }

    /// <summary>A cell that may be left out (null), in the same spelling as <see cref="Cell"/>.</summary>
    public static Option<CellType?> OptionalCell(string description)
    {
        var option = new Option<CellType?>("--cell")
        {
            Description = description,
            HelpName = string.Join("|", Cells.Keys),
            CustomParser = ParseCell,
        };
        option.CompletionSources.Add(Cells.Keys.ToArray());
        return option;
    }

    private static CellType? ParseCell(System.CommandLine.Parsing.ArgumentResult r)
    {
        string text = r.Tokens.Count > 0 ? r.Tokens[0].Value : "";
        if (Cells.TryGetValue(text, out var cell))
        {
            return cell;
        }

        r.AddError($"--cell: expected one of {string.Join(", ", Cells.Keys)}, got '{text}'.");
        return null;
    }

    private static readonly Dictionary<string, WeightFormat> Formats = new()
    {
        ["full"] = WeightFormat.Full,
        ["bf16"] = WeightFormat.BFloat16,
        ["int8"] = WeightFormat.Int8,
    };

    /// <summary><c>--weights full|bf16|int8</c>: how an inference session (or, with a description saying so, a file) stores the network's weights.</summary>
    public static Option<WeightFormat> Weights(string description = "How the network's weights are stored while it runs: full precision, bfloat16 or int8 (fewer bytes per step; outputs move by about 0.2 % and 1–1.5 %).")
    {
        var option = new Option<WeightFormat>("--weights")
        {
            Description = description,
            HelpName = string.Join("|", Formats.Keys),
            CustomParser = r =>
            {
                string text = r.Tokens.Count > 0 ? r.Tokens[0].Value : "";
                if (Formats.TryGetValue(text, out var format))
                {
                    return format;
                }

                r.AddError($"--weights: expected one of {string.Join(", ", Formats.Keys)}, got '{text}'.");
                return default;
            },
        };
        option.CompletionSources.Add(Formats.Keys.ToArray());
        return Shown("full", WeightFormat.Full, option);
    }

    /// <summary>How <c>--weights</c> spells a format.</summary>
    public static string FormatName(WeightFormat format) => Formats.First(p => p.Value == format).Key;

    /// <summary>The value given for <paramref name="option"/>, or its default when it was left out.</summary>
    public static T Value<T>(this ParseResult p, Option<T> option) =>
        p.GetResult(option) is null && Defaults.TryGetValue(option, out var value) ? (T)value : p.GetValue(option)!;

    private static Option<T> Shown<T>(string text, T value, Option<T> option)
        where T : notnull
    {
        option.Description += $" Default: {text}.";
        Defaults.Add(option, value);
        return option;
    }
}
