using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Orleans.Runtime;
using Orleans.Serialization;
using Orleans.Storage;

namespace FastLstm.Orleans;

/// <summary>
/// Grain storage in a folder every silo can reach: one file per grain state, replaced atomically (written beside it,
/// then renamed over it), with a version as its ETag so a stale activation's write is refused. Outlives the silos — what
/// the streams' states need on one machine, in tests and in the sample; a cluster of machines plugs in a shared provider
/// instead (e.g. Orleans' ADO.NET or Azure storage) under <see cref="RnnStreamOptions.StorageName"/>.
/// </summary>
public sealed class FileGrainStorage : IGrainStorage
{
    private const long MaxBytes = 1L << 30;
    private readonly string _directory;
    private readonly Serializer _serializer;

    /// <param name="directory">The folder (created if missing).</param>
    /// <param name="serializer">Orleans' serializer, which writes the states.</param>
    public FileGrainStorage(string directory, Serializer serializer)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        _directory = Directory.CreateDirectory(directory).FullName;
        _serializer = serializer;
    }

    /// <inheritdoc/>
    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        string path = PathOf(stateName, grainId);
        if (!File.Exists(path))
        {
            grainState.RecordExists = false;
            grainState.ETag = null;
            return;
        }

        var bytes = await File.ReadAllBytesAsync(path);
        if (bytes.Length < sizeof(long) || bytes.LongLength > MaxBytes)
        {
            throw new InvalidDataException($"{path}: not a grain state written by {nameof(FileGrainStorage)} ({bytes.Length} bytes).");
        }

        grainState.State = _serializer.Deserialize<T>(bytes.AsMemory(sizeof(long)));
        grainState.ETag = BinaryPrimitives.ReadInt64LittleEndian(bytes).ToString(System.Globalization.CultureInfo.InvariantCulture);
        grainState.RecordExists = true;
    }

    /// <inheritdoc/>
    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        string path = PathOf(stateName, grainId);
        long version = await VersionOf(path, grainState.ETag);
        var payload = _serializer.SerializeToArray(grainState.State);
        var bytes = new byte[sizeof(long) + payload.Length];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, version + 1);
        payload.CopyTo(bytes, sizeof(long));
        string temporary = $"{path}.{Guid.NewGuid():N}.tmp";
        try
        {
            await File.WriteAllBytesAsync(temporary, bytes);
            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }

        grainState.ETag = (version + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
        grainState.RecordExists = true;
    }

    /// <inheritdoc/>
    public async Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        string path = PathOf(stateName, grainId);
        await VersionOf(path, grainState.ETag);
        File.Delete(path);
        grainState.ETag = null;
        grainState.RecordExists = false;
    }

    /// <summary>The stored version, after checking that the caller's ETag is it (no file: version 0 and no ETag).</summary>
    private static async Task<long> VersionOf(string path, string? etag)
    {
        long version = 0;
        if (File.Exists(path))
        {
            await using var file = File.OpenRead(path);
            var head = new byte[sizeof(long)];
            await file.ReadExactlyAsync(head);
            version = BinaryPrimitives.ReadInt64LittleEndian(head);
        }

        string? expected = version == 0 ? null : version.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (etag != expected)
        {
            throw new InconsistentStateException($"{path}: stored version {expected ?? "none"}, the grain's is {etag ?? "none"}: another activation wrote it.", expected ?? "", etag ?? "");
        }

        return version;
    }

    /// <summary>A fixed-length file name for any grain and state name (the grain id may hold any characters).</summary>
    private string PathOf(string stateName, GrainId grainId) =>
        Path.Combine(_directory, Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{stateName}\n{grainId}"))) + ".state");
}
