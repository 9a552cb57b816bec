using System.Reflection;
using FastLstm.Training;

namespace FastLstm.Tests;

/// <summary>
/// Every public constructor and method of both libraries that reflection can call (spans cannot be boxed: those are
/// covered by <see cref="ArgumentTests"/>), called with one argument at a time at a boundary — 0, −1, int.MaxValue,
/// NaN, ±∞, empty, null, an undefined enum value — and the others at ordinary values. A call may succeed or throw a
/// documented exception: an <see cref="ArgumentException"/> naming its argument, or the I/O, data and state exceptions
/// the API documents. Anything else (an overflow, an index error, a null dereference) fails.
/// </summary>
public class BoundaryTests : IDisposable
{
    private static readonly Type[] Documented =
    [
        typeof(ArgumentException), typeof(InvalidDataException), typeof(IOException), typeof(UnauthorizedAccessException),
        typeof(KeyNotFoundException), typeof(InvalidOperationException), typeof(NotSupportedException),
    ];

    private readonly string _dir = Directory.CreateTempSubdirectory("fastlstm-boundary-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public static TheoryData<string> Members()
    {
        var data = new TheoryData<string>();
        foreach (var (name, _) in Callables())
        {
            data.Add(name);
        }

        return data;
    }

    [Fact]
    public void ManyMembersAreCovered() => Assert.True(Callables().Count() > 40, $"only {Callables().Count()} members are callable by reflection");

    [Theory]
    [MemberData(nameof(Members))]
    public void BoundaryArgumentsGiveOnlyDocumentedExceptions(string member)
    {
        var method = Callables().Single(c => c.Name == member).Method;
        var parameters = method.GetParameters();
        for (int i = 0; i < parameters.Length; i++)
        {
            foreach (object? boundary in Boundaries(parameters[i].ParameterType))
            {
                object?[] args = [.. parameters.Select((p, k) => k == i ? boundary : Ordinary(p.ParameterType))];
                Call(member, method, args, $"{parameters[i].Name} = {Show(boundary)}");
            }
        }
    }

    private void Call(string member, MethodBase method, object?[] args, string what)
    {
        object? target = method.IsStatic || method is ConstructorInfo ? null : Instance(method.DeclaringType!);
        var call = Task.Run(() =>
        {
            try
            {
                object? result = method is ConstructorInfo c ? c.Invoke(args) : method.Invoke(target, args);
                (result as IDisposable)?.Dispose();
                return null;
            }
            catch (TargetInvocationException e)
            {
                return e.InnerException;
            }
        });
        Assert.True(call.Wait(TimeSpan.FromSeconds(20)), $"{member} with {what} did not return within 20 s");
        var thrown = call.Result;
        if (thrown is null)
        {
            return;
        }

        Assert.True(Documented.Any(t => t.IsInstanceOfType(thrown)), $"{member} with {what} threw {thrown.GetType().Name}: {thrown.Message}");
        if (thrown is ArgumentException a)
        {
            Assert.False(string.IsNullOrEmpty(a.ParamName), $"{member} with {what}: {a.GetType().Name} without the argument's name: {a.Message}");
            Assert.Contains(a.ParamName, a.Message, StringComparison.Ordinal);
        }
    }

    /// <summary>Constructors and methods declared by the public types, generic ones closed over float.</summary>
    private static IEnumerable<(string Name, MethodBase Method)> Callables()
    {
        var types = typeof(RnnSpec).Assembly.GetExportedTypes().Concat(typeof(ModelFile).Assembly.GetExportedTypes()).Concat(typeof(FastLstm.Onnx.OnnxModel).Assembly.GetExportedTypes())
            .Select(Close).OfType<Type>().Where(t => !t.IsSubclassOf(typeof(Delegate)) && !t.IsInterface);
        foreach (var type in types.OrderBy(t => t.FullName, StringComparer.Ordinal))
        {
            IEnumerable<MethodBase> members = type.IsAbstract && !type.IsSealed ? [] : type.GetConstructors();
            members = members.Concat(type.GetMethods(BindingFlags.Public | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly)
                .Where(m => !m.IsSpecialName && !m.IsAbstract && (m.IsStatic || Providers.ContainsKey(type)))
                .Select(m => m.IsGenericMethodDefinition ? CloseMethod(m) : m).OfType<MethodBase>());
            foreach (var m in members.Where(m => m.GetParameters().All(p => Callable(p.ParameterType)) && m.GetParameters().Length > 0
                && (m is not MethodInfo info || !info.ReturnType.IsByRefLike)))
            {
                yield return ($"{Name(type)}.{(m is ConstructorInfo ? "ctor" : m.Name)}({string.Join(", ", m.GetParameters().Select(p => Name(p.ParameterType)))})", m);
            }
        }
    }

    private static bool Callable(Type t) => !t.IsByRefLike && !t.IsByRef && !t.IsPointer && !t.IsGenericParameter && !typeof(Delegate).IsAssignableFrom(t);

    private static Type? Close(Type t)
    {
        if (!t.IsGenericTypeDefinition)
        {
            return t;
        }

        try
        {
            return t.MakeGenericType([.. t.GetGenericArguments().Select(_ => typeof(float))]);
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    private static MethodInfo? CloseMethod(MethodInfo m)
    {
        try
        {
            return m.MakeGenericMethod([.. m.GetGenericArguments().Select(_ => typeof(float))]);
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    private static readonly RnnSpec Spec = new(CellType.Lstm, 3, 5);

    private static readonly Dictionary<Type, Func<object>> Providers = new()
    {
        [typeof(RnnModel<float>)] = () => RnnModel<float>.CreateRandom(Spec, 1),
        [typeof(InferenceSession<float>)] = () => new InferenceSession<float>(RnnModel<float>.CreateRandom(Spec, 1), 2, 3),
        [typeof(TrainingSession<float>)] = () => new TrainingSession<float>(RnnModel<float>.CreateRandom(Spec, 1), 2, 3),
        [typeof(Reference.NaiveRnn<float>)] = () => new Reference.NaiveRnn<float>(RnnModel<float>.CreateRandom(Spec, 1)),
        [typeof(DenseHead<float>)] = () => DenseHead<float>.CreateRandom(5, 2, Activation.Linear, 1),
        [typeof(Adam<float>)] = () => new Adam<float>(4, 0.1f),
        [typeof(Sgd<float>)] = () => new Sgd<float>(4, 0.1f, 0.5f),
        [typeof(RnnSpec)] = () => Spec,
        [typeof(FastLstm.Onnx.OnnxModel)] = () => FastLstm.Onnx.OnnxModel.Load(Path.Combine(RepositoryRoot.Path, "tests", "fixtures", "onnx", "torch", "lstm_o14", "model.onnx")),
        [typeof(FastLstm.Onnx.OnnxSession)] = () => FastLstm.Onnx.OnnxModel.Load(Path.Combine(RepositoryRoot.Path, "tests", "fixtures", "onnx", "torch", "lstm_o14", "model.onnx")).CreateSession(2, 3),
    };

    private static object Instance(Type t) => Providers[t]();

    private object? Ordinary(Type t) =>
        t == typeof(int) || t == typeof(long) ? Convert.ChangeType(2, t, System.Globalization.CultureInfo.InvariantCulture)
        : t == typeof(double) ? 0.5
        : t == typeof(float) ? 0.5f
        : t == typeof(bool) ? false
        : t == typeof(string) ? Path.Combine(_dir, "file")
        : t.IsEnum ? Enum.GetValues(t).GetValue(0)
        : t.IsArray ? Array.CreateInstance(t.GetElementType()!, 3)
        : Providers.TryGetValue(t, out var make) ? make()
        : t.IsValueType ? Activator.CreateInstance(t)
        : null;

    private static IEnumerable<object?> Boundaries(Type t)
    {
        if (t == typeof(int))
        {
            return [0, -1, int.MaxValue, int.MinValue];
        }

        if (t == typeof(long))
        {
            return [0L, -1L, long.MaxValue];
        }

        if (t == typeof(double))
        {
            return [double.NaN, double.PositiveInfinity, -1.0, 0.0, double.MaxValue];
        }

        if (t == typeof(float))
        {
            return [float.NaN, float.PositiveInfinity, -1f, 0f];
        }

        if (t == typeof(string))
        {
            return [null, ""];
        }

        if (t.IsEnum)
        {
            return [Enum.ToObject(t, 999)];
        }

        if (t.IsArray)
        {
            return [null, Array.CreateInstance(t.GetElementType()!, 0)];
        }

        return t.IsValueType ? [] : [null];
    }

    private static string Show(object? value) => value switch
    {
        null => "null",
        Array a => $"{Name(a.GetType())} of {a.Length}",
        string s => $"\"{s}\"",
        _ => Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) ?? "?",
    };

    private static string Name(Type t) => t.IsGenericType ? $"{t.Name[..t.Name.IndexOf('`', StringComparison.Ordinal)]}<{string.Join(",", t.GetGenericArguments().Select(Name))}>" : t.Name;
}
