using System.Buffers;
using System.Diagnostics;
using System.Reflection;
using System.Runtime.CompilerServices;
using Chat.Node.Serialization;
using Chat.Protocol;
using MessagePack;

namespace Chat.Node.Hosting;

/// <summary>
/// Compiles, before the node listens, what its first messages would otherwise compile on their way
/// (<c>chat.startup.warm-up</c>). The node's methods are compiled optimized on first use (tiered compilation is off),
/// and MessagePack builds each type's formatter, with Reflection.Emit, the first time the type is written. On a fresh
/// node the first text of a run compiled about 220 methods in 150 ms (runtime JIT events), and every message offered
/// meanwhile waited behind it: at 1,000 messages/s the slowest 1 % waited 33-69 ms (8-12 ms warmed up).
/// </summary>
/// <remarks>
/// What it compiles: every method of this assembly and of Chat.Protocol that a message may run (generic ones for
/// reference types, whose code every such instantiation shares; not start-up, the operator's surfaces or the client,
/// see <see cref="OnTheMessagePath"/>); the formatters of every chat message type
/// and every frame type, with the delegate the serializer's by-type entry point makes for each; and every method of the
/// generic collections the node keeps in fields over value types (<c>Dictionary&lt;UserId, long&gt;</c> and the like),
/// whose code is not shared with other instantiations. Akka's own code is left to compile on first use: most of it runs
/// during start-up and log-in anyway.
/// </remarks>
internal static class Warmup
{
    public sealed record Result(int Methods, int Formatters, TimeSpan Took);

    private static readonly Lazy<Task<Result>> Once = new(() => Task.Run(Run));

    /// <summary>
    /// Starts the warm-up on the thread pool, once per process (compiled code is the process's): the node starts it
    /// before its actor system, whose start-up mostly waits (cluster join, shard coordinators), and awaits it before
    /// it listens.
    /// </summary>
    public static Task<Result> StartOnce() => Once.Value;

