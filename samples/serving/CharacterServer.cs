using System.Net;
using System.Net.WebSockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using FastLstm.Serving;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace FastLstm.Samples.Serving;

/// <summary>Options of <see cref="CharacterServer"/>.</summary>
public sealed record ServerOptions
{
    /// <summary>Loopback port; 0 picks a free one.</summary>
    public int Port { get; init; }

    /// <summary>Connections served at once (one stream each); one more is closed with 1013 "try again later".</summary>
    public int MaxStreams { get; init; } = 4096;

    public int MaxBatch { get; init; } = 64;

    /// <summary>Cores the batched engine uses; the sockets need the rest (on 2 cores, 1 measured best: 29k against 18k steps/s).</summary>
    public int Threads { get; init; } = 1;

    /// <summary>
    /// Whether a connection's handler resumes on the batcher's thread after its step (computing the distribution and
    /// handing the answer to the socket there) instead of hopping to the thread pool; see
    /// <see cref="StreamBatcherOptions.AllowSynchronousContinuations"/>.
    /// </summary>
    public bool SynchronousContinuations { get; init; }

    /// <summary>Longest text message a client may send (UTF-8 bytes); a longer one closes the connection with 1009.</summary>
    public int MaxMessageBytes { get; init; } = 4096;
}

/// <summary>
/// A WebSocket server over Kestrel, on loopback: each connection to <c>/streams</c> is one <see cref="RnnStream{T}"/> of
/// a shared <see cref="StreamBatcher{T}"/>, so the steps of every connected client are computed in batches. Protocol:
/// the server first sends a text message <c>{"vocabulary": [...], "hidden": H}</c>; then every character of every text
/// message the client sends is one step, answered by a binary message of <c>V</c> little-endian float32 — the
/// probabilities of each vocabulary character coming next. A character outside the vocabulary closes the connection
/// with 1007 (invalid payload) and says which.
/// </summary>
public sealed class CharacterServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private CharacterServer(WebApplication app, StreamBatcher<float> batcher, Uri address)
    {
        _app = app;
        Batcher = batcher;
        Address = address;
    }

    /// <summary>ws://127.0.0.1:PORT/streams.</summary>
    public Uri Address { get; }

    public StreamBatcher<float> Batcher { get; }

    public static async Task<CharacterServer> StartAsync(CharacterModel model, ServerOptions options, CancellationToken cancellationToken = default)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, options.Port));
        builder.Services.AddStreamBatcher(_ => model.Network, options.MaxStreams, options.MaxBatch, options.Threads,
            new StreamBatcherOptions { AllowSynchronousContinuations = options.SynchronousContinuations });
        var app = builder.Build();
        app.UseWebSockets();
        var batcher = app.Services.GetRequiredService<StreamBatcher<float>>();
        var hello = JsonSerializer.SerializeToUtf8Bytes(new Hello(model.Vocabulary.Select(r => r.ToString()).ToArray(), model.Network.Spec.HiddenSize), HelloContext.Default.Hello);
        app.Map("/streams", async (HttpContext context) =>
        {
            if (!context.WebSockets.IsWebSocketRequest)
            {
                context.Response.StatusCode = StatusCodes.Status400BadRequest;
                await context.Response.WriteAsync("connect with a WebSocket\n", context.RequestAborted);
                return;
            }

            using var socket = await context.WebSockets.AcceptWebSocketAsync();
            await Serve(socket, batcher, model, hello, options.MaxMessageBytes, context.RequestAborted);
        });
        await app.StartAsync(cancellationToken);
        var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var port = new Uri(bound).Port;
        return new CharacterServer(app, batcher, new Uri($"ws://127.0.0.1:{port}/streams"));
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private static async Task Serve(WebSocket socket, StreamBatcher<float> batcher, CharacterModel model, byte[] hello, int maxMessage, CancellationToken aborted)
    {
        RnnStream<float> stream;
        try
        {
            stream = batcher.Open();
        }
        catch (InvalidOperationException)
        {
            await socket.CloseAsync((WebSocketCloseStatus)1013, $"all {batcher.MaxStreams} streams are in use; try again later", aborted);
            return;
        }

        using (stream)
        {
            int v = model.Vocabulary.Count;
            var message = new byte[maxMessage];
            var x = new float[v];
            var h = new float[model.Network.Spec.HiddenSize];
            var probabilities = new byte[v * sizeof(float)];
            await socket.SendAsync(hello, WebSocketMessageType.Text, true, aborted);
            while (true)
            {
                int length = 0;
                ValueWebSocketReceiveResult received;
                do
                {
                    if (length == message.Length)
                    {
                        await socket.CloseAsync(WebSocketCloseStatus.MessageTooBig, $"a message holds at most {maxMessage} bytes", aborted);
                        return;
                    }

                    received = await socket.ReceiveAsync(message.AsMemory(length), aborted);
                    length += received.Count;
                }
                while (!received.EndOfMessage && received.MessageType != WebSocketMessageType.Close);

                if (received.MessageType == WebSocketMessageType.Close)
                {
                    await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, aborted);
                    return;
                }

                if (received.MessageType != WebSocketMessageType.Text)
                {
                    await socket.CloseAsync(WebSocketCloseStatus.InvalidMessageType, "send characters as text messages", aborted);
                    return;
                }

                for (int at = 0; at < length;)
                {
                    if (Rune.DecodeFromUtf8(message.AsSpan(at, length - at), out var character, out int used) != System.Buffers.OperationStatus.Done
                        || model.Code(character) is not (>= 0 and var code))
                    {
                        await socket.CloseAsync(WebSocketCloseStatus.InvalidPayloadData, $"byte {at}: not a character of the model's vocabulary ({v} characters)", aborted);
                        return;
                    }

                    at += used;
                    Array.Clear(x);
                    x[code] = 1;
                    await stream.StepAsync(x, h, aborted);
                    model.Distribution(h, MemoryMarshal.Cast<byte, float>(probabilities.AsSpan()));
                    await socket.SendAsync(probabilities, WebSocketMessageType.Binary, true, aborted);
                }
            }
        }
    }
}

/// <summary>The server's first message.</summary>
public sealed record Hello(string[] Vocabulary, int Hidden);

[System.Text.Json.Serialization.JsonSerializable(typeof(Hello))]
[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase)]
internal sealed partial class HelloContext : System.Text.Json.Serialization.JsonSerializerContext;
