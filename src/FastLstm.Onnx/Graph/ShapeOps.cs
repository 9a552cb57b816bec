using FastLstm.Onnx.Proto;

namespace FastLstm.Onnx.Graph;

/// <summary>The ops that move or describe data without arithmetic: what exporters put around recurrent nodes.</summary>
internal static class ShapeOps
{
    public static Op? Compile(NodeProto node, int opset, NodeAttributes a) => node.OpType switch
    {
        "Constant" => new ConstantOp(node, a),
        "Identity" => new FuncOp(node, (op, x) => [op.Need(x, 0)]),
        "Shape" => new ShapeOp(node, a),
        "Gather" => new GatherOp(node, a.Int("axis", 0)),
        "Unsqueeze" or "Squeeze" => new SqueezeOp(node, opset < 13 ? a.Ints("axes") : null, node.OpType == "Unsqueeze", opset < 13),
        "Concat" => a.Has("axis") ? new ConcatOp(node, a.Int("axis", 0)) : throw a.Fail("attribute 'axis' is required", invalid: true),
        "Reshape" => new ReshapeOp(node, a.Int("allowzero", 0) != 0),
        "Flatten" => new FlattenOp(node, a.Int("axis", 1)),
        "Transpose" => new TransposeOp(node, a.Ints("perm")),
        "Slice" => new SliceOp(node, opset < 10 ? (a.Ints("starts"), a.Ints("ends"), a.Ints("axes")) : null),
        "ConstantOfShape" => new ConstantOfShapeOp(node, a.Tensor("value")),
        "Expand" => new ExpandOp(node),
        "Cast" => new CastOp(node, a),
        _ => null,
    };

    private sealed class FuncOp(NodeProto node, Func<FuncOp, Value?[], Value?[]> run) : Op(node)
    {
        public new Value Need(Value?[] inputs, int k) => base.Need(inputs, k);

        public override Value?[] Run(Value?[] inputs, object? state) => run(this, inputs);
    }

    private sealed class ConstantOp : Op
    {
        private readonly Value _value;

        public ConstantOp(NodeProto node, NodeAttributes a) : base(node)
        {
            var candidates = new List<Value?>
            {
                a.Tensor("value"),
                a.Has("value_float") ? new Value(new[] { a.Float("value_float", 0) }, []) : null,
                a.Floats("value_floats") is { } fs ? new Value(fs, [fs.Length]) : null,
                a.Has("value_int") ? Value.Scalar(a.Int("value_int", 0)) : null,
                a.Ints("value_ints") is { } ls ? Value.Vector(ls) : null,
            };
            var given = candidates.Where(v => v != null).ToList();
            _value = given.Count == 1 ? given[0]! : throw a.Fail("expected exactly one value attribute (value, value_float(s), value_int(s))", invalid: given.Count > 1);
        }

        public override Value?[] Run(Value?[] inputs, object? state) => [_value];
    }

    private sealed class ShapeOp(NodeProto node, NodeAttributes a) : Op(node)
    {
        private readonly long _start = a.Int("start", 0);
        private readonly long? _end = a.Has("end") ? a.Int("end", 0) : null;

        public override Value?[] Run(Value?[] inputs, object? state)
        {
            var shape = Need(inputs, 0).Shape;
            int r = shape.Length;
            int s = (int)Math.Clamp(_start < 0 ? _start + r : _start, 0, r);
            int e = (int)Math.Clamp(_end is { } end ? (end < 0 ? end + r : end) : r, 0, r);
            return [Value.Vector(shape[s..Math.Max(s, e)].Select(d => (long)d).ToArray())];
        }
    }

    private sealed class GatherOp(NodeProto node, long axis) : Op(node)
    {
        public override Value?[] Run(Value?[] inputs, object? state)
        {
            Value data = Need(inputs, 0), indices = Need(inputs, 1);
            if (indices.IsFloating)
            {
                throw Fail("indices must be integers");
            }

            int ax = Axis(axis, data.Rank), n = data.Shape[ax];
            int outer = data.Shape[..ax].Aggregate(1, (p, d) => p * d);
            int inner = data.Shape[(ax + 1)..].Aggregate(1, (p, d) => p * d);
            int[] shape = [.. data.Shape[..ax], .. indices.Shape, .. data.Shape[(ax + 1)..]];
            if (Value.Product(shape) > Value.MaxElements)
            {
                throw Fail($"output shape {Value.Format(shape)} is too large");
            }

            var index = new int[Value.Product(shape)];
            int k = 0;
            for (int o = 0; o < outer; o++)
            {
                for (int i = 0; i < indices.Count; i++)
                {
                    long j = indices.GetLong(i);
                    j = j < 0 ? j + n : j;
                    if (j < 0 || j >= n)
                    {
                        throw Fail($"index {indices.GetLong(i)} is outside 0..{n - 1} on axis {ax}");
                    }

                    for (int t = 0; t < inner; t++)
                    {
                        index[k++] = (((o * n) + (int)j) * inner) + t;
                    }
                }
            }

            return [data.Take(index, shape)];
        }
    }

