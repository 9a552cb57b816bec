using System.Numerics;
using FastLstm.Kernels;

namespace FastLstm.Cells;

/// <summary>
/// The four-gate LSTM of the source notes, gate rows i, f, N, V:
/// learn <c>N⊙i</c> (N = tanh, i = σ), forget <c>m = LTM⊙f</c>, remember <c>LTM' = m + N⊙i</c>,
/// use <c>STM' = tanh(W_u m + b_u) ⊙ V</c> (V = σ). The use gate reads m, not LTM', through its own
/// square matrix <c>weight_use</c> and bias <c>bias_use</c>, so it is a second phase after the gates. Aux holds m
/// (the phase-2 input) and U. Prepared bias blocks: the ih + hh sums of i, f, N, V, then b_u.
/// </summary>
internal sealed class SeedLstmCell : Cell
{
    public static readonly SeedLstmCell Instance = new();

    private const int WeightUse = 0, BiasUse = 1;

    private static readonly ExtraTensor[] Extras = [new("weight_use", Square: true), new("bias_use", Square: false)];

    public override int Gates => 4;

    public override bool HasCellState => true;

    public override IReadOnlyList<ExtraTensor> ExtraTensors => Extras;

    public override (string Weight, string Bias, int Block)? Phase2 => ("weight_use", "bias_use", 0);

    public override int AuxBlocks => 2;

    public override int BiasBlocks => 5;

    public override int NaiveCacheLength(int hidden) => 6 * hidden;

    public override FusedCell<T> Fused<T, TV>() => Kernels<T, TV>.Instance;

    public override void NaiveForward<T>(in NaiveWeights<T> w, ReadOnlySpan<T> x, ReadOnlySpan<T> h, ReadOnlySpan<T> c, Span<T> hOut, Span<T> cOut, Span<T> cache)
    {
        int n = w.HiddenSize;
        Span<T> i = cache[..n], f = cache.Slice(n, n), nn = cache.Slice(2 * n, n), v = cache.Slice(3 * n, n), m = cache.Slice(4 * n, n), u = cache.Slice(5 * n, n);
        for (int j = 0; j < n; j++)
        {
            i[j] = Sigmoid(Pre(w, 0, j, x, h));
            f[j] = Sigmoid(Pre(w, 1, j, x, h));
            nn[j] = Tanh(Pre(w, 2, j, x, h));
            v[j] = Sigmoid(Pre(w, 3, j, x, h));
            m[j] = c[j] * f[j];
            cOut[j] = m[j] + (nn[j] * i[j]);
        }

        for (int j = 0; j < n; j++)
        {
            u[j] = Tanh(w.Extra(BiasUse)[j] + Dot(w.Extra(WeightUse), j, m));
            hOut[j] = u[j] * v[j];
        }

        static T Pre(in NaiveWeights<T> w, int gate, int j, ReadOnlySpan<T> x, ReadOnlySpan<T> h)
        {
            int row = (gate * w.HiddenSize) + j;
            return w.Bih[row] + Dot(w.Wih, row, x) + w.Bhh[row] + Dot(w.Whh, row, h);
        }
    }

    public override void NaiveBackward<T>(in NaiveWeights<T> w, in NaiveGrads<T> g, ReadOnlySpan<T> x, ReadOnlySpan<T> h, ReadOnlySpan<T> c,
        ReadOnlySpan<T> cache, ReadOnlySpan<T> dhOut, ReadOnlySpan<T> dcOut, Span<T> dx, Span<T> dh, Span<T> dc)
    {
        int n = w.HiddenSize;
        ReadOnlySpan<T> i = cache[..n], f = cache.Slice(n, n), nn = cache.Slice(2 * n, n), v = cache.Slice(3 * n, n), m = cache.Slice(4 * n, n), u = cache.Slice(5 * n, n);
        dx.Clear();
        dh.Clear();
        var dm = new T[n];
        var dav = new T[n];
        for (int j = 0; j < n; j++)
        {
            T dau = dhOut[j] * v[j] * (T.One - (u[j] * u[j]));
            dav[j] = dhOut[j] * u[j] * v[j] * (T.One - v[j]);
            AffineBackward(dau, j, w.Extra(WeightUse), m, g.Extra(WeightUse), g.Extra(BiasUse), dm);
        }

        for (int j = 0; j < n; j++)
        {
            T dmt = dcOut[j] + dm[j];
            dc[j] = dmt * f[j];
            Span<T> da = [dcOut[j] * nn[j] * i[j] * (T.One - i[j]), dmt * c[j] * f[j] * (T.One - f[j]), dcOut[j] * i[j] * (T.One - (nn[j] * nn[j])), dav[j]];
            for (int gate = 0; gate < 4; gate++)
            {
                int row = (gate * n) + j;
                AffineBackward(da[gate], row, w.Wih, x, g.Wih, g.Bih, dx);
                AffineBackward(da[gate], row, w.Whh, h, g.Whh, g.Bhh, dh);
            }
        }
    }

