using Akka.Actor;
using Akka.TestKit.Xunit2;
using Chat.Node;
using Chat.Node.Directory;
using Chat.Node.Users;
using Chat.Protocol;

namespace Chat.Tests;

/// <summary>
/// A phone number's directory entry on an in-memory journal, a probe standing for the user region. A session asks a
/// code request or a Verify again when a shard handed between nodes may have dropped it; the repeat must cost the
/// user nothing: no second code, no second attempt.
/// </summary>
public sealed class PhoneClaimSpecs() : TestKit(EntitySpecConfig.Hocon())
{
    private const string Phone = "+14155550177";

    /// <summary>A code sender that counts what it sends and finishes when told to.</summary>
    private sealed class HeldSender : IVerificationSender
    {
        private int _sent;
        public readonly TaskCompletionSource Release = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public int Sent => Volatile.Read(ref _sent);

        public async Task SendAsync(string phone, string code, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _sent);
            await Release.Task.WaitAsync(cancellationToken);
        }
    }

    private static VerificationSettings Verification(VerificationMode mode) => TestNode.DefaultSettings().Verification with { Mode = mode };

    [Fact]
    public void A_code_request_asked_again_while_its_code_is_being_sent_sends_one_code_and_both_tries_get_its_answer()
    {
        var sender = new HeldSender();
        var users = CreateTestProbe();
        var entry = Sys.ActorOf(PhoneClaim.Props(Phone, Verification(VerificationMode.Required), sender, TimeProvider.System, users.Ref));
        var (first, again) = (CreateTestProbe(), CreateTestProbe());

        entry.Tell(new RequestCode(Phone, "n1"), first.Ref);
        AwaitCondition(() => sender.Sent == 1);
        entry.Tell(new RequestCode(Phone, "n1"), again.Ref);
        again.ExpectNoMsg(TimeSpan.FromMilliseconds(200)); // waits for the code being sent
        sender.Release.SetResult();
        first.ExpectMsg<CodeIssued>();
        again.ExpectMsg<CodeIssued>();
        entry.Tell(new RequestCode(Phone, "n1"), again.Ref); // and later still, the same answer
        again.ExpectMsg<CodeIssued>();
        Assert.Equal(1, sender.Sent);

        entry.Tell(new RequestCode(Phone, "n2"), first.Ref); // a new request is a new code
        first.ExpectMsg<CodeIssued>();
        Assert.Equal(2, sender.Sent);
    }

    [Fact]
    public void A_code_request_asked_again_after_a_newer_one_came_waits_for_its_own_answer_and_sends_no_other_code()
    {
        var sender = new HeldSender();
        var users = CreateTestProbe();
        var entry = Sys.ActorOf(PhoneClaim.Props(Phone, Verification(VerificationMode.Required), sender, TimeProvider.System, users.Ref));
        var (first, second, again) = (CreateTestProbe(), CreateTestProbe(), CreateTestProbe());

        entry.Tell(new RequestCode(Phone, "n1"), first.Ref);
        AwaitCondition(() => sender.Sent == 1);
        entry.Tell(new RequestCode(Phone, "n2"), second.Ref); // another device asks meanwhile
        AwaitCondition(() => sender.Sent == 2);
        entry.Tell(new RequestCode(Phone, "n1"), again.Ref);  // the first request, repeated after a shard moved
        again.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        sender.Release.SetResult();
        first.ExpectMsg<CodeIssued>();
        second.ExpectMsg<CodeIssued>();
        again.ExpectMsg<CodeIssued>();
        Assert.Equal(2, sender.Sent);
    }

    [Fact]
    public void A_Verify_asked_again_costs_no_second_attempt_when_wrong_and_is_answered_claimed_once_it_succeeded()
    {
        var users = CreateTestProbe();
        var entry = Sys.ActorOf(PhoneClaim.Props(Phone, Verification(VerificationMode.Auto), new HeldSender(), TimeProvider.System, users.Ref));
        entry.Tell(new RequestCode(Phone, "n1"), TestActor);
        var code = ExpectMsg<CodeIssued>().Code!;
        var wrong = code == "000000" ? "111111" : "000000";

        var guess = new ClaimPhone(Phone, UserId.New(), "Ann", null, [1]);
        entry.Tell(new VerifyPhone(Phone, wrong, guess), TestActor);
        var refused = ExpectMsg<Rejected>();
        Assert.Equal(ErrorCode.WrongCode, refused.Code);
        entry.Tell(new VerifyPhone(Phone, wrong, guess), TestActor);
        Assert.Equal(refused, ExpectMsg<Rejected>()); // the same answer: still as many attempts left

        var right = new ClaimPhone(Phone, UserId.New(), "Ann", null, [1]);
        entry.Tell(new VerifyPhone(Phone, code, right), TestActor);
        var create = users.ExpectMsg<CreateUser>();
        entry.Tell(new VerifyPhone(Phone, code, right), TestActor); // while the account is being created: waits
        ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        users.Reply(new UserCreated(create.UserId));
        Assert.Equal(right.UserId, ExpectMsg<PhoneClaimed>().UserId);
        Assert.Equal(right.UserId, ExpectMsg<PhoneClaimed>().UserId);
        entry.Tell(new VerifyPhone(Phone, code, right), TestActor); // the code is used up, but this is the same Verify
        Assert.Equal(right.UserId, ExpectMsg<PhoneClaimed>().UserId);
    }
}
