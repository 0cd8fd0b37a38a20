using System.Collections;
using System.Reflection;
using Akka.Actor;
using Akka.Configuration;
using Chat.Node.Serialization;
using MessagePack;

namespace Chat.Tests;

/// <summary>
/// Bytes written by the chat serializer (events and snapshots in the journal, messages between nodes) for every
/// manifest, committed under <c>Chat.Tests/golden/</c>. A change to a contract that would make stored bytes read
/// differently fails here. Adding a field at the end changes what is written: keep the old file as
/// <c>MANIFEST.vN.hex</c> (it must still read) and write the new one with <c>CHAT_WRITE_GOLDEN=1</c>.
/// </summary>
public sealed class GoldenBytesTests : IDisposable
{
    private readonly ActorSystem _system = ActorSystem.Create("golden", ConfigurationFactory.ParseString("""
        akka.loglevel = WARNING
        akka.actor.provider = local
        """));
    private readonly ChatSerializer _serializer;

    public GoldenBytesTests() => _serializer = new ChatSerializer((ExtendedActorSystem)_system);

    public void Dispose() => _system.Terminate().Wait(TimeSpan.FromSeconds(10));

    public static TheoryData<string> Manifests()
    {
        var data = new TheoryData<string>();
        foreach (var type in ChatSerializer.KnownTypes.OrderBy(ManifestOf, StringComparer.Ordinal)) data.Add(ManifestOf(type));
        return data;
    }

    private static string ManifestOf(Type type) => type.GetCustomAttribute<ManifestAttribute>()!.Manifest;

    private static Type TypeOf(string manifest) => ChatSerializer.KnownTypes.Single(t => ManifestOf(t) == manifest);

