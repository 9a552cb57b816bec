using System.CommandLine;
using System.Globalization;
using FastLstm.Cli;

namespace FastLstm.Tests.Cli;

/// <summary>
/// The CLI contract, for every verb and every numeric option: its documented ends parse; one past either end is a usage
/// error (exit 2) on one stderr line naming the option, with no stack trace.
/// </summary>
public class ContractTests
{
    public static TheoryData<string, string, double, double, bool> NumericOptions()
    {
        var data = new TheoryData<string, string, double, double, bool>();
        foreach (var (path, option) in Walk(Program.Root(TextWriter.Null), []))
        {
            if (Options.Ranges.TryGetValue(option, out var range))
            {
                data.Add(string.Join(' ', path), option.Name, range.Min, range.Max, range.IsInteger);
            }
        }

        return data;
    }

    [Fact]
    public void EveryNumericOptionHasADocumentedRange() =>
        Assert.All(Walk(Program.Root(TextWriter.Null), []).Where(p => p.Option.ValueType == typeof(int) || p.Option.ValueType == typeof(double)),
            p => Assert.True(Options.Ranges.TryGetValue(p.Option, out _), $"{string.Join(' ', p.Path)} {p.Option.Name} has no range"));

    [Theory]
    [MemberData(nameof(NumericOptions))]
    public void EndsParseAndOnePastThemIsAUsageError(string verb, string option, double min, double max, bool integer)
    {
        string[] Args(double value) => [.. verb.Split(' '), .. Required(verb), option, Text(value, integer)];
        var root = Program.Root(TextWriter.Null);
        Assert.Empty(root.Parse(Args(min)).Errors);
        Assert.Empty(root.Parse(Args(max)).Errors);
        foreach (double outside in new[] { min - 1, max + 1 })
        {
            var r = CliRunner.Run(Args(outside));
            CliRunner.AssertOneLineError(r, 2, option);
        }
    }

    /// <summary>Values for the verb's required options, so that only the option under test can be wrong.</summary>
    private static string[] Required(string verb)
    {
        var command = verb.Split(' ').Aggregate(Program.Root(TextWriter.Null), (c, name) => c.Subcommands.Single(s => s.Name == name));
        return [.. command.Options.Where(o => o.Required).SelectMany(o => new[] { o.Name, "x" })];
    }

    private static string Text(double value, bool integer) =>
        integer ? ((long)value).ToString(CultureInfo.InvariantCulture) : value.ToString("R", CultureInfo.InvariantCulture);

    private static IEnumerable<(string[] Path, Option Option)> Walk(Command command, string[] path)
    {
        foreach (var sub in command.Subcommands)
        {
            string[] here = [.. path, sub.Name];
            foreach (var option in sub.Options)
            {
                yield return (here, option);
            }

            foreach (var nested in Walk(sub, here))
            {
                yield return nested;
            }
        }
    }
}
