using System.Text;
using System.Diagnostics.CodeAnalysis;
using System.Text.RegularExpressions;
using Chat.Node.Directory;
using Chat.Node.Media;
using Chat.Protocol;

namespace Chat.Node.Sessions;

// The pure request rules of a session: from a request (and the session's counters and limits) the error code a request
// is refused with and why, or null when it may go on. No actor, no clock, no I/O: unit-tested on their own.

/// <summary>The checks a <see cref="Session"/> makes on a client's request before any entity is asked.</summary>
public static partial class SessionRules
{
    [GeneratedRegex(@"^\+[1-9][0-9]{7,14}$")]
    private static partial Regex E164();

    [GeneratedRegex(@"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")]
    private static partial Regex EmailShape();

    /// <summary>Whether a phone number is E.164: + and 8 to 15 digits, the first not 0.</summary>
    public static bool IsE164([NotNullWhen(true)] string? phone) => phone is not null && E164().IsMatch(phone);

    /// <summary>What is wrong with a new account's name, phone and e-mail (null: nothing), and why in <paramref name="reason"/>.</summary>
    public static ErrorCode? ValidateRegistration(Register r, int nameMaxChars, out string reason)
    {
        reason = "";
        if (string.IsNullOrWhiteSpace(r.Name) || r.Name.Length > nameMaxChars)
        {
            reason = $"name must be 1 to {nameMaxChars} characters";
            return ErrorCode.InvalidName;
        }
        if (r.Phone is null || !E164().IsMatch(r.Phone))
        {
            reason = "phone must be E.164: + and 8 to 15 digits, e.g. +14155550100";
            return ErrorCode.InvalidPhone;
        }
        if (r.Email is not null && (r.Email.Length > 254 || !EmailShape().IsMatch(r.Email)))
        {
            reason = "email is not a valid address";
            return ErrorCode.InvalidEmail;
        }
        return null;
    }

    /// <summary>What is wrong with the code of a <see cref="Verify"/> (null: nothing): it is <see cref="PhoneCodes.CodeDigits"/> ASCII digits.</summary>
    public static (ErrorCode Code, string Reason)? VerifyCodeProblem(string? code) =>
        code is not { Length: PhoneCodes.CodeDigits } || !code.All(char.IsAsciiDigit)
            ? (ErrorCode.InvalidArgument, $"the code is {PhoneCodes.CodeDigits} digits")
            : null;

    /// <summary>What is wrong with the device name of a <see cref="Login"/> (null: nothing).</summary>
    public static (ErrorCode Code, string Reason)? DeviceProblem(string? device) =>
        string.IsNullOrEmpty(device) || device.Length > 64
            ? (ErrorCode.InvalidArgument, "device must be 1 to 64 characters")
            : null;

    /// <summary>
    /// What is wrong with a <see cref="Read"/> (null: nothing): the conversation is shaped like a user or a group id, and
    /// UpTo is an inbox position, never negative (0 marks nothing, like a position before the first entry).
    /// </summary>
    public static (ErrorCode Code, string Reason)? ReadProblem(string? with, long upTo) =>
        !UserId.IsValid(with) && !GroupId.IsValid(with) ? (ErrorCode.UnknownUser, $"no user or group '{Truncate(with)}'")
        : upTo < 0 ? (ErrorCode.InvalidArgument, $"read needs upTo >= 0 (an inbox sequence number), not {upTo}")
        : null;

    /// <summary>What is wrong with a new group's name (null: nothing).</summary>
    public static (ErrorCode Code, string Reason)? GroupNameProblem(string? name, int nameMaxChars) =>
        string.IsNullOrWhiteSpace(name) || name.Trim().Length > nameMaxChars
            ? (ErrorCode.InvalidName, $"a group name has 1 to {nameMaxChars} characters")
            : null;

    /// <summary>What is wrong with a media reference before the store is asked (null: nothing).</summary>
    public static (ErrorCode Code, string Reason)? MediaRefProblem(MediaRef media, int maxThumbnailBytes) =>
        !MediaIds.IsMediaId(media.MediaId) ? (ErrorCode.UnknownMedia, $"no media '{Truncate(media.MediaId)}'")
        : media.Thumbnail is { } thumbnail && thumbnail.Length > maxThumbnailBytes
            ? (ErrorCode.ChunkTooLarge, $"a thumbnail is at most {maxThumbnailBytes} bytes; this one has {thumbnail.Length}")
            : null;

    /// <summary>
    /// What is wrong with a Send or SendGroup (null: nothing), checked in this order: its client message id, its recipient
    /// (<paramref name="recipientProblem"/>, found by the caller), an empty text without media, its media reference, the
    /// text's size, the sends already unanswered (<paramref name="inFlight"/>), and a request id still in use.
    /// </summary>
    public static (ErrorCode Code, string Reason)? SendProblem(uint requestId, string? clientMessageId, string? text, MediaRef? media,
        (ErrorCode, string)? recipientProblem, int maxTextBytes, int maxThumbnailBytes, int inFlight, int maxInFlight, bool requestIdInUse)
    {
        text ??= "";
        if (string.IsNullOrEmpty(clientMessageId) || clientMessageId.Length > 64)
            return (ErrorCode.InvalidMessageId, "client message id must be 1 to 64 characters");
        if (recipientProblem is { } p)
            return p;
        if (media is null && string.IsNullOrWhiteSpace(text))
            return (ErrorCode.EmptyText, "text is empty");
        if (media is not null && MediaRefProblem(media, maxThumbnailBytes) is { } mediaProblem)
            return mediaProblem;
        if (text.Length > maxTextBytes || Encoding.UTF8.GetByteCount(text) > maxTextBytes)
            return (ErrorCode.TextTooLong, $"text is longer than {maxTextBytes} bytes");
        if (inFlight >= maxInFlight)
            return (ErrorCode.RateLimited, $"more than {maxInFlight} sends are unanswered");
        if (requestIdInUse)
            return (ErrorCode.InvalidArgument, $"request id {requestId} is already in use");
        return null;
    }

    /// <summary>An <see cref="Error.RetryAfterMs"/> for a wait: whole milliseconds, rounded up, at least 1 (0 would mean "not stated").</summary>
    public static long RetryAfterMs(TimeSpan wait) => Math.Max(1, (long)Math.Ceiling(wait.TotalMilliseconds));

    /// <summary>An id quoted in an error, cut to 40 characters.</summary>
    public static string Truncate(string? s) => s is null ? "" : s.Length <= 40 ? s : s[..40] + "…";
}
