using System.Buffers;
using Chat.Protocol;

namespace Chat.Tests;

public sealed class CodecTests
{
    private static readonly MediaRef Photo = new("mabcdefghijklmnopqrstuvwxyz", "image/jpeg", 123_456, [0xff, 0xd8, 0xff]);
    private static readonly byte[] Hash = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();

    /// <summary>A sample of every frame type, every field set to something other than its default.</summary>
    internal static readonly Frame[] Samples =
    [
        new Hello(1, "chat-dotnet"),
        new Welcome(1, "chatakka/1", 1 << 20, 65536, 256, 500),
        new Register(7, "Ann", "+14155550100", "ann@example.org"),
        new Register(8, "Ann", "+14155550100", null),
        new CodeSent(8, "+14155550100", 600),
        new CodeSent(8, "+14155550100", 600, "123456"),
        new Verify(9, "+14155550100", "123456", "Ann", "ann@example.com"),
        new Registered(7, "uabcdefghijklmnop", "uabcdefghijklmnop.secret"),
        new Login(9, "uabcdefghijklmnop.secret", "phone"),
        new LoggedIn(9, "uabcdefghijklmnop", "Ann", "+14155550100", 42),
        new Lookup(10, "+14155550101"),
        new LookupResult(10, "+14155550101", "uqrstuvwxyz234567", "Bob"),
        new WhoIs(26, ["uqrstuvwxyz234567", "uabcdefghijklmnop"]),
        new Profiles(26, [new UserProfile("uqrstuvwxyz234567", "Bob", "+14155550101")]),
        new Send(11, "c-1", "uqrstuvwxyz234567", "héllo 👋"),
        new Send(11, "c-1", "uqrstuvwxyz234567", "a caption", Photo),
        new Accepted(11, "c-1", "mabcdefghijklmnop", 1_764_000_000_000),
        new Message(5, "mabcdefghijklmnop", "uabcdefghijklmnop", "hi", 1_764_000_000_000),
        new Message(5, "mabcdefghijklmnop", "uabcdefghijklmnop", "hi", 1_764_000_000_000, "gabcdefghijklmnop", 9, Photo),
        new Receipt(6, ReceiptStatus.Read, "uqrstuvwxyz234567", ["m1", "m2"], 1_764_000_000_001),
        new Ack(6),
        new Read(12, "uqrstuvwxyz234567", 6),
        new Sync(3),
        new SyncComplete(6),
        new Ping(long.MaxValue),
        new Pong(-1),
        new Error(12, ErrorCode.PhoneTaken, "taken"),
        new Error(13, ErrorCode.RateLimited, "slow down", 20_000),
        new Ok(12),
        new ReceiptSet(7, [new ReceiptItem(ReceiptStatus.Delivered, "uqrstuvwxyz234567", ["m1"], "gabcdefghijklmnop"),
            new ReceiptItem(ReceiptStatus.Read, "uabcdefghijklmnop", ["m2", "m3"])], 1_764_000_000_002),
        new CreateGroup(13, "hikers", ["uqrstuvwxyz234567", "uabcdefghijklmnop"], "create-hikers"),
        new GroupCreated(13, "gabcdefghijklmnop"),
        new AddMembers(14, "gabcdefghijklmnop", ["uqrstuvwxyz234567"]),
        new RemoveMembers(15, "gabcdefghijklmnop", ["uqrstuvwxyz234567"]),
        new LeaveGroup(16, "gabcdefghijklmnop"),
        new RenameGroup(17, "gabcdefghijklmnop", "hikers 2"),
        new SetAdmin(18, "gabcdefghijklmnop", "uqrstuvwxyz234567", true),
        new GetGroupInfo(19, "gabcdefghijklmnop"),
        new GroupInfo(19, "gabcdefghijklmnop", "hikers", ["uqrstuvwxyz234567", "uabcdefghijklmnop"], ["uabcdefghijklmnop"], 44, Photo),
        new ListGroups(20),
        new GroupList(20, [new GroupSummary("gabcdefghijklmnop", "hikers"), new GroupSummary("gqrstuvwxyz234567", "club")]),
        new SendGroup(21, "c-2", "gabcdefghijklmnop", "hello all", Photo),
        new GroupNotice(8, "gabcdefghijklmnop", 45, GroupNoticeKind.ImageChanged, "uabcdefghijklmnop", ["uqrstuvwxyz234567"], "hikers",
            1_764_000_000_003, Photo),
        new SetGroupImage(22, "gabcdefghijklmnop", Photo),
        new SetGroupImage(23, "gabcdefghijklmnop", null),
        new StartUpload(24, "video/mp4", 40 << 20, Hash),
        new UploadStatus(24, "xabcdefghijklmnop", 1 << 20, 40 << 20, 256 * 1024),
        new ResumeUpload(25, "xabcdefghijklmnop"),
        new UploadChunk(26, "xabcdefghijklmnop", 1 << 20, [1, 2, 3, 4, 5]),
        new UploadComplete(26, "xabcdefghijklmnop", "mabcdefghijklmnopqrstuvwxyz", "video/mp4", 40 << 20),
        new Download(27, "mabcdefghijklmnopqrstuvwxyz", 256 * 1024, 256 * 1024),
        new MediaChunk(27, "mabcdefghijklmnopqrstuvwxyz", 256 * 1024, [9, 8, 7], 40 << 20, "video/mp4", Hash),
        new Subscribe(28, true, ["uqrstuvwxyz234567", "uabcdefghijklmnop"]),
        new Presence("uqrstuvwxyz234567", false, 1_764_000_000_003),
        new Presence("uqrstuvwxyz234567", true, 0),
        new Typing(29, "gabcdefghijklmnop"),
        new UserTyping("uqrstuvwxyz234567", "gabcdefghijklmnop", 6000),
        new SetPrivacy(30, true),
    ];

