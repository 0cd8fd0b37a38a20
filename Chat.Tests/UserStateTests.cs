using Chat.Node;
using Chat.Node.Groups;
using Chat.Node.Users;
using Chat.Protocol;

namespace Chat.Tests;

/// <summary>The user entity's decisions, without an actor system.</summary>
public sealed class UserStateTests
{
    private static readonly UserId Ann = new("uaaaaaaaaaaaaaaaa");
    private static readonly UserId Bob = new("ubbbbbbbbbbbbbbbb");
    private static readonly UserId Cat = new("uccccccccccccccccc"[..17]);

    private static UserState Registered(UserId id)
    {
        var state = new UserState();
        var created = state.DecideCreate(new CreateUser(id, "Ann", "+14155550100", null, [1, 2, 3]), 1000);
        return state.Apply(created.Event!);
    }

    private static InboxMessage Deliver(UserState state, UserId from, string cmid, string text = "hi")
    {
        var d = state.DecideDeliver(new DeliverText(Ann, from, cmid, text, 1), "m-" + cmid, 2000, out var existing);
        if (existing is not null) return existing;
        state.Apply(d.Event!);
        return d.Event!.Entry;
    }

    [Fact]
    public void An_unregistered_user_cannot_receive()
    {
        var d = new UserState().DecideDeliver(new DeliverText(Ann, Bob, "c1", "hi", 1), "m1", 0, out _);
        Assert.Equal(ErrorCode.UnknownUser, d.Error);
    }

    [Fact]
    public void Creating_twice_with_the_same_token_is_idempotent_but_a_different_one_is_refused()
    {
        var state = Registered(Ann);
        Assert.Null(state.DecideCreate(new CreateUser(Ann, "Ann", "+14155550100", null, [1, 2, 3]), 0).Event);
        Assert.Null(state.DecideCreate(new CreateUser(Ann, "Ann", "+14155550100", null, [1, 2, 3]), 0).Error);
        Assert.Equal(ErrorCode.InvalidArgument, state.DecideCreate(new CreateUser(Ann, "X", "+14155550100", null, [9]), 0).Error);
        Assert.True(state.CheckToken([1, 2, 3]));
        Assert.False(state.CheckToken([1, 2, 4]));
    }

    [Fact]
    public void Messages_get_consecutive_sequences_and_a_repeated_client_id_is_stored_once()
    {
        var state = Registered(Ann);
        var first = Deliver(state, Bob, "c1", "one");
        var second = Deliver(state, Bob, "c2", "two");
        var again = Deliver(state, Bob, "c1", "one");
        Assert.Equal(1, first.Seq);
        Assert.Equal(2, second.Seq);
        Assert.Same(first, again);
        Assert.Equal(2, state.LastSeq);
        // the same client id from another sender is another message
        Assert.Equal(3, Deliver(state, Cat, "c1").Seq);
    }

    [Fact]
    public void A_cumulative_ack_issues_one_delivered_batch_per_sender_and_only_once()
    {
        var state = Registered(Ann);
        var b1 = Deliver(state, Bob, "b1");
        var c1 = Deliver(state, Cat, "c1");
        var b2 = Deliver(state, Bob, "b2");
        var ack = state.DecideAck(3, 5000).Event!;
        Assert.Equal(3, ack.UpTo);
        var toBob = Assert.Single(ack.Batches, b => b.To == Bob);
        Assert.Equal([b1.MessageId, b2.MessageId], toBob.MessageIds);
        Assert.Equal(ReceiptStatus.Delivered, toBob.Status);
        Assert.Equal([c1.MessageId], Assert.Single(ack.Batches, b => b.To == Cat).MessageIds);
        state.Apply(ack);
        Assert.Null(state.DecideAck(3, 6000).Event);
        Assert.Null(state.DecideAck(2, 6000).Event);
        Assert.Equal(2, state.Outbox.Count);
    }

    [Fact]
    public void An_ack_beyond_the_inbox_is_clamped()
    {
        var state = Registered(Ann);
        Deliver(state, Bob, "b1");
        Assert.Equal(1, state.DecideAck(1_000_000, 0).Event!.UpTo);
    }

