using Akka.Configuration;

namespace Chat.Tests;

/// <summary>The actor system of the entity specs: the node's serializer for its messages, in-memory journal and snapshots.</summary>
internal static class EntitySpecConfig
{
    /// <param name="serializeMessages">every message through the serializer, as between nodes (off where a spec tells
    /// the entity local-only messages)</param>
    public static Config Hocon(bool serializeMessages = true) => ConfigurationFactory.ParseString($$"""
        akka.loglevel = WARNING
        akka.test.single-expect-default = 15s
        akka.actor.serialize-messages = {{(serializeMessages ? "on" : "off")}}
        akka.actor.serializers.chat = "Chat.Node.Serialization.ChatSerializer, Chat.Node"
        akka.actor.serialization-bindings { "Chat.Node.Serialization.IChatMessage, Chat.Node" = chat }
        akka.persistence.journal.plugin = "akka.persistence.journal.inmem"
        akka.persistence.snapshot-store.plugin = "akka.persistence.snapshot-store.inmem"
        """);
}
