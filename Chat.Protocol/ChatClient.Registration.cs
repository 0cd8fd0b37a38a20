namespace Chat.Protocol;

/// <summary>Creating an account: Register, then (on a node that verifies numbers) Verify with the code sent to the phone.</summary>
public sealed partial class ChatClient
{
    /// <summary>
    /// Creates a user and returns its id and token (shown once; keep it). On a node that verifies numbers this takes the
    /// code from <paramref name="enterCode"/>, which is given the node's <see cref="CodeSent"/> (on a node in the test mode
    /// <c>auto</c>, which hands the code back, it is not called). A wrong code asks <paramref name="enterCode"/> again,
    /// until the node voids the code (<see cref="ErrorCode.TooManyAttempts"/>).
    /// </summary>
    public async Task<Registered> RegisterAsync(string name, string phone, string? email,
        Func<CodeSent, CancellationToken, Task<string>> enterCode, CancellationToken cancellationToken = default)
    {
        var answer = await RequestCodeAsync(name, phone, email, cancellationToken).ConfigureAwait(false);
        if (answer is Registered registered) return registered; // the node does not verify numbers
        var sent = (CodeSent)answer;
        var code = sent.Code ?? await enterCode(sent, cancellationToken).ConfigureAwait(false);
        while (true)
        {
            try
            {
                return await VerifyAsync(phone, code, name, email, cancellationToken).ConfigureAwait(false);
            }
            catch (ChatException e) when (e.Code == ErrorCode.WrongCode && sent.Code is null)
            {
                code = await enterCode(sent, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Creates a user on a node that needs no code from this client: one with verification off, or one in the test mode
    /// <c>auto</c>. On a node that sends the code to the phone it throws <see cref="VerificationRequiredException"/>; use the
    /// overload that takes <c>enterCode</c>, or <see cref="RequestCodeAsync"/> and <see cref="VerifyAsync"/>.
    /// </summary>
    public Task<Registered> RegisterAsync(string name, string phone, string? email = null, CancellationToken cancellationToken = default)
        => RegisterAsync(name, phone, email, (sent, _) => throw new VerificationRequiredException(sent), cancellationToken);

    /// <summary>
    /// Sends <see cref="Register"/>: answered by <see cref="CodeSent"/> on a node that verifies numbers (then call
    /// <see cref="VerifyAsync"/> with the code), or by <see cref="Registered"/> on one with verification off.
    /// </summary>
    public Task<Frame> RequestCodeAsync(string name, string phone, string? email = null, CancellationToken cancellationToken = default)
        => RequestAsync(id => new Register(id, name, phone, email), cancellationToken);

    /// <summary>
    /// Sends <see cref="Verify"/>: the code sent to <paramref name="phone"/>, and the new account's name and e-mail.
    /// Returns the new user's id and token. Fails with <see cref="ErrorCode.WrongCode"/>, <see cref="ErrorCode.CodeExpired"/>
    /// or <see cref="ErrorCode.TooManyAttempts"/>.
    /// </summary>
    public async Task<Registered> VerifyAsync(string phone, string code, string name, string? email = null,
        CancellationToken cancellationToken = default)
        => (Registered)await RequestAsync(id => new Verify(id, phone, code, name, email), cancellationToken).ConfigureAwait(false);
}

/// <summary>The node sent a code to the phone: registration needs it (see <see cref="ChatClient.VerifyAsync"/>).</summary>
public sealed class VerificationRequiredException(CodeSent sent)
    : Exception($"the node sent a verification code to {sent.Phone}; registering needs it (valid for {sent.ExpiresIn} s)")
{
    /// <summary>The node's answer to Register.</summary>
    public CodeSent Sent { get; } = sent;
}