    private sealed unsafe class Kernels<T, TV> : FusedCell<T, TV>
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TV : unmanaged, IVec<TV, T>
    {
        public static readonly Kernels<T, TV> Instance = new();

        public override void PrepareBias(ReadOnlySpan<T> parameters, LayerTensors tensors, int h, int hp, Span<T> dst)
        {
            SumBlocks(Of(parameters, tensors.BiasIh), Of(parameters, tensors.BiasHh), 4, h, hp, dst);
            PadBlocks(Of(parameters, tensors.Extra[BiasUse]), 1, h, hp, dst[(4 * hp)..]);
        }

        public override void Forward1(in StepArgs<T> s)
        {
            int hp = s.Hp, w = TV.Count;
            T* b = s.Bias;
            for (int r = 0; r < s.Rows; r++)
            {
                T* gx = s.Gx + ((long)r * s.LdGx);
                T* gh = s.Gh + ((long)r * s.LdGh);
                T* cp = s.CPrev + ((long)r * hp);
                T* c = s.C + ((long)r * hp);
                T* m = s.Aux + ((long)r * s.LdAux);
                Gate(default(SigmoidOp<T>), default(NoClip<T>), gx, gx, gh, b, null, s.Width);
                Gate(default(SigmoidOp<T>), default(NoClip<T>), gx + hp, gx + hp, gh + hp, b + hp, null, s.Width);
                Gate(default(TanhOp<T>), default(NoClip<T>), gx + (2 * hp), gx + (2 * hp), gh + (2 * hp), b + (2 * hp), null, s.Width);
                Gate(default(SigmoidOp<T>), default(NoClip<T>), gx + (3 * hp), gx + (3 * hp), gh + (3 * hp), b + (3 * hp), null, s.Width);
                for (int j = 0; j < s.Width; j += w)
                {
                    var mv = TV.Load(cp + j) * TV.Load(gx + hp + j);
                    TV.Store(mv, m + j);
                    TV.Store(TV.Fma(TV.Load(gx + (2 * hp) + j), TV.Load(gx + j), mv), c + j);
                }
            }
        }

        public override void Forward2(in StepArgs<T> s)
        {
            int hp = s.Hp, w = TV.Count;
            T* b = s.Bias + (4 * hp);
            for (int r = 0; r < s.Rows; r++)
            {
                T* gx = s.Gx + ((long)r * s.LdGx);
                T* g2 = s.G2 + ((long)r * hp);
                T* u = s.Aux + ((long)r * s.LdAux) + hp;
                T* h = s.H + ((long)r * hp);
                Activate(default(TanhOp<T>), u, g2, b, s.Width);
                for (int j = 0; j < s.Width; j += w)
                {
                    TV.Store(TV.Load(u + j) * TV.Load(gx + (3 * hp) + j), h + j);
                }
            }
        }

        public override void Backward2(in StepArgs<T> s)
        {
            int hp = s.Hp, w = TV.Count;
            var one = TV.One;
            for (int r = 0; r < s.Rows; r++)
            {
                T* a = s.Gx + ((long)r * s.LdGx);
                T* u = s.Aux + ((long)r * s.LdAux) + hp;
                T* dhp = s.DH + ((long)r * hp);
                T* dgx = s.DGx + ((long)r * s.LdGx);
                T* dg2 = s.DG2 + ((long)r * hp);
                for (int j = 0; j < s.Width; j += w)
                {
                    var v = TV.Load(a + (3 * hp) + j);
                    var uv = TV.Load(u + j);
                    var dh = TV.Load(dhp + j);
                    TV.Store(dh * v * TV.FnmAdd(uv, uv, one), dg2 + j);
                    TV.Store(dh * uv * v * (one - v), dgx + (3 * hp) + j);
                }
            }
        }

        public override void Backward1(in StepArgs<T> s)
        {
            int hp = s.Hp, w = TV.Count;
            var one = TV.One;
            for (int r = 0; r < s.Rows; r++)
            {
                T* a = s.Gx + ((long)r * s.LdGx);
                T* cp = s.CPrev + ((long)r * hp);
                T* dm = s.DM + ((long)r * hp);
                T* dcp = s.DC + ((long)r * hp);
                T* dg = s.DGx + ((long)r * s.LdGx);
                for (int j = 0; j < s.Width; j += w)
                {
                    var i = TV.Load(a + j);
                    var f = TV.Load(a + hp + j);
                    var n = TV.Load(a + (2 * hp) + j);
                    var dc = TV.Load(dcp + j);
                    var dmt = dc + TV.Load(dm + j);
                    TV.Store(dmt * f, dcp + j);
                    TV.Store(dc * n * i * (one - i), dg + j);
                    TV.Store(dmt * TV.Load(cp + j) * f * (one - f), dg + hp + j);
                    TV.Store(dc * i * TV.FnmAdd(n, n, one), dg + (2 * hp) + j);
                }
            }
        }
    }
}
