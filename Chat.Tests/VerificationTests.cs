using Akka.Actor;
using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using System.Threading.Channels;
using Chat.Node;
using Chat.Node.Directory;
using Chat.Protocol;

namespace Chat.Tests;

/// <summary>The codes a node's log sender wrote, by phone: what a person would read on their phone.</summary>
public sealed partial class CodeLog
{
    private readonly ConcurrentDictionary<string, Channel<string>> _codes = new();
    public readonly ConcurrentQueue<string> Lines = new();

    [GeneratedRegex(@"^verification code for (\+[0-9]+): ([0-9]{6})$")]
    private static partial Regex CodeLine();

    public void Write(string line)
    {
        Lines.Enqueue(line);
        if (CodeLine().Match(line) is { Success: true } m) For(m.Groups[1].Value).Writer.TryWrite(m.Groups[2].Value);
    }

    private Channel<string> For(string phone) => _codes.GetOrAdd(phone, _ => Channel.CreateUnbounded<string>());

    /// <summary>The next code the node sent to <paramref name="phone"/>.</summary>
    public async Task<string> NextAsync(string phone)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        return await For(phone).Reader.ReadAsync(cts.Token);
    }

    /// <summary>Whether a code for <paramref name="phone"/> was written and not yet read.</summary>
    public bool HasUnread(string phone) => For(phone).Reader.TryPeek(out _);
}

/// <summary>Phone verification end to end, on nodes that send the code through the log sender (the default).</summary>
public sealed class VerificationTests
{
    private const string Required = "chat.verification.mode = required";

    private static async Task<ErrorCode> Fails(Func<Task> f) => (await Assert.ThrowsAsync<ChatException>(f)).Code;

    /// <summary>A six-digit code that is not <paramref name="code"/>.</summary>
    private static string Other(string code) => ((int.Parse(code) + 1) % 1_000_000).ToString("D6");

    /// <summary>Registers through the whole flow: Register, the code from the log, Verify, Login.</summary>
    private static async Task<User> VerifiedUserAsync(TestNode node, CodeLog codes, string name, string? phone = null)
    {
        phone ??= Phones.Next();
        var client = await node.ConnectAsync(name);
        Assert.IsType<CodeSent>(await client.RequestCodeAsync(name, phone));
        var registered = await client.VerifyAsync(phone, await codes.NextAsync(phone), name);
        await client.LoginAsync(registered.Token);
        await client.SyncAsync(0);
        return new User(client, registered.UserId, registered.Token, phone, name);
    }

    [Fact]
    public async Task The_log_sender_writes_the_code_and_that_code_creates_the_account()
    {
        var codes = new CodeLog();
        await using var node = await TestNode.StartAsync(extraHocon: Required, report: codes.Write);
        await using var client = await node.ConnectAsync();
        var phone = Phones.Next();

        var sent = Assert.IsType<CodeSent>(await client.RequestCodeAsync("Ann", phone));
        Assert.Null(sent.Code); // the code goes to the phone, not to whoever asked
        Assert.Equal(600, sent.ExpiresIn);
        var code = await codes.NextAsync(phone);
        Assert.Single(codes.Lines, line => line == $"verification code for {phone}: {code}"); // one clear line

        var registered = await client.VerifyAsync(phone, code, "Ann", "ann@example.org");
        var loggedIn = await client.LoginAsync(registered.Token);
        Assert.Equal(("Ann", phone), (loggedIn.Name, loggedIn.Phone));
    }

    [Fact]
    public async Task A_squatter_who_registers_a_number_first_cannot_take_it_and_the_owner_gets_its_messages()
    {
        var codes = new CodeLog();
        await using var node = await TestNode.StartAsync(extraHocon: Required, report: codes.Write);
        await using var alice = await VerifiedUserAsync(node, codes, "Alice");
        var ownerPhone = Phones.Next();

        // the squatter asks first; the code goes to the owner's phone, and guessing fails
        await using var squatter = await node.ConnectAsync("squatter");
        Assert.IsType<CodeSent>(await squatter.RequestCodeAsync("Mallory", ownerPhone));
        var code = await codes.NextAsync(ownerPhone);
        Assert.Equal(ErrorCode.WrongCode, await Fails(() => squatter.VerifyAsync(ownerPhone, Other(code), "Mallory")));
        Assert.Equal(ErrorCode.UnknownUser, await Fails(() => alice.Client.LookupAsync(ownerPhone))); // nobody to write to yet

        // the owner asks and verifies with the code their phone got
        await using var owner = await VerifiedUserAsync(node, codes, "Owner", ownerPhone);
        var found = await alice.Client.LookupAsync(ownerPhone);
        Assert.Equal((owner.Id, "Owner"), (found.UserId, found.Name));
        var sent = await alice.Client.SendAsync(found.UserId, "for the owner");
        Assert.Equal(sent.MessageId, (await owner.Client.NextAsync<Message>()).MessageId);
    }

