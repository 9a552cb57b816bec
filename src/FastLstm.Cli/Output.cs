using Spectre.Console;

namespace FastLstm.Cli;

/// <summary>Spectre consoles over the command's writer: colour and animation only on a real terminal.</summary>
internal static class Output
{
    public static IAnsiConsole Console(TextWriter writer)
    {
        bool terminal = ReferenceEquals(writer, System.Console.Out) && !System.Console.IsOutputRedirected;
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer),
            Ansi = terminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = terminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = terminal ? InteractionSupport.Detect : InteractionSupport.No,
        });
        if (!terminal)
        {
            // Redirected output has no width; wide enough that tables never wrap in logs.
            console.Profile.Width = 200;
        }

        return console;
    }
}