    public static TheoryData<Frame> EveryFrame()
    {
        var data = new TheoryData<Frame>();
        foreach (var frame in Samples) data.Add(frame);
        return data;
    }

    /// <summary>Every frame type the codec knows: the <see cref="Frame"/> union, read by reflection.</summary>
    private static readonly Type[] FrameTypes = typeof(Frame).GetCustomAttributes(typeof(MessagePack.UnionAttribute), false)
        .Cast<MessagePack.UnionAttribute>().Select(u => u.SubType).ToArray();

    [Fact]
    public void Every_frame_type_has_a_sample_with_every_field_set()
    {
        // a frame type added to the protocol is in the union (or it could not be sent); its sample belongs above
        var concrete = typeof(Frame).Assembly.GetTypes().Where(t => t.IsSubclassOf(typeof(Frame)) && !t.IsAbstract).ToHashSet();
        Assert.Equal(concrete.OrderBy(t => t.Name), FrameTypes.OrderBy(t => t.Name));
        var samples = Samples;
        foreach (var type in FrameTypes)
        {
            var ofType = samples.Where(f => f.GetType() == type).ToList();
            Assert.True(ofType.Count > 0, $"{type.Name} has no sample: it is never round-tripped");
            foreach (var property in WireFields(type))
                Assert.True(ofType.Any(f => IsSet(property.GetValue(f))),
                    $"{type.Name}.{property.Name} is left at its default in every sample: a field lost on the wire would not be noticed");
        }
    }

    [Fact]
    public void Each_opcode_constant_is_the_opcode_of_the_frame_type_it_names()
    {
        var constants = typeof(Opcodes).GetFields(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static)
            .Where(f => f.IsLiteral).ToDictionary(f => f.Name, f => (int)f.GetRawConstantValue()!);
        Assert.Equal(FrameTypes.Select(t => t.Name).Order(), constants.Keys.Order());
        foreach (var type in FrameTypes) Assert.Equal(constants[type.Name], Opcodes.Of(type));
        Assert.Equal(FrameTypes.Length, FrameTypes.Select(Opcodes.Of).Distinct().Count());
        Assert.All(FrameTypes, t => Assert.True(Opcodes.IsKnown(Opcodes.Of(t))));
        Assert.Equal(FrameTypes.Length, Enumerable.Range(-1, 300).Count(Opcodes.IsKnown));
    }

