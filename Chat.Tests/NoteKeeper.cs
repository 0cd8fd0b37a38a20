using Akka.Actor;
using Akka.Persistence;
using Akka.Persistence.Journal;

namespace Chat.Tests;

/// <summary>
/// A small persistent actor for the journal specs: it keeps notes (events and snapshots), and whom to answer
/// (<see cref="RefCarrier"/>), which it answers once recovered, wherever it recovers.
/// </summary>
public sealed class NoteKeeper : ReceivePersistentActor
{
    public sealed record Add(string Text);
    public sealed record AddAll(IReadOnlyList<string> Texts);
    /// <summary>Stored through <see cref="VersionedNoteAdapter"/>, which gives it an adapter manifest.</summary>
    public sealed record AddVersioned(string Text);
    /// <summary>Keeps the sender of this message to answer after recovery, in an event or a snapshot; tells <paramref name="Kept"/> when stored.</summary>
    public sealed record KeepSender(string Label, IActorRef Kept, bool InSnapshot);
    public sealed record TakeSnapshot;
    public sealed record Get;
    /// <summary>The notes, the last sequence number, and the sequence number of the snapshot recovery started from (0: none).</summary>
    public sealed record State(IReadOnlyList<string> Notes, long LastSequenceNr, long RecoveredFromSnapshot);

    private readonly List<string> _notes = [];
    private readonly List<RefCarrier> _toAnswer = [];
    private long _recoveredFromSnapshot;
    private IActorRef? _snapshotSaved;

    public override string PersistenceId { get; }

    public NoteKeeper(string persistenceId)
    {
        PersistenceId = persistenceId;

        Recover<SnapshotOffer>(offer =>
        {
            _recoveredFromSnapshot = offer.Metadata.SequenceNr;
            if (offer.Snapshot is string[] notes) _notes.AddRange(notes);
            else if (offer.Snapshot is RefCarrier carrier) _toAnswer.Add(carrier);
        });
        Recover<string>(_notes.Add);
        Recover<VersionedNote>(n => _notes.Add($"{n.Text} as {n.ReadAs}"));
        Recover<RefCarrier>(_toAnswer.Add);
        Recover<RecoveryCompleted>(_ =>
        {
            var here = ((ExtendedActorSystem)Context.System).Provider.DefaultAddress;
            foreach (var carrier in _toAnswer) carrier.Ref.Tell($"{carrier.Label} answered by {here}");
        });

        Command<Add>(a => Persist(a.Text, text =>
        {
            _notes.Add(text);
            Sender.Tell(LastSequenceNr);
        }));
        Command<AddAll>(a => PersistAll(a.Texts, text =>
        {
            _notes.Add(text);
            if (text == a.Texts[^1]) Sender.Tell(LastSequenceNr);
        }));
        Command<AddVersioned>(a => Persist(new VersionedNote(a.Text), n =>
        {
            _notes.Add(n.Text);
            Sender.Tell(LastSequenceNr);
        }));
        Command<KeepSender>(k =>
        {
            var carrier = new RefCarrier(k.Label, Sender);
            if (k.InSnapshot)
            {
                _snapshotSaved = k.Kept;
                SaveSnapshot(carrier);
            }
            else Persist(carrier, _ => k.Kept.Tell("kept"));
        });
        Command<TakeSnapshot>(_ =>
        {
            _snapshotSaved = Sender;
            SaveSnapshot(_notes.ToArray());
        });
        Command<SaveSnapshotSuccess>(s => _snapshotSaved?.Tell(s.Metadata));
        Command<SaveSnapshotFailure>(f => _snapshotSaved?.Tell(new Status.Failure(f.Cause)));
        Command<Get>(_ => Sender.Tell(new State(_notes.ToList(), LastSequenceNr, _recoveredFromSnapshot)));
    }
}

/// <summary>An event stored as plain text with an adapter manifest; <see cref="ReadAs"/> is the manifest it was replayed with.</summary>
public sealed record VersionedNote(string Text, string? ReadAs = null);

/// <summary>How a <see cref="VersionedNote"/> is stored.</summary>
public sealed record StoredNote(string Text);

/// <summary>
/// Stores a <see cref="VersionedNote"/> as a <see cref="StoredNote"/> under the manifest "note-v2", and reads the
/// manifest back, as an adapter that upgrades old events by their manifest would.
/// </summary>
public sealed class VersionedNoteAdapter : IEventAdapter
{
    public string Manifest(object evt) => "note-v2";

    public object ToJournal(object evt) => new StoredNote(((VersionedNote)evt).Text);

    public IEventSequence FromJournal(object evt, string manifest) =>
        EventSequence.Single(new VersionedNote(((StoredNote)evt).Text, manifest));
}
