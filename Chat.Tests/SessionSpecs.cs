using System.Collections.Concurrent;
using System.Net;
using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using Chat.Node;
using Chat.Node.Directory;
using Chat.Node.Sessions;
using Chat.Node.Tcp;
using Chat.Node.Users;
using Chat.Protocol;
using Error = Chat.Protocol.Error;

namespace Chat.Tests;

/// <summary>
/// The session actor without sockets: frames go in as the connection would hand them over, what the session writes is
/// recorded by a stand-in connection, and probes stand for the user, phone and group regions.
/// </summary>
public sealed class SessionSpecs : TestKit
{
    private static readonly Config Hocon = ConfigurationFactory.ParseString("""
        akka.loglevel = WARNING
        akka.test.single-expect-default = 10s
        akka.actor.provider = cluster
        akka.remote.dot-netty.tcp { hostname = 127.0.0.1, port = 0 }
        """).WithFallback(TestNode.DefaultConfig());

    /// <summary>A connection that records what the session writes; while <see cref="Full"/>, inbox entries are refused.</summary>
    private sealed class RecordingLink : IClientLink
    {
        private readonly BlockingCollection<Frame> _written = new();
        public volatile bool Full;
        public int Closes, Aborts, MaxFrameBytes;
        public IPEndPoint? RemoteEndPoint { get; } = new(IPAddress.Loopback, 40000);
        public void Write(Frame frame) => _written.Add(frame);
        public bool TryWriteEntry(Frame frame)
        {
            if (Full) return false;
            _written.Add(frame);
            return true;
        }
        public bool NotifyWhenRoom() => !Full;
        public void Processed() { }
        public void AllowFramesUpTo(int bytes) => MaxFrameBytes = bytes;
        public void Close() => Interlocked.Increment(ref Closes);
        public void Abort() => Interlocked.Increment(ref Aborts);

        public Frame Next(TimeSpan? within = null)
        {
            Assert.True(_written.TryTake(out var frame, within ?? TimeSpan.FromSeconds(10)), "the session wrote nothing");
            return frame!;
        }

        public T Next<T>(TimeSpan? within = null) where T : Frame => Assert.IsType<T>(Next(within));

        /// <summary>Nothing is written within <paramref name="ms"/>.</summary>
        public void Nothing(int ms = 300) => Assert.False(_written.TryTake(out var frame, ms), $"unexpected {frame}");
    }

    private readonly ChatSettings _settings = TestNode.DefaultSettings();
    private readonly RecordingLink _link = new();
    private readonly TestProbe _users;
    private readonly TestProbe _phones;
    private readonly TestProbe _groups;
    private readonly IActorRef _session;
    private readonly UserId _ann = UserId.New();
    private readonly UserId _bob = UserId.New();

    public SessionSpecs() : base(Hocon)
    {
        _users = CreateTestProbe();
        _phones = CreateTestProbe();
        _groups = CreateTestProbe();
        _session = Sys.ActorOf(Session.Props(_link, _settings, _users.Ref, _phones.Ref, _groups.Ref,
            TimeProvider.System, new Chat.Node.Media.FileMediaStore(Path.Combine(Path.GetTempPath(), "chat-spec-media"))));
    }

    private void In(Frame frame) => _session.Tell(new ConnectionSignals.Inbound(frame));

    private InboxMessage Entry(long seq) => new(seq, $"m{seq}", _bob, $"text {seq}", 1_764_000_000_000 + seq, $"c{seq}");

    private void LogIn(long lastSeq = 0)
    {
        In(new Hello(ChatClient.ProtocolVersion, "spec"));
        _link.Next<Welcome>();
        var (token, _) = Tokens.New(_ann);
        In(new Login(1, token, "phone"));
        var authenticate = _users.ExpectMsg<Authenticate>();
        Assert.Equal((_ann, "phone", _session), (authenticate.UserId, authenticate.Device, authenticate.Session));
        _users.Reply(new Authenticated(authenticate.RequestId, _ann, "Ann", "+14155550100", lastSeq));
        Assert.Equal(lastSeq, _link.Next<LoggedIn>().LastSeq);
    }