    [Fact]
    public void Read_covers_only_messages_from_that_sender_and_batches_are_numbered_per_sender()
    {
        var state = Registered(Ann);
        var b1 = Deliver(state, Bob, "b1");
        Deliver(state, Cat, "c1");
        var acked = state.DecideAck(2, 0).Event!; // a delivered receipt to Bob and one to Cat, keyed
        state.Apply(acked);
        var read = state.DecideRead(Bob.Value, 2, 10).Event!;
        var batch = Assert.Single(read.Batches!);
        Assert.Equal([b1.MessageId], batch.MessageIds);
        Assert.Equal(1, batch.BatchNo); // read receipts are numbered on their own
        state.Apply(read);
        Assert.Null(state.DecideRead(Bob.Value, 2, 11).Event);
        // confirmed batches leave the outbox: a number confirms the numbered ones up to it, a key only its own batch
        state.Apply(state.DecideConfirm(Bob, 1).Event!);
        Assert.Equal(ReceiptStatus.Delivered, Assert.Single(state.Outbox, b => b.To == Bob).Status); // read receipt 1 left, not the keyed one
        state.Apply(state.DecideConfirm(Bob, Assert.Single(acked.Batches, b => b.To == Bob).BatchNo).Event!);
        Assert.Equal(Cat, Assert.Single(state.Outbox).To);
    }

    [Fact]
    public void A_receipt_batch_is_stored_once_per_issuer_and_number()
    {
        var state = Registered(Ann);
        var batch = new ReceiptBatch(Ann, 1, ReceiptStatus.Delivered, ["m1"], 7);
        var (stored, dups, _) = state.DecideStoreReceipts([new StoreReceipts(Ann, Bob, batch)], 0);
        Assert.Empty(dups);
        Assert.Equal(1, Assert.IsType<InboxReceipt>(stored!.Entry).Seq);
        state.Apply(stored);
        var again = state.DecideStoreReceipts([new StoreReceipts(Ann, Bob, batch)], 0);
        Assert.Null(again.Event);
        Assert.Single(again.Duplicates);
        Assert.NotNull(state.DecideStoreReceipts([new StoreReceipts(Ann, Cat, batch)], 0).Event);
    }

    [Fact]
    public void Delivered_receipts_are_stored_in_any_order_once_per_key_and_leave_read_receipts_in_sequence()
    {
        var state = Registered(Ann);
        StoreReceipts From(UserId by, long no, ReceiptStatus status = ReceiptStatus.Delivered, long at = 7) =>
            new(Ann, by, new ReceiptBatch(Ann, no, status, [$"m{no}"], at));
        // keyed (delivered) receipts: the later one first, then the earlier one; both are stored
        foreach (var key in new long[] { -22, -11 })
        {
            var (stored, dups, later) = state.DecideStoreReceipts([From(Bob, key)], 0);
            Assert.Empty(dups);
            Assert.Empty(later);
            state.Apply(stored!);
        }
        // a repeat of either is a duplicate; another key is another receipt
        var again = state.DecideStoreReceipts([From(Bob, -11), From(Bob, -22)], 0);
        Assert.Null(again.Event);
        Assert.Equal(2, again.Duplicates.Count);
        Assert.NotNull(state.DecideStoreReceipts([From(Cat, -33)], 0).Event);
        // numbered (read) receipts from Bob still start at 1 and come in order
        var gap = state.DecideStoreReceipts([From(Bob, 2, ReceiptStatus.Read)], 0);
        Assert.Null(gap.Event);
        Assert.Empty(gap.Duplicates);
        state.Apply(state.DecideStoreReceipts([From(Bob, 1, ReceiptStatus.Read)], 0).Event!);
        Assert.NotNull(state.DecideStoreReceipts([From(Bob, 2, ReceiptStatus.Read)], 0).Event);
        // keys are remembered for a while: one repeated after many later ones, stored after its window, is stored again
        for (var k = 1; k <= UserState.KeysRemembered; k++)
            state.Apply(state.DecideStoreReceipts([From(Bob, -100 - k, at: 7 + UserState.KeyWindowMs)], 0).Event!);
        Assert.NotNull(state.DecideStoreReceipts([From(Bob, -22)], 0).Event);
    }

