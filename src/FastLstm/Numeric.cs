namespace FastLstm;

internal static class Numeric
{
    public static void EnsureSupported<T>()
    {
        if (typeof(T) != typeof(float) && typeof(T) != typeof(double))
        {
            throw new NotSupportedException($"T: expected float or double, got {typeof(T).Name}.");
        }
    }
}
