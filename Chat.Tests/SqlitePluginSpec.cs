using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence;
using Akka.TestKit.Xunit2;
using Chat.Node.Persistence;

namespace Chat.Tests;

/// <summary>
/// An actor system whose journal and snapshot store are the embedded SQLite ones, configured as a node configures them
/// (<c>hocon/sqlite.conf</c>), on a database file of its own. Remoting is on (loopback, port 0) so that actor
/// references carry a real node address, as they do in the cluster.
/// </summary>
public abstract class SqlitePluginSpec : TestKit
{
    protected readonly string Data;

    protected SqlitePluginSpec() : this(SystemConfig, "contract") { }

    /// <summary>A system configured by <paramref name="config"/> for a data directory of its own (deleted afterwards).</summary>
    protected SqlitePluginSpec(Func<string, Config> config, string name) : this(TestNode.NewDataDirectory(), config, name) { }

    private SqlitePluginSpec(string data, Func<string, Config> config, string name) : base(config(data), name) => Data = data;

    /// <summary>Warnings only, and a patient default wait for expected messages.</summary>
    protected const string QuietTestSystem = """
        akka.loglevel = WARNING
        akka.test.single-expect-default = 15s
        """;

    /// <summary>The connection string of the database file in <paramref name="data"/> (made if missing), escaped for a quoted HOCON string.</summary>
    protected static string DatabaseOf(string data)
    {
        Directory.CreateDirectory(data);
        return SqliteStore.ConnectionString(data).Replace("\\", "\\\\").Replace("\"", "\\\"");
    }

    /// <summary>The configuration of a system on <paramref name="data"/>'s database (another system may share it).</summary>
    protected static Config SystemConfig(string data)
    {
        var connection = DatabaseOf(data);
        return ConfigurationFactory.ParseString($$"""
            {{QuietTestSystem}}
            akka.actor.provider = remote
            akka.remote.dot-netty.tcp { hostname = "127.0.0.1", port = 0 }
            akka.actor.serializers {
              chat = "Chat.Node.Serialization.ChatSerializer, Chat.Node"
              ref-carrier = "Chat.Tests.RefCarrierSerializer, Chat.Tests"
            }
            akka.actor.serialization-bindings {
              "Chat.Node.Serialization.IChatMessage, Chat.Node" = chat
              "Chat.Tests.RefCarrier, Chat.Tests" = ref-carrier
            }
            akka.persistence.journal.chat-sqlite {
              connection-string = "{{connection}}"
              synchronous = NORMAL
              event-adapters { versioned = "Chat.Tests.VersionedNoteAdapter, Chat.Tests" }
              event-adapter-bindings {
                "Chat.Tests.VersionedNote, Chat.Tests" = versioned
                "Chat.Tests.StoredNote, Chat.Tests" = versioned
              }
            }
            akka.persistence.snapshot-store.chat-sqlite {
              connection-string = "{{connection}}"
              synchronous = NORMAL
            }
            """).WithFallback(ConfigurationFactory.ParseString(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "hocon", "sqlite.conf"))));
    }

    protected IActorRef Journal => Persistence.Instance.Apply(Sys).JournalFor(null);

    protected IActorRef SnapshotStore => Persistence.Instance.Apply(Sys).SnapshotStoreFor(null);

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing); // stops the plugins, which close the database
        if (disposing) TestNode.TryDelete(Data);
    }

    /// <summary>Replays an entity's events through the journal: the events and the highest sequence number it reports.</summary>
    protected (List<IPersistentRepresentation> Events, long Highest) Replay(string pid, long from = 0, long to = long.MaxValue, long max = long.MaxValue)
    {
        var probe = CreateTestProbe();
        Journal.Tell(new ReplayMessages(from, to, max, pid, probe.Ref));
        var events = new List<IPersistentRepresentation>();
        while (true)
        {
            switch (probe.ExpectMsg<object>())
            {
                case ReplayedMessage r:
                    events.Add(r.Persistent);
                    break;
                case RecoverySuccess s:
                    return (events, s.HighestSequenceNr);
                case var other:
                    throw new Xunit.Sdk.XunitException($"replay answered {other}");
            }
        }
    }
}
