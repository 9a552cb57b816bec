using FastLstm.Onnx.Proto;

namespace FastLstm.Onnx.Graph;

/// <summary>The ops PyTorch emits to sort a packed batch by length and restore its order (TopK, ScatterElements…).</summary>
internal static class IndexOps
{
    public static Op? Compile(NodeProto node, int opset, NodeAttributes a) => node.OpType switch
    {
        "TopK" => new TopKOp(node, a.Int("axis", -1), a.Int("largest", 1) != 0, a.Int("sorted", 1), opset < 10 ? a.Int("k", -1) : null),
        "ReduceProd" => new ReduceProdOp(node, opset < 18 ? a.Ints("axes") : null, a.Int("keepdims", 1) != 0, a.Int("noop_with_empty_axes", 0) != 0, opset >= 18),
        "Range" => new RangeOp(node),
        "ScatterElements" => new ScatterElementsOp(node, a.Int("axis", 0), a.String("reduction") ?? "none", a),
        _ => null,
    };

    /// <summary>Outer × axis × inner view of a shape around one axis.</summary>
    private static (int Outer, int N, int Inner) Around(int[] shape, int axis) =>
        (shape[..axis].Aggregate(1, (p, d) => p * d), shape[axis], shape[(axis + 1)..].Aggregate(1, (p, d) => p * d));

    private sealed class TopKOp(NodeProto node, long axis, bool largest, long sorted, long? kAttribute) : Op(node)
    {
        public override Value?[] Run(Value?[] inputs, object? state)
        {
            var x = Need(inputs, 0);
            long k = kAttribute ?? (Need(inputs, 1) is { Count: 1 } kv ? kv.GetLong(0) : throw Fail("K must hold one value"));
            int ax = Axis(axis, x.Rank);
            var (outer, n, inner) = Around(x.Shape, ax);
            if (k < 0 || k > n)
            {
                throw Fail($"K = {k} is outside 0..{n}");
            }

            if (sorted == 0)
            {
                throw new NotSupportedException($"{Label}: sorted = 0 (an unspecified order) is not supported.");
            }

            int[] shape = (int[])x.Shape.Clone();
            shape[ax] = (int)k;
            var take = new int[Value.Product(shape)];
            var indices = new long[take.Length];
            var order = new int[n];
            for (int o = 0; o < outer; o++)
            {
                for (int t = 0; t < inner; t++)
                {
                    int baseIndex = (o * n * inner) + t;
                    for (int j = 0; j < n; j++)
                    {
                        order[j] = j;
                    }

                    // Equal values keep the lower index first, as the operator requires.
                    Array.Sort(order, (p, q) =>
                    {
                        int c = x.GetDouble(baseIndex + (p * inner)).CompareTo(x.GetDouble(baseIndex + (q * inner)));
                        return c != 0 ? (largest ? -c : c) : p.CompareTo(q);
                    });
                    for (int j = 0; j < k; j++)
                    {
                        int slot = (((o * (int)k) + j) * inner) + t;
                        take[slot] = baseIndex + (order[j] * inner);
                        indices[slot] = order[j];
                    }

                }
            }

            return [x.Take(take, shape), new Value(indices, shape)];
        }
    }

    private sealed class ReduceProdOp(NodeProto node, long[]? axesAttribute, bool keepDims, bool noopWhenEmpty, bool axesFromInput) : Op(node)
    {
        public override Value?[] Run(Value?[] inputs, object? state)
        {
            var x = Need(inputs, 0);
            long[]? axes = axesFromInput ? Optional(inputs, 1)?.ToLongs() : axesAttribute;
            if (axes is null or { Length: 0 } && noopWhenEmpty)
            {
                return [x];
            }

            var reduce = axes is null or { Length: 0 } ? Enumerable.Range(0, x.Rank).ToHashSet() : axes.Select(a => Axis(a, x.Rank)).ToHashSet();
            int[] outShape = Enumerable.Range(0, x.Rank).Select(i => reduce.Contains(i) ? 1 : x.Shape[i]).ToArray();
            var result = new double[Value.Product(outShape)];
            Array.Fill(result, 1.0);
            int[] outStrides = Value.Strides(outShape);
            var counter = new int[x.Rank];
            for (int k = 0; k < x.Count; k++)
            {
                int dst = 0;
                for (int i = 0; i < x.Rank; i++)
                {
                    dst += reduce.Contains(i) ? 0 : counter[i] * outStrides[i];
                }

                result[dst] *= x.GetDouble(k);
                for (int i = x.Rank - 1; i >= 0; i--)
                {
                    if (++counter[i] < x.Shape[i])
                    {
                        break;
                    }

                    counter[i] = 0;
                }
            }

            int[] shape = keepDims ? outShape : Enumerable.Range(0, x.Rank).Where(i => !reduce.Contains(i)).Select(i => x.Shape[i]).ToArray();
            var data = Value.Allocate(x.Type, result.Length, Label);
            for (int i = 0; i < result.Length; i++)
            {
                switch (data)
                {
                    case float[] f: f[i] = (float)result[i]; break;
                    case double[] d: d[i] = result[i]; break;
                    case int[] n: n[i] = (int)result[i]; break;
                    case long[] l: l[i] = (long)result[i]; break;
                }
            }

            return [new Value(data, shape)];
        }
    }

