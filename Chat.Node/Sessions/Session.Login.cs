using Akka.Actor;
using Chat.Node.Admin;
using Chat.Node.Directory;
using Chat.Node.Users;
using Chat.Protocol;
using Error = Chat.Protocol.Error;
using static Chat.Node.Sessions.SessionRules;

namespace Chat.Node.Sessions;

// Greeting and logging in: Hello, registering (with or without a code sent to the phone), Login, and closing
// a connection that keeps failing to log in.
public sealed partial class Session
{
    private void OnHello(Hello hello)
    {
        if (_phase != Phase.AwaitingHello)
        {
            Fail(ErrorCode.WrongState, "Hello was already received");
            return;
        }
        if (hello.Version != ChatClient.ProtocolVersion)
        {
            Fail(ErrorCode.UnsupportedVersion, $"protocol version {hello.Version} is not supported; this server speaks {ChatClient.ProtocolVersion}");
            return;
        }
        _phase = Phase.Greeted;
        _connection.Write(new Welcome(ChatClient.ProtocolVersion, "chatakka/1", _settings.MaxFrameBytes,
            _settings.MaxTextBytes, _settings.MaxInFlight, _settings.SyncBatch));
    }

    private void OnRegister(Register r)
    {
        if (ValidateRegistration(r, _settings.NameMaxChars, out var reason) is { } code)
        {
            _connection.Write(new Error(r.RequestId, code, reason));
            return;
        }
        var quotas = RequestQuotas.Get(Context.System);
        if (!quotas.TryTake("register " + _connection.RemoteEndPoint?.Address, quotas.RegistrationsPerAddressPerHour, TimeSpan.FromHours(1), out var wait))
        {
            _connection.Write(new Error(r.RequestId, ErrorCode.RateLimited,
                $"more than {quotas.RegistrationsPerAddressPerHour} registrations from this address in an hour; retry in {Math.Ceiling(wait.TotalMinutes):0} min",
                RetryAfterMs(wait)));
            return;
        }
        if (_settings.Verification.Mode != VerificationMode.Off)
        {
            RequestCode(r);
            return;
        }
        var user = UserId.New();
        var (token, hash) = Tokens.New(user);
        var requestId = r.RequestId;
        // repeatable: the phone's entity answers a claim it already holds for this new user's id as done
        RepeatedAsk.AskAsync<object>(_phones, new ClaimPhone(r.Phone, user, r.Name.Trim(), r.Email, hash), _settings.RequestTimeout, RepeatAfter)
            .PipeTo(Self,
                success: answer => new Reply(answer switch
                {
                    PhoneClaimed claimed => new Registered(requestId, claimed.UserId.Value, token),
                    Rejected rejected => new Error(requestId, rejected.Code, rejected.Message),
                    _ => new Error(requestId, ErrorCode.Unavailable, "unexpected answer"),
                }),
                failure: e => new RequestFailed(requestId, e));
    }

    /// <summary>Verification on: a code goes to the phone; the account is created by <see cref="OnVerify"/>.</summary>
    private void RequestCode(Register r)
    {
        var requestId = r.RequestId;
        // repeatable: the nonce makes a repeat get the first one's answer, and no second code
        RepeatedAsk.AskAsync<object>(_phones, new RequestCode(r.Phone, Guid.NewGuid().ToString("N")), _settings.RequestTimeout, RepeatAfter)
            .PipeTo(Self,
                success: answer => new Reply(answer switch
                {
                    CodeIssued issued => new CodeSent(requestId, issued.Phone, issued.ExpiresInSeconds, issued.Code),
                    Rejected rejected => new Error(requestId, rejected.Code, rejected.Message),
                    _ => new Error(requestId, ErrorCode.Unavailable, "unexpected answer"),
                }),
                failure: e => new RequestFailed(requestId, e));
    }

    private void OnVerify(Verify v)
    {
        if (_settings.Verification.Mode == VerificationMode.Off)
        {
            _connection.Write(new Error(v.RequestId, ErrorCode.InvalidArgument,
                "this node registers without verification: Register answers Registered"));
            return;
        }
        if (ValidateRegistration(new Register(v.RequestId, v.Name, v.Phone, v.Email), _settings.NameMaxChars, out var reason) is { } code)
        {
            _connection.Write(new Error(v.RequestId, code, reason));
            return;
        }
        if (VerifyCodeProblem(v.Code) is var (codeProblem, codeReason))
        {
            _connection.Write(new Error(v.RequestId, codeProblem, codeReason));
            return;
        }
        var user = UserId.New();
        var (token, hash) = Tokens.New(user);
        var requestId = v.RequestId;
        var claim = new ClaimPhone(v.Phone, user, v.Name.Trim(), v.Email, hash);
        // repeatable: the phone's entity answers a Verify for the same new user's id with its outcome
        RepeatedAsk.AskAsync<object>(_phones, new VerifyPhone(v.Phone, v.Code, claim), _settings.RequestTimeout, RepeatAfter)
            .PipeTo(Self,
                success: answer => new Reply(answer switch
                {
                    PhoneClaimed claimed => new Registered(requestId, claimed.UserId.Value, token),
                    Rejected rejected => new Error(requestId, rejected.Code, rejected.Message),
                    _ => new Error(requestId, ErrorCode.Unavailable, "unexpected answer"),
                }),
                failure: e => new RequestFailed(requestId, e));
    }

    private void OnLogin(Login l)
    {
        if (_phase != Phase.Greeted)
        {
            Fail(ErrorCode.WrongState, "already logged in");
            return;
        }
        if (DeviceProblem(l.Device) is var (deviceProblem, deviceReason))
        {
            _connection.Write(new Error(l.RequestId, deviceProblem, deviceReason));
            return;
        }
        if (!Tokens.TryParse(l.Token, out var user, out var hash))
        {
            _connection.Write(new Error(l.RequestId, ErrorCode.AuthFailed, "invalid token"));
            CountFailedLogin();
            return;
        }
        _phase = Phase.LoggingIn;
        var requestId = l.RequestId;
        _device = l.Device;
        // repeatable: the entity attaches a session once, and the session takes the first answer
        RepeatedAsk.AskAsync<object>(_users, new Authenticate(user, hash, l.Device, Self, l.RequestId), _settings.RequestTimeout, RepeatAfter)
            .PipeTo(Self, success: answer => answer, failure: e => new RequestFailed(requestId, e));
    }

    /// <summary>
    /// A token carries 256 random bits, so guessing one is hopeless; still, a connection that keeps failing is closed, so that
    /// guessing costs a connection (and its handshake) every few tries instead of one frame per try.
    /// </summary>
    private void CountFailedLogin()
    {
        if (++_failedLogins >= _settings.MaxFailedLogins)
            Fail(ErrorCode.AuthFailed, $"{_failedLogins} failed logins on this connection");
    }

    private void OnAuthenticated(Authenticated a)
    {
        if (_phase != Phase.LoggingIn) return;
        _phase = Phase.LoggedIn;
        _user = a.UserId;
        if (!_countedAsLoggedIn)
        {
            _countedAsLoggedIn = true;
            ChatMetrics.SessionStarted();
            SessionCount.Get(Context.System).Started();
        }
        _connection.AllowFramesUpTo(_settings.MaxFrameBytes);
        _connection.Write(new LoggedIn(a.RequestId, a.UserId.Value, a.Name, a.Phone, a.LastSeq));
        Timers.StartPeriodicTimer("attach", KeepAttachedTick.Instance, _settings.KeepAttachedInterval);
    }
}
