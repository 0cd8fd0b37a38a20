using Terminal.Gui.Drawing;
using Terminal.Gui.ViewBase;
using Attribute = Terminal.Gui.Drawing.Attribute;

namespace Chat.Cli.Open;

/// <summary>
/// A Terminal.Gui view that draws rows of text in their looks, asked for at the size the layout gave it: the conversation
/// list, the open conversation, help and members, the header and the status line. The rows come from
/// <see cref="Rows"/>; this view only maps looks to colours and places them.
/// </summary>
internal sealed class RowsView(Func<int, int, IReadOnlyList<Row>> rows) : View
{
    protected override bool OnDrawingContent(DrawContext? context)
    {
        var (width, height) = (Viewport.Width, Viewport.Height);
        var normal = GetAttributeForRole(VisualRole.Normal);
        var shown = width > 0 && height > 0 ? rows(width, height) : [];
        for (var y = 0; y < height; y++)
        {
            Move(0, y);
            var used = 0;
            var row = y < shown.Count ? shown[y] : null;
            foreach (var span in row?.Spans ?? [])
            {
                if (used >= width) break;
                var text = span.Text.Length > width - used ? span.Text[..(width - used)] : span.Text;
                SetAttribute(Colour(span.Look, normal));
                AddStr(text);
                used += text.Length;
            }
            // the rest of the row: blank in the row's fill (the header and the open conversation stay reversed across)
            SetAttribute(Colour(row?.Fill ?? Look.Plain, normal));
            if (used < width) AddStr(new string(' ', width - used));
        }
        return true;
    }

    /// <summary>
    /// The 16 colours of the terminal's own palette (the chat sets Terminal.Gui to 16 colours), on the view's background.
    /// </summary>
    private static Attribute Colour(Look look, Attribute normal) => look switch
    {
        Look.Dim or Look.Tick => new Attribute(new Color(ColorName16.DarkGray), normal.Background),
        Look.Bold => new Attribute(normal.Foreground, normal.Background, TextStyle.Bold),
        Look.Mine => new Attribute(new Color(ColorName16.Green), normal.Background),
        Look.Notice => new Attribute(new Color(ColorName16.Cyan), normal.Background),
        Look.Pending or Look.Admin => new Attribute(new Color(ColorName16.Yellow), normal.Background),
        Look.Read => new Attribute(new Color(ColorName16.BrightBlue), normal.Background),
        Look.Failed => new Attribute(new Color(ColorName16.Red), normal.Background),
        Look.Selected => new Attribute(normal.Foreground, normal.Background, TextStyle.Reverse),
        _ => normal,
    };
}