    private static string GoldenDirectory()
    {
        var dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "ChatAkka.sln"))) dir = Path.GetDirectoryName(dir);
        Assert.NotNull(dir);
        return Path.Combine(dir!, "Chat.Tests", "golden");
    }

    [Fact]
    public void Every_known_type_has_golden_bytes()
    {
        var missing = ChatSerializer.KnownTypes.Select(ManifestOf)
            .Where(m => !File.Exists(Path.Combine(GoldenDirectory(), m + ".hex"))).Order().ToList();
        Assert.True(missing.Count == 0, $"no golden bytes for manifests {string.Join(", ", missing)}");
        Assert.True(ChatSerializer.KnownTypes.Count() > 50, "the serializer found too few types");
    }

    [Theory, MemberData(nameof(Manifests))]
    public void Todays_sample_is_written_as_the_golden_bytes_and_those_bytes_read_back_whole(string manifest)
    {
        var sample = Sample(TypeOf(manifest));
        Assert.Equal(manifest, _serializer.Manifest(sample));
        var written = _serializer.ToBinary(sample);
        var file = Path.Combine(GoldenDirectory(), manifest + ".hex");
        if (Environment.GetEnvironmentVariable("CHAT_WRITE_GOLDEN") == "1" && !File.Exists(file))
            File.WriteAllText(file, Convert.ToHexStringLower(written) + "\n");
        Assert.True(File.Exists(file), $"no golden bytes for {manifest}; these are today's: {Convert.ToHexStringLower(written)}");
        var golden = Convert.FromHexString(File.ReadAllText(file).Trim());

        Assert.Equal(Convert.ToHexStringLower(golden), Convert.ToHexStringLower(written));
        // the stored bytes read into the same values: written again, they are the same bytes
        var read = _serializer.FromBinary(golden, manifest);
        Assert.IsType(TypeOf(manifest), read);
        Assert.Equal(Convert.ToHexStringLower(golden), Convert.ToHexStringLower(_serializer.ToBinary(read)));
    }

    [Fact]
    public void Older_golden_bytes_still_read()
    {
        foreach (var file in Directory.GetFiles(GoldenDirectory(), "*.v*.hex"))
        {
            var manifest = Path.GetFileName(file).Split('.')[0];
            var read = _serializer.FromBinary(Convert.FromHexString(File.ReadAllText(file).Trim()), manifest);
            Assert.IsType(TypeOf(manifest), read);
        }
    }

    // ---------- samples: every field set, the same values on every run ----------

    private int _counter;

    private object Sample(Type type) => Build(type, "x")!;

    private object? Build(Type type, string name)
    {
        var n = ++_counter;
        if (Nullable.GetUnderlyingType(type) is { } inner) return Build(inner, name);
        if (type == typeof(string)) return $"{name}-{n}";
        if (type == typeof(bool)) return true;
        if (type == typeof(int)) return 1000 + n;
        if (type == typeof(uint)) return (uint)(2000 + n);
        if (type == typeof(long)) return 1_764_000_000_000L + n;
        if (type == typeof(byte[])) return new byte[] { (byte)n, 0xfe, 0x01 };
        if (type == typeof(long[])) return new[] { (long)n, n + 1L };
        if (type == typeof(DateTimeOffset)) return DateTimeOffset.FromUnixTimeMilliseconds(1_764_000_000_000L + n);
        if (type == typeof(TimeSpan)) return TimeSpan.FromMilliseconds(1000 + n);
        if (type.IsEnum) return Enum.GetValues(type).Cast<object>().Last();
        if (type == typeof(IActorRef)) return _system.DeadLetters;
        if (type == typeof(Node.UserId)) return new Node.UserId("u" + Id(n));
        if (type == typeof(Node.GroupId)) return new Node.GroupId("g" + Id(n));
        if (type.IsGenericType && type.GetGenericTypeDefinition() is var definition
            && (definition == typeof(IReadOnlyDictionary<,>) || definition == typeof(Dictionary<,>) || definition == typeof(IDictionary<,>)))
        {
            var args = type.GetGenericArguments();
            var dictionary = (IDictionary)Activator.CreateInstance(typeof(Dictionary<,>).MakeGenericType(args))!;
            dictionary.Add(Build(args[0], name + "-key")!, Build(args[1], name + "-value"));
            return dictionary;
        }
        if (ElementOf(type) is { } element)
        {
            var list = (IList)Activator.CreateInstance(typeof(List<>).MakeGenericType(element))!;
            // a list of a union holds one of each kind
            var kinds = element.IsAbstract ? UnionKinds(element) : [element];
            foreach (var kind in kinds) list.Add(Build(kind, name));
            if (type.IsArray)
            {
                var array = Array.CreateInstance(element, list.Count);
                list.CopyTo(array, 0);
                return array;
            }
            return list;
        }
        if (type.IsAbstract) return Build(UnionKinds(type)[0], name);
        var constructor = type.GetConstructors().OrderByDescending(c => c.GetParameters().Length).FirstOrDefault();
        if (constructor is null || constructor.GetParameters().Length == 0)
        {
            // a singleton message
            var instance = type.GetField("Instance", BindingFlags.Public | BindingFlags.Static)?.GetValue(null);
            return instance ?? Activator.CreateInstance(type);
        }
        return constructor.Invoke(constructor.GetParameters().Select(p => Build(p.ParameterType, p.Name!)).ToArray());
    }

    private static Type? ElementOf(Type type)
    {
        if (type.IsArray) return type.GetElementType();
        if (!type.IsGenericType) return null;
        var definition = type.GetGenericTypeDefinition();
        return definition == typeof(IReadOnlyList<>) || definition == typeof(List<>) || definition == typeof(IList<>)
            || definition == typeof(IReadOnlyCollection<>) || definition == typeof(IEnumerable<>)
            ? type.GetGenericArguments()[0]
            : null;
    }

    private static Type[] UnionKinds(Type type)
    {
        var kinds = type.GetCustomAttributes<UnionAttribute>(false).OrderBy(u => u.Key).Select(u => u.SubType).ToArray();
        Assert.True(kinds.Length > 0, $"{type} is abstract and not a union: no sample can be made");
        return kinds;
    }

    /// <summary>16 id characters from a number, in the ids' alphabet.</summary>
    private static string Id(int n) => string.Concat(Enumerable.Range(0, 16).Select(i => Node.RandomIds.Alphabet[(n * 7 + i) % 32]));
}
