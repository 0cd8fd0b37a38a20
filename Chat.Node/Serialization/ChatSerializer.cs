using System.Collections.Frozen;
using System.Reflection;
using Akka.Actor;
using Akka.Serialization;
using MessagePack;
using MessagePack.Formatters;
using MessagePack.Resolvers;

namespace Chat.Node.Serialization;

/// <summary>Marker for every message that may cross nodes or reach the journal: serialized by <see cref="ChatSerializer"/>.</summary>
public interface IChatMessage;

/// <summary>Gives a type its short, stable manifest. Never change or reuse one: stored events carry it.</summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Struct, Inherited = false)]
public sealed class ManifestAttribute(string manifest) : Attribute
{
    public string Manifest { get; } = manifest;
}

/// <summary>
/// The one Akka serializer for chat messages, events and snapshots: MessagePack with integer keys,
/// a short manifest per type. An unknown manifest throws rather than guessing.
/// </summary>
public sealed class ChatSerializer : SerializerWithStringManifest
{
    private static readonly FrozenDictionary<Type, string> ManifestsByType;
    private static readonly FrozenDictionary<string, Type> TypesByManifest;
    private readonly MessagePackSerializerOptions _options;

    static ChatSerializer()
    {
        var byType = new Dictionary<Type, string>();
        var byManifest = new Dictionary<string, Type>();
        foreach (var type in typeof(ChatSerializer).Assembly.GetTypes())
        {
            var attribute = type.GetCustomAttribute<ManifestAttribute>();
            if (attribute is null) continue;
            if (!typeof(IChatMessage).IsAssignableFrom(type))
                throw new InvalidOperationException($"{type} has a manifest but is not an {nameof(IChatMessage)}");
            if (!byManifest.TryAdd(attribute.Manifest, type))
                throw new InvalidOperationException($"manifest '{attribute.Manifest}' is used by {byManifest[attribute.Manifest]} and {type}");
            byType[type] = attribute.Manifest;
        }
        ManifestsByType = byType.ToFrozenDictionary();
        TypesByManifest = byManifest.ToFrozenDictionary();
    }

    public ChatSerializer(ExtendedActorSystem system) : base(system)
    {
        var resolver = CompositeResolver.Create(
            [new ActorRefFormatter(system)],
            [StandardResolver.Instance]);
        _options = MessagePackSerializerOptions.Standard.WithResolver(resolver)
            .WithSecurity(MessagePackSecurity.UntrustedData);
    }

    public override int Identifier => 4201;

    /// <summary>Every type this serializer knows, for tests.</summary>
    public static IEnumerable<Type> KnownTypes => ManifestsByType.Keys;

    public override string Manifest(object o) =>
        ManifestsByType.TryGetValue(o.GetType(), out var manifest)
            ? manifest
            : throw new ArgumentException($"{o.GetType()} has no [Manifest]; add one to serialize it");

    public override byte[] ToBinary(object obj) =>
        MessagePackSerializer.Serialize(obj.GetType(), obj, _options);

    public override object FromBinary(byte[] bytes, string manifest) =>
        TypesByManifest.TryGetValue(manifest, out var type)
            ? MessagePackSerializer.Deserialize(type, bytes, _options)!
            : throw new System.Runtime.Serialization.SerializationException($"unknown manifest '{manifest}'");

    /// <summary>Actor references travel as their full path and resolve on the receiving system.</summary>
    private sealed class ActorRefFormatter(ExtendedActorSystem system) : IMessagePackFormatter<IActorRef?>
    {
        public void Serialize(ref MessagePackWriter writer, IActorRef? value, MessagePackSerializerOptions options)
        {
            if (value is null) writer.WriteNil();
            else writer.Write(Akka.Serialization.Serialization.SerializedActorPath(value));
        }

        public IActorRef? Deserialize(ref MessagePackReader reader, MessagePackSerializerOptions options)
        {
            if (reader.TryReadNil()) return null;
            var path = reader.ReadString();
            return path is null ? null : system.Provider.ResolveActorRef(path);
        }
    }
}