    private sealed class SqueezeOp(NodeProto node, long[]? axesAttribute, bool unsqueeze, bool axesFromAttribute) : Op(node)
    {
        public override Value?[] Run(Value?[] inputs, object? state)
        {
            var x = Need(inputs, 0);
            long[]? axes = axesFromAttribute ? axesAttribute : Optional(inputs, 1)?.ToLongs();
            if (unsqueeze)
            {
                if (axes == null)
                {
                    throw Fail("axes are required");
                }

                int rank = x.Rank + axes.Length;
                var set = axes.Select(a => Axis(a, rank)).ToHashSet();
                if (set.Count != axes.Length)
                {
                    throw Fail("axes repeat");
                }

                var shape = new int[rank];
                for (int i = 0, j = 0; i < rank; i++)
                {
                    shape[i] = set.Contains(i) ? 1 : x.Shape[j++];
                }

                return [x.WithShape(shape)];
            }

            var drop = axes == null
                ? Enumerable.Range(0, x.Rank).Where(i => x.Shape[i] == 1).ToHashSet()
                : axes.Select(a => Axis(a, x.Rank)).ToHashSet();
            if (drop.Any(i => x.Shape[i] != 1))
            {
                throw Fail($"cannot squeeze a dimension that is not 1 (shape {Value.Format(x.Shape)})");
            }

            return [x.WithShape(Enumerable.Range(0, x.Rank).Where(i => !drop.Contains(i)).Select(i => x.Shape[i]).ToArray())];
        }
    }

    private sealed class ConcatOp(NodeProto node, long axis) : Op(node)
    {
        public override Value?[] Run(Value?[] inputs, object? state)
        {
            var parts = Enumerable.Range(0, inputs.Length).Select(k => Need(inputs, k)).ToArray();
            var first = parts[0];
            int ax = Axis(axis, first.Rank);
            foreach (var p in parts)
            {
                if (p.Type != first.Type || p.Rank != first.Rank || Enumerable.Range(0, p.Rank).Any(i => i != ax && p.Shape[i] != first.Shape[i]))
                {
                    throw Fail($"inputs {Value.Format(first.Shape)} and {Value.Format(p.Shape)} ({first.Type}, {p.Type}) do not concatenate on axis {ax}");
                }
            }

            int[] shape = (int[])first.Shape.Clone();
            shape[ax] = parts.Sum(p => p.Shape[ax]);
            int outer = shape[..ax].Aggregate(1, (a, d) => a * d);
            int inner = shape[(ax + 1)..].Aggregate(1, (a, d) => a * d);
            var all = ConcatData(parts);
            var index = new int[Value.Product(shape)];
            int k = 0;
            for (int o = 0; o < outer; o++)
            {
                int offset = 0;
                foreach (var p in parts)
                {
                    int block = p.Shape[ax] * inner;
                    for (int t = 0; t < block; t++)
                    {
                        index[k++] = offset + (o * block) + t;
                    }

                    offset += p.Count;
                }
            }

            return [all.Take(index, shape)];
        }

        private static Value ConcatData(Value[] parts)
        {
            var data = Value.Allocate(parts[0].Type, parts.Sum(p => (long)p.Count), "concat");
            int at = 0;
            foreach (var p in parts)
            {
                Array.Copy(p.Data, 0, data, at, p.Count);
                at += p.Count;
            }

            return new Value(data, [at]);
        }
    }

    private sealed class ReshapeOp(NodeProto node, bool allowZero) : Op(node)
    {
        public override Value?[] Run(Value?[] inputs, object? state)
        {
            var x = Need(inputs, 0);
            long[] target = Need(inputs, 1).ToLongs();
            var shape = new long[target.Length];
            int infer = -1;
            long known = 1;
            for (int i = 0; i < target.Length; i++)
            {
                long d = target[i] == 0 && !allowZero ? (i < x.Rank ? x.Shape[i] : throw Fail("0 copies a dimension the input does not have")) : target[i];
                if (d == -1)
                {
                    infer = infer < 0 ? i : throw Fail("more than one -1 in the shape");
                }
                else if (d < 0 || d > Value.MaxElements)
                {
                    throw Fail($"dimension {d} is invalid");
                }
                else
                {
                    // Both factors are at most 2^30, so the product cannot overflow before this check.
                    known *= Math.Max(d, 1);
                    if (known > Value.MaxElements)
                    {
                        throw Fail($"shape [{string.Join(", ", target)}] exceeds {Value.MaxElements} elements");
                    }
                }

                shape[i] = d;
            }

            if (infer >= 0)
            {
                shape[infer] = known == 0 || x.Count % known != 0 ? throw Fail($"cannot infer -1 from {x.Count} elements") : x.Count / known;
            }

            var r = CheckedShape(shape);
            return Value.Product(r) == x.Count ? [x.WithShape(r)] : throw Fail($"shape {Value.Format(r)} does not hold {x.Count} elements");
        }
    }

