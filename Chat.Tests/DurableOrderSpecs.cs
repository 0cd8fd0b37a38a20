using Akka.Actor;
using Chat.Node.Persistence;

namespace Chat.Tests;

/// <summary>The handlers of <see cref="DurableOrderActor"/>'s writes, on the embedded SQLite journal.</summary>
public sealed class DurableOrderSpecs : SqlitePluginSpec
{
    /// <summary>Bound to the chat serializer but without a manifest: the serializer refuses it, and the journal rejects its write.</summary>
    private sealed record Unserializable : Chat.Node.Serialization.IChatMessage;

    /// <summary>Persists each text it is told (an empty one as an event the journal rejects) and reports which handler ran with what.</summary>
    private sealed class Writer(IActorRef probe) : DurableOrderActor
    {
        public override string PersistenceId { get; } = "order-" + Guid.NewGuid().ToString("N")[..8];
        protected override int SnapshotEvery => int.MaxValue;
        protected override object TakeSnapshot() => throw new InvalidOperationException("no snapshots here");
        protected override void OnRecover(object message) { }

        protected override void OnCommand(object message)
        {
            if (message is not string[] texts) return;
            foreach (var text in texts)
            {
                if (text.Length == 0) PersistInOrder(new Unserializable(), _ => probe.Tell("the rejected event's handler ran"));
                else PersistInOrder(text, e => probe.Tell($"{text} handled with {e}"));
            }
        }
    }

    [Fact]
    public void After_a_rejected_write_each_later_event_runs_its_own_handler()
    {
        var probe = CreateTestProbe();
        var writer = Sys.ActorOf(Props.Create(() => new Writer(probe.Ref)));
        writer.Tell(new[] { "first", "", "second" });
        probe.ExpectMsg("first handled with first");
        probe.ExpectMsg("second handled with second");
        writer.Tell(new[] { "third" });
        probe.ExpectMsg("third handled with third");
    }
}
