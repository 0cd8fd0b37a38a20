using System.Buffers;
using System.Buffers.Binary;
using MessagePack;

namespace Chat.Protocol;

/// <summary>A peer broke the protocol. <see cref="Code"/> is the error code to report before closing.</summary>
public sealed class FrameViolationException(ErrorCode code, string message) : Exception(message)
{
    /// <summary>The error code that describes the violation.</summary>
    public ErrorCode Code { get; } = code;
}

/// <summary>
/// Length-prefixed framing: a 4-byte big-endian payload length, then the MessagePack payload
/// <c>[opcode, [fields...]]</c>.
/// </summary>
public static class FrameCodec
{
    /// <summary>Bytes of the length prefix.</summary>
    public const int HeaderBytes = 4;

    /// <summary>Serializer options for untrusted input: hardened against hash collisions and deep nesting.</summary>
    public static readonly MessagePackSerializerOptions Options =
        MessagePackSerializerOptions.Standard.WithSecurity(MessagePackSecurity.UntrustedData);

    [ThreadStatic] private static ArrayBufferWriter<byte>? _scratch;

    /// <summary>
    /// Reads one frame from the front of <paramref name="buffer"/>. Returns false when the buffer does not
    /// yet hold a whole frame. The declared length is checked against <paramref name="maxFrameBytes"/>
    /// before any payload is read or allocated.
    /// </summary>
    /// <exception cref="FrameViolationException">The frame is too large, undecodable or has an unknown opcode.</exception>
    public static bool TryRead(ref ReadOnlySequence<byte> buffer, int maxFrameBytes, out Frame frame)
    {
        frame = null!;
        if (buffer.Length < HeaderBytes) return false;
        uint length;
        if (buffer.FirstSpan.Length >= HeaderBytes)
        {
            length = BinaryPrimitives.ReadUInt32BigEndian(buffer.FirstSpan);
        }
        else
        {
            Span<byte> header = stackalloc byte[HeaderBytes];
            buffer.Slice(0, HeaderBytes).CopyTo(header);
            length = BinaryPrimitives.ReadUInt32BigEndian(header);
        }
        if (length > (uint)maxFrameBytes)
            throw new FrameViolationException(ErrorCode.FrameTooLarge,
                $"frame of {length} bytes exceeds the maximum of {maxFrameBytes} bytes");
        if (length == 0)
            throw new FrameViolationException(ErrorCode.BadFrame, "empty frame");
        if (buffer.Length - HeaderBytes < length) return false;
        var payload = buffer.Slice(HeaderBytes, length);
        frame = Decode(payload);
        buffer = buffer.Slice(payload.End);
        return true;
    }

    /// <summary>Decodes one payload (without its length prefix).</summary>
    /// <exception cref="FrameViolationException">The payload is undecodable or has an unknown opcode.</exception>
    public static Frame Decode(ReadOnlySequence<byte> payload)
    {
        var reader = new MessagePackReader(payload);
        int opcode;
        try
        {
            var peek = reader.CreatePeekReader();
            if (peek.NextMessagePackType != MessagePackType.Array || peek.ReadArrayHeader() != 2)
                throw new FrameViolationException(ErrorCode.BadFrame, "a frame is a two-element array [opcode, fields]");
            if (peek.NextMessagePackType != MessagePackType.Integer)
                throw new FrameViolationException(ErrorCode.BadFrame, "the opcode must be an integer");
            opcode = peek.ReadInt32();
        }
        catch (Exception e) when (e is MessagePackSerializationException or EndOfStreamException or OverflowException)
        {
            throw new FrameViolationException(ErrorCode.BadFrame,
                "undecodable frame: " + (Inner(e) is OverflowException ? "the opcode is out of range" : e.Message));
        }
        if (!Opcodes.IsKnown(opcode))
            throw new FrameViolationException(ErrorCode.UnknownOpcode, $"unknown opcode {opcode}");
        Frame? frame;
        try
        {
            frame = MessagePackSerializer.Deserialize<Frame>(ref reader, Options);
        }
        catch (Exception e) when (e is MessagePackSerializationException or EndOfStreamException or OverflowException or InvalidOperationException)
        {
            // an integer too large for its field (a RequestId of 2^32, a Download.Length of 2^31) surfaces as .NET's
            // overflow: the client is told which rule it broke instead
            var reason = Inner(e) is OverflowException ? "an integer is out of its field's range" : Inner(e).Message;
            throw new FrameViolationException(ErrorCode.BadFrame, $"undecodable frame (opcode {opcode}): {reason}");
        }
        if (frame is null)
            throw new FrameViolationException(ErrorCode.BadFrame, "null frame");
        if (!reader.End)
            throw new FrameViolationException(ErrorCode.BadFrame, "trailing bytes after the frame");
        return frame;
    }

    private static Exception Inner(Exception e)
    {
        while (e.InnerException is not null) e = e.InnerException;
        return e;
    }

    /// <summary>Writes <paramref name="frame"/> with its length prefix.</summary>
    public static void Write(IBufferWriter<byte> writer, Frame frame)
    {
        var scratch = _scratch ??= new ArrayBufferWriter<byte>(1024);
        scratch.ResetWrittenCount();
        MessagePackSerializer.Serialize(scratch, frame, Options);
        var payload = scratch.WrittenSpan;
        var span = writer.GetSpan(HeaderBytes + payload.Length);
        BinaryPrimitives.WriteUInt32BigEndian(span, (uint)payload.Length);
        payload.CopyTo(span[HeaderBytes..]);
        writer.Advance(HeaderBytes + payload.Length);
        if (scratch.Capacity > 1 << 20) _scratch = null; // do not pin a huge buffer to the thread
    }

    /// <summary>The whole frame, length prefix included, as a new array.</summary>
    public static byte[] ToBytes(Frame frame)
    {
        var w = new ArrayBufferWriter<byte>();
        Write(w, frame);
        return w.WrittenSpan.ToArray();
    }
}
