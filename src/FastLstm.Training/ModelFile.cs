using System.Buffers.Binary;
using System.IO.Hashing;
using System.Numerics;
using System.Text;

namespace FastLstm.Training;

/// <summary>A network with its output head and named metadata (scaling, vocabulary, window…), as one file holds them.</summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
public sealed class SavedModel<T>(RnnModel<T> network, DenseHead<T>? head, IReadOnlyDictionary<string, double[]> metadata)
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    /// <summary>The recurrent layers.</summary>
    public RnnModel<T> Network { get; } = network ?? throw new ArgumentNullException(nameof(network));

    /// <summary>The dense output layer, if any.</summary>
    public DenseHead<T>? Head { get; } = head;

    /// <summary>Named numeric arrays the application needs to use the model (e.g. scaling statistics).</summary>
    public IReadOnlyDictionary<string, double[]> Metadata { get; } = metadata ?? throw new ArgumentNullException(nameof(metadata));

    /// <summary>
    /// How the file the model was read from stored the network's weight matrices (<see cref="WeightFormat.Full"/> for a
    /// model built in memory); the network holds their values either way.
    /// </summary>
    public WeightFormat Weights { get; init; }
}

/// <summary>
/// The FastLstm model file, version 4, or 5 where the weight matrices are stored compressed (versions 1 to 3 are still
/// read). Little-endian:
/// <code>
///  0  8  magic "FASTLSTM"
///  8  4  u32 version (4, or 5)
/// 12  1  u8  storage: 4 (float) or 8 (double); version 5: 2 (float, weight matrices bfloat16) or 1 (float, int8)
/// 13  1  u8  cell (CellType)
/// 14  1  u8  bidirectional: 0 or 1
/// 15  1  u8  head activation (Activation), or 255 for no head
/// 16  4  i32 input size          (1 .. 2^20)
/// 20  4  i32 hidden size         (1 .. 2^16)
/// 24  4  i32 layers              (1 .. 2^10)
/// 28  4  i32 head inputs         (directions·hidden, or 0 without a head)
/// 32  4  i32 head outputs        (1 .. 2^20, or 0 without a head)
/// 36  4  i32 entries             (0 .. 256): the cell's options and the metadata
/// 40  8  i64 network parameters  (must equal what the spec implies)
/// 48  8  i64 head parameters     (must equal outputs·inputs + outputs)
/// 56     entries: u8 name length (1..64), UTF-8 name, i32 count (0 .. 2^24), count × f64
///        network parameters (PyTorch order; element size each, or the weight matrices as StoredWeights describes),
///        then head parameters (element size each: weight, then bias)
/// end−4  u32 CRC-32 (IEEE) of every byte before it
/// </code>
/// The cell's options are entries named <c>cell.NAME</c> (the reverse direction's own, where they differ,
/// <c>cell.reverse.NAME</c>), as the cell writes them (<c>Cell.OptionValues</c>: <c>cell.peepholes</c> [1],
/// <c>cell.clip</c> [limit], <c>cell.gate_activation</c> [kind, α, β], …); only options away from their defaults are
/// written, and metadata may not use the prefix. Versions 2 and 3 held the options as a fixed block of flags, a clip and
/// three activations after byte 56 (60 bytes a direction; version 1 had none).
/// <para>Loading reads the fixed header first and checks it (magic, version, every size against the limits below and
/// against the file's real length) before it allocates anything for the rest; then the checksum, then every field, and
/// the sizes the header declares must account for the file's length exactly. Saving checks the same limits (what
/// <see cref="Save{T}"/> writes, <see cref="Load{T}"/> reads) and writes through <see cref="SafeFile"/>: a temporary file
/// renamed over the target, so a failed save leaves the previous file untouched, and never over anything but a regular file.</para>
/// </summary>
public static class ModelFile
{
    /// <summary>
    /// The newest format version this code writes (files with compressed weight matrices); it reads versions 1 to 5 and
    /// writes full-precision files as version 4, which builds from before version 5 read too.
    /// </summary>
    public const uint Version = 5;

