using Akka.Actor;

namespace Chat.Node;

/// <summary>
/// Props for the actors made once per connection, user, group, phone or page read: their actor is made by a plain
/// constructor call. <c>Props.Create(() =&gt; new …)</c> builds an expression tree at every call, reads each argument
/// out of it by reflection, and makes the actor through <see cref="Activator"/>: about 3 % of the node's CPU, measured
/// while 10,000 users came back after a restart (bench/RESULTS.md).
/// </summary>
internal static class ActorMaker
{
    public static Props Props<TActor>(Func<TActor> make) where TActor : ActorBase =>
        Akka.Actor.Props.CreateBy(new Producer<TActor>(make));

    private sealed class Producer<TActor>(Func<TActor> make) : IIndirectActorProducer where TActor : ActorBase
    {
        public Type ActorType => typeof(TActor);

        public ActorBase Produce() => make();

        public void Release(ActorBase actor)
        {
            // nothing held: the actor is the system's once made
        }
    }
}
