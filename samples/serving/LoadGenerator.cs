using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

using FastLstm.Samples;

namespace FastLstm.Samples.Serving;

/// <summary>What one load run measured.</summary>
/// <param name="Connections">Clients, each a closed loop: it sends its next character when the previous answer came.</param>
/// <param name="Steps">Answers received in the measured time.</param>
/// <param name="StepsPerSecond">Answers per second over all clients.</param>
/// <param name="P50">Median time from sending a character to receiving its answer, in milliseconds.</param>
/// <param name="P99">99th percentile of the same.</param>
public sealed record LoadResult(int Connections, long Steps, double StepsPerSecond, double P50, double P99);

/// <summary>
/// Drives a <see cref="CharacterServer"/> with many WebSocket clients, on loopback only and bounded in connections and
/// time: each client sends one character, waits for the distribution that answers it, and sends the next.
/// </summary>
public static class LoadGenerator
{
    public const int MaxConnections = 4096;

    public static readonly TimeSpan MaxDuration = TimeSpan.FromMinutes(10);

    public static async Task<LoadResult> RunAsync(Uri address, int connections, TimeSpan duration, string text, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (!IPAddress.TryParse(address.Host, out var ip) ? address.Host != "localhost" : !IPAddress.IsLoopback(ip))
        {
            throw new ArgumentException($"address: the load generator drives loopback servers only, got {address.Host}.", nameof(address));
        }

        if (connections is < 1 or > MaxConnections)
        {
            throw new ArgumentOutOfRangeException(nameof(connections), connections, $"connections: expected 1..{MaxConnections}, got {connections}.");
        }

        if (duration <= TimeSpan.Zero || duration > MaxDuration)
        {
            throw new ArgumentOutOfRangeException(nameof(duration), duration, $"duration: expected more than 0 and at most {MaxDuration.TotalMinutes} minutes, got {duration}.");
        }

        var sockets = new ClientWebSocket[connections];
        var vocabularies = new HashSet<string>[connections];
        using var connecting = new SemaphoreSlim(32);
        try
        {
            await Task.WhenAll(Enumerable.Range(0, connections).Select(async i =>
            {
                await connecting.WaitAsync(cancellationToken);
                try
                {
                    var socket = new ClientWebSocket();
                    sockets[i] = socket;
                    await socket.ConnectAsync(address, cancellationToken);
                    var hello = new byte[1 << 16];
                    var first = await socket.ReceiveAsync(hello.AsMemory(), cancellationToken);
                    if (first.MessageType != WebSocketMessageType.Text || !first.EndOfMessage)
                    {
                        throw new InvalidDataException($"connection {i}: the server's first message is not its hello ({socket.CloseStatus} {socket.CloseStatusDescription}).");
                    }

                    var parsed = JsonSerializer.Deserialize(hello.AsSpan(0, first.Count), HelloContext.Default.Hello)
                        ?? throw new InvalidDataException($"connection {i}: an empty hello.");
                    vocabularies[i] = [.. parsed.Vocabulary];
                }
                finally
                {
                    connecting.Release();
                }
            }));

            var characters = Runes(text).Select(r => r.ToString()).Where(vocabularies[0].Contains).Select(Encoding.UTF8.GetBytes).ToArray();
            if (characters.Length == 0)
            {
                throw new ArgumentException("text: none of its characters is in the model's vocabulary.", nameof(text));
            }

            var result = await ClosedLoop.RunAsync(connections, i =>
            {
                var socket = sockets[i];
                var answer = new byte[64 << 10];
                int next = i * 7919 % characters.Length;
                return async () =>
                {
                    await socket.SendAsync(characters[next], WebSocketMessageType.Text, true, cancellationToken);
                    next = (next + 1) % characters.Length;
                    ValueWebSocketReceiveResult received;
                    do
                    {
                        received = await socket.ReceiveAsync(answer.AsMemory(), cancellationToken);
                    }
                    while (!received.EndOfMessage);

                    if (received.MessageType != WebSocketMessageType.Binary)
                    {
                        throw new InvalidDataException($"connection {i}: expected a distribution, got {received.MessageType} ({socket.CloseStatus} {socket.CloseStatusDescription}).");
                    }
                };
            }, TimeSpan.FromSeconds(Math.Min(1, duration.TotalSeconds / 2)), duration, cancellationToken);
            return new LoadResult(connections, result.Steps, result.StepsPerSecond, result.P50 / 1e3, result.P99 / 1e3);
        }
        finally
        {
            await Task.WhenAll(sockets.Where(s => s is not null).Select(async socket =>
            {
                try
                {
                    if (socket.State == WebSocketState.Open)
                    {
                        await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
                    }
                }
                catch (WebSocketException)
                {
                }
                finally
                {
                    socket.Dispose();
                }
            }));
        }
    }

    private static IEnumerable<Rune> Runes(string text)
    {
        foreach (var rune in text.EnumerateRunes())
        {
            yield return rune;
        }
    }
}
