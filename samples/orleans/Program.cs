using System.CommandLine;
using System.Globalization;
using FastLstm.Orleans;
using Microsoft.Extensions.DependencyInjection;

namespace FastLstm.Samples.Orleans;

/// <summary>
/// The Genesis character model's streams over an Orleans cluster on localhost: <c>silo</c> runs one silo (instance 0 is
/// the primary), <c>load</c> drives a running cluster, <c>run</c> starts 1 and 2 silos in this process and measures each
/// with several state-write intervals.
/// </summary>
public static class OrleansProgram
{
    public static async Task<int> Main(string[] args)
    {
        var model = new Option<FileInfo>("--model") { Description = "A character model written by 'fastlstm text train' (default: the Genesis model); the load sends it one-hot characters.", DefaultValueFactory = _ => new FileInfo(Path.Combine(AppContext.BaseDirectory, "genesis.model")) };
        var storage = new Option<DirectoryInfo>("--storage") { Description = "Folder the streams' states are stored in (shared by the silos).", DefaultValueFactory = _ => new DirectoryInfo(Path.Combine(Path.GetTempPath(), "fastlstm-orleans")) };
        var saveEvery = new Option<string>("--save-every") { Description = "Steps between state writes (run: a comma-separated list).", DefaultValueFactory = _ => "1" };
        var instance = new Option<int>("--instance") { Description = "Silo number: 0 is the primary; silo N listens on 11111+N, gateway 30000+N.", DefaultValueFactory = _ => 0 };
        var silos = new Option<string>("--silos") { Description = "Silos (load: how many are running; run: a comma-separated list to start).", DefaultValueFactory = _ => "1,2" };
        var streams = new Option<int>("--streams") { Description = "Closed-loop streams.", DefaultValueFactory = _ => 256 };
        var seconds = new Option<double>("--seconds") { Description = "Measured seconds (after 1 s of warm-up).", DefaultValueFactory = _ => 10 };
        var threads = new Option<int>("--threads") { Description = "Cores each silo's batches use.", DefaultValueFactory = _ => 1 };

        var silo = new Command("silo", "Run one silo until Ctrl+C.") { model, storage, saveEvery, instance, threads };
        silo.SetAction(async (parse, cancel) =>
        {
            using var host = await Cluster.StartSiloAsync(parse.GetValue(instance), parse.GetValue(model)!.FullName, parse.GetValue(storage)!.FullName, int.Parse(parse.GetValue(saveEvery)!, CultureInfo.InvariantCulture), parse.GetValue(threads), cancel);
            Console.WriteLine($"silo {parse.GetValue(instance)} up (Ctrl+C stops)");
            try
            {
                await Task.Delay(Timeout.Infinite, cancel);
            }
            catch (OperationCanceledException)
            {
            }

            await host.StopAsync(CancellationToken.None);
        });

        var load = new Command("load", "Drive a running cluster with closed-loop streams.") { model, silos, streams, seconds };
        load.SetAction(async (parse, cancel) =>
        {
            using var client = await Cluster.StartClientAsync(int.Parse(parse.GetValue(silos)!, CultureInfo.InvariantCulture), cancel);
            int inputs = Cluster.InputSize(parse.GetValue(model)!.FullName);
            var r = await Cluster.LoadAsync(client.Services.GetRequiredService<IGrainFactory>(), inputs, parse.GetValue(streams), parse.GetValue(seconds), $"load-{Guid.NewGuid():N}-", cancel);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{parse.GetValue(streams)} streams: {r.StepsPerSecond:F0} steps/s, p50 {r.P50 / 1e3:F2} ms, p99 {r.P99 / 1e3:F2} ms"));
        });

        var run = new Command("run", "Start 1 and 2 silos in this process and measure each at every --save-every.") { model, silos, saveEvery, streams, seconds, threads };
        run.SetAction(async (parse, cancel) =>
        {
            string path = parse.GetValue(model)!.FullName;
            int inputs = Cluster.InputSize(path);
            Console.WriteLine($"{Environment.ProcessorCount} cores shared by every silo and the client; {parse.GetValue(streams)} closed-loop streams of {Path.GetFileName(path)}, {parse.GetValue(threads)} engine thread(s) a silo");
            Console.WriteLine("| silos | state written every | steps/s | p50 ms | p99 ms |");
            Console.WriteLine("|---|---|---|---|---|");
            foreach (int count in parse.GetValue(silos)!.Split(',').Select(v => int.Parse(v, CultureInfo.InvariantCulture)))
            {
                foreach (int every in parse.GetValue(saveEvery)!.Split(',').Select(v => int.Parse(v, CultureInfo.InvariantCulture)))
                {
                    string folder = Path.Combine(Path.GetTempPath(), $"fastlstm-orleans-{Guid.NewGuid():N}");
                    var hosts = new List<Microsoft.Extensions.Hosting.IHost>();
                    try
                    {
                        for (int i = 0; i < count; i++)
                        {
                            hosts.Add(await Cluster.StartSiloAsync(i, path, folder, every, parse.GetValue(threads), cancel));
                        }

                        using var client = await Cluster.StartClientAsync(count, cancel);
                        var r = await Cluster.LoadAsync(client.Services.GetRequiredService<IGrainFactory>(), inputs, parse.GetValue(streams), parse.GetValue(seconds), "s", cancel);
                        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {count} | {every} steps | {r.StepsPerSecond:F0} | {r.P50 / 1e3:F2} | {r.P99 / 1e3:F2} |"));
                        await client.StopAsync(cancel);
                    }
                    finally
                    {
                        for (int i = hosts.Count - 1; i >= 0; i--)
                        {
                            await hosts[i].StopAsync(CancellationToken.None);
                            hosts[i].Dispose();
                        }

                        if (Directory.Exists(folder))
                        {
                            Directory.Delete(folder, recursive: true);
                        }
                    }
                }
            }
        });

        var root = new RootCommand("FastLstm streams on a Microsoft Orleans cluster on localhost.") { silo, load, run };
        try
        {
            return await root.Parse(args).InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (Exception e) when (e is IOException or InvalidDataException or ArgumentException or FormatException or InvalidOperationException or OrleansException)
        {
            Console.Error.WriteLine($"orleans sample: {e.Message}");
            return 1;
        }
    }
}
