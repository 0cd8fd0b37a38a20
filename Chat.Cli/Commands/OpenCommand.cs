using Chat.Cli.Open;
using Chat.Protocol;
using Spectre.Console;
using Spectre.Console.Cli;
using Terminal.Gui.App;
using Key = Terminal.Gui.Input.Key;

namespace Chat.Cli.Commands;

internal sealed class OpenSettings : ProfileSettings;

/// <summary>
/// The full-screen terminal chat, drawn with Terminal.Gui (<see cref="ChatWindow"/>): conversations, messages with
/// names, times and ticks, a line to type on. Terminal.Gui's loop runs on a thread of its own and owns the
/// <see cref="ChatView"/>: keys arrive there, and inbox entries, signals and finished requests are handed to it with
/// <see cref="IApplication.Invoke(Action)"/>. Requests run in the background and never block typing.
/// </summary>
internal sealed partial class OpenCommand(IAnsiConsole console, ProfileStore profiles) : ChatCommand<OpenSettings>(console, profiles), IChatScreen
{
    /// <summary>Its own device, so that listen, send or read in the same profile do not replace it.</summary>
    private const string OpenDevice = "cli-open";

    private IApplication _app = null!;
    private ChatWindow _window = null!;
    private ChatClient _client = null!;
    private ChatView _view = null!;
    private string _myName = "";
    private string _myPhone = "";
    private string _status = "connecting";
    private string? _notice;
    private Pane _pane;
    private CancellationToken _ct;

    ChatView IChatScreen.View => _view;
    Pane IChatScreen.Pane => _pane;
    string IChatScreen.Status => _status;
    string? IChatScreen.Notice => _notice;

