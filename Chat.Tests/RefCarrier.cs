using System.Text;
using Akka.Actor;
using Akka.Serialization;

namespace Chat.Tests;

/// <summary>
/// A stored payload that holds an actor reference, for the journal and snapshot store specs. The chat's own events hold
/// none today; a store must still keep one whole, as Akka's contract asks (an entity that persists whom to answer).
/// </summary>
/// <remarks>
/// <see cref="StoredPath"/> and <see cref="WrittenWithTransport"/> are filled in by <see cref="RefCarrierSerializer"/>
/// when the payload is read back: what path was stored, and whether the store serialized with the actor system's
/// transport information, as Akka promises every serializer (remoting does the same; serializers of actor references
/// rely on it). Reading sets it in Akka itself (Serialization.Deserialize).
/// </remarks>
public sealed record RefCarrier(string Label, IActorRef Ref)
{
    public string? StoredPath { get; init; }
    public bool WrittenWithTransport { get; init; }
}

/// <summary>
/// Writes a <see cref="RefCarrier"/> as text: the label, whether transport information was set, and the reference's
/// serialized path (<see cref="Serialization.SerializedActorPath"/>, as the chat serializer writes references).
/// </summary>
public sealed class RefCarrierSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    public override int Identifier => 4290;

    public override string Manifest(object o) => o is RefCarrier ? "ref" : throw new ArgumentException($"cannot serialize {o.GetType()}");

    public override byte[] ToBinary(object obj)
    {
        var carrier = (RefCarrier)obj;
        return Encoding.UTF8.GetBytes($"{carrier.Label}\n{HasTransport()}\n{Serialization.SerializedActorPath(carrier.Ref)}");
    }

    public override object FromBinary(byte[] bytes, string manifest)
    {
        var parts = Encoding.UTF8.GetString(bytes).Split('\n');
        return new RefCarrier(parts[0], system.Provider.ResolveActorRef(parts[2]))
        {
            StoredPath = parts[2],
            WrittenWithTransport = bool.Parse(parts[1]),
        };
    }

    private bool HasTransport()
    {
        try
        {
            var information = Serialization.GetCurrentTransportInformation();
            return information.System == system && information.Address == system.Provider.DefaultAddress;
        }
        catch (InvalidOperationException)
        {
            return false; // not set
        }
    }
}
