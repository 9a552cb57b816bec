using FastLstm.Onnx.Proto;

namespace FastLstm.Onnx.Graph;

/// <summary>
/// Arithmetic around the recurrent nodes: heads (Gemm, MatMul + Add), output activations, shape arithmetic. Floating
/// products accumulate in double and round once, so results are at least as accurate as a float BLAS's.
/// </summary>
internal static class MathOps
{
    public static Op? Compile(NodeProto node, NodeAttributes a) => node.OpType switch
    {
        "Add" or "Sub" or "Mul" or "Div" => new BinaryOp(node),
        "Sigmoid" => new UnaryOp(node, x => 1 / (1 + Math.Exp(-x))),
        "Tanh" => new UnaryOp(node, Math.Tanh),
        "Relu" => new UnaryOp(node, x => Math.Max(x, 0)),
        "Neg" => new UnaryOp(node, x => -x),
        "Exp" => new UnaryOp(node, Math.Exp),
        "Softmax" or "LogSoftmax" => new SoftmaxOp(node, a.Int("axis", Opset(a) >= 13 ? -1 : 1), Opset(a) < 13, node.OpType == "LogSoftmax"),
        "MatMul" => new MatMulOp(node),
        "Gemm" => new GemmOp(node, a.Float("alpha", 1), a.Float("beta", 1), a.Int("transA", 0) != 0, a.Int("transB", 0) != 0),
        _ => null,
    };

    /// <summary>The opset the node binds to, carried on the attribute reader by the compiler.</summary>
    private static int Opset(NodeAttributes a) => a.Opset;

    private static Value Make(OnnxElementType type, double[] values, int[] shape)
    {
        var data = Value.Allocate(type, values.Length, "result");
        switch (data)
        {
            case float[] f:
                for (int i = 0; i < f.Length; i++)
                {
                    f[i] = (float)values[i];
                }

                break;
            case double[] d:
                values.CopyTo(d, 0);
                break;
            default:
                throw new InvalidOperationException("integer result from a floating op");
        }

        return new Value(data, shape);
    }

    private static double[] Doubles(Value v)
    {
        var r = new double[v.Count];
        for (int i = 0; i < r.Length; i++)
        {
            r[i] = v.GetDouble(i);
        }

        return r;
    }

    private sealed class UnaryOp(NodeProto node, Func<double, double> f) : Op(node)
    {
        public override Value?[] Run(Value?[] inputs, object? state)
        {
            var x = Need(inputs, 0);
            if (!x.IsFloating)
            {
                throw Fail("input must be float or double");
            }

            var d = Doubles(x);
            for (int i = 0; i < d.Length; i++)
            {
                d[i] = f(d[i]);
            }

            return [Make(x.Type, d, x.Shape)];
        }
    }

    private sealed class BinaryOp(NodeProto node) : Op(node)
    {
        public override Value?[] Run(Value?[] inputs, object? state)
        {
            Value a = Need(inputs, 0), b = Need(inputs, 1);
            if (a.Type != b.Type)
            {
                throw Fail($"inputs are {a.Type} and {b.Type}");
            }

            var shape = Broadcast.Shape(a.Shape, b.Shape) ?? throw Fail($"{Value.Format(a.Shape)} and {Value.Format(b.Shape)} do not broadcast");
            int[] ia = Broadcast.Index(a.Shape, shape), ib = Broadcast.Index(b.Shape, shape);
            if (!a.IsFloating)
            {
                var l = new long[ia.Length];
                for (int k = 0; k < l.Length; k++)
                {
                    long x = a.GetLong(ia[k]), y = b.GetLong(ib[k]);
                    l[k] = OpType switch
                    {
                        "Add" => x + y,
                        "Sub" => x - y,
                        "Mul" => x * y,
                        _ => y == 0 ? throw Fail("integer division by zero") : x / y,
                    };
                }

                return [a.Type == OnnxElementType.Int64 ? new Value(l, shape) : new Value(l.Select(v => (int)v).ToArray(), shape)];
            }

            var r = new double[ia.Length];
            for (int k = 0; k < r.Length; k++)
            {
                double x = a.GetDouble(ia[k]), y = b.GetDouble(ib[k]);
                r[k] = OpType switch
                {
                    "Add" => x + y,
                    "Sub" => x - y,
                    "Mul" => x * y,
                    _ => x / y,
                };
            }

            return [Make(a.Type, r, shape)];
        }
    }

    private sealed class SoftmaxOp(NodeProto node, long axis, bool flatten, bool log) : Op(node)
    {
        public override Value?[] Run(Value?[] inputs, object? state)
        {
            var x = Need(inputs, 0);
            int ax = Axis(axis, x.Rank);
            int n = flatten ? x.Shape[ax..].Aggregate(1, (p, d) => p * d) : x.Shape[ax];
            int inner = flatten ? 1 : x.Shape[(ax + 1)..].Aggregate(1, (p, d) => p * d);
            var d = Doubles(x);
            int outer = n * inner == 0 ? 0 : d.Length / (n * inner);
            for (int o = 0; o < outer; o++)
            {
                for (int t = 0; t < inner; t++)
                {
                    int at = (o * n * inner) + t;
                    double max = double.NegativeInfinity, sum = 0;
                    for (int j = 0; j < n; j++)
                    {
                        max = Math.Max(max, d[at + (j * inner)]);
                    }

                    for (int j = 0; j < n; j++)
                    {
                        sum += Math.Exp(d[at + (j * inner)] - max);
                    }

                    for (int j = 0; j < n; j++)
                    {
                        double z = d[at + (j * inner)] - max;
                        d[at + (j * inner)] = log ? z - Math.Log(sum) : Math.Exp(z) / sum;
                    }
                }
            }

            return [Make(x.Type, d, x.Shape)];
        }
    }

