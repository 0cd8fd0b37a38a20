using Terminal.Gui.ViewBase;
using Terminal.Gui.Views;

namespace Chat.Cli.Open;

/// <summary>What <see cref="ChatWindow"/> shows; read on the UI thread whenever it draws.</summary>
internal interface IChatScreen
{
    ChatView View { get; }
    Pane Pane { get; }
    string Status { get; }
    string? Notice { get; }
    string NameOf(string userId);
    string? PhoneOf(string userId);
}

/// <summary>
/// The terminal chat as Terminal.Gui views: the header on top, the conversation list on the left, the open conversation
/// (or help, or a group's members) on the right, the status line with a progress bar while an image or video is sent or
/// saved, and the line to type on at the bottom. It only reads <see cref="IChatScreen"/>; <see cref="Refresh"/> after a change.
/// </summary>
internal sealed class ChatWindow : Runnable
{
    private readonly IChatScreen _screen;
    private readonly RowsView _header, _list, _conversation, _help, _members, _status;
    private readonly ProgressBar _progress;

    /// <summary>The line being typed.</summary>
    public TextField Input { get; }

    public ChatWindow(IChatScreen screen)
    {
        _screen = screen;
        Width = Dim.Fill();
        Height = Dim.Fill();
        _header = new RowsView((_, _) => [new Row([new Span(Rows.Header(_screen.View, _screen.NameOf), Look.Selected)], Look.Selected)])
        {
            X = 0, Y = 0, Width = Dim.Fill(), Height = 1,
        };
        // a third of the width, within bounds, as a chat list is wide enough for a name and a short preview
        _list = new RowsView((w, h) => Rows.List(_screen.View, _screen.NameOf, w, h))
        {
            X = 0, Y = 1, Width = Dim.Func(_ => Math.Clamp(Frame.Width / 3, 18, 36)), Height = Dim.Fill(2),
        };
        var line = new Line { Orientation = Orientation.Vertical, X = Pos.Right(_list), Y = 1, Height = Dim.Fill(2) };
        _conversation = Right(new RowsView((w, h) => Rows.Conversation(_screen.View, _screen.NameOf, w, h)), line);
        _help = Right(new RowsView((w, _) => Rows.HelpRows(w)), line);
        _members = Right(new RowsView((w, _) => Rows.Members(_screen.View, _screen.NameOf, _screen.PhoneOf, w)), line);
        _progress = new ProgressBar
        {
            X = Pos.AnchorEnd(22), Y = Pos.AnchorEnd(2), Width = 20, Height = 1, Visible = false,
            ProgressBarStyle = ProgressBarStyle.Continuous, ProgressBarFormat = ProgressBarFormat.SimplePlusPercentage,
        };
        _status = new RowsView((_, _) => [new Row(Rows.Status(_screen.Status, _screen.Notice), Look.Dim)])
        {
            X = 0, Y = Pos.AnchorEnd(2), Width = Dim.Fill(), Height = 1,
        };
        var prompt = new Label { Text = "> ", X = 0, Y = Pos.AnchorEnd(1) };
        Input = new TextField { X = 2, Y = Pos.AnchorEnd(1), Width = Dim.Fill() };
        Add(_header, _list, line, _conversation, _help, _members, _status, _progress, prompt, Input);
        Refresh();
    }

    private static RowsView Right(RowsView view, View after)
    {
        view.X = Pos.Right(after);
        view.Y = 1;
        view.Width = Dim.Fill();
        view.Height = Dim.Fill(2);
        return view;
    }

    /// <summary>Shows the pane asked for and the newest transfer under way, and has everything drawn again.</summary>
    public void Refresh()
    {
        _conversation.Visible = _screen.Pane == Pane.Conversation;
        _help.Visible = _screen.Pane == Pane.Help;
        _members.Visible = _screen.Pane == Pane.Members;
        var transfer = _screen.View.Open?.Lines.LastOrDefault(l => l.Transfer is not null)?.Transfer;
        _progress.Visible = transfer is not null;
        if (transfer is { } t) _progress.Fraction = (float)Rows.Fraction(t);
        foreach (var view in new View[] { _header, _list, _conversation, _help, _members, _status, _progress })
            view.SetNeedsDraw();
    }
}