    /// <summary>Logs in and syncs from 0, the inbox holding <paramref name="entries"/> entries.</summary>
    private void LogInAndSync(int entries)
    {
        LogIn(entries);
        In(new Sync(0));
        Assert.Equal(0, _users.ExpectMsg<FetchEntries>().After);
        _users.Reply(new Entries(Enumerable.Range(1, entries).Select(i => (InboxEntry)Entry(i)).ToList(), entries, 0));
        for (var i = 1; i <= entries; i++) Assert.Equal(i, _link.Next<Message>().Seq);
        Assert.Equal(entries, _link.Next<SyncComplete>().LastSeq);
    }

    /// <summary>
    /// Makes this spec's actor system one of two cluster members: the session repeats a request only in a cluster,
    /// where a shard handed from one node to another drops what it had buffered.
    /// </summary>
    private async Task<ActorSystem> JoinSecondMemberAsync()
    {
        var cluster = Akka.Cluster.Cluster.Get(Sys);
        cluster.Join(cluster.SelfAddress);
        var second = ActorSystem.Create(Sys.Name, Sys.Settings.Config);
        Akka.Cluster.Cluster.Get(second).Join(cluster.SelfAddress);
        await AwaitConditionAsync(() => Task.FromResult(cluster.State.Members.Count(m => m.Status == Akka.Cluster.MemberStatus.Up) == 2),
            TimeSpan.FromSeconds(30));
        return second;
    }

    [Fact]
    public async Task In_a_cluster_a_lookup_lost_on_its_way_to_the_phone_entity_is_asked_again_and_answered_well_before_the_timeout()
    {
        using var second = await JoinSecondMemberAsync();
        LogIn();
        var started = DateTime.UtcNow;
        In(new Lookup(5, "+14155550123"));
        var lost = _phones.ExpectMsg<LookupPhone>(); // dropped at a shard's hand-off: never answered
        var again = _phones.ExpectMsg<LookupPhone>(_settings.RequestTimeout);
        Assert.Equal(lost, again);
        _phones.Reply(new PhoneOwner(5, "+14155550123", _bob, "Bob"));
        var found = _link.Next<LookupResult>();
        Assert.Equal((5u, _bob.Value), (found.RequestId, found.UserId));
        Assert.True(DateTime.UtcNow - started < _settings.RequestTimeout / 2, $"answered only after {DateTime.UtcNow - started}");
        await second.Terminate();
    }

    [Fact]
    public async Task In_a_cluster_a_lookup_nobody_answers_is_answered_Unavailable_at_the_timeout_after_a_few_tries()
    {
        using var second = await JoinSecondMemberAsync();
        LogIn();
        In(new Lookup(6, "+14155550124"));
        var error = _link.Next<Error>(_settings.RequestTimeout * 2);
        Assert.Equal((6u, ErrorCode.Unavailable), (error.RequestId, error.Code));
        var tries = _phones.ReceiveWhile(TimeSpan.FromMilliseconds(200), m => m as LookupPhone).Count;
        Assert.InRange(tries, 2, 5); // repeated with growing gaps, not every second
        await second.Terminate();
    }

    [Fact]
    public async Task In_a_cluster_a_Register_whose_code_request_was_lost_is_asked_again_as_the_same_request()
    {
        using var second = await JoinSecondMemberAsync();
        In(new Hello(ChatClient.ProtocolVersion, "spec"));
        _link.Next<Welcome>();
        In(new Register(3, "Ann", "+14155550126", null));
        var lost = _phones.ExpectMsg<RequestCode>();
        var again = _phones.ExpectMsg<RequestCode>(_settings.RequestTimeout);
        Assert.NotNull(again.Nonce);
        Assert.Equal(lost, again); // the same nonce: the phone's entry answers it once, and sends one code
        _phones.Reply(new CodeIssued("+14155550126", 600, "123456"));
        Assert.Equal((3u, "123456"), _link.Next<CodeSent>() is var sent ? (sent.RequestId, sent.Code) : default);
        await second.Terminate();
    }