    [Fact]
    public void Every_delivered_receipt_a_post_to_the_largest_group_brings_is_known_when_repeated_also_after_a_snapshot()
    {
        // 1,024 members acknowledge one post within a second; their receipts are retried until confirmed (a lost
        // confirmation, a restart of the poster's inbox): each repeat must be recognised, not stored a second time
        var state = Registered(Ann);
        const long at = 1_767_225_600_000;
        const int members = 1024;
        StoreReceipts From(int member) => new(Ann, new UserId($"u{member:D16}"), new ReceiptBatch(Ann, -member, ReceiptStatus.Delivered, ["m1"], at + member));
        for (var m = 1; m <= members; m += 8)
            state.Apply(state.DecideStoreReceipts(Enumerable.Range(m, 8).Select(From).ToList(), at + m).Event!);
        var entries = state.LastSeq;
        var repeats = Enumerable.Range(1, members).Select(From).ToList();
        var again = state.DecideStoreReceipts(repeats, at + 5_000);
        Assert.Null(again.Event);
        Assert.Equal(members, again.Duplicates.Count);

        var restored = UserState.FromSnapshot(state.ToSnapshot(), takenAt: at + 2_000);
        var afterRestart = restored.DecideStoreReceipts(repeats, at + 10_000);
        Assert.Null(afterRestart.Event);
        Assert.Equal(members, afterRestart.Duplicates.Count);
        Assert.Equal(entries, restored.LastSeq);

        // the poster's next post a few seconds later brings 1,024 new receipts: the restored keys, stored seconds before
        // the restart, are still young and still known
        StoreReceipts Next(int member) => new(Ann, new UserId($"u{member:D16}"), new ReceiptBatch(Ann, -10_000 - member, ReceiptStatus.Delivered, ["m2"], at + 20_000));
        for (var m = 1; m <= members; m += 8)
            restored.Apply(restored.DecideStoreReceipts(Enumerable.Range(m, 8).Select(Next).ToList(), at + 20_000).Event!);
        var stillKnown = restored.DecideStoreReceipts(repeats, at + 25_000);
        Assert.Null(stillKnown.Event);
        Assert.Equal(members, stillKnown.Duplicates.Count);
    }

    [Fact]
    public void A_delivered_receipt_that_comes_late_is_remembered_from_when_it_was_stored_not_from_when_it_was_issued()
    {
        // a receipt issued ten minutes ago and resent after its issuer stopped is stored now; a burst of receipts right
        // after must not push it out as if it were old, or its next repeat would be stored a second time
        var state = Registered(Ann);
        const long now = 1_767_225_600_000;
        StoreReceipts Receipt(long key, long issued) => new(Ann, new UserId($"u{-key:D16}"), new ReceiptBatch(Ann, key, ReceiptStatus.Delivered, [$"m{-key}"], issued));
        for (var k = 1; k < UserState.KeysRemembered; k++) // older receipts, stored five minutes ago
            state.Apply(state.DecideStoreReceipts([Receipt(-k, now - 300_000)], now - 300_000).Event!);
        var late = Receipt(-1_000, now - 600_000);
        state.Apply(state.DecideStoreReceipts([late], now).Event!);
        for (var k = 1; k <= UserState.KeysRemembered; k++)
            state.Apply(state.DecideStoreReceipts([Receipt(-2_000 - k, now + 10_000)], now + 10_000).Event!);
        var again = state.DecideStoreReceipts([late], now + 15_000);
        Assert.Null(again.Event);
        Assert.Single(again.Duplicates);
    }

    [Fact]
    public void Receipts_arriving_together_are_stored_as_one_entry()
    {
        var state = Registered(Ann);
        var cmds = Enumerable.Range(0, 50).Select(i => new StoreReceipts(Ann, UserId.New(),
            new ReceiptBatch(Ann, 1, ReceiptStatus.Delivered, ["m1"], 7))).ToList();
        var (stored, _, _) = state.DecideStoreReceipts(cmds, 0);
        var set = Assert.IsType<InboxReceiptSet>(stored!.Entry);
        Assert.Equal(50, set.Items.Count);
        Assert.Equal(50, stored.Sources.Count);
    }

