using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace FastLstm.Engine;

/// <summary>
/// One pinned allocation carved into 64-byte-aligned regions. Carving runs twice: once on a null base to
/// measure, once on the real block. Being a pinned managed array, it needs no explicit free.
/// </summary>
internal sealed unsafe class Workspace<T>
    where T : unmanaged
{
    private const int Align = 64;
    private readonly T[] _block;

    public Workspace(long length)
    {
        long total = length + (Align / sizeof(T));
        if (total > Array.MaxLength)
        {
            throw new OutOfMemoryException($"A session needs {length} elements of {typeof(T).Name} (more than one array holds); lower maxBatch or maxSteps.");
        }

        _block = GC.AllocateArray<T>((int)total, pinned: true);
        nint start = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_block));
        Base = (T*)((start + Align - 1) & ~(nint)(Align - 1));
    }

    public T* Base { get; }

    /// <summary>Hands out consecutive aligned regions from a base (null when only measuring).</summary>
    public struct Carver(T* start)
    {
        private long _used;

        public readonly long Used => _used;

        public T* Take(long count)
        {
            T* p = start + _used;
            long step = Align / sizeof(T);
            _used += (count + step - 1) / step * step;
            return p;
        }
    }
}
