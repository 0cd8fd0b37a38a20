using Akka.Actor;
using Akka.Cluster.Sharding;
using Chat.Node.Directory;
using Chat.Node.Groups;
using Chat.Node.Hosting;
using Chat.Node.Users;
using Microsoft.AspNetCore.Http;

namespace Chat.Node.Admin;

/// <summary><c>chat admin shards</c>: for each shard region (user, group, phone), the shards and running entities on each node.</summary>
internal static class ShardCalls
{
    public sealed record NodeShards(string Address, int Shards, int Entities);

    public sealed record RegionView(string Region, int Shards, int Entities, IReadOnlyList<NodeShards> Nodes);

    public static async Task<IResult> ShardsAsync(AdminContext node, CancellationToken ct)
    {
        var regions = new (string Name, Task<Akka.Actor.IActorRef> Region)[]
        {
            (UserEntity.RegionName, node.Registry.GetAsync<UserRegion>(ct)),
            (GroupEntity.RegionName, node.Registry.GetAsync<GroupRegion>(ct)),
            (PhoneClaim.RegionName, node.Registry.GetAsync<PhoneRegion>(ct)),
        };
        var views = new List<RegionView>();
        foreach (var (name, regionTask) in regions)
        {
            var region = await regionTask.ConfigureAwait(false);
            ClusterShardingStats stats;
            try
            {
                // every region answers for itself; one that does not within the timeout is left out of the answer
                stats = await region.Ask<ClusterShardingStats>(new GetClusterShardingStats(AdminContext.AskTimeout), AdminContext.AskTimeout + TimeSpan.FromSeconds(2), ct)
                    .ConfigureAwait(false);
            }
            catch (AskTimeoutException)
            {
                return AdminContext.Problem(StatusCodes.Status504GatewayTimeout, $"the {name} region did not answer in time");
            }
            var nodes = stats.Regions
                .Select(r => new NodeShards(r.Key.ToString(), r.Value.Stats.Count, r.Value.Stats.Values.Sum()))
                .OrderBy(n => n.Address, StringComparer.Ordinal)
                .ToList();
            views.Add(new RegionView(name, nodes.Sum(n => n.Shards), nodes.Sum(n => n.Entities), nodes));
        }
        return Results.Json(views);
    }
}