    [Fact]
    public void A_snapshot_restores_the_same_decisions()
    {
        var state = Registered(Ann);
        var b1 = Deliver(state, Bob, "b1");
        Deliver(state, Cat, "c1");
        state.Apply(state.DecideAck(1, 0).Event!); // a keyed delivered receipt to Bob
        state.Apply(state.DecideRead(Bob.Value, 1, 0).Event!); // read receipt 1 to Bob
        var restored = UserState.FromSnapshot(state.ToSnapshot());
        Assert.Equal(state.LastSeq, restored.LastSeq);
        Assert.Equal(state.AckedSeq, restored.AckedSeq);
        Assert.Equal(state.Outbox, restored.Outbox); // the receipts owed, keyed and numbered
        Assert.Equal(b1, Deliver(restored, Bob, "b1")); // dedup survives
        Deliver(restored, Bob, "b2");
        var next = restored.DecideRead(Bob.Value, restored.LastSeq, 0).Event!;
        Assert.Equal(2, Assert.Single(next.Batches!).BatchNo); // numbering continues
    }

    [Fact]
    public void Acknowledged_entries_are_served_whole_long_after_they_were_pushed()
    {
        // the inbox keeps entries as bytes once acknowledged (and only the newest few hundred as objects):
        // a late sync must still get every entry exactly as stored, small, empty, large and across chunk ends
        var state = Registered(Ann);
        var sent = new List<InboxMessage>();
        for (var i = 0; i < 700; i++)
        {
            var text = i switch { 5 => "", 300 => new string('x', 200_000), _ => $"message {i} " + new string('é', i % 97) };
            sent.Add(Deliver(state, i % 2 == 0 ? Bob : Cat, $"c{i}", text));
            if (i % 50 == 49) state.Apply(state.DecideAck(state.LastSeq, 0).Event!);
        }
        Assert.Equal(sent, state.Range(0, state.LastSeq, int.MaxValue));
        Assert.Equal(sent[123], state.EntryAt(124));
        Assert.Equal(sent[^1], state.EntryAt(700));
        Assert.Null(state.EntryAt(701));
    }

    [Fact]
    public void A_resend_long_after_its_acknowledgement_is_recognised()
    {
        var state = Registered(Ann);
        var first = Deliver(state, Bob, "same", "hello");
        for (var i = 0; i < 600; i++) Deliver(state, Cat, $"c{i}");
        state.Apply(state.DecideAck(state.LastSeq, 0).Event!);
        var again = state.DecideDeliver(new DeliverText(Ann, Bob, "same", "hello", 1), "m-new", 9000, out var existing);
        Assert.Null(again.Event); // nothing stored twice
        Assert.Equal(first, existing);
        // the same client id from someone else is a different message
        Assert.NotNull(state.DecideDeliver(new DeliverText(Ann, Cat, "same", "hello", 1), "m-other", 9000, out _).Event);
    }

    [Fact]
    public void A_resend_within_the_dedup_window_is_recognised_through_a_snapshot_and_one_after_it_is_a_new_message()
    {
        var state = Registered(Ann);
        var first = Deliver(state, Bob, "same", "hello"); // stored at 2000
        state.ForgetDedupOlderThan(1000);
        var restored = UserState.FromSnapshot(state.ToSnapshot(), tail: 1);
        Deliver(restored, Cat, "other"); // the first message leaves the tail held in memory
        Assert.Null(restored.EntryAt(first.Seq));
        var again = restored.DecideDeliver(new DeliverText(Ann, Bob, "same", "hello", 1), "m-new", 9000, out _, out var repeatOf);
        Assert.Null(again.Event); // recognised by its key alone; the entity answers it from the journal
        Assert.Equal(first.Seq, repeatOf);

        restored.ForgetDedupOlderThan(2001); // the window has passed
        Assert.NotNull(restored.DecideDeliver(new DeliverText(Ann, Bob, "same", "hello", 1), "m-new", 9000, out _).Event);
    }

    [Fact]
    public void A_snapshot_holds_the_tail_and_the_state_not_the_inbox()
    {
        var state = new UserState(tail: 8);
        state.Apply(state.DecideCreate(new CreateUser(Ann, "Ann", "+14155550100", null, [1]), 1000).Event!);
        for (var i = 0; i < 500; i++)
            state.Apply(state.DecideDeliver(new DeliverText(Ann, Bob, $"c{i}", new string('x', 1000), 1), $"m{i}", 2000, out _).Event!);
        var snapshot = state.ToSnapshot();
        Assert.Equal(8, snapshot.Inbox.Count);
        Assert.Equal(1, snapshot.FirstSeq);
        Assert.Equal(500, snapshot.LastSeq);
        Assert.True(state.HeldEntries <= 8);
        // the stranger quota's count survives without the entries
        Assert.Equal(state.FromStrangers, UserState.FromSnapshot(snapshot, 8).FromStrangers);
    }

