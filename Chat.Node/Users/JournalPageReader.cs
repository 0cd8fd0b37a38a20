using Akka.Actor;
using Akka.Persistence;

namespace Chat.Node.Users;

/// <summary>
/// Reads inbox entries <see cref="From"/>..<see cref="To"/> of one user back from the journal (with the journal
/// sequence number of the event holding each), for a sync, an acknowledgement or a read receipt that reaches before
/// the entries held in memory. A child of the user entity, one per read; it answers its parent with a
/// <see cref="JournalPage"/> and stops.
/// </summary>
/// <remarks>
/// It asks the journal actor to replay the entity's events from <see cref="FromSeqNr"/> (the index point before
/// <see cref="From"/>), as recovery does, so it works with every journal plugin. Events are asked for in rounds of
/// <see cref="Round"/>; reading stops when every entry of the range was found, the journal ends, or
/// <see cref="MaxEvents"/> events were read (what was found is answered: the entity reads on from there).
/// </remarks>
internal sealed class JournalPageReader : ReceiveActor
{
    private const int Round = 256;

    private readonly IActorRef _journal;
    private readonly string _persistenceId;
    private readonly long _from, _to;
    private readonly int _maxEvents;
    private readonly object _tag;
    private readonly List<(InboxEntry Entry, long SeqNr)> _found = [];
    private long _nextSeqNr;
    private int _inRound, _read;
    private bool _past;

    public JournalPageReader(IActorRef journal, string persistenceId, long fromSeqNr, long from, long to, int maxEvents, object tag)
    {
        _journal = journal;
        _persistenceId = persistenceId;
        _from = from;
        _to = to;
        _maxEvents = maxEvents;
        _tag = tag;
        _nextSeqNr = Math.Max(1, fromSeqNr);
        Receive<ReplayedMessage>(m =>
        {
            _inRound++;
            _read++;
            _nextSeqNr = m.Persistent.SequenceNr + 1;
            if (m.Persistent.Payload is not IUserEvent e) return;
            foreach (var entry in UserState.EntriesOf(e))
            {
                if (entry.Seq >= _from && entry.Seq <= _to) _found.Add((entry, m.Persistent.SequenceNr));
                // entries are written in order, except those carried from an old snapshot (written later, older)
                else if (entry.Seq > _to && e is not EntriesCarried) _past = true;
            }
        });
        Receive<RecoverySuccess>(_ =>
        {
            if (_inRound < Round || _past || Complete() || _read >= _maxEvents) Finish(null);
            else Ask();
        });
        Receive<ReplayMessagesFailure>(f => Finish(f.Cause));
        ReceiveAny(_ => { });
    }

    protected override void PreStart() => Ask();

    private void Ask()
    {
        _inRound = 0;
        _journal.Tell(new ReplayMessages(_nextSeqNr, long.MaxValue, Round, _persistenceId, Self));
    }

    private bool Complete() => _found.Count >= _to - _from + 1;

    private void Finish(Exception? failure)
    {
        _found.Sort((a, b) => a.Entry.Seq.CompareTo(b.Entry.Seq));
        Context.Parent.Tell(new JournalPage(_from, _to, _found, failure, _tag));
        Context.Stop(Self);
    }

    public static Props Props(IActorRef journal, string persistenceId, long fromSeqNr, long from, long to, int maxEvents, object tag) =>
        ActorMaker.Props(() => new JournalPageReader(journal, persistenceId, fromSeqNr, from, to, maxEvents, tag));
}

/// <summary>Entries read from the journal (in inbox order; an entry missing from the range was not found), or why not.</summary>
internal sealed record JournalPage(long From, long To, List<(InboxEntry Entry, long SeqNr)> Found, Exception? Failure, object Tag)
    : INoSerializationVerificationNeeded
{
    /// <summary>The last sequence such that every entry from <see cref="From"/> to it was found (From - 1: none).</summary>
    public long ContiguousTo
    {
        get
        {
            var upTo = From - 1;
            foreach (var (e, _) in Found)
                if (e.Seq == upTo + 1) upTo = e.Seq;
                else if (e.Seq > upTo + 1) break;
            return upTo;
        }
    }
}
