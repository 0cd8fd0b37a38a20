using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence;
using Akka.Persistence.Journal;
using Akka.TestKit.Xunit2;
using Chat.Node;
using Chat.Node.Users;

namespace Chat.Tests;

/// <summary>A user entity stopped for a hand-off while senders keep telling it texts, on a journal whose writes take 20 ms.</summary>
public sealed class HandOffSpecs : TestKit
{
    private static readonly UserId Ann = new("uaaaaaaaaaaaaaaaa");
    private static readonly UserId Bob = new("ubbbbbbbbbbbbbbbb");
    private readonly ChatSettings _settings = TestNode.DefaultSettings();

    /// <summary>The in-memory journal, each write durable 20 ms after it was asked for (as a disk's flush).</summary>
    public sealed class SlowJournal : MemoryJournal
    {
        protected override async Task<System.Collections.Immutable.IImmutableList<Exception>> WriteMessagesAsync(IEnumerable<AtomicWrite> messages, CancellationToken cancellationToken)
        {
            await Task.Delay(20, cancellationToken);
            return await base.WriteMessagesAsync(messages, cancellationToken);
        }
    }

    public HandOffSpecs() : base(ConfigurationFactory.ParseString("""
        akka.persistence.journal.plugin = "akka.persistence.journal.slow"
        akka.persistence.journal.slow.class = "Chat.Tests.HandOffSpecs+SlowJournal, Chat.Tests"
        akka.persistence.journal.slow.plugin-dispatcher = "akka.actor.default-dispatcher"
        """).WithFallback(EntitySpecConfig.Hocon())) { }

    [Fact]
    public void Asked_to_stop_while_texts_keep_coming_straight_to_it_it_stops_once_its_own_are_stored_and_passes_the_rest_on()
    {
        // sessions that hold an entity's route tell it texts directly, not through the region that is told of the
        // hand-off: with ten always in flight and each write taking 20 ms, there is always a write in flight, and the
        // entity must still stop
        var region = CreateTestProbe();
        var ann = Sys.ActorOf(UserEntity.Props(Ann.Value, _settings, TimeProvider.System, region.Ref));
        ann.Tell(new CreateUser(Ann, "Ann", "+14155550100", null, [1]), TestActor);
        ExpectMsg<UserCreated>();
        Watch(ann);
        uint next = 0;
        var answered = new HashSet<uint>();
        DeliverText Text(uint n) => new(Ann, Bob, $"c{n}", $"t{n}", n);
        void SendOne() => ann.Tell(Text(++next), TestActor);
        void Answered(TextAccepted a)
        {
            answered.Add(a.RequestId);
            SendOne(); // a stream: a new text for each answer
        }
        for (var i = 0; i < 10; i++) SendOne();
        for (var i = 0; i < 100; i++) Answered(ExpectMsg<TextAccepted>());
        ann.Tell(Chat.Node.Persistence.DurableOrderActor.StopWhenDurable.Instance);
        var stopped = false;
        var until = DateTime.UtcNow.AddSeconds(3);
        while (!stopped && DateTime.UtcNow < until)
        {
            switch (ReceiveOne(TimeSpan.FromSeconds(3)))
            {
                case TextAccepted a:
                    Answered(a);
                    break;
                case Terminated:
                    stopped = true;
                    break;
            }
        }
        Assert.True(stopped, $"still running 3 s after it was asked to stop, {next} texts sent");

        // what it did not take went to the region in the order sent, and the session tells every text still without an
        // answer again, through the region, once it hears of the stop: the next incarnation stores each text once, in order
        var passedOn = region.ReceiveWhile(TimeSpan.FromMilliseconds(300), m => m as DeliverText);
        var again = Sys.ActorOf(UserEntity.Props(Ann.Value, _settings, TimeProvider.System, region.Ref));
        foreach (var text in passedOn) again.Tell(text, TestActor);
        var unanswered = Enumerable.Range(1, (int)next).Select(n => (uint)n).Where(n => !answered.Contains(n)).ToList();
        foreach (var n in unanswered) again.Tell(Text(n), TestActor);
        for (var i = 0; i < passedOn.Count + unanswered.Count; i++) ExpectMsg<TextAccepted>();
        again.Tell(new FetchEntries(Ann, 0, 1000), TestActor);
        var texts = ExpectMsg<Entries>().Items.OfType<InboxMessage>().Select(m => m.Text);
        Assert.Equal(Enumerable.Range(1, (int)next).Select(i => $"t{i}"), texts);
    }

}