    [Fact]
    public void Range_returns_entries_in_order_within_bounds()
    {
        var state = Registered(Ann);
        for (var i = 0; i < 10; i++) Deliver(state, Bob, $"c{i}");
        Assert.Equal([4L, 5L, 6L], state.Range(3, 6, 100).Select(e => e.Seq));
        Assert.Equal([1L, 2L], state.Range(0, 10, 2).Select(e => e.Seq));
        Assert.Empty(state.Range(10, 10, 5));
    }

    [Fact]
    public void Receipt_batches_are_stored_in_order_and_a_gap_waits_for_the_resend()
    {
        var state = Registered(Ann);
        StoreReceipts Batch(long n) => new(Ann, Bob, new ReceiptBatch(Ann, n, ReceiptStatus.Delivered, [$"m{n}"], 7));
        Assert.Null(state.DecideStoreReceipts([Batch(2)], 0).Event); // gap: not stored, not acknowledged
        Assert.Empty(state.DecideStoreReceipts([Batch(2)], 0).Duplicates);
        var (both, _, _) = state.DecideStoreReceipts([Batch(1), Batch(2)], 0);
        state.Apply(both!);
        Assert.Equal(1, state.LastSeq);
        Assert.Equal(2, both!.Sources.Count);
    }

    [Fact]
    public void A_huge_ack_is_split_into_receipts_of_bounded_size()
    {
        var state = Registered(Ann);
        for (var i = 0; i < UserState.MaxIdsPerReceipt * 2 + 5; i++) Deliver(state, Bob, $"c{i}");
        var ack = state.DecideAck(state.LastSeq, 0).Event!;
        Assert.Equal([UserState.MaxIdsPerReceipt, UserState.MaxIdsPerReceipt, 5], ack.Batches.Select(b => b.MessageIds.Count));
        Assert.All(ack.Batches, b => Assert.True(UserState.IsKeyed(b.BatchNo)));
        Assert.Equal(3, ack.Batches.Select(b => b.BatchNo).Distinct().Count());
        var read = state.DecideRead(Bob.Value, state.LastSeq, 0).Event!;
        Assert.Equal(UserState.MaxIdsPerReceipt, Assert.Single(read.Batches!).MessageIds.Count);
        Assert.Equal(UserState.MaxIdsPerReceipt, read.UpTo);
    }

    [Fact]
    public void A_group_entry_before_the_joining_notice_waits_for_it()
    {
        var state = Registered(Ann);
        var g = new GroupId("gaaaaaaaaaaaaaaaa");
        var post = new GroupPost(6, "m6", Bob, "hi", 0, "c");
        var joined = new GroupChange(5, GroupNoticeKind.Added, Bob, [Ann], "club", 0);
        Assert.Equal(ErrorCode.Unavailable, state.DecideGroupEntry(new DeliverGroupEntry(Ann, g, post)).Error);
        state.Apply(state.DecideGroupEntry(new DeliverGroupEntry(Ann, g, joined)).Event!);
        state.Apply(state.DecideGroupEntry(new DeliverGroupEntry(Ann, g, post)).Event!);
        Assert.Equal("club", state.Groups[g]);
        Assert.Null(state.DecideGroupEntry(new DeliverGroupEntry(Ann, g, post)).Event); // once
        Assert.Equal(2, state.LastSeq);
    }

    [Fact]
    public void Expiring_drops_the_oldest_entries_and_their_dedup_records_and_sync_continues_after_them()
    {
        var state = Registered(Ann);
        DeliverAt(state, Bob, "c1", 100);
        DeliverAt(state, Bob, "c2", 200);
        DeliverAt(state, Cat, "c3", 300);

        var (upTo, receipts) = state.Expiring(cutoff: 250);
        Assert.Equal(2, upTo);
        Assert.Equal(0, receipts);
        state.Apply(new InboxExpired(upTo, 250));
        var restored = UserState.FromSnapshot(state.ToSnapshot());

        foreach (var s in new[] { state, restored })
        {
            Assert.Equal(3, s.FirstSeq);
            Assert.Equal(3, s.LastSeq);
            Assert.Equal([3L], s.Range(0, s.LastSeq, 10).Select(e => e.Seq));
            Assert.Null(s.EntryAt(1));
            // an expired client message id is no longer remembered; a kept one still is
            Assert.NotNull(s.DecideDeliver(new DeliverText(Ann, Bob, "c1", "again", 1), "m-new", 400, out _).Event);
            s.DecideDeliver(new DeliverText(Ann, Cat, "c3", "again", 1), "m-x", 400, out var kept);
            Assert.Equal("m-c3", kept?.MessageId);
        }
    }