    [Fact]
    public async Task A_wrong_code_is_refused_and_after_the_attempts_limit_the_code_is_void()
    {
        var codes = new CodeLog();
        await using var node = await TestNode.StartAsync(extraHocon: Required + "\nchat.verification.max-attempts = 3", report: codes.Write);
        await using var client = await node.ConnectAsync();
        var phone = Phones.Next();
        Assert.IsType<CodeSent>(await client.RequestCodeAsync("Ann", phone));
        var code = await codes.NextAsync(phone);

        var wrong = await Assert.ThrowsAsync<ChatException>(() => client.VerifyAsync(phone, Other(code), "Ann"));
        Assert.Equal(ErrorCode.WrongCode, wrong.Code);
        Assert.Contains("2 attempts left", wrong.Message);
        Assert.Equal(ErrorCode.WrongCode, await Fails(() => client.VerifyAsync(phone, Other(code), "Ann")));
        Assert.Equal(ErrorCode.TooManyAttempts, await Fails(() => client.VerifyAsync(phone, Other(code), "Ann")));
        // the right code no longer works: it was voided
        Assert.Equal(ErrorCode.CodeExpired, await Fails(() => client.VerifyAsync(phone, code, "Ann")));

        // a new code does
        Assert.IsType<CodeSent>(await client.RequestCodeAsync("Ann", phone));
        var registered = await client.VerifyAsync(phone, await codes.NextAsync(phone), "Ann");
        Assert.Equal(registered.UserId, (await client.LoginAsync(registered.Token)).UserId);
    }

    [Fact]
    public async Task Only_the_newest_code_counts_and_a_phone_gets_a_limited_number_of_codes_an_hour()
    {
        var codes = new CodeLog();
        var clock = new ManualClock(DateTimeOffset.UtcNow);
        await using var node = await TestNode.StartAsync(extraHocon: Required + "\nchat.verification.max-codes-per-hour = 2",
            clock: clock, report: codes.Write);
        await using var client = await node.ConnectAsync();
        var phone = Phones.Next();
        Assert.IsType<CodeSent>(await client.RequestCodeAsync("Ann", phone));
        var first = await codes.NextAsync(phone);
        Assert.IsType<CodeSent>(await client.RequestCodeAsync("Ann", phone));
        var second = await codes.NextAsync(phone);
        var refused = await Assert.ThrowsAsync<ChatException>(() => client.RequestCodeAsync("Ann", phone));
        Assert.Equal(ErrorCode.TooManyCodes, refused.Code);
        Assert.False(codes.HasUnread(phone)); // nothing was sent

        if (first != second) Assert.Equal(ErrorCode.WrongCode, await Fails(() => client.VerifyAsync(phone, first, "Ann")));
        clock.Advance(TimeSpan.FromMinutes(61));
        Assert.IsType<CodeSent>(await client.RequestCodeAsync("Ann", phone)); // an hour later
        Assert.NotNull(await client.VerifyAsync(phone, await codes.NextAsync(phone), "Ann"));
    }

    [Fact]
    public async Task The_codes_an_hour_limit_holds_after_a_restart()
    {
        var codes = new CodeLog();
        var clock = new ManualClock(DateTimeOffset.UtcNow);
        var data = TestNode.NewDataDirectory();
        var hocon = Required + "\nchat.verification.max-codes-per-hour = 2";
        var phone = Phones.Next();
        try
        {
            await using (var node = await TestNode.StartAsync(data, hocon, clock: clock, report: codes.Write))
            {
                await using var client = await node.ConnectAsync();
                Assert.IsType<CodeSent>(await client.RequestCodeAsync("Ann", phone));
                Assert.IsType<CodeSent>(await client.RequestCodeAsync("Ann", phone));
            }
            await using (var node = await TestNode.StartAsync(data, hocon, clock: clock, report: codes.Write))
            {
                await using var client = await node.ConnectAsync();
                Assert.Equal(ErrorCode.TooManyCodes, await Fails(() => client.RequestCodeAsync("Ann", phone)));
                clock.Advance(TimeSpan.FromMinutes(61));
                Assert.IsType<CodeSent>(await client.RequestCodeAsync("Ann", phone));
            }
        }
        finally
        {
            TestNode.TryDelete(data);
        }
    }

