using System.CommandLine;
using System.Globalization;

namespace FastLstm.Samples.Serving;

/// <summary>
/// A character model served over WebSockets (see README.md): <c>serve</c> runs the server until Ctrl+C; <c>load</c> measures
/// one (its own, in this process, unless --url names a running one) at several connection counts.
/// </summary>
public static class ServingProgram
{
    public static async Task<int> Main(string[] args)
    {
        var model = new Option<FileInfo>("--model") { Description = "Character model written by 'fastlstm text train' (default: the Genesis model beside the sample).", DefaultValueFactory = _ => new FileInfo(Path.Combine(AppContext.BaseDirectory, "genesis.model")) };
        var port = new Option<int>("--port") { Description = "Loopback port (0: any free one).", DefaultValueFactory = _ => 5000 };
        var maxStreams = new Option<int>("--max-streams") { Description = "Connections served at once.", DefaultValueFactory = _ => 4096 };
        var threads = new Option<int>("--threads") { Description = "Cores the batched engine uses (the sockets need the rest: 1 measured best on 2 cores).", DefaultValueFactory = _ => new ServerOptions().Threads };
        var url = new Option<Uri?>("--url") { Description = "A running server's ws://127.0.0.1:PORT/streams; without it the command starts its own." };
        var connections = new Option<string>("--connections") { Description = $"Comma-separated client counts, each 1..{LoadGenerator.MaxConnections}.", DefaultValueFactory = _ => "1,256,1024" };
        var seconds = new Option<double>("--seconds") { Description = "Measured seconds per count (after a warm-up).", DefaultValueFactory = _ => 10 };
        var synchronous = new Option<bool>("--synchronous-continuations") { Description = "Handlers resume on the batcher's thread after each step (no thread hop)." };
        var text = new Option<FileInfo>("--text") { Description = "Characters the clients send, in order (default: the Book of Genesis).", DefaultValueFactory = _ => new FileInfo(Path.Combine(AppContext.BaseDirectory, "genesis-kjv.txt")) };

        var serve = new Command("serve", "Serve the model on ws://127.0.0.1:PORT/streams until Ctrl+C.") { model, port, maxStreams, threads, synchronous };
        serve.SetAction(async (parse, cancel) =>
        {
            await using var server = await CharacterServer.StartAsync(CharacterModel.Load(parse.GetValue(model)!.FullName),
                new ServerOptions { Port = parse.GetValue(port), MaxStreams = parse.GetValue(maxStreams), Threads = parse.GetValue(threads), SynchronousContinuations = parse.GetValue(synchronous) }, cancel);
            Console.WriteLine($"serving {parse.GetValue(model)!.Name} on {server.Address} (Ctrl+C stops)");
            try
            {
                await Task.Delay(Timeout.Infinite, cancel);
            }
            catch (OperationCanceledException)
            {
            }
        });

        var load = new Command("load", "Closed-loop WebSocket clients against a server on loopback: steps per second and p50 / p99 latency.") { model, url, connections, seconds, text, threads, synchronous };
        load.SetAction(async (parse, cancel) =>
        {
            var counts = parse.GetValue(connections)!.Split(',').Select(c => int.Parse(c, CultureInfo.InvariantCulture)).ToArray();
            var corpus = await File.ReadAllTextAsync(parse.GetValue(text)!.FullName, cancel);
            await using var own = parse.GetValue(url) is null
                ? await CharacterServer.StartAsync(CharacterModel.Load(parse.GetValue(model)!.FullName), new ServerOptions { MaxStreams = counts.Max(), Threads = parse.GetValue(threads), SynchronousContinuations = parse.GetValue(synchronous) }, cancel)
                : null;
            var address = parse.GetValue(url) ?? own!.Address;
            Console.WriteLine($"server {address}{(own is null ? "" : $" (in this process: {own.Batcher.Model.Spec.Cell} H{own.Batcher.Model.Spec.HiddenSize}, batches of up to {own.Batcher.MaxBatch}, {own.Batcher.Threads} engine thread{(own.Batcher.Threads == 1 ? "" : "s")})")}; {Environment.ProcessorCount} cores shared by server and clients");
            Console.WriteLine("| connections | steps/s | p50 ms | p99 ms |");
            Console.WriteLine("|---|---|---|---|");
            foreach (int count in counts)
            {
                var r = await LoadGenerator.RunAsync(address, count, TimeSpan.FromSeconds(parse.GetValue(seconds)), corpus, cancel);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {r.Connections} | {r.StepsPerSecond:F0} | {r.P50:F3} | {r.P99:F3} |"));
            }
        });

        var root = new RootCommand("FastLstm's stream batcher behind a WebSocket server.") { serve, load };
        var parsed = root.Parse(args);
        try
        {
            return await parsed.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (Exception e) when (e is IOException or InvalidDataException or ArgumentException or FormatException or InvalidOperationException or UnauthorizedAccessException or System.Net.WebSockets.WebSocketException)
        {
            Console.Error.WriteLine($"serving: {e.Message}");
            return 1;
        }
    }
}
