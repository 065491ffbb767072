"""The contract of :class:`storage.mail.OutboxStorage`: requests to send, in order."""

import asyncio

from storage.base import Changes, SessionKey, SessionStore
from storage.mail import SentMark
from tests.storage.contract.support import ALICE, BOB, CAROL_AT_SUSHI, reply, texts


class TestOutbox:
    """The send queue, its per-conversation order, progress and pruning."""

    async def queue(self, store: SessionStore, key: SessionKey, at: float, *answers: str) -> None:
        await store.commit(Changes(key, at, outbox=[reply(key, answer) for answer in answers]))

    async def test_pending_outbound_is_every_due_row_by_id(self, store: SessionStore) -> None:
        await self.queue(store, ALICE, 10.0, "a1", "a2")
        await self.queue(store, BOB, 11.0, "b1")
        await self.queue(store, ALICE, 12.0, "a3")

        assert texts(await store.pending_outbound(now=12.0)) == ["a1", "a2", "b1", "a3"]
        assert texts(await store.pending_outbound(now=11.0)) == ["a1", "a2", "b1"]
        assert texts(await store.pending_outbound(now=12.0, limit=2)) == ["a1", "a2"]
        assert await store.pending_keys() == {ALICE, BOB}
        [b1] = await store.list_outbox(BOB)
        await store.outbox_sent(b1.id, "wamid.b1", 13.0)
        assert await store.pending_keys() == {ALICE}
        ids = [row.id for row in await store.list_outbox()]
        assert ids == sorted(ids)

    async def test_many_sent_marks_at_once(self, store: SessionStore) -> None:
        await self.queue(store, ALICE, 10.0, "a1", "a2")
        await self.queue(store, BOB, 10.0, "b1", "b2")
        a1, a2 = await store.list_outbox(ALICE)
        b1, b2 = await store.list_outbox(BOB)
        await store.outbox_failed(b2.id, "131026 undeliverable", 11.0)

        await store.outbox_sent_many([])
        await store.outbox_sent_many([SentMark(a1.id, "wamid.a1", 12.0),
                                      SentMark(b1.id, None, 12.5),
                                      SentMark(b2.id, "wamid.b2", 13.0),  # given up on
                                      SentMark(999_999, "wamid.none", 13.0)])  # no such row
        assert texts(await store.pending_outbound(now=20.0)) == ["a2"]
        a1, a2 = await store.list_outbox(ALICE)
        b1, b2 = await store.list_outbox(BOB)
        assert (a1.state, a1.wamid, a2.state) == ("sent", "wamid.a1", "pending")
        assert (b1.state, b1.wamid) == ("sent", None)
        assert (b2.state, b2.wamid) == ("failed", None)
        await store.outbox_sent_many([SentMark(a1.id, "wamid.again", 30.0)])  # already sent
        assert (await store.list_outbox(ALICE))[0].wamid == "wamid.a1"

    async def test_a_row_waiting_for_retry_holds_back_its_conversation_only(
        self, store: SessionStore
    ) -> None:
        await self.queue(store, ALICE, 10.0, "a1", "a2")
        await self.queue(store, BOB, 10.0, "b1")
        await self.queue(store, ALICE, 10.0, "a3")
        a1 = (await store.list_outbox(ALICE))[0]

        await store.outbox_retry(a1.id, not_before=100.0, error="HTTP 503")
        assert texts(await store.pending_outbound(now=50.0)) == ["b1"]

        due = await store.pending_outbound(now=100.0)
        assert texts(due) == ["a1", "a2", "b1", "a3"]
        assert (due[0].attempts, due[0].not_before, due[0].error) == (1, 100.0, "HTTP 503")

    async def test_sent_and_failed_rows_leave_the_queue_and_unblock_it(
        self, store: SessionStore
    ) -> None:
        await self.queue(store, ALICE, 10.0, "a1", "a2", "a3")
        a1, a2, a3 = await store.list_outbox(ALICE)

        await store.outbox_retry(a1.id, 20.0, "timeout")
        await store.outbox_sent(a1.id, "wamid.out1", 21.0)
        await store.outbox_failed(a2.id, "131026 undeliverable", 22.0)
        assert texts(await store.pending_outbound(now=30.0)) == ["a3"]

        a1, a2, a3 = await store.list_outbox(ALICE)
        assert (a1.state, a1.wamid, a1.attempts) == ("sent", "wamid.out1", 1)
        assert (a2.state, a2.error, a2.attempts, a2.wamid) == (
            "failed", "131026 undeliverable", 1, None)
        assert (a3.state, a3.attempts) == ("pending", 0)

    async def test_a_finished_row_stays_finished(self, store: SessionStore) -> None:
        await self.queue(store, ALICE, 10.0, "a1", "a2")
        a1, a2 = await store.list_outbox(ALICE)
        await store.outbox_sent(a1.id, "wamid.out1", 11.0)
        await store.outbox_failed(a2.id, "bad request", 11.0)

        await store.outbox_retry(a1.id, 99.0, "late timeout")
        await store.outbox_failed(a1.id, "late failure", 12.0)
        await store.outbox_sent(a2.id, "wamid.late", 12.0)

        a1, a2 = await store.list_outbox(ALICE)
        assert (a1.state, a1.wamid, a1.attempts, a1.error) == ("sent", "wamid.out1", 0, None)
        assert (a2.state, a2.wamid, a2.error) == ("failed", None, "bad request")

    async def test_read_receipts_keep_their_kind(self, store: SessionStore) -> None:
        await store.commit(Changes(ALICE, 10.0, outbox=[reply(ALICE, "seen", kind="read"),
                                                        reply(ALICE, "answer")]))
        assert [row.kind for row in await store.list_outbox()] == ["read", "message"]

    async def test_prune_forgets_only_old_finished_replies_and_their_statuses(
        self, store: SessionStore
    ) -> None:
        await self.queue(store, ALICE, 10.0, "a1", "a2", "a3")
        await self.queue(store, BOB, 50.0, "b1")
        a1, a2, a3, b1 = await store.list_outbox()
        await store.outbox_sent(a1.id, "wamid.out1", 11.0)
        await store.outbox_failed(a2.id, "131047 window closed", 12.0)
        await store.outbox_retry(a3.id, 99.0, "throttled")
        await store.outbox_sent(b1.id, "wamid.out4", 51.0)
        await store.record_status("wamid.out1", "read", 3, 20.0)
        await store.record_status("wamid.out4", "delivered", 2, 52.0)

        assert await store.prune_outbox(finished_before=30.0) == 2
        assert texts(await store.list_outbox()) == ["a3", "b1"]
        assert await store.message_status("wamid.out1") is None
        assert await store.message_status("wamid.out4") == "delivered"
        assert await store.prune_outbox(finished_before=1e12) == 1
        assert texts(await store.list_outbox()) == ["a3"]  # pending: never pruned

    async def test_list_outbox_filters_by_conversation(self, store: SessionStore) -> None:
        await self.queue(store, ALICE, 10.0, "a1")
        await self.queue(store, BOB, 10.0, "b1")
        assert texts(await store.list_outbox(BOB)) == ["b1"]
        assert texts(await store.list_outbox(CAROL_AT_SUSHI)) == []
        assert texts(await store.list_outbox()) == ["a1", "b1"]

    async def test_ids_ascend_within_a_conversation_in_commit_order(
        self, store: SessionStore
    ) -> None:
        # Ids are the database's: only their order within a conversation is promised.
        def commit(i: int) -> Changes:
            key = (ALICE, BOB)[i % 2]
            return Changes(key, float(i), outbox=[reply(key, f"{i}a"), reply(key, f"{i}b")])

        returned = await asyncio.gather(*(store.commit(commit(i)) for i in range(20)))
        queued = [row for rows in returned for row in rows]
        assert sorted(queued, key=lambda row: row.id) == await store.list_outbox()
        for key, first in ((ALICE, 0), (BOB, 1)):
            rows = await store.list_outbox(key)
            assert texts(rows) == [f"{i}{part}" for i in range(first, 20, 2) for part in "ab"]
            assert [row.id for row in rows] == sorted({row.id for row in rows})
