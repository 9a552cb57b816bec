using System.Numerics;
using System.Runtime.Intrinsics;
using static FastLstm.Kernels.Activations;
using static FastLstm.Kernels.Simd;

namespace FastLstm.Cells;

/// <summary>
/// The four-gate LSTM of the source notes, gate rows i, f, N, V:
/// learn <c>N⊙i</c> (N = tanh, i = σ), forget <c>m = LTM⊙f</c>, remember <c>LTM' = m + N⊙i</c>,
/// use <c>STM' = tanh(W_u m + b_u) ⊙ V</c> (V = σ). The use gate reads m, not LTM', through its own
/// square matrix, so it is a second phase after the gates. Aux holds m (the phase-2 input) and U.
/// Prepared bias blocks: the ih + hh sums of i, f, N, V, then b_u.
/// </summary>
internal sealed unsafe class SeedLstmCell<T> : TwoPhaseCell<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    public static readonly SeedLstmCell<T> Instance = new();

    public override int Gates => 4;

    public override bool HasCellState => true;

    public override int AuxBlocks => 2;

    public override int BiasBlocks => 5;

    public override (string Weight, string Bias, int Block) Phase2Source => ("weight_use", "bias_use", 0);

    public override int NaiveCacheLength(int hidden) => 6 * hidden;

    public override void PrepareBias(ReadOnlySpan<T> bih, ReadOnlySpan<T> bhh, ReadOnlySpan<T> bu, int h, int hp, Span<T> dst)
    {
        dst.Clear();
        for (int q = 0; q < 4 * h; q++)
        {
            dst[((q / h) * hp) + (q % h)] = bih[q] + bhh[q];
        }

        bu.CopyTo(dst.Slice(4 * hp, h));
    }

    public override void Forward1(in StepArgs<T> s)
    {
        int hp = s.Hp, w = Vector256<T>.Count;
        T* b = s.Bias;
        for (int r = 0; r < s.Rows; r++)
        {
            T* gx = s.Gx + ((long)r * s.LdGx);
            T* gh = s.Gh + ((long)r * s.LdGh);
            T* cp = s.CPrev + ((long)r * hp);
            T* c = s.C + ((long)r * hp);
            T* m = s.Aux + ((long)r * s.LdAux);
            for (int j = 0; j < s.Width; j += w)
            {
                var i = Sigmoid(Vector256.Load(gx + j) + Vector256.Load(gh + j) + Vector256.Load(b + j));
                var f = Sigmoid(Vector256.Load(gx + hp + j) + Vector256.Load(gh + hp + j) + Vector256.Load(b + hp + j));
                var n = Tanh(Vector256.Load(gx + (2 * hp) + j) + Vector256.Load(gh + (2 * hp) + j) + Vector256.Load(b + (2 * hp) + j));
                var v = Sigmoid(Vector256.Load(gx + (3 * hp) + j) + Vector256.Load(gh + (3 * hp) + j) + Vector256.Load(b + (3 * hp) + j));
                var mv = Vector256.Load(cp + j) * f;
                i.Store(gx + j);
                f.Store(gx + hp + j);
                n.Store(gx + (2 * hp) + j);
                v.Store(gx + (3 * hp) + j);
                mv.Store(m + j);
                Fma(n, i, mv).Store(c + j);
            }
        }
    }

    public override void Forward2(in StepArgs<T> s)
    {
        int hp = s.Hp, w = Vector256<T>.Count;
        T* b = s.Bias + (4 * hp);
        for (int r = 0; r < s.Rows; r++)
        {
            T* gx = s.Gx + ((long)r * s.LdGx);
            T* g2 = s.G2 + ((long)r * hp);
            T* u = s.Aux + ((long)r * s.LdAux) + hp;
            T* h = s.H + ((long)r * hp);
            for (int j = 0; j < s.Width; j += w)
            {
                var uv = Tanh(Vector256.Load(g2 + j) + Vector256.Load(b + j));
                uv.Store(u + j);
                (uv * Vector256.Load(gx + (3 * hp) + j)).Store(h + j);
            }
        }
    }

    public override void Backward2(in StepArgs<T> s)
    {
        int hp = s.Hp, w = Vector256<T>.Count;
        var one = Vector256<T>.One;
        for (int r = 0; r < s.Rows; r++)
        {
            T* a = s.Gx + ((long)r * s.LdGx);
            T* u = s.Aux + ((long)r * s.LdAux) + hp;
            T* dhp = s.DH + ((long)r * hp);
            T* dgx = s.DGx + ((long)r * s.LdGx);
            T* dg2 = s.DG2 + ((long)r * hp);
            for (int j = 0; j < s.Width; j += w)
            {
                var v = Vector256.Load(a + (3 * hp) + j);
                var uv = Vector256.Load(u + j);
                var dh = Vector256.Load(dhp + j);
                (dh * v * FnmAdd(uv, uv, one)).Store(dg2 + j);
                (dh * uv * v * (one - v)).Store(dgx + (3 * hp) + j);
            }
        }
    }

    public override void Backward1(in StepArgs<T> s)
    {
        int hp = s.Hp, w = Vector256<T>.Count;
        var one = Vector256<T>.One;
        for (int r = 0; r < s.Rows; r++)
        {
            T* a = s.Gx + ((long)r * s.LdGx);
            T* cp = s.CPrev + ((long)r * hp);
            T* dm = s.DM + ((long)r * hp);
            T* dcp = s.DC + ((long)r * hp);
            T* dg = s.DGx + ((long)r * s.LdGx);
            for (int j = 0; j < s.Width; j += w)
            {
                var i = Vector256.Load(a + j);
                var f = Vector256.Load(a + hp + j);
                var n = Vector256.Load(a + (2 * hp) + j);
                var dc = Vector256.Load(dcp + j);
                var dmt = dc + Vector256.Load(dm + j);
                (dmt * f).Store(dcp + j);
                (dc * n * i * (one - i)).Store(dg + j);
                (dmt * Vector256.Load(cp + j) * f * (one - f)).Store(dg + hp + j);
                (dc * i * FnmAdd(n, n, one)).Store(dg + (2 * hp) + j);
            }
        }
    }

    public override void NaiveForward(in NaiveWeights<T> w, ReadOnlySpan<T> x, ReadOnlySpan<T> h, ReadOnlySpan<T> c, Span<T> hOut, Span<T> cOut, Span<T> cache)
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
            u[j] = Tanh(w.Bu[j] + Dot(w.Wu, j, m));
            hOut[j] = u[j] * v[j];
        }

        static T Pre(in NaiveWeights<T> w, int gate, int j, ReadOnlySpan<T> x, ReadOnlySpan<T> h)
        {
            int row = (gate * w.HiddenSize) + j;
            return w.Bih[row] + Dot(w.Wih, row, x) + w.Bhh[row] + Dot(w.Whh, row, h);
        }
    }

    public override void NaiveBackward(in NaiveWeights<T> w, in NaiveGrads<T> g, ReadOnlySpan<T> x, ReadOnlySpan<T> h, ReadOnlySpan<T> c,
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
            AffineBackward(dau, j, w.Wu, m, g.Wu, g.Bu, dm);
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
}