    public override async Task<int> ExecuteAsync(CommandContext context, OpenSettings settings, CancellationToken cancellationToken)
    {
        if (Console.Profile.Capabilities.Interactive is false || System.Console.IsInputRedirected)
            throw new CliException("chat open needs a terminal; for scripts use send and listen");
        var profile = Profiles.Load(settings.Profile);
        var (client, loggedIn) = await LoginAsync(profile, OpenDevice, cancellationToken);
        await using (client)
        {
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            _ct = stop.Token;
            _client = client;
            _view = new ChatView(loggedIn.UserId);
            _myName = loggedIn.Name;
            _myPhone = profile.Phone;
            _status = "connected";
            // Terminal.Gui's loop on a thread of its own for the whole chat: it is initialised, runs and ends there
            var ui = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var thread = new Thread(() =>
            {
                try
                {
                    RunUi();
                    ui.SetResult();
                }
                catch (Exception e)
                {
                    ui.SetException(e);
                }
            }) { Name = "chat-open-ui", IsBackground = true };
            thread.Start();
            Task? connection = null, pumps = null;
            try
            {
                // nothing is handed to the UI thread before its loop can take it; a failed start ends here with its error
                await Task.WhenAny(_uiReady.Task, ui.Task);
                if (ui.Task.IsCompleted) await ui.Task;
                // the whole retained inbox: a chat window shows the history, not only what listen has not printed yet
                Background(client.SyncAsync(0, _ct), _ => { });
                connection = StayConnectedAsync();
                pumps = Task.WhenAll(PumpEntriesAsync(), PumpSignalsAsync());
                await ui.Task;
            }
            finally
            {
                await stop.CancelAsync();
                if (connection is not null) await connection.ContinueWith(_ => { }, TaskScheduler.Default);
                if (pumps is not null) await pumps.ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
        return 0;
    }

    private readonly TaskCompletionSource _uiReady = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Terminal.Gui from start to end, on the UI thread: the window, the keys, a timer for typing that ends, the loop.</summary>
    private void RunUi()
    {
        using var app = Application.Create();
        app.Init();
        // the terminal's own 16 colours, as a terminal chat's users have set their palette for them
        app.Driver!.Force16Colors = true;
        _app = app;
        using var window = new ChatWindow(this);
        _window = window;
        app.Keyboard.KeyDown += (_, key) => OnKey(key);
        window.Input.Accepting += (_, e) =>
        {
            e.Handled = true;
            var line = window.Input.Text.Trim();
            window.Input.Text = "";
            if (line.Length > 0) OnLine(line);
            window.Refresh();
        };
        window.Input.TextChanged += (_, _) => OnTyped(window.Input.Text);
        // "typing…" ends by itself after a few seconds without a new signal: look again twice a second
        app.AddTimeout(TimeSpan.FromMilliseconds(500), () =>
        {
            if (ShowPresence()) window.Refresh();
            return true;
        });
        using var stopping = _ct.Register(() => app.Invoke(() => app.RequestStop()));
        window.Input.SetFocus();
        _uiReady.SetResult();
        app.Run(window);
    }

    /// <summary>Applies a change on the UI thread and has the window drawn again.</summary>
    private void OnUi(Action change) => _app.Invoke(() =>
    {
        change();
        _window.Refresh();
    });

    /// <summary>Inbox entries, a batch at a time, applied on the UI thread; the next batch waits until this one is applied.</summary>
    private async Task PumpEntriesAsync()
    {
        var entries = _client.Entries;
        try
        {
            while (await entries.WaitToReadAsync(_ct).ConfigureAwait(false))
            {
                var batch = new List<Frame>();
                while (batch.Count < 1000 && entries.TryRead(out var entry)) batch.Add(entry);
                var applied = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                OnUi(() =>
                {
                    Apply(batch);
                    applied.SetResult();
                });
                await applied.Task.WaitAsync(_ct).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void Apply(List<Frame> batch)
    {
        var acked = 0L;
        foreach (var entry in batch)
        {
            var (changed, readNow) = _view.Apply(entry);
            if (readNow && changed is not null) MarkRead(changed.Key, changed.LastIncomingSeq);
            acked = Math.Max(acked, ChatClient.SeqOf(entry));
            if (entry is Message m) LearnNames([m.From]);
            if (entry is GroupNotice n) LearnNames(n.Members.Append(n.Actor));
        }
        if (acked > 0) _client.Ack(acked);
    }

    /// <summary>Typing and presence signals: the client keeps the latest state, and the header is drawn from it.</summary>
    private async Task PumpSignalsAsync()
    {
        var signals = _client.Signals;
        try
        {
            while (await signals.WaitToReadAsync(_ct).ConfigureAwait(false))
            {
                while (signals.TryRead(out _)) { }
                OnUi(() => ShowPresence());
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public string NameOf(string userId) =>
        userId == _view.Me ? _myName : _client.NameOf(userId) ?? userId;

    public string? PhoneOf(string userId) =>
        userId == _view.Me ? _myPhone : _client.Contacts.TryGetValue(userId, out var p) ? p.Phone : null;

    private readonly HashSet<string> _asked = [];

    /// <summary>Asks the server once for the names of users seen in an entry or a member list; the screen shows the id until it is known.</summary>
    private void LearnNames(IEnumerable<string> userIds)
    {
        var missing = userIds.Where(id => id != _view.Me && _client.NameOf(id) is null && _asked.Add(id)).ToList();
        if (missing.Count > 0) Background(_client.ResolveAsync(missing, _ct), _ => { });
    }

    /// <summary>
    /// The chat's own keys, taken before the line being typed sees them: Ctrl-C quits, Esc goes back to the conversation
    /// (Terminal.Gui would quit on it), Up/Down choose a conversation, ? on an empty line shows the help.
    /// </summary>
    private void OnKey(Key key)
    {
        if (key == Key.C.WithCtrl) _app.RequestStop();
        else if (key == Key.Esc) _pane = Pane.Conversation;
        else if (key == Key.CursorUp) Select(_view.Move(-1));
        else if (key == Key.CursorDown) Select(_view.Move(+1));
        else if (key.GetPrintableText() == "?" && _window.Input.Text.Length == 0) _pane = _pane == Pane.Help ? Pane.Conversation : Pane.Help;
        else return;
        key.Handled = true;
        _window.Refresh();
    }

    /// <summary>What is typed tells the other side "typing…"; the client sends at most one per few seconds per conversation.</summary>
    private void OnTyped(string text)
    {
        if (text.Length > 0 && text[0] != '/' && _view.Open is { Member: true } open) Background(_client.TypingAsync(open.Key, _ct), _ => { });
    }

    private string? _subscribedTo;

    /// <summary>
    /// Follows the open conversation's other side (typing always; presence for a person), and puts what they are doing in
    /// the header. True when the header changed.
    /// </summary>
    private bool ShowPresence()
    {
        var open = _view.Open;
        if (open is not null && open.Key != _subscribedTo)
        {
            _subscribedTo = open.Key;
            Background(_client.SubscribeAsync(typing: true, open.IsGroup ? [] : [open.Key], _ct), _ => { });
        }
        var text = open is null ? null : PresenceText.Describe(open.IsGroup, _client.TypingIn(open.Key),
            open.IsGroup ? null : _client.PresenceOf.GetValueOrDefault(open.Key), NameOf, DateTimeOffset.Now);
        if (text == _view.OpenPresence) return false;
        _view.OpenPresence = text;
        return true;
    }

    private void Select(long readUpTo)
    {
        _pane = Pane.Conversation;
        if (readUpTo > 0 && _view.Open is { } open) MarkRead(open.Key, readUpTo);
    }

    /// <summary>The open conversation when one may write to it; otherwise null, with the reason on the status line.</summary>
    private Conversation? WritableConversation()
    {
        if (_view.Open is not { } open)
        {
            _notice = "open a conversation first (Up/Down, or /new +PHONE)";
            return null;
        }
        if (open.IsGroup && !open.Member)
        {
            _notice = "you are no longer in this group";
            return null;
        }
        return open;
    }

    private void MarkRead(string with, long upTo) => Background(_client.ReadAsync(with, upTo, _ct), _ => { });

    private void OnLine(string line)
    {
        _notice = null;
        if (line.StartsWith('/'))
        {
            OnCommand(line);
            return;
        }
        if (WritableConversation() is not { } open) return;
        var sent = _view.AddOutgoing(open, line, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        var sending = open.IsGroup ? _client.SendGroupAsync(open.Key, line, cancellationToken: _ct) : _client.SendAsync(open.Key, line, cancellationToken: _ct);
        Background(sending, accepted => _view.Accepted(open, sent, accepted.MessageId));
    }

    private void OnCommand(string line)
    {
        var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        switch (words[0])
        {
            case "/quit":
                _app.RequestStop();
                return;
            case "/help":
                _pane = Pane.Help;
                return;
            case "/file":
                SendFile(line["/file".Length..]);
                return;
            case "/save":
                Save(line["/save".Length..]);
                return;
            case "/members" when _view.Open is { IsGroup: true } group:
                _pane = Pane.Members;
                Background(_client.GetGroupInfoAsync(group.Key, _ct), info =>
                {
                    ChatView.SetMembers(group, info);
                    LearnNames(info.Members);
                });
                return;
            case "/members":
                _notice = "/members lists the members of a group: open a group first";
                return;
            case "/new" when words.Length == 2:
                Background(_client.LookupAsync(words[1], _ct), found =>
                {
                    var c = _view.Get(found.UserId, isGroup: false, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
                    Select(_view.Select(c));
                });
                return;
            case "/group" when words.Length >= 3:
                var phones = words.Skip(2).ToList();
                Background(CreateGroupAsync(words[1], phones), groupId =>
                {
                    var c = _view.Get(groupId, isGroup: true, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
                    c.GroupName ??= words[1];
                    Select(_view.Select(c));
                });
                return;
            case "/add" when words.Length >= 2 && _view.Open is { IsGroup: true } group:
                Background(AddAsync(group.Key, words.Skip(1).ToList()), _ => _notice = "added");
                return;
            case "/leave" when _view.Open is { IsGroup: true } group:
                Background(_client.LeaveGroupAsync(group.Key, _ct), _ => _notice = "you left the group");
                return;
            default:
                _notice = "unknown command or missing argument; ? lists the commands";
                return;
        }
    }

    private async Task<string> CreateGroupAsync(string name, IReadOnlyList<string> phones)
        => await _client.CreateGroupAsync(name, await ResolveUsersAsync(_client, phones, _ct), _ct);

    private async Task<bool> AddAsync(string groupId, IReadOnlyList<string> phones)
    {
        await _client.AddMembersAsync(groupId, await ResolveUsersAsync(_client, phones, _ct), _ct);
        return true;
    }

    private void Background(Task task, Action<object?> done) => Background(Completed(task), done);

    private static async Task<object?> Completed(Task task)
    {
        await task.ConfigureAwait(false);
        return null;
    }

    /// <summary>Runs a request in the background; its result (or its error, as a notice) is applied on the UI thread.</summary>
    private void Background<T>(Task<T> task, Action<T> done) => Background(task, done, error => _notice = error);

    /// <summary>Runs a request in the background; the UI thread applies its result, or hands its error as words to <paramref name="failed"/>.</summary>
    private void Background<T>(Task<T> task, Action<T> done, Action<string> failed) => _ = task.ContinueWith(t =>
    {
        if (t.IsCompletedSuccessfully) OnUi(() => done(t.Result));
        else if (t.Exception?.GetBaseException() is { } e and not OperationCanceledException and not TaskCanceledException)
            OnUi(() => failed(e is ChatException chat ? $"{chat.Code}: {chat.Message}" : e.Message));
    }, TaskScheduler.Default);

    /// <summary>
    /// Stays live over a lost connection: the status line says "reconnecting" while the client connects again, logs in,
    /// resends what was not accepted (same client message ids) and resumes the sync after the last entry it received.
    /// </summary>
    private async Task StayConnectedAsync()
    {
        while (!_ct.IsCancellationRequested)
        {
            await _client.Closed.WaitAsync(_ct).ConfigureAwait(false);
            if (_ct.IsCancellationRequested) return;
            if (_client.CloseReason?.Code == ErrorCode.Replaced)
            {
                OnUi(() => _status = "closed: this profile was opened on the same device elsewhere");
                return;
            }
            OnUi(() => _status = "reconnecting…");
            var delay = TimeSpan.FromMilliseconds(250);
            while (!_ct.IsCancellationRequested)
            {
                try
                {
                    await _client.ReconnectAsync(_ct).ConfigureAwait(false);
                    OnUi(() => _status = "connected");
                    break;
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    await Task.Delay(delay, _ct).ConfigureAwait(false);
                    delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 5_000));
                }
            }
        }
    }
}
