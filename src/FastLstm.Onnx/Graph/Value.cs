namespace FastLstm.Onnx.Graph;

/// <summary>
/// A tensor inside the interpreter: typed row-major data and its shape. Values are never written after they are made,
/// so reshaping ops share the data.
/// </summary>
internal sealed class Value
{
    /// <summary>Most elements any tensor may have, at load or at run time (a 1 GiB float tensor), so a hostile graph cannot make the interpreter allocate without bound.</summary>
    public const long MaxElements = 1L << 28;

    public Value(Array data, int[] shape)
    {
        Data = data;
        Shape = shape;
        Type = data switch
        {
            float[] => OnnxElementType.Float,
            double[] => OnnxElementType.Double,
            int[] => OnnxElementType.Int32,
            long[] => OnnxElementType.Int64,
            _ => throw new InvalidOperationException($"unsupported element array {data.GetType().Name}"),
        };
    }

    public Array Data { get; }

    public int[] Shape { get; }

    public OnnxElementType Type { get; }

    public int Rank => Shape.Length;

    public int Count => Data.Length;

    public bool IsFloating => Type is OnnxElementType.Float or OnnxElementType.Double;

    public float[] Floats => (float[])Data;

    public static long Product(ReadOnlySpan<int> shape)
    {
        long n = 1;
        foreach (int d in shape)
        {
            n *= d;
            if (n > MaxElements)
            {
                return long.MaxValue;
            }
        }

        return n;
    }

    /// <summary>An array of <paramref name="count"/> elements of <paramref name="type"/>, after the size check.</summary>
    public static Array Allocate(OnnxElementType type, long count, string what)
    {
        if (count > MaxElements)
        {
            throw new InvalidDataException($"{what}: {count} elements exceed the limit of {MaxElements}.");
        }

        int n = (int)count;
        return type switch
        {
            OnnxElementType.Float => new float[n],
            OnnxElementType.Double => new double[n],
            OnnxElementType.Int32 => new int[n],
            _ => new long[n],
        };
    }

    public static Value Scalar(long v) => new(new[] { v }, []);

    public static Value Vector(long[] v) => new(v, [v.Length]);

    public double GetDouble(int i) => Data switch
    {
        float[] f => f[i],
        double[] d => d[i],
        int[] n => n[i],
        _ => ((long[])Data)[i],
    };

    public long GetLong(int i) => Data switch
    {
        float[] f => (long)f[i],
        double[] d => (long)d[i],
        int[] n => n[i],
        _ => ((long[])Data)[i],
    };

    /// <summary>The elements as integers (shape inputs such as axes, starts or a target shape).</summary>
    public long[] ToLongs()
    {
        var r = new long[Count];
        for (int i = 0; i < r.Length; i++)
        {
            r[i] = GetLong(i);
        }

        return r;
    }

    public Value WithShape(int[] shape) => new(Data, shape);

    /// <summary>A new tensor whose element k is this one's element <c>index[k]</c> (every data-moving op).</summary>
    public Value Take(int[] index, int[] shape)
    {
        Array r = Data switch
        {
            float[] f => Take(f, index),
            double[] d => Take(d, index),
            int[] n => Take(n, index),
            _ => Take((long[])Data, index),
        };
        return new Value(r, shape);

        static TE[] Take<TE>(TE[] src, int[] index)
        {
            var r = new TE[index.Length];
            for (int k = 0; k < r.Length; k++)
            {
                r[k] = src[index[k]];
            }

            return r;
        }
    }

    /// <summary>Row-major strides of <paramref name="shape"/>.</summary>
    public static int[] Strides(int[] shape)
    {
        var s = new int[shape.Length];
        int acc = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            s[i] = acc;
            acc *= shape[i];
        }

        return s;
    }

    public static string Format(IReadOnlyList<int> shape) => "[" + string.Join(", ", shape) + "]";
}
