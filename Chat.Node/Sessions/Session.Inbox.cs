using Akka.Actor;
using Chat.Node.Users;
using Chat.Protocol;
using Error = Chat.Protocol.Error;

namespace Chat.Node.Sessions;

// The inbox stream and its flow control: Sync, fetching batches, live pushes, and waiting for room when the
// client reads slower than entries arrive. Entries go out strictly in sequence; a gap is fetched, not buffered.
public sealed partial class Session
{
    private void OnSync(Sync s)
    {
        if (s.After < 0)
        {
            _connection.Write(new Error(0, ErrorCode.InvalidArgument, "sync needs after >= 0"));
            return;
        }
        _delivered = s.After;
        _initialSyncDone = false;
        Fetch();
    }

    private void Fetch()
    {
        _flow = Flow.Fetching;
        _fetchAfter = _delivered;
        Inbox.Tell(new FetchEntries(_user, _delivered, _settings.SyncBatch));
    }

    private void OnEntries(Entries e)
    {
        if (_flow != Flow.Fetching || e.After != _fetchAfter) return; // an answer to an older fetch
        if (_delivered > e.LastSeq) _delivered = e.LastSeq; // the client asked from beyond the inbox's end
        // entries before the first one returned were removed by retention: the stream goes on after them
        if (e.Items.Count > 0 && e.Items[0].Seq > _delivered + 1) _delivered = e.Items[0].Seq - 1;
        // nothing returned although the inbox goes further: everything up to its end was removed
        if (e.Items.Count == 0 && e.LastSeq > _delivered) _delivered = e.LastSeq;
        for (var i = 0; i < e.Items.Count; i++) // indexed: a foreach through the interface boxes an enumerator
        {
            var entry = e.Items[i];
            if (entry.Seq != _delivered + 1) continue;
            if (!_connection.TryWriteEntry(ToFrame(entry))) break; // the client is behind: resume from here
            _delivered = entry.Seq;
        }
        if (_delivered < e.LastSeq)
        {
            WhenRoomFetch();
            return;
        }
        _flow = Flow.Live;
        if (!_initialSyncDone)
        {
            _initialSyncDone = true;
            _connection.Write(new SyncComplete(_delivered));
        }
    }

    private void OnPushed(Pushed p)
    {
        if (_flow != Flow.Live || p.Entry.Seq <= _delivered) return;
        if (p.Entry.Seq == _delivered + 1 && _connection.TryWriteEntry(ToFrame(p.Entry)))
        {
            _delivered = p.Entry.Seq;
            return;
        }
        WhenRoomFetch(); // a gap (a push was lost: the entity restarted or moved) or a slow client
    }

    private void WhenRoomFetch()
    {
        if (_connection.NotifyWhenRoom()) Fetch();
        else _flow = Flow.WaitingForRoom;
    }

    public static Frame ToFrame(InboxEntry entry) => entry switch
    {
        InboxMessage m => new Message(m.Seq, m.MessageId, m.From.Value, m.Text, m.SentAt, m.Group?.Value, m.GroupSeq, m.Media),
        InboxReceipt r => new Receipt(r.Seq, r.Status, r.By.Value, r.MessageIds, r.At),
        InboxGroupNotice n => new GroupNotice(n.Seq, n.Group.Value, n.GroupSeq, n.Kind, n.Actor.Value,
            n.Members.Select(u => u.Value).ToList(), n.Name, n.At, n.Image),
        InboxReceiptSet s => new ReceiptSet(s.Seq, s.Items.Select(i => new ReceiptItem(i.Status, i.By.Value, i.MessageIds)).ToList(), s.At),
        _ => throw new ArgumentOutOfRangeException(nameof(entry), entry.GetType().Name),
    };
}
