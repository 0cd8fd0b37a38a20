using System.Collections.Immutable;
using Akka.Actor;
using Akka.Actor.Dsl;
using Akka.Cluster.Sharding;
using Akka.TestKit.Xunit2;
using Chat.Node.Admin;

namespace Chat.Tests;

/// <summary>The readiness check of shard regions, against stand-ins that answer as a region does.</summary>
public sealed class HealthSpecs : TestKit
{
    private static readonly Address Self = new("akka.tcp", "chat", "127.0.0.1", 7000);
    private static readonly Address Other = new("akka.tcp", "chat", "127.0.0.1", 7001);

    /// <summary>A region stand-in: answers every question about regions with <paramref name="known"/>, or never.</summary>
    private IActorRef Region(params Address[]? known) => Sys.ActorOf(act => act.Receive<GetCurrentRegions>((_, ctx) =>
    {
        if (known is not null) ctx.Sender.Tell(new CurrentRegions(known.ToImmutableHashSet()));
    }));

    private static Task<bool> Registered(params IActorRef[] regions) =>
        Health.RegisteredAsync(regions, Self, TimeSpan.FromMilliseconds(500), CancellationToken.None);

    [Fact]
    public async Task A_node_is_ready_for_shards_only_once_every_one_of_its_regions_is_known_to_its_coordinator()
    {
        Assert.True(await Registered(Region(Self, Other), Region(Self)));
        Assert.False(await Registered(Region(Self), Region(Other)));      // one region not registered yet
        Assert.False(await Registered(Region(Self), Region()));           // one whose region knows no coordinator yet
        Assert.False(await Registered(Region(Self), Region(known: null))); // one whose coordinator does not answer
    }
}