    [Fact]
    public async Task In_a_cluster_a_Login_lost_on_its_way_to_the_user_entity_is_asked_again_and_logs_in_well_before_the_timeout()
    {
        using var second = await JoinSecondMemberAsync();
        In(new Hello(ChatClient.ProtocolVersion, "spec"));
        _link.Next<Welcome>();
        var (token, _) = Tokens.New(_ann);
        var started = DateTime.UtcNow;
        In(new Login(1, token, "phone"));
        var lost = _users.ExpectMsg<Authenticate>(); // dropped at a shard's hand-off: never answered
        var again = _users.ExpectMsg<Authenticate>(_settings.RequestTimeout);
        Assert.Equal(lost, again); // the same session and device: the entity attaches it once
        _users.Reply(new Authenticated(again.RequestId, _ann, "Ann", "+14155550100", 4));
        Assert.Equal((1u, 4L), _link.Next<LoggedIn>() is var loggedIn ? (loggedIn.RequestId, loggedIn.LastSeq) : default);
        Assert.True(DateTime.UtcNow - started < _settings.RequestTimeout / 2, $"logged in only after {DateTime.UtcNow - started}");
        await second.Terminate();
    }

    [Fact]
    public async Task In_a_cluster_a_group_creation_or_change_lost_on_its_way_to_the_group_is_asked_again_and_answered_well_before_the_timeout()
    {
        using var second = await JoinSecondMemberAsync();
        LogIn();
        var started = DateTime.UtcNow;
        In(new CreateGroup(5, "club", [], "create-1"));
        _groups.ExpectMsg<Chat.Node.Groups.GetGroup>();
        _groups.Reply(new Rejected(5, ErrorCode.UnknownGroup, "no group"));
        Assert.Equal(5u, _users.ExpectMsg<ListMyGroups>().RequestId);
        _users.Reply(new MyGroups(5, []));
        var lost = _groups.ExpectMsg<Chat.Node.Groups.CreateGroupCommand>(); // dropped at a shard's hand-off: never answered
        var again = _groups.ExpectMsg<Chat.Node.Groups.CreateGroupCommand>(_settings.RequestTimeout);
        Assert.Equal(lost, again); // the same group id: the group's entity creates it once
        Assert.Equal(GroupId.For(_ann, "create-1"), again.GroupId);
        _groups.Reply(new Chat.Node.Groups.GroupCreatedReply(5, again.GroupId));
        Assert.Equal(again.GroupId.Value, _link.Next<GroupCreated>().GroupId);

        In(new RenameGroup(6, again.GroupId.Value, "club 2"));
        var lostRename = _groups.ExpectMsg<Chat.Node.Groups.ChangeGroup>();
        Assert.Equal(lostRename, _groups.ExpectMsg<Chat.Node.Groups.ChangeGroup>(_settings.RequestTimeout));
        _groups.Reply(new Done(6));
        Assert.Equal(6u, _link.Next<Ok>().RequestId);
        Assert.True(DateTime.UtcNow - started < _settings.RequestTimeout / 2, $"answered only after {DateTime.UtcNow - started}");
        await second.Terminate();
    }

    [Fact]
    public void A_CreateGroup_repeated_with_its_client_group_id_once_the_group_exists_is_answered_without_the_checks()
    {
        LogIn();
        In(new CreateGroup(5, "club", [_bob.Value], "create-1"));
        var asked = _groups.ExpectMsg<Chat.Node.Groups.GetGroup>();
        Assert.Equal(GroupId.For(_ann, "create-1"), asked.GroupId);
        _groups.Reply(new Chat.Node.Groups.GroupDetails(5, asked.GroupId, "club", [_ann, _bob], [_ann], 1));
        Assert.Equal((5u, asked.GroupId.Value), _link.Next<GroupCreated>() is var created ? (created.RequestId, created.GroupId) : default);
        _users.ExpectNoMsg(TimeSpan.FromMilliseconds(300)); // neither the creator's groups nor the members asked about again

        // one not created yet goes through the checks
        In(new CreateGroup(6, "club 2", [], "create-2"));
        _groups.ExpectMsg<Chat.Node.Groups.GetGroup>();
        _groups.Reply(new Rejected(6, ErrorCode.UnknownGroup, "no group"));
        Assert.Equal(6u, _users.ExpectMsg<ListMyGroups>().RequestId);
    }