    [Fact]
    public void Retention_forgets_the_media_of_the_entries_it_removes_and_a_restart_keeps_the_rest()
    {
        var state = Registered(Ann);
        void Photo(string cmid, string media, long at) => state.Apply(state.DecideDeliver(
            new DeliverText(Ann, Bob, cmid, "", 1, new MediaRef(media, "image/jpeg", 10)), "m-" + cmid, at, out _).Event!);
        Photo("p1", "old-photo", 100);
        Photo("p2", "shared-photo", 150);
        Photo("p3", "shared-photo", 300); // sent again later: the later message keeps it
        Photo("p4", "new-photo", 400);

        var (upTo, _) = state.Expiring(cutoff: 250);
        state.Apply(new InboxExpired(upTo, 250));
        var restored = UserState.FromSnapshot(state.ToSnapshot());

        foreach (var s in new[] { state, restored })
        {
            Assert.False(s.MaySee("old-photo")); // its only message is gone: the media store deletes it too
            Assert.True(s.MaySee("shared-photo"));
            Assert.True(s.MaySee("new-photo"));
        }
        // a later sweep forgets what the restarted state kept, by the same times
        restored.Apply(new InboxExpired(restored.Expiring(cutoff: 350).UpTo, 350));
        Assert.False(restored.MaySee("shared-photo"));
        Assert.True(restored.MaySee("new-photo"));
    }

    private static void DeliverAt(UserState state, UserId from, string cmid, long at) =>
        state.Apply(state.DecideDeliver(new DeliverText(Ann, from, cmid, cmid, 1), "m-" + cmid, at, out _).Event!);

    // ---------- the quota for strangers ----------

    private static readonly UserId Dan = new("udddddddddddddddd");

    private static Decision<MessageStored> Offer(UserState state, UserId from, string cmid, StrangerQuota quota, string text = "hi", MediaRef? media = null)
    {
        var d = state.DecideDeliver(new DeliverText(Ann, from, cmid, text, 1, media), "m-" + cmid, 2000, out _, quota);
        if (d.Event is not null) state.Apply(d.Event);
        return d;
    }

    [Fact]
    public void Strangers_fill_the_message_quota_then_are_refused_and_nothing_is_stored_while_contacts_and_oneself_still_get_through()
    {
        var state = Registered(Ann);
        state.Apply(state.DecideContact(Dan).Event!); // Ann has written to Dan
        var quota = new StrangerQuota(Messages: 3, Bytes: 0);
        Assert.NotNull(Offer(state, Bob, "b1", quota).Event);
        Assert.NotNull(Offer(state, Bob, "b2", quota).Event);
        Assert.NotNull(Offer(state, Cat, "c1", quota).Event); // the quota is the inbox's, over every stranger
        var refused = Offer(state, Cat, "c2", quota);
        Assert.Equal(ErrorCode.StrangerQuota, refused.Error);
        Assert.Equal(ErrorCode.StrangerQuota, Offer(state, Bob, "b3", quota).Error);
        Assert.Equal(3, state.LastSeq); // nothing stored for the refused ones
        Assert.Equal((3, 6L), state.FromStrangers);

        // a contact, and the user writing to themself, are not strangers
        Assert.NotNull(Offer(state, Dan, "d1", quota).Event);
        Assert.NotNull(Offer(state, Ann, "a1", quota).Event);
        // a message already stored is answered again, quota or not
        state.DecideDeliver(new DeliverText(Ann, Bob, "b1", "hi", 1), "m-x", 2000, out var again, quota);
        Assert.Equal("m-b1", again?.MessageId);
        Assert.Equal(5, state.LastSeq);
    }

