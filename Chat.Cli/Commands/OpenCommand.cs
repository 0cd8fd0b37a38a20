using System.Collections.Concurrent;
using System.Text;
using Chat.Cli.Open;
using Chat.Protocol;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Chat.Cli.Commands;

internal sealed class OpenSettings : ProfileSettings;

/// <summary>
/// The full-screen terminal chat: conversations, messages with names, times and ticks, a line to type on. One loop
/// owns the <see cref="ChatView"/>: it reads keys, applies inbox entries and runs what finished requests queued, then
/// redraws when something changed. Requests run in the background and never block typing.
/// </summary>
internal sealed partial class OpenCommand(IAnsiConsole console, ProfileStore profiles) : ChatCommand<OpenSettings>(console, profiles)
{
    /// <summary>Its own device, so that listen, send or read in the same profile do not replace it.</summary>
    private const string OpenDevice = "cli-open";

    private readonly ConcurrentQueue<Action> _updates = new();
    private ChatClient _client = null!;
    private ChatView _view = null!;
    private string _myName = "";
    private string _myPhone = "";
    private readonly StringBuilder _input = new();
    private string _status = "connecting";
    private string? _notice;
    private Pane _pane;
    private bool _quit;
    private bool _dirty = true;
    private CancellationToken _ct;

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
            // the whole retained inbox: a chat window shows the history, not only what listen has not printed yet
            Background(client.SyncAsync(0, _ct), _ => { });
            var connection = StayConnectedAsync();
            var stdout = new StreamWriter(System.Console.OpenStandardOutput(), new UTF8Encoding(false)) { AutoFlush = false };
            System.Console.TreatControlCAsInput = true;
            stdout.Write("\e[?1049h\e[H\e[2J");
            try
            {
                await RunAsync(stdout);
            }
            finally
            {
                stdout.Write("\e[?1049l\e[?25h");
                stdout.Flush();
                System.Console.TreatControlCAsInput = false;
                await stop.CancelAsync();
                await connection.ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
        return 0;
    }

    private async Task RunAsync(StreamWriter stdout)
    {
        var (width, height) = (0, 0);
        while (!_quit && !_ct.IsCancellationRequested)
        {
            while (System.Console.KeyAvailable) OnKey(System.Console.ReadKey(intercept: true));
            var acked = 0L;
            while (_client.Entries.TryRead(out var entry))
            {
                var (changed, readNow) = _view.Apply(entry);
                if (readNow && changed is not null) MarkRead(changed.Key, changed.LastIncomingSeq);
                acked = Math.Max(acked, ChatClient.SeqOf(entry));
                if (entry is Message m) LearnNames([m.From]);
                if (entry is GroupNotice n) LearnNames(n.Members.Append(n.Actor));
                _dirty = true;
            }
            if (acked > 0) _client.Ack(acked);
            if (ShowPresence()) _dirty = true;
            while (_updates.TryDequeue(out var update))
            {
                update();
                _dirty = true;
            }
            if ((System.Console.WindowWidth, System.Console.WindowHeight) != (width, height))
            {
                (width, height) = (System.Console.WindowWidth, System.Console.WindowHeight);
                _dirty = true;
            }
            if (_dirty)
            {
                _dirty = false;
                var rows = Screen.Draw(_view, NameOf, _input.ToString(), _status, _notice, _pane, width, height, PhoneOf);
                stdout.Write(Screen.Frame(rows, 2 + _input.Length));
                stdout.Flush();
            }
            try
            {
                await Task.Delay(30, _ct);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private string NameOf(string userId) =>
        userId == _view.Me ? _myName : _client.NameOf(userId) ?? userId;

    private string? PhoneOf(string userId) =>
        userId == _view.Me ? _myPhone : _client.Contacts.TryGetValue(userId, out var p) ? p.Phone : null;

    private readonly HashSet<string> _asked = [];

    /// <summary>Asks the server once for the names of users seen in an entry or a member list; the screen shows the id until it is known.</summary>
    private void LearnNames(IEnumerable<string> userIds)
    {
        var missing = userIds.Where(id => id != _view.Me && _client.NameOf(id) is null && _asked.Add(id)).ToList();
        if (missing.Count > 0) Background(_client.ResolveAsync(missing, _ct), _ => { });
    }

    private void OnKey(ConsoleKeyInfo key)
    {
        _dirty = true;
        if (key.Key == ConsoleKey.C && key.Modifiers.HasFlag(ConsoleModifiers.Control)) { _quit = true; return; }
        switch (key.Key)
        {
            case ConsoleKey.Escape: _pane = Pane.Conversation; return;
            case ConsoleKey.UpArrow: Select(_view.Move(-1)); return;
            case ConsoleKey.DownArrow: Select(_view.Move(+1)); return;
            case ConsoleKey.Backspace:
                if (_input.Length > 0) _input.Length--;
                return;
            case ConsoleKey.Enter:
                var line = _input.ToString().Trim();
                _input.Clear();
                if (line.Length > 0) OnLine(line);
                return;
        }
        if (key.KeyChar == '?' && _input.Length == 0)
        {
            _pane = _pane == Pane.Help ? Pane.Conversation : Pane.Help;
            return;
        }
        if (char.IsControl(key.KeyChar)) return;
        _input.Append(key.KeyChar);
        // the client sends at most one Typing per few seconds per conversation, however fast the keys come
        if (_input[0] != '/' && _view.Open is { Member: true } open) Background(_client.TypingAsync(open.Key, _ct), _ => { });
    }

    private string? _subscribedTo;

    /// <summary>
    /// Follows the open conversation's other side (typing always; presence for a person), and puts what they are doing in
    /// the header. True when the header changed.
    /// </summary>
    private bool ShowPresence()
    {
        while (_client.Signals.TryRead(out _)) { } // the client keeps the latest state; the header is drawn from it
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
                _quit = true;
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

    /// <summary>Runs a request in the background; its result (or its error, as a notice) is applied by the loop.</summary>
    private void Background<T>(Task<T> task, Action<T> done) => Background(task, done, error => _notice = error);

    /// <summary>Runs a request in the background; the loop applies its result, or hands its error as words to <paramref name="failed"/>.</summary>
    private void Background<T>(Task<T> task, Action<T> done, Action<string> failed) => _ = task.ContinueWith(t =>
    {
        if (t.IsCompletedSuccessfully) _updates.Enqueue(() => done(t.Result));
        else if (t.Exception?.GetBaseException() is { } e and not OperationCanceledException and not TaskCanceledException)
            _updates.Enqueue(() => failed(e is ChatException chat ? $"{chat.Code}: {chat.Message}" : e.Message));
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
                _updates.Enqueue(() => _status = "closed: this profile was opened on the same device elsewhere");
                return;
            }
            _updates.Enqueue(() => _status = "reconnecting…");
            var delay = TimeSpan.FromMilliseconds(250);
            while (!_ct.IsCancellationRequested)
            {
                try
                {
                    await _client.ReconnectAsync(_ct).ConfigureAwait(false);
                    _updates.Enqueue(() => _status = "connected");
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
