using System.Numerics;
using System.Runtime.Intrinsics;
using static FastLstm.Kernels.Activations;
using static FastLstm.Kernels.Simd;

namespace FastLstm.Cells;

/// <summary>
/// PyTorch LSTM, gate rows i, f, g, o:
/// <c>i=σ(·) f=σ(·) g=tanh(·) o=σ(·)</c>, <c>c' = f⊙c + i⊙g</c>, <c>h' = o⊙tanh(c')</c>.
/// Saved for backward: the four activations (in place of the pre-activations) and tanh(c') in Aux.
/// </summary>
internal sealed unsafe class LstmCell<T> : Cell<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    public static readonly LstmCell<T> Instance = new();

    public override int Gates => 4;

    public override bool HasCellState => true;

    public override int AuxBlocks => 1;

    public override int NaiveCacheLength(int hidden) => 5 * hidden;

    public override void PrepareBias(ReadOnlySpan<T> bih, ReadOnlySpan<T> bhh, ReadOnlySpan<T> bu, int h, int hp, Span<T> dst)
    {
        for (int q = 0; q < 4 * h; q++)
        {
            dst[((q / h) * hp) + (q % h)] = bih[q] + bhh[q];
        }
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
            T* h = s.H + ((long)r * hp);
            T* tc = s.Aux + ((long)r * s.LdAux);
            for (int j = 0; j < s.Width; j += w)
            {
                var i = Sigmoid(Vector256.Load(gx + j) + Vector256.Load(gh + j) + Vector256.Load(b + j));
                var f = Sigmoid(Vector256.Load(gx + hp + j) + Vector256.Load(gh + hp + j) + Vector256.Load(b + hp + j));
                var g = Tanh(Vector256.Load(gx + (2 * hp) + j) + Vector256.Load(gh + (2 * hp) + j) + Vector256.Load(b + (2 * hp) + j));
                var o = Sigmoid(Vector256.Load(gx + (3 * hp) + j) + Vector256.Load(gh + (3 * hp) + j) + Vector256.Load(b + (3 * hp) + j));
                var cn = Fma(f, Vector256.Load(cp + j), i * g);
                var t = Tanh(cn);
                i.Store(gx + j);
                f.Store(gx + hp + j);
                g.Store(gx + (2 * hp) + j);
                o.Store(gx + (3 * hp) + j);
                cn.Store(c + j);
                t.Store(tc + j);
                (o * t).Store(h + j);
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
            T* tc = s.Aux + ((long)r * s.LdAux);
            T* dhp = s.DH + ((long)r * hp);
            T* dcp = s.DC + ((long)r * hp);
            T* dg = s.DGx + ((long)r * s.LdGx);
            for (int j = 0; j < s.Width; j += w)
            {
                var i = Vector256.Load(a + j);
                var f = Vector256.Load(a + hp + j);
                var g = Vector256.Load(a + (2 * hp) + j);
                var o = Vector256.Load(a + (3 * hp) + j);
                var t = Vector256.Load(tc + j);
                var dh = Vector256.Load(dhp + j);
                var dc = Fma(dh * o, FnmAdd(t, t, one), Vector256.Load(dcp + j));
                (dc * f).Store(dcp + j);
                (dc * g * i * (one - i)).Store(dg + j);
                (dc * Vector256.Load(cp + j) * f * (one - f)).Store(dg + hp + j);
                (dc * i * FnmAdd(g, g, one)).Store(dg + (2 * hp) + j);
                (dh * t * o * (one - o)).Store(dg + (3 * hp) + j);
            }
        }
    }

    public override void NaiveForward(in NaiveWeights<T> w, ReadOnlySpan<T> x, ReadOnlySpan<T> h, ReadOnlySpan<T> c, Span<T> hOut, Span<T> cOut, Span<T> cache)
    {
        int n = w.HiddenSize;
        for (int j = 0; j < n; j++)
        {
            T i = Sigmoid(Pre(w, 0, j, x, h));
            T f = Sigmoid(Pre(w, 1, j, x, h));
            T g = Tanh(Pre(w, 2, j, x, h));
            T o = Sigmoid(Pre(w, 3, j, x, h));
            cOut[j] = (f * c[j]) + (i * g);
            hOut[j] = o * Tanh(cOut[j]);
            cache[j] = i;
            cache[n + j] = f;
            cache[(2 * n) + j] = g;
            cache[(3 * n) + j] = o;
            cache[(4 * n) + j] = cOut[j];
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
        dx.Clear();
        dh.Clear();
        for (int j = 0; j < n; j++)
        {
            T i = cache[j], f = cache[n + j], gg = cache[(2 * n) + j], o = cache[(3 * n) + j];
            T t = Tanh(cache[(4 * n) + j]);
            T dcj = dcOut[j] + (dhOut[j] * o * (T.One - (t * t)));
            dc[j] = dcj * f;
            Span<T> da = [dcj * gg * i * (T.One - i), dcj * c[j] * f * (T.One - f), dcj * i * (T.One - (gg * gg)), dhOut[j] * t * o * (T.One - o)];
            for (int gate = 0; gate < 4; gate++)
            {
                int row = (gate * n) + j;
                AffineBackward(da[gate], row, w.Wih, x, g.Wih, g.Bih, dx);
                AffineBackward(da[gate], row, w.Whh, h, g.Whh, g.Bhh, dh);
            }
        }
    }
}