    private sealed class RangeOp(NodeProto node) : Op(node)
    {
        public override Value?[] Run(Value?[] inputs, object? state)
        {
            Value start = Need(inputs, 0), limit = Need(inputs, 1), delta = Need(inputs, 2);
            if (start.Count != 1 || limit.Count != 1 || delta.Count != 1 || start.Type != limit.Type || start.Type != delta.Type)
            {
                throw Fail("start, limit and delta must be scalars of one type");
            }

            double s = start.GetDouble(0), l = limit.GetDouble(0), d = delta.GetDouble(0);
            double count = d == 0 ? throw Fail("delta is 0") : Math.Max(Math.Ceiling((l - s) / d), 0);
            if (!(count <= Value.MaxElements))
            {
                throw Fail($"the range holds {count} elements, more than {Value.MaxElements}");
            }

            var data = Value.Allocate(start.Type, (long)count, Label);
            for (int i = 0; i < data.Length; i++)
            {
                switch (data)
                {
                    case float[] f: f[i] = (float)(s + (i * d)); break;
                    case double[] dd: dd[i] = s + (i * d); break;
                    case int[] n: n[i] = (int)(start.GetLong(0) + (i * delta.GetLong(0))); break;
                    case long[] lg: lg[i] = start.GetLong(0) + (i * delta.GetLong(0)); break;
                }
            }

            return [new Value(data, [data.Length])];
        }
    }

    private sealed class ScatterElementsOp : Op
    {
        private readonly long _axis;

        public ScatterElementsOp(NodeProto node, long axis, string reduction, NodeAttributes a) : base(node)
        {
            _axis = axis;
            if (reduction != "none")
            {
                throw a.Fail($"reduction '{reduction}' is not supported (only 'none' is)", invalid: false);
            }
        }

        public override Value?[] Run(Value?[] inputs, object? state)
        {
            Value data = Need(inputs, 0), indices = Need(inputs, 1), updates = Need(inputs, 2);
            if (indices.IsFloating || !indices.Shape.SequenceEqual(updates.Shape) || indices.Rank != data.Rank || updates.Type != data.Type)
            {
                throw Fail($"indices {Value.Format(indices.Shape)} and updates {Value.Format(updates.Shape)} must match each other, data's rank and (updates) data's type");
            }

            int ax = Axis(_axis, data.Rank);
            if (Enumerable.Range(0, data.Rank).Any(i => indices.Shape[i] > data.Shape[i]))
            {
                throw Fail($"indices {Value.Format(indices.Shape)} exceed data {Value.Format(data.Shape)}");
            }

            // The result reads data everywhere but where an update lands: a take from [data ‖ updates].
            var index = Enumerable.Range(0, data.Count).ToArray();
            int[] strides = Value.Strides(data.Shape);
            var counter = new int[indices.Rank];
            for (int k = 0; k < indices.Count; k++)
            {
                long j = indices.GetLong(k);
                j = j < 0 ? j + data.Shape[ax] : j;
                if (j < 0 || j >= data.Shape[ax])
                {
                    throw Fail($"index {indices.GetLong(k)} is outside 0..{data.Shape[ax] - 1} on axis {ax}");
                }

                int dst = 0;
                for (int i = 0; i < counter.Length; i++)
                {
                    dst += (i == ax ? (int)j : counter[i]) * strides[i];
                }

                index[dst] = data.Count + k;
                for (int i = counter.Length - 1; i >= 0; i--)
                {
                    if (++counter[i] < indices.Shape[i])
                    {
                        break;
                    }

                    counter[i] = 0;
                }
            }

            var both = Value.Allocate(data.Type, (long)data.Count + updates.Count, Label);
            Array.Copy(data.Data, both, data.Count);
            Array.Copy(updates.Data, 0, both, data.Count, updates.Count);
            return [new Value(both, [both.Length]).Take(index, data.Shape)];
        }
    }
}