    private const uint FullPrecisionVersion = 4;

    /// <summary>The prefix of the entries that hold the cell's options (<see cref="OptionEntries"/>); metadata may not use it.</summary>
    private const string OptionPrefix = "cell.";

    /// <summary>After <see cref="OptionPrefix"/>: the reverse direction's own options.</summary>
    private const string ReversePrefix = "reverse.";

    /// <summary>Files of this size or more are refused without being read (1 GiB).</summary>
    public const long MaxFileBytes = 1L << 30;

    /// <summary>Most metadata entries a file may hold.</summary>
    public const int MaxMetadataEntries = 256;

    /// <summary>Most values one metadata entry may hold.</summary>
    public const int MaxMetadataValues = 1 << 24;

    /// <summary>Most outputs a head may have.</summary>
    public const int MaxHeadOutputs = 1 << 20;

    private const int HeaderBytes = 56;
    private const int OptionsBytes = 60;
    private const byte NoHead = 255;
    private static readonly byte[] Magic = "FASTLSTM"u8.ToArray();

    /// <summary>
    /// Writes <paramref name="model"/> to <paramref name="path"/> atomically; with <paramref name="weights"/>
    /// <see cref="WeightFormat.BFloat16"/> or <see cref="WeightFormat.Int8"/>, the network's weight matrices are stored
    /// rounded as a session of that format rounds them (half or about a quarter of their bytes).
    /// </summary>
    /// <exception cref="ArgumentException">The model breaks a limit of the format (the message names it), a compressed
    /// <paramref name="weights"/> is asked of a <see cref="double"/> model, or an int8 row holds a weight that is not finite.</exception>
    /// <exception cref="IOException">The folder is missing, the target is not a regular file, or the write failed.</exception>
    public static void Save<T>(string path, SavedModel<T> model, WeightFormat weights = WeightFormat.Full)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(model);
        SafeFile.Write(path, Serialize(model, weights));
    }

    /// <summary>Reads a model file, converting its elements to <typeparamref name="T"/> if it was saved in the other precision.</summary>
    /// <exception cref="InvalidDataException">The file is not a valid FastLstm model file (truncated, corrupt, absurd sizes).</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static SavedModel<T> Load<T>(string path)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var stream = SafeFile.OpenRead(path);
        try
        {
            long length = stream.Length;
            if (length >= MaxFileBytes)
            {
                throw Invalid($"{length} bytes is more than a model file may hold (less than {MaxFileBytes}).");
            }

            if (length < HeaderBytes + 4)
            {
                throw Invalid($"{length} bytes is shorter than the {HeaderBytes + 4}-byte header and checksum (truncated?).");
            }

            var bytes = new byte[Math.Min(length, HeaderBytes + (2 * OptionsBytes))];
            stream.ReadExactly(bytes);
            var header = ReadHeader(bytes, length);
            int read = bytes.Length;
            Array.Resize(ref bytes, (int)length);
            stream.ReadExactly(bytes.AsSpan(read));
            return Deserialize<T>(bytes, header);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
    }

    internal static byte[] Serialize<T>(SavedModel<T> model, WeightFormat weights = WeightFormat.Full)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        var spec = model.Network.Spec;
        var head = model.Head;
        if (!Enum.IsDefined(weights))
        {
            throw new ArgumentOutOfRangeException(nameof(weights), weights, "weights: expected Full, BFloat16 or Int8.");
        }

        if (weights != WeightFormat.Full && typeof(T) != typeof(float))
        {
            throw new ArgumentException($"weights: {weights} storage is for float models; this one is {typeof(T).Name}.", nameof(weights));
        }

        CheckLimits(model, weights);
        var ms = new MemoryStream();
        var w = new BinaryWriter(ms);
        w.Write(Magic);
        w.Write(weights == WeightFormat.Full ? FullPrecisionVersion : Version);
        w.Write(StoredWeights.Code(weights, ElementSize<T>()));
        w.Write((byte)spec.Cell);
        w.Write((byte)(spec.Bidirectional ? 1 : 0));
        w.Write(head is null ? NoHead : (byte)head.Activation);
        w.Write(spec.InputSize);
        w.Write(spec.HiddenSize);
        w.Write(spec.Layers);
        w.Write(head?.Inputs ?? 0);
        w.Write(head?.Outputs ?? 0);
        var entries = OptionEntries(spec).Concat(model.Metadata).OrderBy(p => p.Key, StringComparer.Ordinal).ToList();
        w.Write(entries.Count);
        w.Write((long)model.Network.Parameters.Length);
        w.Write((long)(head?.Parameters.Length ?? 0));
        foreach (var (name, values) in entries)
        {
            byte[] utf8 = Encoding.UTF8.GetBytes(name);
            w.Write((byte)utf8.Length);
            w.Write(utf8);
            w.Write(values.Length);
            foreach (double v in values)
            {
                w.Write(v);
            }
        }

        StoredWeights.Write(w, model.Network, weights);
        if (head is not null)
        {
            WriteElements(w, head.Parameters);
        }

        w.Flush();
        w.Write(Crc32.HashToUInt32(ms.GetBuffer().AsSpan(0, (int)ms.Length)));
        return ms.ToArray();
    }

    /// <summary>The limits <see cref="ReadHeader"/> and the metadata reader enforce, checked before writing.</summary>
    private static void CheckLimits<T>(SavedModel<T> model, WeightFormat weights)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        var spec = model.Network.Spec;
        var head = model.Head;
        if (head is not null && (head.Inputs != spec.OutputSize || head.Outputs > MaxHeadOutputs))
        {
            throw new ArgumentException($"model: a head [{head.Outputs}, {head.Inputs}] cannot be saved; expected {spec.OutputSize} inputs (the network's outputs) and at most {MaxHeadOutputs} outputs.", nameof(model));
        }

        int entries = OptionEntries(spec).Count() + model.Metadata.Count;
        if (entries > MaxMetadataEntries)
        {
            throw new ArgumentException($"model: {model.Metadata.Count} metadata entries and the cell's options make {entries}; a model file holds at most {MaxMetadataEntries}.", nameof(model));
        }

        if (model.Metadata.Keys.FirstOrDefault(k => k?.StartsWith(OptionPrefix, StringComparison.Ordinal) == true) is { } reserved)
        {
            throw new ArgumentException($"model: metadata name '{reserved}' starts with '{OptionPrefix}', which the file keeps for the cell's options.", nameof(model));
        }

        long bytes = HeaderBytes + 4 + StoredWeights.Bytes(model.Network.Layout, ElementSize<T>(), weights) + ((long)(head?.Parameters.Length ?? 0) * ElementSize<T>());
        foreach (var (name, values) in OptionEntries(spec).Concat(model.Metadata))
        {
            int utf8 = name is null ? 0 : Encoding.UTF8.GetByteCount(name);
            if (utf8 is < 1 or > 64)
            {
                throw new ArgumentException($"model: metadata name '{name}' must be 1..64 UTF-8 bytes.", nameof(model));
            }

            if (values is null || values.Length > MaxMetadataValues)
            {
                throw new ArgumentException($"model: metadata '{name}' holds {(values is null ? "null" : values.Length.ToString(System.Globalization.CultureInfo.InvariantCulture))}; expected an array of at most {MaxMetadataValues} values.", nameof(model));
            }

            bytes += 1 + utf8 + 4 + (8L * values.Length);
        }

        if (bytes >= MaxFileBytes)
        {
            throw new ArgumentException($"model: {bytes} bytes; a model file must be smaller than {MaxFileBytes}.", nameof(model));
        }
    }

    /// <summary>What the fixed-size header says, checked on its own and against the file's length.</summary>
    private readonly record struct Header(int ElementSize, WeightFormat Weights, RnnSpec Spec, Activation? Head, int HeadOutputs, int Entries, long NetworkCount, long HeadCount, int BodyStart, bool NamedOptions);

    private static Header ReadHeader(ReadOnlySpan<byte> file, long length)
    {
        if (!file[..8].SequenceEqual(Magic))
        {
            throw Invalid("not a FastLstm model file (bad magic).");
        }

        var r = new Reader(file[..HeaderBytes], 8);
        uint version = r.U32();
        if (version is < 1 or > Version)
        {
            throw Invalid($"version {version} is not supported (this build reads versions 1 to {Version}).");
        }

        // Versions 2 and 3 hold one or two 60-byte options blocks before the entries; version 4 keeps options among them.
        int bodyStart = HeaderBytes + (version is 2 or 3 ? (int)(version - 1) * OptionsBytes : 0);
        if (file.Length < bodyStart || length < bodyStart + 4)
        {
            throw Invalid($"{length} bytes is shorter than the {bodyStart + 4}-byte version-{version} header and checksum (truncated?).");
        }

        int storage = r.U8();
        if (StoredWeights.Decode(storage, version) is not var (elementSize, weights))
        {
            throw Invalid($"storage {storage}: expected 4 (float) or 8 (double){(version >= 5 ? ", 2 (bfloat16 weights) or 1 (int8 weights)" : "")}.");
        }

        int cell = r.U8(), bidirectional = r.U8(), activation = r.U8();
        if (!Enum.IsDefined((CellType)cell))
        {
            throw Invalid($"cell {cell} is not a known cell type.");
        }

        if (bidirectional > 1)
        {
            throw Invalid($"bidirectional flag {bidirectional}: expected 0 or 1.");
        }

        if (activation != NoHead && !Enum.IsDefined((Activation)activation))
        {
            throw Invalid($"head activation {activation} is not known.");
        }

        int input = r.I32(), hidden = r.I32(), layers = r.I32(), headInputs = r.I32(), headOutputs = r.I32(), entries = r.I32();
        long networkCount = r.I64(), headCount = r.I64();
        var spec = new RnnSpec((CellType)cell, input, hidden, layers, bidirectional == 1);
        var plain = spec;
        if (version is 2 or 3)
        {
            spec = WithOptions(plain, file.Slice(HeaderBytes, OptionsBytes));
        }

        if (version == 3)
        {
            if (!spec.Bidirectional)
            {
                throw Invalid("a reverse-direction options block in a model that is not bidirectional.");
            }

            var reversed = WithOptions(plain, file.Slice(HeaderBytes + OptionsBytes, OptionsBytes));
            spec = spec.Cell switch
            {
                CellType.Lstm => spec with { ReverseLstmOptions = reversed.LstmOptionsOf(0) },
                CellType.Gru or CellType.GruResetBefore => spec with { ReverseGruOptions = reversed.GruOptionsOf(0) },
                _ => spec with { ReverseSimpleRnnOptions = reversed.SimpleRnnOptionsOf(0) },
            };
            if (!spec.HasReverseOptions)
            {
                throw Invalid("a reverse-direction options block equal to the forward direction's (version 2 holds such a model).");
            }
        }

        try
        {
            spec.Validate();
        }
        catch (ArgumentException e)
        {
            throw Invalid($"network shape: {e.Message}");
        }

        // A version-4 file's options (peepholes add parameters) are among its entries: its exact count is checked once they
        // are read, its range (without peepholes, or with them) here, before anything is allocated.
        if (version < 4)
        {
            CheckNetworkCount(networkCount, spec);
        }
        else if (networkCount != spec.ParameterCount && (spec.Cell != CellType.Lstm || networkCount != (spec with { LstmOptions = new LstmOptions { Peepholes = true } }).ParameterCount))
        {
            throw Invalid($"network parameters: the header says {networkCount}, the shape implies {spec.ParameterCount}{(spec.Cell == CellType.Lstm ? " (more with peepholes)" : "")}.");
        }

        bool hasHead = activation != NoHead;
        if (hasHead ? headInputs != spec.OutputSize || headOutputs < 1 || headOutputs > MaxHeadOutputs : headInputs != 0 || headOutputs != 0)
        {
            throw Invalid($"head shape [{headOutputs}, {headInputs}] does not fit a network with {spec.OutputSize} outputs.");
        }

        long expectedHead = hasHead ? ((long)headOutputs * headInputs) + headOutputs : 0;
        if (headCount != expectedHead)
        {
            throw Invalid($"head parameters: the header says {headCount}, the shape implies {expectedHead}.");
        }

        if (entries < 0 || entries > MaxMetadataEntries)
        {
            throw Invalid($"metadata entries {entries}: expected 0..{MaxMetadataEntries}.");
        }

        // The smallest file these sizes allow (every metadata entry at least a 1-byte name and a count, compressed weights
        // at least a byte each): checked before the rest of the file is read, so a header claiming more than is there
        // costs nothing.
        long minimum = bodyStart + 4 + (networkCount * (weights == WeightFormat.Full ? elementSize : 1)) + (headCount * elementSize) + (entries * 6L);
        if (length < minimum)
        {
            throw Invalid($"the header's sizes need at least {minimum} bytes, the file has {length} (truncated?).");
        }

        return new Header(elementSize, weights, spec, hasHead ? (Activation)activation : null, headOutputs, entries, networkCount, headCount, bodyStart, version >= 4);
    }

    private static void CheckNetworkCount(long networkCount, RnnSpec spec)
    {
        long expected = spec.ParameterCount;
        if (networkCount != expected)
        {
            throw Invalid($"network parameters: the header says {networkCount}, the shape implies {expected}.");
        }
    }

    /// <summary>The cell's options as entries: <c>cell.NAME</c>, and <c>cell.reverse.NAME</c> where the reverse direction has its own.</summary>
    private static IEnumerable<KeyValuePair<string, double[]>> OptionEntries(RnnSpec spec)
    {
        var cell = FastLstm.Cells.Cell.For(spec.Cell);
        var entries = cell.OptionValues(spec, 0).Select(v => KeyValuePair.Create(OptionPrefix + v.Name, v.Values));
        return spec.HasReverseOptions
            ? entries.Concat(cell.OptionValues(spec, 1).Select(v => KeyValuePair.Create(OptionPrefix + ReversePrefix + v.Name, v.Values)))
            : entries;
    }

    /// <summary>
    /// A version-4 file's spec: the header's shape with the options its <c>cell.</c> entries name, which are taken out of
    /// <paramref name="metadata"/>.
    /// </summary>
    private static RnnSpec WithOptionEntries(RnnSpec spec, Dictionary<string, double[]> metadata)
    {
        var names = metadata.Keys.Where(k => k.StartsWith(OptionPrefix, StringComparison.Ordinal)).ToList();
        var forward = new List<(string, double[])>();
        var reverse = new List<(string, double[])>();
        foreach (var name in names)
        {
            string option = name[OptionPrefix.Length..];
            bool reversed = option.StartsWith(ReversePrefix, StringComparison.Ordinal);
            (reversed ? reverse : forward).Add((reversed ? option[ReversePrefix.Length..] : option, metadata[name]));
            metadata.Remove(name);
        }

        if (reverse.Count > 0 && !spec.Bidirectional)
        {
            throw Invalid("reverse-direction options in a model that is not bidirectional.");
        }

        try
        {
            var cell = FastLstm.Cells.Cell.For(spec.Cell);
            spec = cell.WithOptionValues(spec, 0, forward);
            var withReverse = cell.WithOptionValues(spec, 1, reverse);
            if (reverse.Count > 0 && !withReverse.HasReverseOptions)
            {
                throw Invalid("reverse-direction options equal to the forward direction's (such a model has none).");
            }

            return withReverse;
        }
        catch (ArgumentException e)
        {
            throw Invalid($"cell options: {e.Message}");
        }
    }

    /// <summary>Reads the version-2 options block into <paramref name="spec"/> (unchanged when every option is the cell's standard).</summary>
    private static RnnSpec WithOptions(RnnSpec spec, ReadOnlySpan<byte> block)
    {
        var r = new Reader(block, 0);
        int flags = r.U8();
        double clip = r.F64();
        if ((flags & ~15) != 0)
        {
            throw Invalid($"cell options flags {flags}: only bits 1, 2, 4 and 8 are defined.");
        }

        var a = new RnnActivation[3];
        for (int k = 0; k < 3; k++)
        {
            int kind = r.U8();
            double alpha = r.F64(), beta = r.F64();
            if (!Enum.IsDefined((RnnActivationKind)kind))
            {
                throw Invalid($"cell options activation {k}: kind {kind} is not known.");
            }

            a[k] = new RnnActivation((RnnActivationKind)kind, alpha, beta);
        }

        if ((flags & 2) == 0 && clip != 0)
        {
            throw Invalid($"cell options: a cell clip of {clip} without its flag.");
        }

        double? cellClip = (flags & 2) != 0 ? clip : null;
        bool lstm = spec.Cell == CellType.Lstm, gru = spec.Cell is CellType.Gru or CellType.GruResetBefore, rnn = spec.Cell is CellType.RnnTanh or CellType.RnnRelu;
        if ((!lstm && (flags & 5) != 0) || (!rnn && (flags & 8) != 0) || (!lstm && !gru && !rnn && flags != 0)
            || (gru && a[2] != RnnActivation.Tanh) || (rnn && (a[1] != RnnActivation.Tanh || a[2] != RnnActivation.Tanh || ((flags & 8) == 0 && a[0] != RnnActivation.Sigmoid))))
        {
            throw Invalid($"cell options: flags {flags} and activations [{string.Join(", ", a)}] do not fit a {spec.Cell} cell.");
        }

        if (gru)
        {
            var g = new GruOptions { CellClip = cellClip, GateActivation = a[0], CandidateActivation = a[1] };
            return g.IsStandard ? spec : spec with { GruOptions = g };
        }

        if (rnn)
        {
            var o = new SimpleRnnOptions { CellClip = cellClip, Activation = (flags & 8) != 0 ? a[0] : null };
            return o.IsStandard ? spec : spec with { SimpleRnnOptions = o };
        }

        var options = new LstmOptions
        {
            Peepholes = (flags & 1) != 0,
            CellClip = cellClip,
            CoupledInputForget = (flags & 4) != 0,
            GateActivation = a[0],
            CellActivation = a[1],
            OutputActivation = a[2],
        };
        if (!lstm && !options.IsStandard)
        {
            throw Invalid($"cell options: LSTM options on a {spec.Cell} cell.");
        }

        return options.IsStandard ? spec : spec with { LstmOptions = options };
    }

    internal static SavedModel<T> Deserialize<T>(ReadOnlySpan<byte> file)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        if (file.Length < HeaderBytes + 4)
        {
            throw Invalid($"{file.Length} bytes is shorter than the {HeaderBytes + 4}-byte header and checksum (truncated?).");
        }

        return Deserialize<T>(file, ReadHeader(file, file.Length));
    }

    private static SavedModel<T> Deserialize<T>(ReadOnlySpan<byte> file, Header header)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        uint stored = BinaryPrimitives.ReadUInt32LittleEndian(file[^4..]);
        var body = file[..^4];
        if (Crc32.HashToUInt32(body) != stored)
        {
            throw Invalid("checksum mismatch: the file is corrupt or truncated.");
        }

        var r = new Reader(body, header.BodyStart);
        var metadata = new Dictionary<string, double[]>(StringComparer.Ordinal);
        for (int e = 0; e < header.Entries; e++)
        {
            int nameLength = r.U8();
            if (nameLength is < 1 or > 64)
            {
                throw Invalid($"metadata entry {e}: name length {nameLength}, expected 1..64.");
            }

            string name;
            try
            {
                name = new UTF8Encoding(false, true).GetString(r.Bytes(nameLength));
            }
            catch (DecoderFallbackException)
            {
                throw Invalid($"metadata entry {e}: the name is not valid UTF-8.");
            }

            int count = r.I32();
            if (count < 0 || count > MaxMetadataValues || (long)count * 8 > r.Remaining)
            {
                throw Invalid($"metadata '{name}': {count} values do not fit in the {r.Remaining} bytes left.");
            }

            var values = new double[count];
            for (int i = 0; i < count; i++)
            {
                values[i] = r.F64();
            }

            if (!metadata.TryAdd(name, values))
            {
                throw Invalid($"metadata '{name}' appears twice.");
            }
        }

        var spec = header.Spec;
        if (header.NamedOptions)
        {
            spec = WithOptionEntries(spec, metadata);
            try
            {
                spec.Validate();
            }
            catch (ArgumentException e)
            {
                throw Invalid($"cell options: {e.Message}");
            }

            CheckNetworkCount(header.NetworkCount, spec);
        }

        long expectedRest = StoredWeights.Bytes(new ParameterLayout(spec), header.ElementSize, header.Weights) + (header.HeadCount * header.ElementSize);
        if (r.Remaining != expectedRest)
        {
            throw Invalid($"the parameters need {expectedRest} bytes, the file has {r.Remaining} (truncated or padded).");
        }

        var network = new RnnModel<T>(spec);
        StoredWeights.Read(ref r, network, header.ElementSize, header.Weights);
        DenseHead<T>? head = null;
        if (header.Head is Activation activation)
        {
            head = new DenseHead<T>(spec.OutputSize, header.HeadOutputs, activation);
            ReadElements(ref r, header.ElementSize, head.Parameters);
        }

        return new SavedModel<T>(network, head, metadata) { Weights = header.Weights };
    }

    private static int ElementSize<T>() => typeof(T) == typeof(float) ? 4 : 8;

    internal static void WriteElements<T>(BinaryWriter w, ReadOnlySpan<T> values)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        foreach (var v in values)
        {
            if (typeof(T) == typeof(float))
            {
                w.Write(float.CreateTruncating(v));
            }
            else
            {
                w.Write(double.CreateTruncating(v));
            }
        }
    }

    internal static void ReadElements<T>(ref Reader r, int elementSize, Span<T> values)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = elementSize == 4 ? T.CreateTruncating(r.F32()) : T.CreateTruncating(r.F64());
        }
    }

    internal static InvalidDataException Invalid(string message) => new($"invalid model file: {message}");

    /// <summary>Sequential little-endian reads that throw <see cref="InvalidDataException"/> past the end.</summary>
    internal ref struct Reader(ReadOnlySpan<byte> data, int position)
    {
        private readonly ReadOnlySpan<byte> _data = data;
        private int _position = position;

        public readonly long Remaining => _data.Length - _position;

        public byte U8() => Take(1)[0];

        public ushort U16() => BinaryPrimitives.ReadUInt16LittleEndian(Take(2));

        public uint U32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));

        public int I32() => BinaryPrimitives.ReadInt32LittleEndian(Take(4));

        public long I64() => BinaryPrimitives.ReadInt64LittleEndian(Take(8));

        public float F32() => BinaryPrimitives.ReadSingleLittleEndian(Take(4));

        public double F64() => BinaryPrimitives.ReadDoubleLittleEndian(Take(8));

        public ReadOnlySpan<byte> Bytes(int n) => Take(n);

        private ReadOnlySpan<byte> Take(int n)
        {
            if (n > Remaining)
            {
                throw Invalid($"unexpected end of data at byte {_position} (truncated?).");
            }

            var s = _data.Slice(_position, n);
            _position += n;
            return s;
        }
    }
}