    private sealed class FlattenOp(NodeProto node, long axis) : Op(node)
    {
        public override Value?[] Run(Value?[] inputs, object? state)
        {
            var x = Need(inputs, 0);
            int ax = axis == x.Rank ? x.Rank : Axis(axis, x.Rank);
            int outer = x.Shape[..ax].Aggregate(1, (a, d) => a * d);
            return [x.WithShape([outer, outer == 0 ? 0 : x.Count / outer])];
        }
    }

    private sealed class TransposeOp(NodeProto node, long[]? perm) : Op(node)
    {
        public override Value?[] Run(Value?[] inputs, object? state)
        {
            var x = Need(inputs, 0);
            int r = x.Rank;
            int[] p = perm?.Select(a => Axis(a, r, "perm entry")).ToArray() ?? Enumerable.Range(0, r).Reverse().ToArray();
            if (p.Length != r || p.Distinct().Count() != r)
            {
                throw Fail($"perm [{string.Join(", ", perm ?? [])}] is not a permutation of rank {r}");
            }

            return [Permute(x, p)];
        }
    }

    /// <summary>Output dimension i is input dimension p[i].</summary>
    public static Value Permute(Value x, int[] p)
    {
        int r = x.Rank;
        int[] shape = p.Select(a => x.Shape[a]).ToArray();
        int[] inStrides = Value.Strides(x.Shape);
        var index = new int[x.Count];
        var counter = new int[r];
        for (int k = 0; k < index.Length; k++)
        {
            int src = 0;
            for (int i = 0; i < r; i++)
            {
                src += counter[i] * inStrides[p[i]];
            }

            index[k] = src;
            for (int i = r - 1; i >= 0; i--)
            {
                if (++counter[i] < shape[i])
                {
                    break;
                }

                counter[i] = 0;
            }
        }

        return x.Take(index, shape);
    }

    private sealed class SliceOp(NodeProto node, (long[]? Starts, long[]? Ends, long[]? Axes)? attributes) : Op(node)
    {
        public override Value?[] Run(Value?[] inputs, object? state)
        {
            var x = Need(inputs, 0);
            long[] starts, ends;
            long[]? axes, steps = null;
            if (attributes is { } a)
            {
                (starts, ends, axes) = (a.Starts ?? throw Fail("starts are required"), a.Ends ?? throw Fail("ends are required"), a.Axes);
            }
            else
            {
                starts = Need(inputs, 1).ToLongs();
                ends = Need(inputs, 2).ToLongs();
                axes = Optional(inputs, 3)?.ToLongs();
                steps = Optional(inputs, 4)?.ToLongs();
            }

            axes ??= Enumerable.Range(0, starts.Length).Select(i => (long)i).ToArray();
            if (ends.Length != starts.Length || axes.Length != starts.Length || (steps != null && steps.Length != starts.Length))
            {
                throw Fail("starts, ends, axes and steps differ in length");
            }

            int r = x.Rank;
            var begin = new long[r];
            var step = Enumerable.Repeat(1L, r).ToArray();
            var size = x.Shape.Select(d => (long)d).ToArray();
            var seen = new HashSet<int>();
            for (int i = 0; i < starts.Length; i++)
            {
                int ax = Axis(axes[i], r);
                if (!seen.Add(ax))
                {
                    throw Fail($"axis {ax} is sliced twice");
                }

                long n = x.Shape[ax], st = steps?[i] ?? 1;
                if (st == 0)
                {
                    throw Fail("a step is 0");
                }

                long s = starts[i] < 0 ? starts[i] + n : starts[i];
                long e = ends[i] < 0 ? ends[i] + n : ends[i];
                if (st > 0)
                {
                    s = Math.Clamp(s, 0, n);
                    e = Math.Clamp(e, 0, n);
                    size[ax] = Math.Max(0, (e - s + st - 1) / st);
                }
                else
                {
                    s = Math.Clamp(s, -1, n - 1);
                    e = Math.Clamp(e, -1, n - 1);
                    size[ax] = Math.Max(0, (s - e + (-st) - 1) / (-st));
                }

                begin[ax] = s;
                step[ax] = st;
            }

            int[] shape = size.Select(d => (int)d).ToArray();
            int[] strides = Value.Strides(x.Shape);
            var index = new int[Value.Product(shape)];
            var counter = new int[r];
            for (int k = 0; k < index.Length; k++)
            {
                long src = 0;
                for (int i = 0; i < r; i++)
                {
                    src += (begin[i] + (counter[i] * step[i])) * strides[i];
                }

                index[k] = (int)src;
                for (int i = r - 1; i >= 0; i--)
                {
                    if (++counter[i] < shape[i])
                    {
                        break;
                    }

                    counter[i] = 0;
                }
            }

            return [x.Take(index, shape)];
        }
    }