    private static IEnumerable<System.Reflection.PropertyInfo> WireFields(Type type) =>
        type.GetProperties().Where(p => p.GetCustomAttributes(typeof(MessagePack.KeyAttribute), true).Length > 0);

    private static bool IsSet(object? value) => value switch
    {
        null => false,
        string s => s.Length > 0,
        System.Collections.ICollection c => c.Count > 0,
        bool b => b,
        int or long or uint => Convert.ToInt64(value) != 0,
        Enum e => Convert.ToInt64(e) != 0,
        _ => true,
    };

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
    public void An_integer_too_large_for_its_field_is_a_bad_frame_that_says_so()
    {
        // Lookup [7, [2^32, "+14155550100"]]: a RequestId one past the uint32 range
        byte[] lookup = [0x92, 0x07, 0x92, 0xcf, 0, 0, 0, 1, 0, 0, 0, 0, 0xac, .."+14155550100"u8];
        // Download [69, [1, "m", 0, 2^31]]: a Length one past the int32 range
        byte[] download = [0x92, 0x45, 0x94, 0x01, 0xa1, (byte)'m', 0x00, 0xce, 0x80, 0, 0, 0];
        foreach (var payload in new[] { lookup, download })
        {
            var e = Assert.Throws<FrameViolationException>(() => FrameCodec.Decode(new ReadOnlySequence<byte>(payload)));
            Assert.Equal(ErrorCode.BadFrame, e.Code);
            Assert.Contains("an integer is out of its field's range", e.Message);
        }
    }

    [Fact]
    public void Readers_ignore_fields_added_by_a_newer_version()
    {
        // Ping with an extra trailing field: [17, [5, "future"]]
        byte[] payload = [0x92, 0x11, 0x92, 0x05, 0xa6, .."future"u8];
        Assert.Equal(new Ping(5), FrameCodec.Decode(new ReadOnlySequence<byte>(payload)));
    }

    [Fact]
    public void A_CreateGroup_from_a_client_that_sends_no_ClientGroupId_still_reads()
    {
        // [32, [13, "hikers", []]]: the three fields of the first version
        byte[] payload = [0x92, 0x20, 0x93, 0x0d, 0xa6, .."hikers"u8, 0x90];
        var read = Assert.IsType<CreateGroup>(FrameCodec.Decode(new ReadOnlySequence<byte>(payload)));
        Assert.Equal((13u, "hikers", 0, (string?)null), (read.RequestId, read.Name, read.Members.Count, read.ClientGroupId));
    }

    /// <summary>Field by field, lists and byte arrays by their contents.</summary>
    private static void AssertSame(object? expected, object? actual, string path = "frame")
    {
        if (expected is null || actual is null)
        {
            Assert.True(expected is null && actual is null, $"{path}: expected {expected ?? "null"}, got {actual ?? "null"}");
            return;
        }
        if (expected is string || expected.GetType().IsPrimitive || expected is Enum)
        {
            Assert.Equal(expected.GetType(), actual.GetType());
            Assert.True(expected.Equals(actual), $"{path}: expected {expected}, got {actual}");
            return;
        }
        if (expected is System.Collections.IEnumerable e)
        {
            var left = e.Cast<object?>().ToList();
            var right = ((System.Collections.IEnumerable)actual).Cast<object?>().ToList();
            Assert.True(left.Count == right.Count, $"{path}: {left.Count} items expected, {right.Count} read");
            for (var i = 0; i < left.Count; i++) AssertSame(left[i], right[i], $"{path}[{i}]");
            return;
        }
        Assert.Equal(expected.GetType(), actual.GetType());
        foreach (var property in WireFields(expected.GetType()))
            AssertSame(property.GetValue(expected), property.GetValue(actual), $"{path}.{property.Name}");
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
