using System.CommandLine;
using System.Reflection;
using System.Text.RegularExpressions;

namespace FastLstm.Cli;

/// <summary>The <c>fastlstm</c> tool: see <c>cli.md</c> for the verbs.</summary>
public static class Program
{
    public static int Main(string[] args) => Run(args, Console.Out, Console.Error);

    /// <summary>Parses and runs one command line; every error is one line on <paramref name="error"/> and a non-zero exit.</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        if (args is ["--version"])
        {
            // Ours rather than the parser's, which reports whichever program hosts this one (a test runner, say).
            output.WriteLine(Version);
            return ExitCodes.Success;
        }

        var root = Root(output);
        if (args.Length == 0)
        {
            // No verb: the help (every verb, one line each) rather than the parser's bare "Required command was not provided".
            root.Parse(["--help"]).Invoke(new InvocationConfiguration { Output = output, Error = error });
            return ExitCodes.Usage;
        }

        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            error.WriteLine($"fastlstm: {Regex.Replace(string.Join(" ", parsed.Errors.Select(e => e.Message)), @"\s*\n\s*", " ")}");
            return ExitCodes.Usage;
        }

        try
        {
            return parsed.Invoke(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false });
        }
        catch (Exception e) when (e is CliException or IOException or InvalidDataException or UnauthorizedAccessException or ArgumentException or FormatException or InvalidOperationException or NotSupportedException)
        {
            error.WriteLine($"fastlstm: {OneLine(e)}");
            return e is CliException cli ? cli.ExitCode : ExitCodes.Failure;
        }
        catch (OutOfMemoryException)
        {
            error.WriteLine("fastlstm: out of memory: the sizes asked for do not fit in this machine's memory; try a smaller --hidden, --layers, --batch or window.");
            return ExitCodes.Failure;
        }
        catch (Exception e)
        {
            // A bug, not a user error, but the user still gets one line (with what to report) rather than a trace.
            error.WriteLine($"fastlstm: internal error ({e.GetType().Name}: {OneLine(e)}); please report it with the command line.");
            return ExitCodes.Failure;
        }
    }

    /// <summary>The package version and the commit it was built from, as --version and info print it.</summary>
    internal static string Version =>
        typeof(Program).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    /// <summary>Every verb, writing to <paramref name="output"/>.</summary>
    internal static Command Root(TextWriter output)
    {
        // Named here rather than after the executable, so usage says "fastlstm" however it was started (dotnet FastLstm.Cli.dll, the tool).
        var root = new Command("fastlstm", "FastLstm: fast LSTM, GRU and RNN on the CPU — verification, speed, forecasting and text.")
        {
            new System.CommandLine.Help.HelpOption(),
            new VersionOption(),
        };
        root.Subcommands.Add(TrainCommand.Create(output));
        root.Subcommands.Add(ForecastCommand.Create(output));
        root.Subcommands.Add(TextCommand.Create(output));
        root.Subcommands.Add(GradCheckCommand.Create(output));
        root.Subcommands.Add(BenchCommand.Create(output));
        root.Subcommands.Add(MemoryCommands.GradientFlowCommand(output));
        root.Subcommands.Add(MemoryCommands.LongMemoryCommand(output));
        root.Subcommands.Add(InteropCommands.Inspect(output));
        root.Subcommands.Add(InteropCommands.Convert(output));
        root.Subcommands.Add(InfoCommand.Create(output));
        return root;
    }

    /// <summary>The first line of a message, without the " (Parameter 'x')" suffix .NET adds to argument exceptions.</summary>
    private static string OneLine(Exception e)
    {
        string message = e.Message.Split('\n')[0].TrimEnd();
        return e is ArgumentException { ParamName: string name } ? message.Replace($" (Parameter '{name}')", "", StringComparison.Ordinal) : message;
    }
}

/// <summary>Exit codes: 0 success, 1 the work failed (bad data, a failed check), 2 the command line was wrong.</summary>
public static class ExitCodes
{
    public const int Success = 0;
    public const int Failure = 1;
    public const int Usage = 2;
}

/// <summary>A user-facing error: its message is the one line printed.</summary>
public sealed class CliException(string message, int exitCode = ExitCodes.Failure) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}
