using System.ComponentModel;
using Chat.Protocol;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Chat.Cli.Commands;

internal sealed class ListenSettings : ProfileSettings
{
    private const int MaxTimeoutSeconds = 2_000_000; // CancelAfter takes at most int.MaxValue milliseconds

    [CommandOption("-c|--count <N>")]
    [Description("Exit after N entries (a receipt or receipt set counts once, however many messages it covers)")]
    public int? Count { get; set; }

    [CommandOption("--timeout <SECONDS>")]
    [Description("Exit after this many seconds of listening (counted from login). Without it, listen waits until Ctrl-C or --count entries. " +
                 "If --count is given and fewer entries arrived in time, the exit code is 1")]
    public double? Timeout { get; set; }

    [CommandOption("--json")]
    [Description("One JSON object per line: " +
                 "{\"type\":\"message\",\"id\",\"seq\",\"from\",\"fromName\",\"text\",\"sentAt\"} (fromName: the sender's display name, null when " +
                 "the server does not tell it; sentAt in Unix ms; group messages add \"group\",\"groupSeq\"), " +
                 "{\"type\":\"receipt\",\"id\",\"status\":\"delivered\"|\"read\",\"by\",\"seq\"}, one line per message id (plus \"group\" if known), or " +
                 "{\"type\":\"notice\",\"group\",\"groupSeq\",\"kind\":\"created\"|\"added\"|\"removed\"|\"left\"|\"renamed\"|\"promoted\"|\"demoted\"," +
                 "\"actor\",\"members\":[...],\"name\",\"seq\",\"at\"}")]
    public bool Json { get; set; }

    [CommandOption("--typing")]
    [Description("Also print who is typing to you or in your groups, as it happens (never stored: only while listening; not counted by --count): " +
                 "\"Alice (+14155550101) is typing…\", or with --json {\"type\":\"typing\",\"from\",\"fromName\",\"group\",\"forMs\"}")]
    public bool Typing { get; set; }

    public override ValidationResult Validate()
    {
        var result = base.Validate();
        if (!result.Successful) return result;
        if (Count is <= 0) return ValidationResult.Error("--count must be at least 1");
        if (Timeout is { } t && !(t is > 0 and <= MaxTimeoutSeconds))
            return ValidationResult.Error($"--timeout must be more than 0 and at most {MaxTimeoutSeconds} seconds");
        return ValidationResult.Success();
    }
}

