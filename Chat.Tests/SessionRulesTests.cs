using Chat.Node.Media;
using Chat.Node.Sessions;
using Chat.Protocol;

namespace Chat.Tests;

/// <summary>The checks a session makes on a request before any entity is asked, without an actor system.</summary>
public sealed class SessionRulesTests
{
    private const int MaxText = 100;
    private const int MaxThumbnail = 10;
    private const int MaxInFlight = 4;

    /// <summary>A send that passes every check; each test changes one thing about it.</summary>
    private static ErrorCode? Send(string? clientMessageId = "c1", string? text = "hi", MediaRef? media = null,
        (ErrorCode, string)? recipient = null, int inFlight = 0, bool requestIdInUse = false, uint requestId = 7) =>
        SessionRules.SendProblem(requestId, clientMessageId, text, media, recipient, MaxText, MaxThumbnail, inFlight, MaxInFlight, requestIdInUse)?.Code;

    private static MediaRef Media(int thumbnailBytes = 0) =>
        new(MediaIds.NewMediaId(), Thumbnail: thumbnailBytes == 0 ? null : new byte[thumbnailBytes]);

    [Fact]
    public void A_read_names_a_user_or_a_group_and_a_position_that_is_not_negative()
    {
        var user = "u" + new string('a', 16);
        var group = "g" + new string('a', 16);
        Assert.Null(SessionRules.ReadProblem(user, 5));
        Assert.Null(SessionRules.ReadProblem(group, 0)); // 0 marks nothing, as a Sync after 0 skips nothing
        Assert.Equal(ErrorCode.InvalidArgument, SessionRules.ReadProblem(user, -1)?.Code);
        Assert.Equal(ErrorCode.InvalidArgument, SessionRules.ReadProblem(group, long.MinValue)?.Code);
        Assert.Equal(ErrorCode.UnknownUser, SessionRules.ReadProblem("nobody", -1)?.Code); // the conversation is checked first
        Assert.Equal(ErrorCode.UnknownUser, SessionRules.ReadProblem(null, 1)?.Code);
    }

    [Fact]
    public void A_plain_send_passes()
    {
        Assert.Null(Send());
        Assert.Null(Send(media: Media(), text: "")); // a media message needs no caption
    }

    [Fact]
    public void A_client_message_id_has_1_to_64_characters()
    {
        Assert.Equal(ErrorCode.InvalidMessageId, Send(clientMessageId: null));
        Assert.Equal(ErrorCode.InvalidMessageId, Send(clientMessageId: ""));
        Assert.Equal(ErrorCode.InvalidMessageId, Send(clientMessageId: new string('c', 65)));
        Assert.Null(Send(clientMessageId: new string('c', 64)));
    }

    [Fact]
    public void An_unknown_recipient_is_reported_before_what_is_wrong_with_the_text()
    {
        Assert.Equal(ErrorCode.UnknownGroup, Send(text: "", recipient: (ErrorCode.UnknownGroup, "no group 'x'")));
        Assert.Equal(ErrorCode.InvalidMessageId, Send(clientMessageId: "", recipient: (ErrorCode.UnknownGroup, "no group 'x'")));
    }

    [Fact]
    public void A_text_without_media_is_not_empty_nor_blank()
    {
        Assert.Equal(ErrorCode.EmptyText, Send(text: null));
        Assert.Equal(ErrorCode.EmptyText, Send(text: ""));
        Assert.Equal(ErrorCode.EmptyText, Send(text: " \n\t"));
    }

    [Fact]
    public void A_media_reference_names_a_media_id_and_a_thumbnail_within_the_limit()
    {
        Assert.Equal(ErrorCode.UnknownMedia, Send(media: new MediaRef("not-a-media-id")));
        Assert.Equal(ErrorCode.UnknownMedia, Send(media: new MediaRef(MediaIds.NewUploadId())));
        Assert.Equal(ErrorCode.ChunkTooLarge, Send(media: Media(thumbnailBytes: MaxThumbnail + 1)));
        Assert.Null(Send(media: Media(thumbnailBytes: MaxThumbnail)));
    }

