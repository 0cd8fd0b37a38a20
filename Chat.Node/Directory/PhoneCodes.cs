using System.Collections.Immutable;
using System.Security.Cryptography;
using System.Text;
using Chat.Protocol;

namespace Chat.Node.Directory;

/// <summary>The one code a phone may be verified with right now, and how many wrong attempts it has taken.</summary>
public sealed record PendingCode(string Code, DateTimeOffset ExpiresAt, int WrongAttempts);

/// <summary>
/// The verification codes of one phone number: the pending code (only the newest is valid) and when codes were sent
/// in the past hour. Pure: each rule returns the next state and the answer. The pending code is kept in memory only,
/// never stored: a code is short-lived, and a node restart voids it (the user asks for a new one). When codes were sent
/// is stored (<see cref="PhoneCodeSent"/>) and replayed through <see cref="SentAt"/>.
/// </summary>
public sealed record PhoneCodes(PendingCode? Pending, ImmutableList<DateTimeOffset> Sent)
{
    public static readonly PhoneCodes None = new(null, []);

    public const int CodeDigits = 6;

    /// <summary>A new random code of <see cref="CodeDigits"/> digits.</summary>
    public static string NewCode() => RandomNumberGenerator.GetInt32(1_000_000).ToString("D6");

    /// <summary>Issues <paramref name="code"/> as the phone's only valid code, unless the phone had its codes for this hour.</summary>
    public (PhoneCodes Next, ErrorCode? Error, string Reason) Issue(string code, DateTimeOffset now, VerificationSettings settings)
    {
        var recent = Sent.RemoveAll(at => at <= now - TimeSpan.FromHours(1));
        if (recent.Count >= settings.MaxCodesPerHour)
        {
            var wait = recent[0] + TimeSpan.FromHours(1) - now;
            return (this with { Sent = recent }, ErrorCode.TooManyCodes,
                $"{recent.Count} codes were sent to this number in the past hour; ask again in {Math.Ceiling(wait.TotalMinutes):0} min");
        }
        return (new PhoneCodes(new PendingCode(code, now + settings.CodeLifetime, 0), recent.Add(now)), null, "");
    }

    /// <summary>
    /// Checks a code: a match uses the code up; a wrong one counts an attempt, and the last attempt allowed voids the code.
    /// </summary>
    public (PhoneCodes Next, ErrorCode? Error, string Reason) Check(string code, DateTimeOffset now, VerificationSettings settings)
    {
        if (Pending is null)
            return (this, ErrorCode.CodeExpired, "no code is pending for this number; send Register for a new one");
        if (Pending.ExpiresAt <= now)
            return (this with { Pending = null }, ErrorCode.CodeExpired, "the code expired; send Register for a new one");
        if (CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(Pending.Code), Encoding.ASCII.GetBytes(code ?? "")))
            return (this with { Pending = null }, null, "");
        var wrong = Pending.WrongAttempts + 1;
        if (wrong >= settings.MaxAttempts)
            return (this with { Pending = null }, ErrorCode.TooManyAttempts,
                $"wrong code, {wrong} attempts: the code is void; send Register for a new one");
        var left = settings.MaxAttempts - wrong;
        return (this with { Pending = Pending with { WrongAttempts = wrong } }, ErrorCode.WrongCode,
            $"wrong code; {left} attempt{(left == 1 ? "" : "s")} left");
    }

    /// <summary>A code was sent at <paramref name="at"/> (replayed from the journal); sends older than an hour are dropped.</summary>
    public PhoneCodes SentAt(DateTimeOffset at, DateTimeOffset now) =>
        at <= now - TimeSpan.FromHours(1) ? this : this with { Sent = Sent.Add(at) };

    /// <summary>True when nothing here is held only in memory: no code that could still be entered.</summary>
    public bool CanForget(DateTimeOffset now) => Pending is null || Pending.ExpiresAt <= now;
}