    private sealed class ConstantOfShapeOp(NodeProto node, Value? value) : Op(node)
    {
        public override Value?[] Run(Value?[] inputs, object? state)
        {
            var shape = CheckedShape(Need(inputs, 0).ToLongs());
            var v = value ?? new Value(new float[] { 0 }, [1]);
            if (v.Count != 1)
            {
                throw Fail("value must hold one element");
            }

            var data = Value.Allocate(v.Type, Value.Product(shape), Label);
            switch (data)
            {
                case float[] f:
                    Array.Fill(f, ((float[])v.Data)[0]);
                    break;
                case double[] d:
                    Array.Fill(d, ((double[])v.Data)[0]);
                    break;
                case int[] n:
                    Array.Fill(n, ((int[])v.Data)[0]);
                    break;
                case long[] l:
                    Array.Fill(l, ((long[])v.Data)[0]);
                    break;
            }

            return [new Value(data, shape)];
        }
    }

    private sealed class ExpandOp(NodeProto node) : Op(node)
    {
        public override Value?[] Run(Value?[] inputs, object? state)
        {
            var x = Need(inputs, 0);
            var target = CheckedShape(Need(inputs, 1).ToLongs());
            var shape = Broadcast.Shape(x.Shape, target) ?? throw Fail($"{Value.Format(x.Shape)} does not broadcast to {Value.Format(target)}");
            return [x.Take(Broadcast.Index(x.Shape, shape), shape)];
        }
    }

    private sealed class CastOp : Op
    {
        private readonly OnnxElementType _to;

        public CastOp(NodeProto node, NodeAttributes a) : base(node)
        {
            a.Int("saturate", 1);
            _to = (TensorProto.Types.DataType)a.Int("to", 0) switch
            {
                TensorProto.Types.DataType.Float => OnnxElementType.Float,
                TensorProto.Types.DataType.Double => OnnxElementType.Double,
                TensorProto.Types.DataType.Int32 => OnnxElementType.Int32,
                TensorProto.Types.DataType.Int64 => OnnxElementType.Int64,
                var t => throw a.Fail($"casting to {t} is not supported (float, double, int32, int64 are)", invalid: false),
            };
        }

        public override Value?[] Run(Value?[] inputs, object? state)
        {
            var x = Need(inputs, 0);
            var data = Value.Allocate(_to, x.Count, Label);
            for (int i = 0; i < x.Count; i++)
            {
                switch (data)
                {
                    case float[] f:
                        f[i] = (float)x.GetDouble(i);
                        break;
                    case double[] d:
                        d[i] = x.GetDouble(i);
                        break;
                    case int[] n:
                        n[i] = x.IsFloating ? (int)x.GetDouble(i) : (int)x.GetLong(i);
                        break;
                    case long[] l:
                        l[i] = x.IsFloating ? (long)x.GetDouble(i) : x.GetLong(i);
                        break;
                }
            }

            return [new Value(data, x.Shape)];
        }
    }
}

/// <summary>Numpy-style broadcasting, shared by Expand and the elementwise ops.</summary>
internal static class Broadcast
{
    public static int[]? Shape(int[] a, int[] b)
    {
        int r = Math.Max(a.Length, b.Length);
        var s = new int[r];
        for (int i = 0; i < r; i++)
        {
            int da = i - (r - a.Length) >= 0 ? a[i - (r - a.Length)] : 1;
            int db = i - (r - b.Length) >= 0 ? b[i - (r - b.Length)] : 1;
            if (da != db && da != 1 && db != 1)
            {
                return null;
            }

            s[i] = da == 1 ? db : da;
        }

        return Value.Product(s) <= Value.MaxElements ? s : null;
    }

    /// <summary>For each element of <paramref name="shape"/>, the element of a tensor of <paramref name="from"/> it reads.</summary>
    public static int[] Index(int[] from, int[] shape)
    {
        int r = shape.Length, lead = r - from.Length;
        int[] strides = Value.Strides(from);
        var index = new int[Value.Product(shape)];
        var counter = new int[r];
        for (int k = 0; k < index.Length; k++)
        {
            int src = 0;
            for (int i = lead; i < r; i++)
            {
                if (from[i - lead] != 1)
                {
                    src += counter[i] * strides[i - lead];
                }
            }

            index[k] = src;
            for (int i = r - 1; i >= 0; i--)
            {
                if (++counter[i] < shape[i])
                {
                    break;
                }

                counter[i] = 0;
            }
        }

        return index;
    }
}