    [Fact]
    public void A_text_is_limited_in_UTF8_bytes_not_characters()
    {
        Assert.Null(Send(text: new string('a', MaxText)));
        Assert.Equal(ErrorCode.TextTooLong, Send(text: new string('a', MaxText + 1)));
        // 51 characters, 102 bytes
        Assert.Equal(ErrorCode.TextTooLong, Send(text: new string('é', MaxText / 2 + 1)));
    }

    [Fact]
    public void Sends_beyond_the_in_flight_limit_are_rate_limited()
    {
        Assert.Null(Send(inFlight: MaxInFlight - 1));
        Assert.Equal(ErrorCode.RateLimited, Send(inFlight: MaxInFlight));
    }

    [Fact]
    public void A_request_id_still_in_use_is_refused_and_named()
    {
        var problem = SessionRules.SendProblem(42, "c1", "hi", null, null, MaxText, MaxThumbnail, 0, MaxInFlight, requestIdInUse: true);
        Assert.Equal(ErrorCode.InvalidArgument, problem?.Code);
        Assert.Contains("42", problem?.Reason);
    }

    [Fact]
    public void Registration_needs_a_name_an_E164_phone_and_a_valid_email_if_any()
    {
        ErrorCode? Check(string name = "Ann", string phone = "+14155550100", string? email = null) =>
            SessionRules.ValidateRegistration(new Register(1, name, phone, email), 10, out _);
        Assert.Null(Check());
        Assert.Null(Check(email: "ann@example.org"));
        Assert.Equal(ErrorCode.InvalidName, Check(name: " "));
        Assert.Equal(ErrorCode.InvalidName, Check(name: new string('a', 11)));
        Assert.Equal(ErrorCode.InvalidPhone, Check(phone: "14155550100"));
        Assert.Equal(ErrorCode.InvalidPhone, Check(phone: "+04155550100"));
        Assert.Equal(ErrorCode.InvalidEmail, Check(email: "ann.example.org"));
        Assert.Equal(ErrorCode.InvalidEmail, Check(email: new string('a', 64) + "@" + new string('b', 186) + ".org")); // 255 characters
    }

    [Fact]
    public void A_phone_to_look_up_is_E164()
    {
        Assert.True(SessionRules.IsE164("+14155550100"));
        Assert.True(SessionRules.IsE164("+12345678"));
        Assert.False(SessionRules.IsE164("+1234567")); // 7 digits
        Assert.False(SessionRules.IsE164("+1234567890123456")); // 16 digits
        Assert.False(SessionRules.IsE164(null));
    }

    [Fact]
    public void A_verification_code_is_six_ASCII_digits()
    {
        Assert.Null(SessionRules.VerifyCodeProblem("012345"));
        Assert.Equal(ErrorCode.InvalidArgument, SessionRules.VerifyCodeProblem(null)?.Code);
        Assert.Equal(ErrorCode.InvalidArgument, SessionRules.VerifyCodeProblem("12345")?.Code);
        Assert.Equal(ErrorCode.InvalidArgument, SessionRules.VerifyCodeProblem("12345a")?.Code);
        Assert.Equal(ErrorCode.InvalidArgument, SessionRules.VerifyCodeProblem("١٢٣٤٥٦")?.Code); // Arabic-Indic digits
    }

    [Fact]
    public void A_device_name_has_1_to_64_characters()
    {
        Assert.Equal(ErrorCode.InvalidArgument, SessionRules.DeviceProblem("")?.Code);
        Assert.Equal(ErrorCode.InvalidArgument, SessionRules.DeviceProblem(new string('d', 65))?.Code);
        Assert.Null(SessionRules.DeviceProblem(new string('d', 64)));
    }

    [Fact]
    public void A_group_name_is_counted_without_its_surrounding_blanks()
    {
        Assert.Equal(ErrorCode.InvalidName, SessionRules.GroupNameProblem("   ", 5)?.Code);
        Assert.Equal(ErrorCode.InvalidName, SessionRules.GroupNameProblem("abcdef", 5)?.Code);
        Assert.Null(SessionRules.GroupNameProblem("  abcde  ", 5));
    }
}
