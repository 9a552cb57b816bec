using System.Numerics;
using FastLstm.Kernels;

namespace FastLstm.Cells;

/// <summary>
/// PyTorch LSTM, gate rows i, f, g, o:
/// <c>i=σ(·) f=σ(·) g=tanh(·) o=σ(·)</c>, <c>c' = f⊙c + i⊙g</c>, <c>h' = o⊙tanh(c')</c>.
/// Saved for backward: the four activations (in place of the pre-activations) and tanh(c') in Aux.
/// </summary>
internal sealed class LstmCell : Cell
{
    public static readonly LstmCell Instance = new();

    public override int Gates => 4;

    public override bool HasCellState => true;

    public override int AuxBlocks => 1;

    public override int NaiveCacheLength(int hidden) => 5 * hidden;

    public override FusedCell<T> Fused<T, TV>() => Kernels<T, TV>.Instance;

    public override void NaiveForward<T>(in NaiveWeights<T> w, ReadOnlySpan<T> x, ReadOnlySpan<T> h, ReadOnlySpan<T> c, Span<T> hOut, Span<T> cOut, Span<T> cache)
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

    public override void NaiveBackward<T>(in NaiveWeights<T> w, in NaiveGrads<T> g, ReadOnlySpan<T> x, ReadOnlySpan<T> h, ReadOnlySpan<T> c,
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

    private sealed unsafe class Kernels<T, TV> : FusedCell<T, TV>
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TV : unmanaged, IVec<TV, T>
    {
        public static readonly Kernels<T, TV> Instance = new();

        public override void PrepareBias(ReadOnlySpan<T> parameters, LayerTensors tensors, int h, int hp, Span<T> dst) =>
            SumBlocks(Of(parameters, tensors.BiasIh), Of(parameters, tensors.BiasHh), 4, h, hp, dst);

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
                T* h = s.H + ((long)r * hp);
                T* tc = s.Aux + ((long)r * s.LdAux);
                Activate<SigmoidOp<T>>(gx, gx, gh, b, s.Width);
                Activate<SigmoidOp<T>>(gx + hp, gx + hp, gh + hp, b + hp, s.Width);
                Activate<TanhOp<T>>(gx + (2 * hp), gx + (2 * hp), gh + (2 * hp), b + (2 * hp), s.Width);
                Activate<SigmoidOp<T>>(gx + (3 * hp), gx + (3 * hp), gh + (3 * hp), b + (3 * hp), s.Width);
                for (int j = 0; j < s.Width; j += w)
                {
                    var cn = TV.Fma(TV.Load(gx + hp + j), TV.Load(cp + j), TV.Load(gx + j) * TV.Load(gx + (2 * hp) + j));
                    var t = Tanh(cn);
                    TV.Store(cn, c + j);
                    TV.Store(t, tc + j);
                    TV.Store(TV.Load(gx + (3 * hp) + j) * t, h + j);
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
                T* tc = s.Aux + ((long)r * s.LdAux);
                T* dhp = s.DH + ((long)r * hp);
                T* dcp = s.DC + ((long)r * hp);
                T* dg = s.DGx + ((long)r * s.LdGx);
                for (int j = 0; j < s.Width; j += w)
                {
                    var i = TV.Load(a + j);
                    var f = TV.Load(a + hp + j);
                    var g = TV.Load(a + (2 * hp) + j);
                    var o = TV.Load(a + (3 * hp) + j);
                    var t = TV.Load(tc + j);
                    var dh = TV.Load(dhp + j);
                    var dc = TV.Fma(dh * o, TV.FnmAdd(t, t, one), TV.Load(dcp + j));
                    TV.Store(dc * f, dcp + j);
                    TV.Store(dc * g * i * (one - i), dg + j);
                    TV.Store(dc * TV.Load(cp + j) * f * (one - f), dg + hp + j);
                    TV.Store(dc * i * TV.FnmAdd(g, g, one), dg + (2 * hp) + j);
                    TV.Store(dh * t * o * (one - o), dg + (3 * hp) + j);
                }
            }
        }
    }
}
