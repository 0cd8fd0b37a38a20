namespace Chat.Protocol;

// Sends: texts and media to a user or a group, in the order they were made, within the server's in-flight window,
// each kept until it is accepted (and resent with the same client message id after a reconnect).
public sealed partial class ChatClient
{
    /// <summary>
    /// Sends a text and completes when the server has stored it durably. With the same
    /// <paramref name="clientMessageId"/>, a repeated send is answered with the same message id and
    /// delivered once. Cancelling stops the wait; the send stays queued for resending until disposal.
    /// </summary>
    public Task<Accepted> SendAsync(string to, string text, string? clientMessageId = null,
        CancellationToken cancellationToken = default)
        => SendFrameAsync(clientMessageId, (id, cmid) => new Send(id, cmid, to, text), cancellationToken);

    /// <summary>Sends a text to a group; as <see cref="SendAsync"/>, idempotent by client message id.</summary>
    public Task<Accepted> SendGroupAsync(string groupId, string text, string? clientMessageId = null,
        CancellationToken cancellationToken = default)
        => SendFrameAsync(clientMessageId, (id, cmid) => new SendGroup(id, cmid, groupId, text), cancellationToken);

    /// <summary>Sends an uploaded image or video (see <see cref="UploadAsync"/>) with an optional caption; idempotent as <see cref="SendAsync"/>.</summary>
    public Task<Accepted> SendMediaAsync(string to, MediaRef media, string? caption = null, string? clientMessageId = null,
        CancellationToken cancellationToken = default)
        => SendFrameAsync(clientMessageId, (id, cmid) => new Send(id, cmid, to, caption ?? "", media), cancellationToken);

    /// <summary>Sends an uploaded image or video to a group; as <see cref="SendMediaAsync"/>.</summary>
    public Task<Accepted> SendGroupMediaAsync(string groupId, MediaRef media, string? caption = null, string? clientMessageId = null,
        CancellationToken cancellationToken = default)
        => SendFrameAsync(clientMessageId, (id, cmid) => new SendGroup(id, cmid, groupId, caption ?? "", media), cancellationToken);

    private async Task<Accepted> SendFrameAsync(string? clientMessageId, Func<uint, string, Frame> make, CancellationToken cancellationToken)
    {
        clientMessageId ??= NewClientMessageId();
        if (_sends.TryGetValue(clientMessageId, out var existing))
            return await existing.Done.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        // Sends leave in the order they were made: each waits for the one before it to be written before it waits for
        // room in the server's in-flight window. (Waiters on the window alone were let through in no particular order,
        // and a recipient then received a burst of messages out of order.)
        var written = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task before;
        lock (_sendOrder)
        {
            before = _lastSendWritten;
            _lastSendWritten = written.Task;
        }
        PendingSend pending;
        try
        {
            await before.ConfigureAwait(false);
            await _inFlight.WaitAsync(cancellationToken).ConfigureAwait(false);
            // Under the gate a send is either resent by a reconnect or written here, never both nor neither, and in order.
            lock (_sendGate)
            {
                var requestId = NextRequestId();
                pending = new PendingSend(make(requestId, clientMessageId), requestId, clientMessageId,
                    new TaskCompletionSource<Accepted>(TaskCreationOptions.RunContinuationsAsynchronously));
                _sends[clientMessageId] = pending;
                LoggedInTarget()?.Enqueue(pending.Frame);
            }
        }
        finally
        {
            written.SetResult(); // the next send may go (also when this one was cancelled while waiting)
        }
        return await pending.Done.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A new random client message id (16 hex characters).</summary>
    public static string NewClientMessageId() => Convert.ToHexStringLower(Guid.NewGuid().ToByteArray(), 0, 8);
}