    private static Result Run()
    {
        var watch = Stopwatch.StartNew();
        // the serializer's own options add a formatter for actor references only; every other formatter comes from
        // the standard resolver, whose formatters (and the by-type entry point's delegates) are built once per process.
        // Building them (Reflection.Emit) is most of the warm-up, and it is thread-safe: both cores share it.
        var chat = MessagePackSerializerOptions.Standard;
        var serialized = ChatSerializer.KnownTypes.Select(t => (Type: t, Frame: false))
            .Concat(Opcodes.FrameTypes.Prepend(typeof(Frame)).Select(t => (Type: t, Frame: true)));
        var formatterTypes = new System.Collections.Concurrent.ConcurrentBag<Type>();
        Parallel.ForEach(serialized, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, item =>
        {
            var (type, frame) = item;
            var options = frame ? FrameCodec.Options : chat;
            if (options.Resolver.GetFormatterDynamic(type) is not { } formatter) return;
            formatterTypes.Add(formatter.GetType());
            if (!frame) TryRoundTrip(type, blank => MessagePackSerializer.Deserialize(type, MessagePackSerializer.Serialize(type, blank, chat), chat));
            else if (type != typeof(Frame)) TryRoundTrip(type, blank => RoundTrip((Frame)blank));
        });

        var own = new[] { typeof(Warmup).Assembly, typeof(Frame).Assembly }.SelectMany(a => a.GetTypes()).Where(OnTheMessagePath).ToArray();
        var work = own.Select(t => (Type: t, Instantiation: (RuntimeTypeHandle[]?)null))
            .Concat(formatterTypes.Distinct().Select(t => (Type: t, Instantiation: (RuntimeTypeHandle[]?)null)))
            .Concat(ValueTypeCollections(own).Select(t => (Type: t, Instantiation: (RuntimeTypeHandle[]?)t.GetGenericArguments().Select(a => a.TypeHandle).ToArray())))
            .ToArray();
        var methods = 0;
        Parallel.ForEach(work, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount },
            item => Interlocked.Add(ref methods, Prepare(item.Type, item.Instantiation)));
        return new Result(methods, formatterTypes.Count, watch.Elapsed);
    }

    /// <summary>
    /// Runs <paramref name="roundTrip"/> on an instance of <paramref name="type"/> with every field at its default, to
    /// compile the code that writes and reads it. A type whose writing needs a field set (a collection that is null here)
    /// stops part way, and what it did not reach compiles on first use.
    /// </summary>
    private static void TryRoundTrip(Type type, Action<object> roundTrip)
    {
        if (type.IsAbstract) return;
        try
        {
            roundTrip(RuntimeHelpers.GetUninitializedObject(type));
        }
        catch (Exception e) when (e is NullReferenceException or ArgumentException or InvalidOperationException or MessagePackSerializationException)
        {
            // partly warmed: see above
        }
    }

    private static void RoundTrip(Frame frame)
    {
        var written = new ArrayBufferWriter<byte>();
        FrameCodec.Write(written, frame);
        var bytes = new ReadOnlySequence<byte>(written.WrittenMemory);
        FrameCodec.TryRead(ref bytes, int.MaxValue, out _);
    }

    /// <summary>
    /// False for code that no message waits for: start-up (run once, before the node listens), the operator's surfaces
    /// (admin endpoint, logs, retention sweeps; its metrics stay, messages count in them) and the client half of
    /// Chat.Protocol. Left out, they compile on first use. A type not named here is compiled: a new part of the node is
    /// warmed up unless it is added to this list.
    /// </summary>
    private static bool OnTheMessagePath(Type type)
    {
        var outer = type;
        while (outer.DeclaringType is { } declaring) outer = declaring;
        if (outer == typeof(Chat.Node.Admin.ChatMetrics) || outer == typeof(Chat.Node.Admin.SessionCount)) return true;
        return outer.Namespace is not ("Chat.Node.Hosting" or "Chat.Node.Admin" or "Chat.Node.Logs" or "Chat.Node.Retention")
               && outer != typeof(Program)
               && !(outer.Namespace == "Chat.Protocol" && outer.Name.StartsWith("ChatClient", StringComparison.Ordinal));
    }

    /// <summary>A record's text form, for logs and debugging: no message's way runs it.</summary>
    private static bool ForLogsOnly(MethodBase method) => method.Name is "ToString" or "PrintMembers";

    private const BindingFlags Declared =
        BindingFlags.DeclaredOnly | BindingFlags.Instance | BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic;

    /// <summary>
    /// Compiles every method and constructor <paramref name="type"/> declares. A generic type or method is compiled
    /// for reference types (<c>object</c>), whose code every instantiation over reference types shares; one whose
    /// constraints do not admit <c>object</c> compiles on first use.
    /// </summary>
    private static int Prepare(Type type, RuntimeTypeHandle[]? instantiation)
    {
        if (type.IsInterface) return 0;
        if (type.IsGenericTypeDefinition)
        {
            if (Close(() => type.MakeGenericType(Objects(type.GetGenericArguments().Length))) is not { } closed) return 0;
            (type, instantiation) = (closed, closed.GetGenericArguments().Select(a => a.TypeHandle).ToArray());
        }
        else if (type.ContainsGenericParameters) return 0;
        var prepared = 0;
        foreach (var declared in type.GetMethods(Declared).Cast<MethodBase>().Concat(type.GetConstructors(Declared)))
        {
            var method = declared is MethodInfo { IsGenericMethodDefinition: true } generic
                ? Close(() => generic.MakeGenericMethod(Objects(generic.GetGenericArguments().Length)))
                : declared;
            if (method is null || method.IsAbstract || method.ContainsGenericParameters || ForLogsOnly(method)) continue;
            try
            {
                if (instantiation is null) RuntimeHelpers.PrepareMethod(method.MethodHandle);
                else RuntimeHelpers.PrepareMethod(method.MethodHandle, instantiation);
                prepared++;
            }
            catch (Exception e) when (e is ArgumentException or NotSupportedException or TypeLoadException or BadImageFormatException)
            {
                // a method the runtime will not compile ahead (an intrinsic, a P/Invoke stub): it compiles on first use
            }
        }
        return prepared;
    }

    private static Type[] Objects(int count) => Enumerable.Repeat(typeof(object), count).ToArray();

    /// <summary>The generic type or method made by <paramref name="make"/>, or null when its constraints refuse <c>object</c>.</summary>
    private static T? Close<T>(Func<T> make) where T : class
    {
        try
        {
            return make();
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    /// <summary>
    /// The closed generic types the node's fields hold with a value type among their type arguments: their code is
    /// compiled for that instantiation alone.
    /// </summary>
    private static IEnumerable<Type> ValueTypeCollections(IEnumerable<Type> own)
    {
        var found = new HashSet<Type>();
        foreach (var type in own.Where(t => !t.ContainsGenericParameters))
            foreach (var field in type.GetFields(Declared))
                if (field.FieldType is { IsConstructedGenericType: true, ContainsGenericParameters: false } closed
                    && closed.GetGenericArguments().Any(a => a.IsValueType))
                    found.Add(closed);
        return found;
    }
}
