using System.Net.WebSockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using FastLstm.Samples.Serving;
using FastLstm.Training;

namespace FastLstm.Tests.Serving;

/// <summary>The WebSocket sample, started on a loopback port and driven by real clients.</summary>
public class ServerTests
{
    private static readonly Rune[] Vocabulary = "abc de".EnumerateRunes().ToArray();

    [Fact]
    public async Task EachCharacterIsAnsweredWithTheDistributionOfTheNext()
    {
        var model = Model();
        await using var server = await CharacterServer.StartAsync(model, new ServerOptions { MaxStreams = 4 });
        using var a = await Connect(server.Address);
        using var b = await Connect(server.Address);
        await Send(a, "abc");
        await Send(b, "e d");
        var fromA = await Receive(a, 3);
        var fromB = await Receive(b, 3);
        AssertClose(Expected(model, "abc"), fromA);
        AssertClose(Expected(model, "e d"), fromB);

        // The stream carries its state over messages: "de" after "abc" is "abcde" at once.
        await Send(a, "de");
        AssertClose(Expected(model, "abcde")[3..], await Receive(a, 2));
    }

    [Fact]
    public async Task ACharacterOutsideTheVocabularyClosesWithItsPosition()
    {
        await using var server = await CharacterServer.StartAsync(Model(), new ServerOptions());
        using var socket = await Connect(server.Address);
        await Send(socket, "ab\u00e9");
        await Receive(socket, 2);
        var buffer = new byte[64];
        var result = await socket.ReceiveAsync(buffer, CancellationToken.None);
        Assert.Equal(WebSocketMessageType.Close, result.MessageType);
        Assert.Equal(WebSocketCloseStatus.InvalidPayloadData, socket.CloseStatus);
        Assert.Contains("byte 2", socket.CloseStatusDescription);
    }

    [Fact]
    public async Task AConnectionBeyondMaxStreamsIsToldToComeBackLater()
    {
        await using var server = await CharacterServer.StartAsync(Model(), new ServerOptions { MaxStreams = 1 });
        using var first = await Connect(server.Address);
        using var second = new ClientWebSocket();
        await second.ConnectAsync(server.Address, CancellationToken.None);
        var result = await second.ReceiveAsync(new byte[256], CancellationToken.None);
        Assert.Equal(WebSocketMessageType.Close, result.MessageType);
        Assert.Equal(1013, (int)second.CloseStatus!);

        // The first one still works, and closing it frees the stream for a new client.
        await Send(first, "a");
        await Receive(first, 1);
        await first.CloseAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
        for (int attempt = 0; server.Batcher.OpenStreams > 0 && attempt < 200; attempt++)
        {
            await Task.Delay(10);
        }

        using var third = await Connect(server.Address);
        await Send(third, "b");
        AssertClose(Expected(Model(), "b"), await Receive(third, 1));
    }

    [Fact]
    public async Task TheLoadGeneratorMeasuresARunningServer()
    {
        await using var server = await CharacterServer.StartAsync(Model(), new ServerOptions());
        // Two seconds measured (after one of warm-up): other test classes run beside this one and can hold the cores a while.
        var result = await LoadGenerator.RunAsync(server.Address, 8, TimeSpan.FromSeconds(2), "abcabc dd ee");
        Assert.Equal(8, result.Connections);
        Assert.True(result.Steps > 0 && result.StepsPerSecond > 0 && result.P50 > 0 && result.P99 >= result.P50, $"measured {result}");
        await Assert.ThrowsAsync<ArgumentException>(() => LoadGenerator.RunAsync(new Uri("ws://example.com/streams"), 1, TimeSpan.FromSeconds(1), "a"));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => LoadGenerator.RunAsync(server.Address, LoadGenerator.MaxConnections + 1, TimeSpan.FromSeconds(1), "a"));
    }

    private static CharacterModel Model() =>
        new(RnnModel<float>.CreateRandom(new RnnSpec(CellType.Lstm, Vocabulary.Length, 8, 2), 3), DenseHead<float>.CreateRandom(8, Vocabulary.Length, Activation.Linear, 4), Vocabulary);

    /// <summary>The distributions computed here: the network stepped alone through an InferenceSession, then head and softmax.</summary>
    private static float[][] Expected(CharacterModel model, string text)
    {
        var spec = model.Network.Spec;
        using var session = new InferenceSession<float>(model.Network, 1, 1);
        var h = new float[spec.Layers * spec.HiddenSize];
        var c = new float[h.Length];
        var y = new float[spec.HiddenSize];
        var result = new List<float[]>();
        foreach (var rune in text.EnumerateRunes())
        {
            var x = new float[Vocabulary.Length];
            x[model.Code(rune)] = 1;
            session.Step(x, 1, y, h, c);
            var p = new float[Vocabulary.Length];
            model.Distribution(y, p);
            result.Add(p);
        }

        return [.. result];
    }

    /// <summary>Equal up to float rounding (a batch of several streams may sum in another order than a batch of one).</summary>
    private static void AssertClose(float[][] expected, float[][] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i].Length, actual[i].Length);
            for (int j = 0; j < expected[i].Length; j++)
            {
                Assert.True(Math.Abs(expected[i][j] - actual[i][j]) <= 1e-6f, $"[{i}][{j}]: expected {expected[i][j]}, got {actual[i][j]}");
            }
        }
    }

    private static async Task<ClientWebSocket> Connect(Uri address)
    {
        var socket = new ClientWebSocket();
        await socket.ConnectAsync(address, CancellationToken.None);
        var buffer = new byte[4096];
        var hello = await socket.ReceiveAsync(buffer, CancellationToken.None);
        Assert.Equal(WebSocketMessageType.Text, hello.MessageType);
        using var json = JsonDocument.Parse(buffer.AsMemory(0, hello.Count));
        Assert.Equal(Vocabulary.Select(r => r.ToString()), json.RootElement.GetProperty("vocabulary").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(8, json.RootElement.GetProperty("hidden").GetInt32());
        return socket;
    }

    private static Task Send(ClientWebSocket socket, string text) =>
        socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, CancellationToken.None);

    private static async Task<float[][]> Receive(ClientWebSocket socket, int count)
    {
        var result = new float[count][];
        for (int i = 0; i < count; i++)
        {
            var buffer = new byte[Vocabulary.Length * sizeof(float)];
            var message = await socket.ReceiveAsync(buffer, CancellationToken.None);
            Assert.Equal(WebSocketMessageType.Binary, message.MessageType);
            Assert.Equal(buffer.Length, message.Count);
            result[i] = MemoryMarshal.Cast<byte, float>(buffer).ToArray();
        }

        return result;
    }
}
