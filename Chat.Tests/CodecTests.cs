using System.Buffers;
using Chat.Protocol;

namespace Chat.Tests;

public sealed class CodecTests
{
    public static TheoryData<Frame> EveryFrame() =>
    [
        new Hello(1, "chat-dotnet"),
        new Welcome(1, "chatakka/1", 1 << 20, 65536, 256, 500),
        new Register(7, "Ann", "+14155550100", "ann@example.org"),
        new Register(8, "Ann", "+14155550100", null),
        new CodeSent(8, "+14155550100", 600),
        new CodeSent(8, "+14155550100", 600, "123456"),
        new Verify(9, "+14155550100", "123456", "Ann", null),
        new Registered(7, "uabcdefghijklmnop", "uabcdefghijklmnop.secret"),
        new Login(9, "uabcdefghijklmnop.secret", "phone"),
        new LoggedIn(9, "uabcdefghijklmnop", "Ann", "+14155550100", 42),
        new Lookup(10, "+14155550101"),
        new LookupResult(10, "+14155550101", "uqrstuvwxyz234567", "Bob"),
        new Send(11, "c-1", "uqrstuvwxyz234567", "héllo 👋"),
        new Accepted(11, "c-1", "mabcdefghijklmnop", 1_764_000_000_000),
        new Message(5, "mabcdefghijklmnop", "uabcdefghijklmnop", "hi", 1_764_000_000_000),
        new Receipt(6, ReceiptStatus.Read, "uqrstuvwxyz234567", ["m1", "m2"], 1_764_000_000_001),
        new Ack(6),
        new Read(12, "uqrstuvwxyz234567", 6),
        new Sync(0),
        new SyncComplete(6),
        new Ping(long.MaxValue),
        new Pong(-1),
        new Error(12, ErrorCode.PhoneTaken, "taken"),
        new Ok(12),
    ];

    [Fact]
    public void Every_frame_type_is_covered()
    {
        var covered = new HashSet<int>();
        foreach (Frame frame in EveryFrame()) covered.Add(frame.Opcode);
        for (var op = Opcodes.Hello; op <= Opcodes.Ok; op++) Assert.Contains(op, covered);
    }

    [Theory, MemberData(nameof(EveryFrame))]
    public void Round_trips(Frame frame)
    {
        var bytes = FrameCodec.ToBytes(frame);
        var sequence = new ReadOnlySequence<byte>(bytes);
        Assert.True(FrameCodec.TryRead(ref sequence, 1 << 20, out var decoded));
        Assert.True(sequence.IsEmpty);
        AssertSame(frame, decoded);
    }

    [Theory, MemberData(nameof(EveryFrame))]
    public void Reads_frames_split_across_segments_at_every_byte(Frame frame)
    {
        var bytes = FrameCodec.ToBytes(frame).Concat(FrameCodec.ToBytes(new Ping(3))).ToArray();
        for (var cut = 1; cut < bytes.Length; cut++)
        {
            var sequence = Segments.Of(bytes[..cut], bytes[cut..]);
            Assert.True(FrameCodec.TryRead(ref sequence, 1 << 20, out var first));
            AssertSame(frame, first);
            Assert.True(FrameCodec.TryRead(ref sequence, 1 << 20, out var second));
            Assert.Equal(new Ping(3), second);
            Assert.True(sequence.IsEmpty);
        }
    }

    [Fact]
    public void An_incomplete_frame_waits_for_more_bytes()
    {
        var bytes = FrameCodec.ToBytes(new Send(1, "c", "uabcdefghijklmnop", "hello"));
        for (var n = 0; n < bytes.Length; n++)
        {
            var sequence = new ReadOnlySequence<byte>(bytes, 0, n);
            Assert.False(FrameCodec.TryRead(ref sequence, 1 << 20, out _));
            Assert.Equal(n, sequence.Length); // nothing consumed
        }
    }

    [Fact]
    public void The_declared_length_is_checked_before_the_payload_arrives()
    {
        var sequence = new ReadOnlySequence<byte>([0x00, 0x10, 0x00, 0x01]); // 1 MiB + 1, no payload yet
        var e = Assert.Throws<FrameViolationException>(() => FrameCodec.TryRead(ref sequence, 1 << 20, out _));
        Assert.Equal(ErrorCode.FrameTooLarge, e.Code);
    }

    [Theory]
    [InlineData(new byte[] { 0xc1 }, ErrorCode.BadFrame)]                         // never-used byte
    [InlineData(new byte[] { 0x91, 0x01 }, ErrorCode.BadFrame)]                   // [1]: not [opcode, fields]
    [InlineData(new byte[] { 0x92, 0xa1, 0x78, 0x90 }, ErrorCode.BadFrame)]       // ["x", []]
    [InlineData(new byte[] { 0x92, 0xcd, 0x03, 0xe7, 0x90 }, ErrorCode.UnknownOpcode)] // [999, []]
    [InlineData(new byte[] { 0x92, 0x09, 0x93, 0x01, 0x02, 0x03 }, ErrorCode.BadFrame)] // Send with ints for strings
    [InlineData(new byte[] { 0x92, 0x11, 0x91 }, ErrorCode.BadFrame)]             // truncated Ping
    [InlineData(new byte[] { 0x92, 0x11, 0x91, 0x01, 0x00 }, ErrorCode.BadFrame)] // trailing byte
    public void Hostile_payloads_are_violations(byte[] payload, ErrorCode code)
    {
        var e = Assert.Throws<FrameViolationException>(() => FrameCodec.Decode(new ReadOnlySequence<byte>(payload)));
        Assert.Equal(code, e.Code);
    }

    [Fact]
    public void Readers_ignore_fields_added_by_a_newer_version()
    {
        // Ping with an extra trailing field: [17, [5, "future"]]
        byte[] payload = [0x92, 0x11, 0x92, 0x05, 0xa6, .."future"u8];
        Assert.Equal(new Ping(5), FrameCodec.Decode(new ReadOnlySequence<byte>(payload)));
    }

    private static void AssertSame(Frame expected, Frame actual)
    {
        Assert.Equal(expected.GetType(), actual.GetType());
        if (expected is Receipt r)
        {
            var a = (Receipt)actual;
            Assert.Equal(r with { MessageIds = [] }, a with { MessageIds = [] });
            Assert.Equal(r.MessageIds, a.MessageIds);
        }
        else Assert.Equal(expected, actual);
    }
}

internal sealed class Segments : ReadOnlySequenceSegment<byte>
{
    private Segments(ReadOnlyMemory<byte> memory, long index)
    {
        Memory = memory;
        RunningIndex = index;
    }

    public static ReadOnlySequence<byte> Of(byte[] first, byte[] second)
    {
        var a = new Segments(first, 0);
        var b = new Segments(second, first.Length);
        a.Next = b;
        return new ReadOnlySequence<byte>(a, 0, b, second.Length);
    }
}
