using System.Text.RegularExpressions;
using Chat.Protocol;

namespace Chat.Tests;

/// <summary>The byte dumps in docs/protocol.md are what the codec writes and reads.</summary>
public sealed class ProtocolDocTests
{
    private static string Doc()
    {
        var dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "docs", "protocol.md"))) dir = Path.GetDirectoryName(dir);
        Assert.NotNull(dir);
        return File.ReadAllText(Path.Combine(dir!, "docs", "protocol.md"));
    }

    public static TheoryData<string, Frame> Documented => new()
    {
        { "00000037 920b9801b16d667674356c7a67776a36367361647166b1757277326b633263646c736f62356b6862a26869cf000001a21f96b114c000c0",
            new Message(1, "mfvt5lzgwj66sadqf", "urw2kc2cdlsob5khb", "hi", 1795826299156) },
        { "00000023 920a9407a3632d31b16d667674356c7a67776a36367361647166cf000001a21f96b114",
            new Accepted(7, "c-1", "mfvt5lzgwj66sadqf", 1795826299156) },
        { "00000004 920f9100", new Sync(0) },
        { "00000029 92039401a5416c696365ac2b3134313535353530313031b1616c696365406578616d706c652e636f6d",
            new Register(1, "Alice", "+14155550101", "alice@example.com") },
        { "00000015 92169401ac2b3134313535353530313031cd0258c0", new CodeSent(1, "+14155550101", 600) },
        { "00000030 92179502ac2b3134313535353530313031a6343933303231a5416c696365b1616c696365406578616d706c652e636f6d",
            new Verify(2, "+14155550101", "493021", "Alice", "alice@example.com") },
        { "00000055 92049302b1757277326b633263646c736f62356b6862d93d757277326b633263646c736f62356b68622e44446c3475737a355751514248674c534f41523963786e6f506248636933714e4633474638355a7850394d",
            new Registered(2, "urw2kc2cdlsob5khb", "urw2kc2cdlsob5khb.DDl4usz5WQQBHgLSOAR9cxnoPbHci3qNF3GF85ZxP9M") },
        { "00000049 92059303d93d757277326b633263646c736f62356b68622e44446c3475737a355751514248674c534f41523963786e6f506248636933714e4633474638355a7850394da570686f6e65",
            new Login(3, "urw2kc2cdlsob5khb.DDl4usz5WQQBHgLSOAR9cxnoPbHci3qNF3GF85ZxP9M", "phone") },
        { "00000029 9218920492b1757277326b633263646c736f62356b6862b17561616161616161616161616161616161",
            new WhoIs(4, ["urw2kc2cdlsob5khb", "uaaaaaaaaaaaaaaaa"]) },
        { "0000002b 921992049193b1757277326b633263646c736f62356b6862a5416c696365ac2b3134313535353530313031",
            new Profiles(4, [new UserProfile("urw2kc2cdlsob5khb", "Alice", "+14155550101")]) },
        { "00000018 92509305c391b1757277326b633263646c736f62356b6862", new Subscribe(5, true, ["urw2kc2cdlsob5khb"]) },
        { "00000017 925193b1757277326b633263646c736f62356b6862c300", new Presence("urw2kc2cdlsob5khb", true, 0) },
        { "0000001f 925193b1757277326b633263646c736f62356b6862c2cf000001a21f983c37", new Presence("urw2kc2cdlsob5khb", false, 1795826400311) },
        { "00000016 92529210b17567696567756d647a636d6d7579736e6b", new Typing(16, "ugiegumdzcmmuysnk") },
        { "00000019 925393b1757277326b633263646c736f62356b6862c0cd1770", new UserTyping("urw2kc2cdlsob5khb", null, 6000) },
        { "0000002a 925393b1757277326b633263646c736f62356b6862b1676b71336d357276647034797837633261cd1770",
            new UserTyping("urw2kc2cdlsob5khb", "gkq3m5rvdp4yx7c2a", 6000) },
        { "00000005 92549212c3", new SetPrivacy(18, true) },
        { "00000041 921394116bd937747970696e672069732072656c61796564206174206d6f7374206f6e636520706572203320732070657220636f6e766572736174696f6ecd0960",
            new Error(17, ErrorCode.RateLimited, "typing is relayed at most once per 3 s per conversation", 2400) },
    };

    [Theory]
    [MemberData(nameof(Documented))]
    public void A_documented_dump_is_in_the_document_and_is_what_the_codec_writes_and_reads(string dump, Frame frame)
    {
        Assert.Contains(dump, Doc());
        var bytes = Convert.FromHexString(Regex.Replace(dump, @"\s", ""));
        Assert.Equal(Convert.ToHexStringLower(bytes), Convert.ToHexStringLower(FrameCodec.ToBytes(frame)));
        var decoded = FrameCodec.Decode(new System.Buffers.ReadOnlySequence<byte>(bytes, 4, bytes.Length - 4));
        Assert.Equal(FrameCodec.ToBytes(frame), FrameCodec.ToBytes(decoded));
    }

    [Fact]
    public void A_send_with_four_fields_written_before_media_existed_still_reads_as_a_text()
    {
        var old = Convert.FromHexString("92099407a3632d31b17567696567756d647a636d6d7579736e6ba26869");
        var send = Assert.IsType<Send>(FrameCodec.Decode(new System.Buffers.ReadOnlySequence<byte>(old)));
        Assert.Equal("hi", send.Text);
        Assert.Null(send.Media);
    }
}