    [Fact]
    public void A_node_alone_asks_a_lookup_once_it_loses_nothing_at_hand_offs_and_a_slow_node_is_not_asked_twice()
    {
        LogIn();
        In(new Lookup(7, "+14155550125"));
        _phones.ExpectMsg<LookupPhone>();
        var asker = _phones.LastSender;
        _phones.ExpectNoMsg(_settings.ResendAfter * 3);
        asker.Tell(new PhoneOwner(7, "+14155550125", _bob, "Bob"));
        Assert.Equal(7u, _link.Next<LookupResult>().RequestId);
    }

    [Fact]
    public void A_request_before_Hello_is_refused_with_WrongState_and_the_connection_is_closed()
    {
        In(new Sync(0));
        Assert.Equal(ErrorCode.WrongState, _link.Next<Error>().Code);
        AwaitCondition(() => Volatile.Read(ref _link.Closes) == 1);
        _users.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void Login_is_checked_by_the_users_entity_and_raises_the_frame_limit()
    {
        LogIn(lastSeq: 7);
        Assert.Equal(_settings.MaxFrameBytes, _link.MaxFrameBytes);
    }

    [Fact]
    public void Entries_go_out_in_order_and_a_push_after_a_gap_makes_the_session_fetch_the_gap()
    {
        LogInAndSync(2);
        _session.Tell(new Pushed(Entry(4))); // entry 3 was never pushed (the entity moved, or the push was lost)
        _link.Nothing();
        Assert.Equal(2, _users.ExpectMsg<FetchEntries>().After);
        _users.Reply(new Entries([Entry(3), Entry(4)], 4, 2));
        Assert.Equal(3, _link.Next<Message>().Seq);
        Assert.Equal(4, _link.Next<Message>().Seq);
        _session.Tell(new Pushed(Entry(5)));
        Assert.Equal(5, _link.Next<Message>().Seq);
    }

    [Fact]
    public void A_client_that_stops_reading_gets_nothing_until_it_has_room_then_the_stream_resumes_where_it_stopped()
    {
        LogInAndSync(1);
        _link.Full = true;
        _session.Tell(new Pushed(Entry(2)));
        _session.Tell(new Pushed(Entry(3)));
        _link.Nothing();
        _users.ExpectNoMsg(TimeSpan.FromMilliseconds(200)); // no fetch while the client has no room
        _link.Full = false;
        _session.Tell(ConnectionSignals.Drained.Instance);
        Assert.Equal(1, _users.ExpectMsg<FetchEntries>().After);
        _users.Reply(new Entries([Entry(2), Entry(3)], 3, 1));
        Assert.Equal(2, _link.Next<Message>().Seq);
        Assert.Equal(3, _link.Next<Message>().Seq);
    }

    [Fact]
    public void An_ack_is_capped_at_what_this_connection_was_sent()
    {
        LogInAndSync(2);
        In(new Ack(100)); // a client cannot acknowledge entries it was never sent
        Assert.Equal(2, _users.ExpectMsg<Acknowledge>().UpTo);
    }

    [Fact]
    public void A_send_goes_to_the_recipients_inbox_and_its_acceptance_comes_back_as_Accepted()
    {
        LogIn();
        In(new Send(7, "c1", _bob.Value, "hi"));
        var deliver = _users.ExpectMsg<DeliverText>();
        Assert.Equal((_bob, _ann, "c1", "hi", 7u), (deliver.UserId, deliver.From, deliver.ClientMessageId, deliver.Text, deliver.RequestId));
        _users.Reply(new TextAccepted(7, "c1", "m1", 123));
        var accepted = _link.Next<Accepted>();
        Assert.Equal((7u, "c1", "m1"), (accepted.RequestId, accepted.ClientMessageId, accepted.MessageId));
    }

    [Fact]
    public void Acks_and_fetches_go_straight_to_the_users_entity_once_it_answered_and_through_the_region_again_when_it_stops()
    {
        LogIn(lastSeq: 1);
        var entity = CreateTestProbe(_ann.Value); // sharding names a user's entity by the user's id
        In(new Sync(0));
        Assert.Equal(0, _users.ExpectMsg<FetchEntries>().After); // nothing known yet: through the region
        _session.Tell(new Entries([Entry(1)], 1, 0), entity.Ref);
        Assert.Equal(1, _link.Next<Message>().Seq);
        _link.Next<SyncComplete>();

        In(new Ack(1));
        Assert.Equal(1, entity.ExpectMsg<Acknowledge>().UpTo);
        _session.Tell(new Pushed(Entry(2)), entity.Ref);
        Assert.Equal(2, _link.Next<Message>().Seq);
        In(new Ack(2));
        Assert.Equal(2, entity.ExpectMsg<Acknowledge>().UpTo);
        _users.ExpectNoMsg(TimeSpan.FromMilliseconds(200));

        // the entity stops (moved, or restarted): the session attaches to the next one at once, and tells the latest ack
        // again, since acks told to the stopped one may have been lost with it
        Sys.Stop(entity.Ref);
        Assert.Equal(_session, _users.ExpectMsg<KeepAttached>().Session);
        Assert.Equal(2, _users.ExpectMsg<Acknowledge>().UpTo);
        _session.Tell(new Pushed(Entry(3)), _users.Ref); // (not an entity's name: not learned)
        Assert.Equal(3, _link.Next<Message>().Seq);
        In(new Ack(3));
        Assert.Equal(3, _users.ExpectMsg<Acknowledge>().UpTo);

        // no new entity answered (the request may have been lost while the shard had not yet seen the stop): asked again
        // on the next tick, until one does
        Assert.Equal(_session, _users.ExpectMsg<KeepAttached>(TimeSpan.FromSeconds(3)).Session);
        var next = CreateTestProbe();
        _session.Tell(new AttachState(3), Sys.ActorOf(Props.Create(() => new Forwarder(next.Ref)), _ann.Value));
        In(new Ack(3));
        Assert.Equal(3, next.ExpectMsg<Acknowledge>().UpTo);
        _users.ExpectNoMsg(TimeSpan.FromSeconds(2.5)); // no more asking
    }

    /// <summary>Stands for an entity (named by its user) and hands what it gets to a probe.</summary>
    private sealed class Forwarder : ReceiveActor
    {
        public Forwarder(IActorRef to) => ReceiveAny(m => to.Forward(m));
    }

    [Fact]
    public void A_text_goes_straight_to_the_entity_that_accepted_the_last_one_and_again_through_the_region_if_it_stops_without_answering()
    {
        LogIn();
        var bob = CreateTestProbe(_bob.Value);
        In(new Send(7, "c1", _bob.Value, "one"));
        Assert.Equal("c1", _users.ExpectMsg<DeliverText>().ClientMessageId);
        _session.Tell(new TextAccepted(7, "c1", "m1", 123), bob.Ref);
        Assert.Equal("c1", _link.Next<Accepted>().ClientMessageId);
        _users.ExpectMsg<WroteTo>();

        In(new Send(8, "c2", _bob.Value, "two"));
        Assert.Equal("c2", bob.ExpectMsg<DeliverText>().ClientMessageId);
        _users.ExpectNoMsg(TimeSpan.FromMilliseconds(200));

        // it stops before answering: the text is told again through the region, and while unanswered repeated there (the
        // shard may not have seen the stop yet when it arrived), though this node is alone; then answered from there
        Sys.Stop(bob.Ref);
        var again = _users.ExpectMsg<DeliverText>();
        Assert.Equal(("c2", 8u), (again.ClientMessageId, again.RequestId));
        var repeated = _users.ExpectMsg<DeliverText>(TimeSpan.FromSeconds(4));
        Assert.Equal(("c2", 8u), (repeated.ClientMessageId, repeated.RequestId));
        _users.Reply(new TextAccepted(8, "c2", "m2", 124));
        Assert.Equal("c2", _link.Next<Accepted>().ClientMessageId);

        In(new Send(9, "c3", _bob.Value, "three"));
        Assert.Equal("c3", _users.ExpectMsg<DeliverText>().ClientMessageId);
    }

    [Fact]
    public void Texts_go_straight_to_the_recipients_entity_only_once_none_is_on_its_way_through_the_region_so_none_overtakes_another()
    {
        LogIn();
        var bob = CreateTestProbe(_bob.Value);
        In(new Send(1, "c1", _bob.Value, "one"));
        In(new Send(2, "c2", _bob.Value, "two"));
        Assert.Equal("c1", _users.ExpectMsg<DeliverText>().ClientMessageId);
        Assert.Equal("c2", _users.ExpectMsg<DeliverText>().ClientMessageId);
        _session.Tell(new TextAccepted(1, "c1", "m1", 123), bob.Ref);
        _link.Next<Accepted>();
        _users.ExpectMsg<WroteTo>();

        // c2 is still on its way through the region: c3 follows it there
        In(new Send(3, "c3", _bob.Value, "three"));
        Assert.Equal("c3", _users.ExpectMsg<DeliverText>().ClientMessageId);
        bob.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        _session.Tell(new TextAccepted(2, "c2", "m2", 124), bob.Ref);
        _session.Tell(new TextAccepted(3, "c3", "m3", 125), bob.Ref);
        _link.Next<Accepted>();
        _link.Next<Accepted>();

        In(new Send(4, "c4", _bob.Value, "four"));
        Assert.Equal("c4", bob.ExpectMsg<DeliverText>().ClientMessageId);
        _users.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void A_route_a_text_still_waits_on_is_not_forgotten_for_newer_ones_so_its_entitys_stop_still_sends_the_text_again()
    {
        LogIn();
        var bob = CreateTestProbe(_bob.Value);
        In(new Send(1, "c1", _bob.Value, "one"));
        _users.ExpectMsg<DeliverText>();
        _session.Tell(new TextAccepted(1, "c1", "m1", 123), bob.Ref);
        _link.Next<Accepted>();
        In(new Send(2, "c2", _bob.Value, "two"));
        Assert.Equal("c2", bob.ExpectMsg<DeliverText>().ClientMessageId); // straight to Bob's entity, not answered yet
        // meanwhile texts to as many other people as the session keeps routes for, each answered by its own entity
        for (var i = 0; i < Session.MaxKnownRecipients; i++)
        {
            var other = UserId.New();
            var entity = CreateTestProbe(other.Value);
            In(new Send((uint)(100 + i), $"o{i}", other.Value, "hi"));
            _users.FishForMessage<DeliverText>(d => d.ClientMessageId == $"o{i}");
            _session.Tell(new TextAccepted((uint)(100 + i), $"o{i}", $"mo{i}", 200 + i), entity.Ref);
            _link.Next<Accepted>();
        }
        // Bob's entity stops without answering (passivation, a hand-off): the text goes again through the region at
        // once, not after the 10 s request timeout, when a later text to Bob may already be stored
        Sys.Stop(bob.Ref);
        var again = _users.FishForMessage<DeliverText>(d => d.ClientMessageId == "c2", TimeSpan.FromSeconds(3));
        Assert.Equal(2u, again.RequestId);
    }

    [Fact]
    public void Texts_told_again_after_their_entity_stopped_go_in_the_order_they_were_sent()
    {
        LogIn();
        var bob = CreateTestProbe(_bob.Value);
        In(new Send(50, "c0", _bob.Value, "zero"));
        _users.ExpectMsg<DeliverText>();
        _session.Tell(new TextAccepted(50, "c0", "m0", 123), bob.Ref);
        _link.Next<Accepted>();
        _users.ExpectMsg<WroteTo>();
        // request ids are the client's to choose, and answers come in any order: what is told again goes in the order sent
        foreach (var id in new uint[] { 9, 3, 7 }) In(new Send(id, $"c{id}", _bob.Value, "x"));
        for (var i = 0; i < 3; i++) bob.ExpectMsg<DeliverText>();
        _session.Tell(new TextAccepted(3, "c3", "m3", 124), bob.Ref);
        _link.Next<Accepted>();
        foreach (var id in new uint[] { 1, 8 }) In(new Send(id, $"c{id}", _bob.Value, "x"));
        for (var i = 0; i < 2; i++) bob.ExpectMsg<DeliverText>();
        Sys.Stop(bob.Ref);
        Assert.Equal([9u, 7u, 1u, 8u], Enumerable.Range(0, 4).Select(_ => _users.ExpectMsg<DeliverText>().RequestId));
    }
}