    /// <summary>C[m, n] = Σ_k A[m, k]·B[k, n] with A and B read through strides (so transposes cost nothing).</summary>
    private static double[] Product(double[] a, int aOffset, int aRow, int aCol, double[] b, int bOffset, int bRow, int bCol, int m, int k, int n)
    {
        var c = new double[m * n];
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int t = 0; t < k; t++)
                {
                    s += a[aOffset + (i * aRow) + (t * aCol)] * b[bOffset + (t * bRow) + (j * bCol)];
                }

                c[(i * n) + j] = s;
            }
        }

        return c;
    }

    private sealed class MatMulOp(NodeProto node) : Op(node)
    {
        public override Value?[] Run(Value?[] inputs, object? state)
        {
            Value a = Need(inputs, 0), b = Need(inputs, 1);
            if (!a.IsFloating || a.Type != b.Type || a.Rank < 1 || b.Rank < 1)
            {
                throw Fail("inputs must be float or double tensors of the same type");
            }

            // Vectors become matrices for the product and lose that dimension afterwards, as numpy does.
            int[] sa = a.Rank == 1 ? [1, a.Shape[0]] : a.Shape;
            int[] sb = b.Rank == 1 ? [b.Shape[0], 1] : b.Shape;
            int m = sa[^2], k = sa[^1], n = sb[^1];
            if (sb[^2] != k)
            {
                throw Fail($"{Value.Format(a.Shape)} × {Value.Format(b.Shape)}: inner sizes differ");
            }

            var batch = Broadcast.Shape(sa[..^2], sb[..^2]) ?? throw Fail($"batch dimensions of {Value.Format(a.Shape)} and {Value.Format(b.Shape)} do not broadcast");
            int[] ia = Broadcast.Index(sa[..^2], batch), ib = Broadcast.Index(sb[..^2], batch);
            if (Value.Product([.. batch, m, n]) > Value.MaxElements)
            {
                throw Fail("result is too large");
            }

            double[] da = Doubles(a), db = Doubles(b);
            var r = new double[ia.Length * m * n];
            for (int p = 0; p < ia.Length; p++)
            {
                Product(da, ia[p] * m * k, k, 1, db, ib[p] * k * n, n, 1, m, k, n).CopyTo(r, p * m * n);
            }

            var shape = new List<int>(batch);
            if (a.Rank > 1)
            {
                shape.Add(m);
            }

            if (b.Rank > 1)
            {
                shape.Add(n);
            }

            return [Make(a.Type, r, shape.ToArray())];
        }
    }

    /// <summary>Y = alpha·A'·B' + beta·C; its attributes are read back when a head is carried into a FastLstm model file.</summary>
    internal sealed class GemmOp(NodeProto node, float alpha, float beta, bool transA, bool transB) : Op(node)
    {
        public float Alpha => alpha;

        public float Beta => beta;

        public bool TransA => transA;

        public bool TransB => transB;

        public override Value?[] Run(Value?[] inputs, object? state)
        {
            Value a = Need(inputs, 0), b = Need(inputs, 1);
            var c = Optional(inputs, 2);
            if (a.Rank != 2 || b.Rank != 2 || !a.IsFloating || a.Type != b.Type || (c != null && c.Type != a.Type))
            {
                throw Fail("A and B must be matrices of one floating type (and C of the same type)");
            }

            int m = transA ? a.Shape[1] : a.Shape[0], k = transA ? a.Shape[0] : a.Shape[1];
            int kb = transB ? b.Shape[1] : b.Shape[0], n = transB ? b.Shape[0] : b.Shape[1];
            if (k != kb)
            {
                throw Fail($"A {Value.Format(a.Shape)} and B {Value.Format(b.Shape)} do not multiply (transA={transA}, transB={transB})");
            }

            var r = Product(Doubles(a), 0, transA ? 1 : k, transA ? m : 1, Doubles(b), 0, transB ? 1 : n, transB ? k : 1, m, k, n);
            for (int i = 0; i < r.Length; i++)
            {
                r[i] *= alpha;
            }

            if (c != null)
            {
                int[] shape = [m, n];
                if (Broadcast.Shape(c.Shape, shape) is not { } s || !s.SequenceEqual(shape))
                {
                    throw Fail($"C {Value.Format(c.Shape)} does not broadcast to [{m}, {n}]");
                }

                int[] ic = Broadcast.Index(c.Shape, shape);
                for (int i = 0; i < r.Length; i++)
                {
                    r[i] += beta * c.GetDouble(ic[i]);
                }
            }

            return [Make(a.Type, r, [m, n])];
        }
    }
}