    [Fact]
    public void What_the_recipient_acknowledges_frees_the_quota()
    {
        var state = Registered(Ann);
        var quota = new StrangerQuota(Messages: 2, Bytes: 0);
        Offer(state, Bob, "b1", quota);
        Offer(state, Bob, "b2", quota);
        Assert.Equal(ErrorCode.StrangerQuota, Offer(state, Bob, "b3", quota).Error);
        state.Apply(state.DecideAck(1, 3000).Event!);
        Assert.Equal((1, 2L), state.FromStrangers);
        Assert.NotNull(Offer(state, Bob, "b3", quota).Event);
        Assert.Equal(ErrorCode.StrangerQuota, Offer(state, Bob, "b4", quota).Error);
    }

    [Fact]
    public void The_byte_quota_counts_text_and_thumbnails()
    {
        var state = Registered(Ann);
        var quota = new StrangerQuota(Messages: 0, Bytes: 100);
        Assert.NotNull(Offer(state, Bob, "b1", quota, new string('x', 60)).Event);
        // 30 bytes of caption and 20 of thumbnail: 110 in all, over 100
        var media = new MediaRef("Mabc", "image/png", 1000, new byte[20]);
        Assert.Equal(ErrorCode.StrangerQuota, Offer(state, Bob, "b2", quota, new string('y', 30), media).Error);
        Assert.NotNull(Offer(state, Bob, "b3", quota, new string('y', 30)).Event);
        Assert.Equal((2, 90L), state.FromStrangers);
        Assert.Equal(ErrorCode.StrangerQuota, Offer(state, Cat, "c1", quota, "é" + new string('z', 9)).Error); // 11 UTF-8 bytes
    }

    [Fact]
    public void Writing_to_a_stranger_makes_them_a_contact_and_what_they_sent_stops_counting()
    {
        var state = Registered(Ann);
        var quota = new StrangerQuota(Messages: 2, Bytes: 0);
        Offer(state, Bob, "b1", quota);
        Offer(state, Cat, "c1", quota);
        Assert.Equal(ErrorCode.StrangerQuota, Offer(state, Bob, "b2", quota).Error);
        var contact = state.DecideContact(Bob).Event!;
        state.Apply(contact);
        Assert.Null(state.DecideContact(Bob).Event); // recorded once
        Assert.Equal((1, 2L), state.FromStrangers); // Cat's alone
        Assert.NotNull(Offer(state, Bob, "b2", quota).Event);
        Assert.NotNull(Offer(state, Dan, "d1", quota).Event); // Bob's no longer take a stranger's room
        Assert.Equal(ErrorCode.StrangerQuota, Offer(state, Dan, "d2", quota).Error);
    }

    [Fact]
    public void The_quota_and_the_contacts_are_the_same_after_a_snapshot_and_after_replaying_the_events()
    {
        var state = Registered(Ann);
        var events = new List<IUserEvent> { state.Profile! };
        var quota = new StrangerQuota(Messages: 3, Bytes: 0);
        void Keep(IUserEvent? e) { if (e is not null) events.Add(e); }
        Keep(Offer(state, Bob, "b1", quota).Event);
        Keep(Offer(state, Cat, "c1", quota).Event);
        Keep(Offer(state, Dan, "d1", quota).Event);
        var contact = state.DecideContact(Dan).Event!;
        state.Apply(contact);
        Keep(contact);
        Keep(Offer(state, Bob, "b2", quota).Event);
        var ack = state.DecideAck(1, 3000).Event!;
        state.Apply(ack);
        Keep(ack);

        var replayed = new UserState();
        foreach (var e in events) replayed.Apply(e);
        var restored = UserState.FromSnapshot(state.ToSnapshot());
        foreach (var s in new[] { state, replayed, restored })
        {
            Assert.Equal((2, 4L), s.FromStrangers); // Cat's c1 and Bob's b2; b1 acknowledged, Dan a contact
            Assert.True(s.HasWrittenTo(Dan));
            Assert.False(s.HasWrittenTo(Bob));
            Assert.NotNull(s.DecideDeliver(new DeliverText(Ann, Cat, "c2", "hi", 1), "m", 4000, out _, quota).Event);
            s.Apply(s.DecideDeliver(new DeliverText(Ann, Cat, "c2", "hi", 1), "m", 4000, out _, quota).Event!);
            Assert.Equal(ErrorCode.StrangerQuota, s.DecideDeliver(new DeliverText(Ann, Bob, "b3", "hi", 1), "m", 4000, out _, quota).Error);
            Assert.NotNull(s.DecideDeliver(new DeliverText(Ann, Dan, "d2", "hi", 1), "m", 4000, out _, quota).Event);
        }
    }
}