/// <summary>
/// Prints inbox entries after the profile's saved position, acknowledges each one and saves the new position,
/// so the next listen continues where this one stopped. With several servers (a cluster) a lost connection moves
/// on to the next one and listening continues from the last entry received.
/// </summary>
internal sealed class ListenCommand(IAnsiConsole console, ProfileStore profiles)
    : ChatCommand<ListenSettings>(console, profiles)
{
    /// <summary>Its own device, so that send or read in the same profile does not replace the listening session.</summary>
    private const string ListenDevice = "cli-listen";

    public override async Task<int> ExecuteAsync(CommandContext context, ListenSettings settings,
        CancellationToken cancellationToken)
    {
        var profile = Profiles.Load(settings.Profile);
        var failover = ServerAddress.ParseList(profile.Server).Count > 1;
        var (client, _) = await LoginAsync(profile, ListenDevice, cancellationToken);
        await using (client)
        {
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            if (settings.Timeout is { } seconds) stop.CancelAfter(TimeSpan.FromSeconds(seconds));
            var stopping = stop.Token;
            Exception? lost = null;
            void Stop()
            {
                try { stop.Cancel(); } catch (ObjectDisposedException) { /* listen already ended */ }
            }
            async Task StayConnectedAsync()
            {
                while (true)
                {
                    await client.Closed;
                    if (stopping.IsCancellationRequested) return;
                    // Replaced means another listen took over this device: moving on would only replace it back.
                    if (!failover || client.CloseReason?.Code == ErrorCode.Replaced)
                    {
                        lost = client.CloseReason is { } reason
                            ? new ChatException(reason.Code, reason.Message)
                            : new CliException("connection closed by the server");
                        Stop();
                        return;
                    }
                    try
                    {
                        await client.ReconnectAsync(stopping); // the next server; the sync resumes after the last entry received
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        lost = new CliException($"connection lost, and no server of the profile answered ({e.Message})");
                        Stop();
                        return;
                    }
                }
            }
            var connected = StayConnectedAsync();
            _ = connected.ContinueWith(t => t.Exception, TaskContinuationOptions.OnlyOnFaulted);

            // Not awaited: stored entries are read below while they stream in (the entry buffer is bounded).
            var sync = client.SyncAsync(profile.LastSeq, stop.Token);
            // The profile's position was acknowledged before it was saved, but a node that crashed since may have lost
            // that ack, and with it the delivered receipts it issues (docs/protocol.md 9.4): acknowledge it once more,
            // after the Sync that it needs (an ack counts up to the position of the connection's stream).
            if (profile.LastSeq > 0) client.Ack(profile.LastSeq);
            _ = sync.ContinueWith(t => t.Exception, TaskContinuationOptions.OnlyOnFaulted);

            if (settings.Typing)
            {
                await client.SubscribeAsync(typing: true, presence: [], stopping); // renewed by the client after a reconnect
                _ = PrintTypingAsync(client, settings.Json, stopping);
            }

            var received = 0;
            var savedSeq = profile.LastSeq;
            bool Done() => received >= settings.Count;

            async Task DrainAsync()
            {
                var seq = savedSeq;
                while (!Done() && client.Entries.TryRead(out var entry))
                {
                    Print(entry, settings.Json, await NamesAsync(client, entry));
                    var entrySeq = ChatClient.SeqOf(entry);
                    if (entrySeq > seq)
                    {
                        seq = entrySeq;
                        client.Ack(seq);
                    }
                    received++;
                }
                if (seq == savedSeq) return;
                profile = profile with { LastSeq = seq };
                Profiles.Save(settings.Profile, profile);
                savedSeq = seq;
            }

            while (true)
            {
                await DrainAsync();
                if (Done()) break;
                try
                {
                    if (!await client.Entries.WaitToReadAsync(stop.Token)) break;
                }
                catch (OperationCanceledException)
                {
                    await DrainAsync(); // entries that arrived before the connection closed or the time ran out
                    break;
                }
            }

            var gone = lost;
            Stop(); // listening is over: the connection closing from here on is not a loss
            if (Done() || cancellationToken.IsCancellationRequested) return 0; // Ctrl-C ends listening normally
            if (gone is not null) throw gone;
            if (settings.Count is { } count)
                throw new CliException($"timeout: received {received} of {count} entries");
            return 0;
        }
    }

    private readonly Lock _output = new();

    private void Print(Frame entry, bool json, IReadOnlyDictionary<string, UserProfile> names)
    {
        lock (_output)
        {
            if (json)
                foreach (var line in InboxFormat.JsonLines(entry, names)) Out.WriteLine(line);
            else
                foreach (var line in InboxFormat.HumanLines(entry, names)) Say(line);
        }
    }

    /// <summary>Prints typing signals as they come, beside the entries; ends with listening.</summary>
    private async Task PrintTypingAsync(ChatClient client, bool json, CancellationToken stopping)
    {
        try
        {
            await foreach (var signal in client.Signals.ReadAllAsync(stopping))
            {
                if (signal is not UserTyping t) continue;
                var names = await NamesAsync(client, new Message(0, "", t.From, "", 0));
                lock (_output)
                {
                    if (json) Out.WriteLine(TypingFormat.Json(t, names));
                    else Say(TypingFormat.Line(t, names));
                }
            }
        }
        catch (OperationCanceledException)
        {
            // listening is over
        }
    }

    /// <summary>
    /// The sender's profile, from the client's contact cache or asked once. Names are a courtesy: when the server cannot
    /// answer (reconnecting, too slow), the entry is printed with the user id rather than held back.
    /// </summary>
    private static async Task<IReadOnlyDictionary<string, UserProfile>> NamesAsync(ChatClient client, Frame entry)
    {
        if (entry is not Message m) return client.Contacts;
        try
        {
            using var quick = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            return await client.ResolveAsync([m.From], quick.Token);
        }
        catch (Exception e) when (e is ChatException or IOException or TimeoutException or OperationCanceledException)
        {
            return client.Contacts;
        }
    }
}
