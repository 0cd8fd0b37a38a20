using System.IO.Pipelines;
using System.Net.Sockets;
using System.Threading.Channels;

namespace Chat.Protocol;

// The framed connection: one socket, a read loop that decodes frames and hands them to the client, and a write
// loop that coalesces queued frames (and acks) into few syscalls.
public sealed partial class ChatClient
{
    /// <summary>One TCP connection: a read loop and a write loop that coalesces frames into few syscalls.</summary>
    private sealed class Connection
    {
        private readonly ChatClient _client;
        private readonly Socket _socket;
        private readonly NetworkStream _stream;
        private readonly Channel<Frame> _outgoing = Channel.CreateUnbounded<Frame>(new UnboundedChannelOptions { SingleReader = true });
        private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private Task _reader = Task.CompletedTask;
        private Task _writer = Task.CompletedTask;

        public Connection(ChatClient client, Socket socket)
        {
            _client = client;
            _socket = socket;
            _stream = new NetworkStream(socket, ownsSocket: true);
        }

        public Task Finished => _finished.Task;

        /// <summary>Set before the client hears of the close, so a reconnect that ends can tell it was missed.</summary>
        public bool IsClosed => _closed;
        private volatile bool _closed;

        public void Start()
        {
            _reader = Task.Run(ReadLoopAsync);
            _writer = Task.Run(WriteLoopAsync);
        }

        public void Enqueue(Frame frame) => _outgoing.Writer.TryWrite(frame);

        public void Abort()
        {
            _outgoing.Writer.TryComplete();
            try { _socket.Shutdown(SocketShutdown.Both); } catch (Exception) { /* already closed */ }
            _stream.Dispose();
        }

        public async Task CloseAsync()
        {
            _outgoing.Writer.TryComplete();
            try { await _writer.WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false); }
            catch (Exception) { /* closing anyway */ }
            Abort();
            try { await _reader.ConfigureAwait(false); } catch (Exception) { /* closing anyway */ }
        }

        private async Task ReadLoopAsync()
        {
            Exception? failure = null;
            var pipe = PipeReader.Create(_stream, new StreamPipeReaderOptions(bufferSize: 16 * 1024, useZeroByteReads: true));
            try
            {
                while (true)
                {
                    var result = await pipe.ReadAsync().ConfigureAwait(false);
                    var buffer = result.Buffer;
                    while (FrameCodec.TryRead(ref buffer, _client._options.MaxFrameBytes, out var frame))
                        await _client.OnFrameAsync(frame).ConfigureAwait(false);
                    pipe.AdvanceTo(buffer.Start, buffer.End);
                    if (result.IsCompleted) break;
                }
            }
            catch (Exception e)
            {
                failure = e;
            }
            finally
            {
                await pipe.CompleteAsync().ConfigureAwait(false);
                _outgoing.Writer.TryComplete();
                try { _socket.Shutdown(SocketShutdown.Both); } catch (Exception) { /* already closed */ }
                _closed = true;
                _client.OnClosed(this, failure);
                _finished.TrySetResult();
            }
        }

        private async Task WriteLoopAsync()
        {
            var pipe = PipeWriter.Create(_stream, new StreamPipeWriterOptions(leaveOpen: true));
            var reader = _outgoing.Reader;
            try
            {
                while (await reader.WaitToReadAsync().ConfigureAwait(false))
                {
                    long ack = -1;
                    while (reader.TryRead(out var frame))
                    {
                        if (frame is Ack a && _client._options.CoalesceAcks) { ack = Math.Max(ack, a.Seq); continue; }
                        FrameCodec.Write(pipe, frame);
                        if (pipe.UnflushedBytes > 256 * 1024) await pipe.FlushAsync().ConfigureAwait(false);
                    }
                    if (ack >= 0) FrameCodec.Write(pipe, new Ack(ack));
                    var flush = await pipe.FlushAsync().ConfigureAwait(false);
                    if (flush.IsCompleted) break;
                }
            }
            catch (Exception)
            {
                // the read loop reports the failure
            }
            finally
            {
                try { await pipe.CompleteAsync().ConfigureAwait(false); } catch (Exception) { /* closed */ }
            }
        }
    }
}