    [Fact]
    public async Task A_verified_numbers_directory_entry_leaves_memory_when_idle_and_still_resolves()
    {
        var codes = new CodeLog();
        await using var node = await TestNode.StartAsync(extraHocon: Required + "\nchat.verification.idle-timeout = 1s", report: codes.Write);
        var ann = await VerifiedUserAsync(node, codes, "Ann");
        await using var _ = ann.Client;
        // sharding names the entry by its phone, escaped
        var selection = node.Node.System.ActorSelection($"/system/sharding/phone/*/{Uri.EscapeDataString(ann.Phone)}");
        async Task<bool> Running() => (await selection.Ask<ActorIdentity>(new Identify(1), TimeSpan.FromSeconds(5))).Subject is not null;
        Assert.True(await Running());
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (await Running())
        {
            Assert.True(DateTime.UtcNow < deadline, "the directory entry of a verified number stayed in memory");
            await Task.Delay(200);
        }
        var bob = await VerifiedUserAsync(node, codes, "Bob");
        await using var __ = bob.Client;
        Assert.Equal(ann.Id, (await bob.Client.LookupAsync(ann.Phone)).UserId);
    }

    [Fact]
    public async Task An_expired_code_is_refused()
    {
        var codes = new CodeLog();
        var clock = new ManualClock(DateTimeOffset.UtcNow);
        await using var node = await TestNode.StartAsync(extraHocon: Required, clock: clock, report: codes.Write);
        await using var alice = await VerifiedUserAsync(node, codes, "Alice");
        await using var client = await node.ConnectAsync();
        var phone = Phones.Next();
        Assert.IsType<CodeSent>(await client.RequestCodeAsync("Ann", phone));
        var code = await codes.NextAsync(phone);

        clock.Advance(TimeSpan.FromMinutes(10) + TimeSpan.FromSeconds(1));
        var expired = await Assert.ThrowsAsync<ChatException>(() => client.VerifyAsync(phone, code, "Ann"));
        Assert.Equal(ErrorCode.CodeExpired, expired.Code);
        Assert.Contains("expired", expired.Message);
        Assert.Equal(ErrorCode.UnknownUser, await Fails(() => alice.Client.LookupAsync(phone)));
    }

    [Fact]
    public async Task Reverifying_a_number_moves_it_to_the_new_account_and_closes_the_old_one()
    {
        var codes = new CodeLog();
        await using var node = await TestNode.StartAsync(extraHocon: Required, report: codes.Write);
        await using var alice = await VerifiedUserAsync(node, codes, "Alice");
        await using var oldPhone = await VerifiedUserAsync(node, codes, "Bob");
        await using var oldLaptop = await node.ConnectAsync("laptop");
        await oldLaptop.LoginAsync(oldPhone.Token);

        // Bob's number is verified again, on a new phone: a new account
        await using var newPhone = await VerifiedUserAsync(node, codes, "Bob (new phone)", oldPhone.Phone);
        Assert.NotEqual(oldPhone.Id, newPhone.Id);

        // every session of the old account is closed with a clear reason
        foreach (var old in new[] { oldPhone.Client, oldLaptop })
        {
            await old.Closed.WaitAsync(TimeSpan.FromSeconds(15));
            Assert.Equal(ErrorCode.PhoneMoved, old.CloseReason?.Code);
        }
        // the old token no longer logs in
        await using var again = await node.ConnectAsync("again");
        var denied = await Assert.ThrowsAsync<ChatException>(() => again.LoginAsync(oldPhone.Token));
        Assert.Equal(ErrorCode.AuthFailed, denied.Code);
        Assert.Contains("verified on another account", denied.Message);

        // the number leads to the new account; the old one receives nothing more
        Assert.Equal(newPhone.Id, (await alice.Client.LookupAsync(oldPhone.Phone)).UserId);
        Assert.Equal(ErrorCode.UnknownUser, await Fails(() => alice.Client.SendAsync(oldPhone.Id, "to the old account")));
        var sent = await alice.Client.SendAsync(newPhone.Id, "to the new phone");
        Assert.Equal(sent.MessageId, (await newPhone.Client.NextAsync<Message>()).MessageId);
    }

    [Fact]
    public async Task Lookup_resolves_only_verified_numbers()
    {
        var codes = new CodeLog();
        await using var node = await TestNode.StartAsync(extraHocon: Required, report: codes.Write);
        await using var alice = await VerifiedUserAsync(node, codes, "Alice");
        await using var client = await node.ConnectAsync("ann");
        var phone = Phones.Next();

        Assert.IsType<CodeSent>(await client.RequestCodeAsync("Ann", phone));
        Assert.Equal(ErrorCode.UnknownUser, await Fails(() => alice.Client.LookupAsync(phone)));
        var registered = await client.VerifyAsync(phone, await codes.NextAsync(phone), "Ann");
        Assert.Equal(registered.UserId, (await alice.Client.LookupAsync(phone)).UserId);
    }

