using Akka.Actor;
using Chat.Node.Groups;
using Chat.Node.Users;
using Chat.Protocol;
using Error = Chat.Protocol.Error;
using static Chat.Node.Sessions.SessionRules;

namespace Chat.Node.Sessions;

// Sends: the checks a Send or SendGroup passes, handing it to the inbox or group, and the sends held back
// while an earlier media send has its media checked (so that order is kept).
public sealed partial class Session
{
    private SendRates? _sendRates;
    /// <summary>Recipients this session has told the user's entity about (<see cref="WroteTo"/>): told once, not per message.</summary>
    private readonly HashSet<UserId> _wroteTo = [];

    /// <summary>
    /// The user's one-to-one message to <paramref name="to"/> was accepted: their entity records that the user wrote to
    /// them, so that messages from them no longer count against the user's quota for strangers.
    /// </summary>
    private void NoteWroteTo(UserId to)
    {
        if (to == _user) return;
        if (_wroteTo.Count >= 4096) _wroteTo.Clear(); // a bound; telling again is harmless (the entity records once)
        if (_wroteTo.Add(to)) _users.Tell(new WroteTo(_user, to));
    }

    private void Submit(Frame send)
    {
        if (!_checkingMedia)
        {
            Dispatch(send);
            return;
        }
        if (_held.Count >= _settings.MaxInFlight)
        {
            var requestId = ((IRequest)send).RequestId;
            _connection.Write(new Error(requestId, ErrorCode.RateLimited, $"more than {_settings.MaxInFlight} sends are unanswered"));
            return;
        }
        _held.Enqueue(send);
    }

    private void Dispatch(Frame send)
    {
        switch (send)
        {
            case Send s: OnSend(s); return;
            case SendGroup g: OnSendGroup(g); return;
        }
    }

    private void OnSend(Send s)
    {
        if (CheckSend(s.RequestId, s.ClientMessageId, s.Text, s.Media, UserId.IsValid(s.To) ? null : (ErrorCode.UnknownUser, $"no user '{Truncate(s.To)}'")))
            Deliver(s, s.Media);
    }

    private void OnSendGroup(SendGroup s)
    {
        if (CheckSend(s.RequestId, s.ClientMessageId, s.Text, s.Media, GroupId.IsValid(s.GroupId) ? null : (ErrorCode.UnknownGroup, $"no group '{Truncate(s.GroupId)}'")))
            Deliver(s, s.Media);
    }

    /// <summary>Hands a checked send to the recipient's inbox or the group; a media send first has its media checked.</summary>
    private void Deliver(Frame send, MediaRef? media, bool mediaChecked = false)
    {
        if (media is not null && !mediaChecked)
        {
            CheckMedia(send, ((IRequest)send).RequestId, media);
            return;
        }
        var (target, command, requestId) = send switch
        {
            Send s => (RecipientOf(new UserId(s.To)), (object)new DeliverText(new UserId(s.To), _user, s.ClientMessageId, s.Text, s.RequestId, media), s.RequestId),
            SendGroup g => (_groups, new PostToGroup(new GroupId(g.GroupId), _user, g.ClientMessageId, g.Text, g.RequestId, media), g.RequestId),
            _ => throw new ArgumentException($"not a send: {send.GetType().Name}"),
        };
        target.Tell(command);
        if (_sendDeadlines.TryGetValue(requestId, out var inFlight))
            _sendDeadlines[requestId] = inFlight with { Target = target, Command = command };
    }

    private sealed record MediaChecked(Frame Send, MediaRef? Media, Error? Problem) : INoSerializationVerificationNeeded;

    /// <summary>
    /// A media message names stored media: the store says what it is (type and size come from there, not from the
    /// client) and records the reference, so retention keeps the file as long as a message refers to it.
    /// Later sends wait until this check is done, so they cannot overtake it.
    /// </summary>
    private void CheckMedia(Frame send, uint requestId, MediaRef media)
    {
        _checkingMedia = true;
        ReferStoredMedia(_media, media, requestId, _clock.GetUtcNow(), _user.Value, MaySeeMedia())
            .PipeTo(Self, success: r => new MediaChecked(send, r.Stored, r.Problem),
                failure: e => new MediaChecked(send, null, new Error(requestId, ErrorCode.Unavailable, "media storage failed; retry")));
    }

    private void OnMediaChecked(MediaChecked c)
    {
        var requestId = ((IRequest)c.Send).RequestId;
        if (_sendDeadlines.ContainsKey(requestId))
        {
            if (c.Problem is not null)
            {
                _sendDeadlines.Remove(requestId);
                _connection.Write(c.Problem);
            }
            else
                Deliver(c.Send, c.Media, mediaChecked: true);
        }
        _checkingMedia = false;
        while (!_checkingMedia && _held.TryDequeue(out var next)) Dispatch(next);
    }

    /// <summary>Checks a send and registers it as in flight; false (and an Error written) when it is refused.</summary>
    private bool CheckSend(uint requestId, string? clientMessageId, string? text, MediaRef? media, (ErrorCode, string)? recipientProblem)
    {
        if (SendProblem(requestId, clientMessageId, text, media, recipientProblem, _settings.MaxTextBytes,
                _settings.Media.MaxThumbnailBytes, _sendDeadlines.Count, _settings.MaxInFlight, _sendDeadlines.ContainsKey(requestId)) is var (code, problem))
        {
            _connection.Write(new Error(requestId, code, problem));
            return false;
        }
        var rates = _sendRates ??= SendRates.Get(Context.System);
        if (!rates.TryTake(_user.Value, out var wait))
        {
            _connection.Write(new Error(requestId, ErrorCode.RateLimited,
                rates.Refusal(wait), RetryAfterMs(wait)));
            return false;
        }
        var now = Environment.TickCount64;
        _sendDeadlines[requestId] = new SendInFlight(now + (long)_settings.RequestTimeout.TotalMilliseconds, now + ResendAfterMs, null, null,
            System.Diagnostics.Stopwatch.GetTimestamp());
        TickFast(true);
        return true;
    }
}
