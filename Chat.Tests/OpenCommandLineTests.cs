using Chat.Cli.Commands;

namespace Chat.Tests;

/// <summary>How `chat open` reads the path of /file and /save from what a person typed.</summary>
public sealed class OpenCommandLineTests
{
    [Theory]
    [InlineData(" beach.png", "beach.png", "")]
    [InlineData(" beach.png  the beach at noon ", "beach.png", "the beach at noon")]
    [InlineData(" \"my photos/the beach.png\" at noon", "my photos/the beach.png", "at noon")]
    [InlineData("\"/tmp/a b\"", "/tmp/a b", "")]
    public void A_path_is_the_first_word_or_a_quoted_one_and_the_rest_follows(string typed, string path, string after)
        => Assert.Equal((path, after), OpenCommand.TakePath(typed));

    [Fact]
    public void A_tilde_is_the_home_folder_and_nothing_typed_is_no_path()
    {
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        Assert.Equal((home + "/Pictures/a.png", "hi"), OpenCommand.TakePath("~/Pictures/a.png hi"));
        Assert.Equal(((string?)null, ""), OpenCommand.TakePath("   "));
    }
}