    [Fact]
    public async Task With_verification_off_register_works_as_before_first_come_first_served()
    {
        var codes = new CodeLog();
        await using var node = await TestNode.StartAsync(extraHocon: "chat.verification.mode = off", report: codes.Write);
        await using var client = await node.ConnectAsync();
        var phone = Phones.Next();
        // what a client written before verification sends and expects
        var registered = Assert.IsType<Registered>(await client.RequestCodeAsync("Ann", phone));
        Assert.Equal(registered.UserId, (await client.LoginAsync(registered.Token)).UserId);
        await using var other = await node.ConnectAsync("other");
        Assert.Equal(ErrorCode.PhoneTaken, await Fails(() => other.RequestCodeAsync("Eve", phone)));
        Assert.Equal(ErrorCode.InvalidArgument, await Fails(() => other.VerifyAsync(phone, "123456", "Eve")));
        Assert.DoesNotContain(codes.Lines, l => l.StartsWith("verification code", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Without_a_code_the_client_says_registration_needs_one()
    {
        await using var node = await TestNode.StartAsync(extraHocon: Required);
        await using var client = await node.ConnectAsync();
        var needed = await Assert.ThrowsAsync<VerificationRequiredException>(() => client.RegisterAsync("Ann", Phones.Next()));
        Assert.Null(needed.Sent.Code);
    }
}

/// <summary>The rules of codes, without a node.</summary>
public sealed class PhoneCodesTests
{
    private static readonly VerificationSettings Settings = TestNode.DefaultSettings().Verification with { MaxAttempts = 3, MaxCodesPerHour = 2, CodeLifetime = TimeSpan.FromMinutes(10) };
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void A_code_matches_once_and_expires()
    {
        var (codes, error, _) = PhoneCodes.None.Issue("123456", T0, Settings);
        Assert.Null(error);
        var (used, ok, _) = codes.Check("123456", T0.AddMinutes(9), Settings);
        Assert.Null(ok);
        Assert.Equal(ErrorCode.CodeExpired, used.Check("123456", T0.AddMinutes(9), Settings).Error);
        Assert.Equal(ErrorCode.CodeExpired, codes.Check("123456", T0.AddMinutes(10), Settings).Error);
    }

    [Fact]
    public void The_last_wrong_attempt_voids_the_code()
    {
        var codes = PhoneCodes.None.Issue("123456", T0, Settings).Next;
        (codes, var e1, _) = codes.Check("000000", T0, Settings);
        (codes, var e2, _) = codes.Check("000000", T0, Settings);
        (codes, var e3, _) = codes.Check("000000", T0, Settings);
        Assert.Equal([ErrorCode.WrongCode, ErrorCode.WrongCode, ErrorCode.TooManyAttempts], new[] { e1, e2, e3 });
        Assert.Equal(ErrorCode.CodeExpired, codes.Check("123456", T0, Settings).Error);
    }

    [Fact]
    public void Codes_per_hour_are_limited_in_a_sliding_hour()
    {
        var codes = PhoneCodes.None.Issue("111111", T0, Settings).Next;
        codes = codes.Issue("222222", T0.AddMinutes(30), Settings).Next;
        Assert.Equal(ErrorCode.WrongCode, codes.Check("111111", T0.AddMinutes(31), Settings).Error); // only the newest counts
        Assert.Equal(ErrorCode.TooManyCodes, codes.Issue("333333", T0.AddMinutes(59), Settings).Error);
        Assert.Null(codes.Issue("333333", T0.AddMinutes(61), Settings).Error);
        Assert.False(codes.CanForget(T0.AddMinutes(31))); // a code that can still be entered lives in memory only
        Assert.True(codes.CanForget(T0.AddMinutes(41)));
        // the sends as stored and replayed: they count, and those older than an hour are dropped
        var replayed = PhoneCodes.None.SentAt(T0, T0.AddMinutes(30)).SentAt(T0.AddMinutes(30), T0.AddMinutes(30));
        Assert.Equal(ErrorCode.TooManyCodes, replayed.Issue("444444", T0.AddMinutes(59), Settings).Error);
        Assert.Empty(PhoneCodes.None.SentAt(T0, T0.AddMinutes(61)).Sent);
    }
}
