namespace FastLstm;

/// <summary>
/// How an <see cref="InferenceSession{T}"/> stores the weights its products read: where a step is bound by the bytes it
/// reads rather than by arithmetic, fewer bytes per weight are faster. Gate arithmetic stays in float either way.
/// </summary>
public enum WeightFormat
{
    /// <summary>The model's own precision.</summary>
    Full,

    /// <summary>bfloat16 (float's exponent, 8 bits of significand), each weight rounded to nearest, ties to even: half the bytes.</summary>
    BFloat16,

    /// <summary>
    /// Symmetric int8 with one scale per output row of each weight matrix (the row's largest magnitude maps to 127), each
    /// weight rounded to nearest: a quarter of the bytes.
    /// </summary>
    Int8,
}
