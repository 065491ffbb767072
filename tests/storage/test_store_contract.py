"""One behaviour, every backend: the contract of :class:`storage.base.SessionStore`."""

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from storage.base import (
    Changes,
    DraftRecord,
    InboxRecord,
    OrderRecord,
    OutboxMessage,
    OutboxRecord,
    QuarantineRecord,
    SessionKey,
    SessionStore,
    order_lines,
)
from storage.codec import MAX_SNAPSHOT_BYTES, decode_snapshot, encode_snapshot
from storage.errors import (
    AlreadyProcessed,
    DuplicateOrderReference,
    SnapshotTooLarge,
    StorageError,
    StoreClosed,
)
from storage.memory import MemoryStore
from storage.sqlite import SQLiteStore

ALICE = SessionKey("luigis", "447700900001")
BOB = SessionKey("luigis", "447700900002")
CAROL_AT_SUSHI = SessionKey("sushi", "447700900003")
LUIGIS_NUMBER = "109876543210001"


@dataclass
class Backend:
    name: str
    path: Path
    durable: bool

    def new_store(self) -> SessionStore:
        if self.name == "memory":
            return MemoryStore()
        return SQLiteStore(self.path)


@pytest.fixture
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    name: str = request.param
    return Backend(name, tmp_path / "orderbot.db", durable=name != "memory")


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[SessionStore]:
    store = backend.new_store()
    await store.open()
    try:
        yield store
    finally:
        await store.close()


def snapshot(state: str, **extra: object) -> bytes:
    return encode_snapshot({"v": 1, "state": state, **extra})


def order(key: SessionKey, reference: str, created_at: float = 1.0) -> OrderRecord:
    return OrderRecord(
        reference=reference, restaurant_id=key.restaurant_id, customer_id=key.customer_id,
        status="CONFIRMED", order_type="delivery", branch_id=None, address="1 Frith St",
        payment_method="card", currency="GBP", total_minor=2150, delivery_fee_minor=250,
        lines=order_lines([
            {"item_id": "margherita", "qty": 2, "unit_minor": 950, "addons": []},
            {"item_id": "calzone", "qty": 1, "unit_minor": 1100, "addons": ["chilli"]},
        ]),
        created_at=created_at,
    )


def inbound(message_id: str, key: SessionKey = ALICE, text: str = "hi") -> InboxRecord:
    return InboxRecord(message_id=message_id, key=key, phone_number_id=LUIGIS_NUMBER,
                       wa_id=key.customer_id, user_id=f"user.{key.customer_id}",
                       sent_at=1_763_900_000, received_at=1_763_900_001.5,
                       payload=json.dumps({"text": text}).encode())


def reply(key: SessionKey, text: str, kind: str = "message") -> OutboxMessage:
    body = {"messaging_product": "whatsapp", "to": key.customer_id, "type": "text",
            "text": {"body": text}}
    return OutboxMessage(key, LUIGIS_NUMBER, json.dumps(body), kind)


def texts(rows: Sequence[OutboxRecord]) -> list[str]:
    return [json.loads(row.body)["text"]["body"] for row in rows]


async def handled(store: SessionStore, message_id: str, key: SessionKey, at: float,
                  *answers: str) -> None:
    """Commit the processing of ``message_id``: a snapshot and one reply per answer."""
    await store.commit(Changes(key, at, snapshot("browsing_items", last=message_id),
                               inbox_processed=message_id,
                               outbox=[reply(key, answer) for answer in answers]))


@pytest.mark.parametrize("backend", ["memory", "sqlite"], indirect=True)
class TestSessionStore:
    async def test_unknown_key_loads_none(self, store: SessionStore) -> None:
        assert await store.load_snapshot(ALICE) is None

    async def test_commit_then_load(self, store: SessionStore) -> None:
        await store.commit(Changes(ALICE, 10.0, snapshot("choosing_category")))
        assert decode_snapshot(await store.load_snapshot(ALICE) or b"")["state"] == (
            "choosing_category"
        )
        assert await store.load_snapshot(BOB) is None

    async def test_commit_overwrites(self, store: SessionStore) -> None:
        await store.commit(Changes(ALICE, 10.0, snapshot("choosing_category")))
        await store.commit(Changes(ALICE, 11.0, snapshot("checkout")))
        assert await store.load_snapshot(ALICE) == snapshot("checkout")
        [row] = await store.list_sessions()
        assert row.updated_at == 11.0

    async def test_commit_without_snapshot_keeps_the_stored_one(self, store: SessionStore) -> None:
        await store.commit(Changes(ALICE, 10.0, snapshot("checkout")))
        await store.commit(Changes(ALICE, 11.0, orders=[order(ALICE, "LU-0001")]))
        assert await store.load_snapshot(ALICE) == snapshot("checkout")

    async def test_orders_round_trip_oldest_first_filtered_by_key(
        self, store: SessionStore
    ) -> None:
        late, early = order(ALICE, "LU-0002", 20.0), order(ALICE, "LU-0001", 10.0)
        bobs = order(BOB, "LU-0003", 15.0)
        await store.commit(Changes(ALICE, 20.0, snapshot("start"), orders=[late]))
        await store.commit(Changes(BOB, 15.0, orders=[bobs]))
        await store.commit(Changes(ALICE, 21.0, orders=[early]))

        assert await store.list_orders(ALICE) == [early, late]
        assert await store.list_orders(BOB) == [bobs]
        assert await store.list_orders() == [early, bobs, late]
        assert await store.reference_exists("luigis", "LU-0003")
        assert not await store.reference_exists("sushi", "LU-0003")

    async def test_duplicate_reference_fails_the_whole_commit(self, store: SessionStore) -> None:
        await store.commit(Changes(ALICE, 1.0, snapshot("start"), orders=[order(ALICE, "LU-7K2F")]))

        clash = Changes(BOB, 2.0, snapshot("checkout"),
                        orders=[order(BOB, "LU-AAAA"), order(BOB, "LU-7K2F")],
                        drafts=[DraftRecord(BOB, "cancelled", {"items": []}, 2.0)])
        with pytest.raises(DuplicateOrderReference):
            await store.commit(clash)

        assert await store.load_snapshot(BOB) is None
        assert await store.list_orders(BOB) == []
        assert not await store.reference_exists("luigis", "LU-AAAA")
        assert await store.list_drafts(BOB) == []

    async def test_duplicate_reference_within_one_commit_fails(self, store: SessionStore) -> None:
        twice = [order(ALICE, "LU-7K2F"), order(ALICE, "LU-7K2F")]
        with pytest.raises(DuplicateOrderReference):
            await store.commit(Changes(ALICE, 1.0, snapshot("start"), orders=twice))
        assert await store.load_snapshot(ALICE) is None
        assert await store.list_orders() == []

    async def test_same_reference_in_another_restaurant_is_fine(
        self, store: SessionStore
    ) -> None:
        await store.commit(Changes(ALICE, 1.0, orders=[order(ALICE, "XX-1234")]))
        await store.commit(Changes(CAROL_AT_SUSHI, 2.0, snapshot("start"),
                                   orders=[order(CAROL_AT_SUSHI, "XX-1234")]))
        assert [o.restaurant_id for o in await store.list_orders()] == ["luigis", "sushi"]
        assert await store.load_snapshot(CAROL_AT_SUSHI) == snapshot("start")

    async def test_drafts_round_trip_oldest_first(self, store: SessionStore) -> None:
        cart = {"items": [{"item_id": "margherita", "qty": 1, "addons": ["burrata"]}],
                "total_minor": 1200}
        second = DraftRecord(ALICE, "expired", cart, 50.0)
        first = DraftRecord(ALICE, "cancelled", {"items": []}, 40.0)
        await store.commit(Changes(ALICE, 50.0, snapshot("start"), drafts=[second]))
        await store.commit(Changes(ALICE, 51.0, drafts=[first]))
        await store.commit(Changes(BOB, 52.0, drafts=[DraftRecord(BOB, "expired", {}, 1.0)]))
        assert await store.list_drafts(ALICE) == [first, second]

    async def test_quarantine_moves_the_old_snapshot_aside(self, store: SessionStore) -> None:
        await store.commit(Changes(ALICE, 1.0, b"\xc1 unreadable"))
        await store.commit(Changes(BOB, 1.0, snapshot("checkout")))

        record = QuarantineRecord(ALICE, b"\xc1 unreadable", "corrupt: reserved byte", 5.0)
        await store.commit(Changes(ALICE, 5.0, snapshot("start"), quarantine=record))

        assert await store.load_snapshot(ALICE) == snapshot("start")
        assert await store.list_quarantine(ALICE) == [record]
        assert await store.list_quarantine() == [record]
        assert await store.list_quarantine(BOB) == []
        assert await store.load_snapshot(BOB) == snapshot("checkout")

    async def test_quarantine_sees_the_commit_queued_just_before_it(
        self, store: SessionStore
    ) -> None:
        await store.commit(Changes(ALICE, 1.0, b"first"))
        record = QuarantineRecord(ALICE, b"second", "unknown state", 3.0)
        await asyncio.gather(
            store.commit(Changes(ALICE, 2.0, b"second")),
            store.commit(Changes(ALICE, 3.0, b"third", quarantine=record)),
        )
        assert await store.list_quarantine(ALICE) == [record]
        assert await store.load_snapshot(ALICE) == b"third"

    async def test_quarantine_without_new_snapshot_forgets_the_session(
        self, store: SessionStore
    ) -> None:
        await store.commit(Changes(ALICE, 1.0, b"stored"))
        record = QuarantineRecord(ALICE, b"stored", "unknown state", 5.0)
        await store.commit(Changes(ALICE, 5.0, quarantine=record))
        assert await store.load_snapshot(ALICE) is None
        assert [q.snapshot for q in await store.list_quarantine(ALICE)] == [b"stored"]

    async def test_delete_session(self, store: SessionStore) -> None:
        await store.commit(Changes(ALICE, 1.0, snapshot("checkout")))
        await store.commit(Changes(BOB, 1.0, snapshot("checkout")))
        assert await store.delete_session(ALICE) is True
        assert await store.delete_session(ALICE) is False
        assert await store.load_snapshot(ALICE) is None
        assert await store.load_snapshot(BOB) == snapshot("checkout")

    async def test_list_sessions_newest_first_filtered_and_limited(
        self, store: SessionStore
    ) -> None:
        await store.commit(Changes(ALICE, 10.0, snapshot("a")))
        await store.commit(Changes(CAROL_AT_SUSHI, 30.0, snapshot("c")))
        await store.commit(Changes(BOB, 20.0, snapshot("b")))

        rows = await store.list_sessions()
        assert [row.key for row in rows] == [CAROL_AT_SUSHI, BOB, ALICE]
        assert rows[1].snapshot == snapshot("b")
        assert [row.key for row in await store.list_sessions("luigis")] == [BOB, ALICE]
        assert [row.key for row in await store.list_sessions(limit=2)] == [CAROL_AT_SUSHI, BOB]
        assert await store.list_sessions("nobody") == []

    async def test_oversize_snapshot_is_refused_and_nothing_written(
        self, store: SessionStore
    ) -> None:
        too_big = b"\x00" * (MAX_SNAPSHOT_BYTES + 1)
        with pytest.raises(SnapshotTooLarge):
            await store.commit(Changes(ALICE, 1.0, too_big, orders=[order(ALICE, "LU-1")]))
        assert await store.load_snapshot(ALICE) is None
        assert await store.list_orders() == []

    async def test_many_concurrent_commits_all_land_in_order(self, store: SessionStore) -> None:
        keys = [SessionKey("luigis", f"4477009{i:05d}") for i in range(100)]

        def change(i: int) -> Changes:
            key = keys[i % 100]
            return Changes(key, float(i), snapshot("browsing_items", seq=i),
                           orders=[order(key, f"LU-{i:04d}", float(i))])

        await asyncio.gather(*(store.commit(change(i)) for i in range(500)))

        for k, key in enumerate(keys):
            # Commits of one conversation are applied in the order they were made.
            assert decode_snapshot(await store.load_snapshot(key) or b"")["seq"] == 400 + k
            assert [o.reference for o in await store.list_orders(key)] == [
                f"LU-{i:04d}" for i in range(k, 500, 100)
            ]
        assert len(await store.list_orders()) == 500

    async def test_everything_survives_close_and_reopen(
        self, backend: Backend, store: SessionStore
    ) -> None:
        if not backend.durable:
            pytest.skip(f"{backend.name} keeps nothing across a restart")
        placed = order(ALICE, "LU-7K2F")
        draft = DraftRecord(ALICE, "expired", {"items": [{"item_id": "calzone"}]}, 3.0)
        await store.commit(Changes(ALICE, 2.0, snapshot("checkout", cart=[1, 2]),
                                   orders=[placed], drafts=[draft]))
        await store.close()

        async with backend.new_store() as reopened:
            assert await reopened.load_snapshot(ALICE) == snapshot("checkout", cart=[1, 2])
            assert await reopened.list_orders(ALICE) == [placed]
            assert await reopened.list_drafts(ALICE) == [draft]

    async def test_inbox_outbox_and_statuses_survive_close_and_reopen(
        self, backend: Backend, store: SessionStore
    ) -> None:
        if not backend.durable:
            pytest.skip(f"{backend.name} keeps nothing across a restart")
        await store.accept_inbound([inbound("wamid.1"), inbound("wamid.2", BOB)],
                                   [("US.alice", ALICE.customer_id)])
        await handled(store, "wamid.1", ALICE, 10.0, "a1", "a2")
        a1, a2 = await store.list_outbox()
        await store.outbox_sent(a1.id, "wamid.out1", 11.0)
        await store.outbox_retry(a2.id, 30.0, "HTTP 500")
        await store.record_status("wamid.out1", "delivered", 2, 12.0)
        outbox = await store.list_outbox()
        await store.close()

        async with backend.new_store() as reopened:
            assert await reopened.pending_inbound() == [inbound("wamid.2", BOB)]
            assert await reopened.inbox_state("wamid.1") == "processed"
            assert await reopened.accept_inbound([inbound("wamid.1")]) == []
            assert await reopened.list_outbox() == outbox
            assert texts(await reopened.pending_outbound(now=30.0)) == ["a2"]
            assert await reopened.message_status("wamid.out1") == "delivered"
            assert await reopened.resolve_customer("US.alice") == ALICE.customer_id
            await handled(reopened, "wamid.2", BOB, 40.0, "b1")
            with pytest.raises(AlreadyProcessed):
                await handled(reopened, "wamid.1", ALICE, 41.0, "again")
            assert texts(await reopened.list_outbox()) == ["a1", "a2", "b1"]

    async def test_use_after_close_raises_store_closed(self, store: SessionStore) -> None:
        await store.close()
        with pytest.raises(StoreClosed):
            await store.load_snapshot(ALICE)
        with pytest.raises(StoreClosed):
            await store.commit(Changes(ALICE, 1.0, snapshot("start")))
        with pytest.raises(StoreClosed):
            await store.delete_session(ALICE)
        with pytest.raises(StoreClosed):
            await store.list_sessions()
        with pytest.raises(StoreClosed):
            await store.reference_exists("luigis", "LU-1")
        with pytest.raises(StoreClosed):
            await store.accept_inbound([inbound("wamid.1")])
        with pytest.raises(StoreClosed):
            await store.pending_outbound(1.0)
        with pytest.raises(StoreClosed):
            await store.outbox_sent(1, "wamid.out", 1.0)
        with pytest.raises(StoreClosed):
            await store.record_status("wamid.out", "read", 3, 1.0)


@pytest.mark.parametrize("backend", ["memory", "sqlite"], indirect=True)
class TestInbox:
    async def test_accept_returns_only_ids_not_seen_before(self, store: SessionStore) -> None:
        assert await store.accept_inbound([inbound("wamid.1"), inbound("wamid.2")]) == [
            "wamid.1", "wamid.2"]
        assert await store.accept_inbound([inbound("wamid.2"), inbound("wamid.3")]) == [
            "wamid.3"]
        assert await store.accept_inbound([inbound("wamid.3")]) == []
        assert [r.message_id for r in await store.pending_inbound()] == [
            "wamid.1", "wamid.2", "wamid.3"]

    async def test_a_repeat_within_one_call_counts_once_and_keeps_the_first(
        self, store: SessionStore
    ) -> None:
        first, again = inbound("wamid.1", text="first"), inbound("wamid.1", text="again")
        new = await store.accept_inbound([first, inbound("wamid.2"), again])
        assert new == ["wamid.1", "wamid.2"]
        assert await store.pending_inbound() == [first, inbound("wamid.2")]

    async def test_records_round_trip(self, store: SessionStore) -> None:
        record = InboxRecord("wamid.bsuid", CAROL_AT_SUSHI, "109876543210002", None,
                             "US.abc123", 1_763_900_000, 1_763_900_002.25, b"\x00\xffraw")
        await store.accept_inbound([record])
        assert await store.pending_inbound() == [record]

    async def test_concurrent_deliveries_of_one_id_make_it_new_exactly_once(
        self, store: SessionStore
    ) -> None:
        calls = [[inbound("wamid.dup"), inbound(f"wamid.{i}")] for i in range(20)]
        results = await asyncio.gather(*(store.accept_inbound(call) for call in calls))

        assert sum(result.count("wamid.dup") for result in results) == 1
        for i, result in enumerate(results):
            assert f"wamid.{i}" in result
        assert len(await store.pending_inbound()) == 21

    async def test_a_processed_message_delivered_again_is_still_a_duplicate(
        self, store: SessionStore
    ) -> None:
        await store.accept_inbound([inbound("wamid.1")])
        await handled(store, "wamid.1", ALICE, 10.0, "Pizza or pasta?")
        assert await store.accept_inbound([inbound("wamid.1")]) == []
        assert await store.inbox_state("wamid.1") == "processed"
        assert await store.pending_inbound() == []

    async def test_pending_inbound_in_acceptance_order_and_limited(
        self, store: SessionStore
    ) -> None:
        await store.accept_inbound([inbound("wamid.c", BOB), inbound("wamid.a")])
        await store.accept_inbound([inbound("wamid.b", CAROL_AT_SUSHI)])
        await store.accept_inbound([inbound("wamid.0")])
        await handled(store, "wamid.a", ALICE, 5.0)

        pending = await store.pending_inbound()
        assert [r.message_id for r in pending] == ["wamid.c", "wamid.b", "wamid.0"]
        assert [r.key for r in pending] == [BOB, CAROL_AT_SUSHI, ALICE]
        assert [r.message_id for r in await store.pending_inbound(limit=2)] == [
            "wamid.c", "wamid.b"]
        assert await store.inbox_state("wamid.a") == "processed"
        assert await store.inbox_state("wamid.c") == "pending"
        assert await store.inbox_state("wamid.unknown") is None

    async def test_resolve_customer_from_the_identities_accepted(
        self, store: SessionStore
    ) -> None:
        await store.accept_inbound([inbound("wamid.1")], [("US.alice", "447700900001")])
        await store.accept_inbound([], [("US.bob", "447700900002")])
        assert await store.resolve_customer("US.alice") == "447700900001"
        assert await store.resolve_customer("US.bob") == "447700900002"
        assert await store.resolve_customer("US.nobody") is None

        await store.accept_inbound([], [("US.alice", "447700900009")])
        assert await store.resolve_customer("US.alice") == "447700900009"

    async def test_prune_forgets_only_old_processed_messages(self, store: SessionStore) -> None:
        await store.accept_inbound([inbound(f"wamid.{i}") for i in range(4)])
        await handled(store, "wamid.0", ALICE, 10.0)
        await handled(store, "wamid.1", ALICE, 20.0)
        await handled(store, "wamid.2", ALICE, 30.0)

        assert await store.prune_inbox(processed_before=25.0) == 2
        assert [await store.inbox_state(f"wamid.{i}") for i in range(4)] == [
            None, None, "processed", "pending"]
        assert await store.prune_inbox(processed_before=25.0) == 0
        assert await store.prune_inbox(processed_before=1e12) == 1
        assert await store.inbox_state("wamid.3") == "pending"
        # A pruned id is no longer a duplicate: the caller keeps 7 days for that.
        assert await store.accept_inbound([inbound("wamid.0")]) == ["wamid.0"]


@pytest.mark.parametrize("backend", ["memory", "sqlite"], indirect=True)
class TestProcessingCommit:
    async def test_marks_processed_and_queues_replies_in_the_same_commit(
        self, store: SessionStore
    ) -> None:
        await store.accept_inbound([inbound("wamid.1")])
        await handled(store, "wamid.1", ALICE, 50.0, "Delivery or pickup?", "Menu below")

        assert await store.inbox_state("wamid.1") == "processed"
        assert await store.pending_inbound() == []
        assert decode_snapshot(await store.load_snapshot(ALICE) or b"")["last"] == "wamid.1"
        rows = await store.list_outbox(ALICE)
        assert texts(rows) == ["Delivery or pickup?", "Menu below"]
        assert rows[0].id < rows[1].id
        for row in rows:
            assert (row.key, row.phone_number_id, row.kind, row.state) == (
                ALICE, LUIGIS_NUMBER, "message", "pending")
            assert (row.attempts, row.not_before, row.created_at) == (0, 50.0, 50.0)
            assert (row.wamid, row.error) == (None, None)

    async def test_commit_returns_the_rows_it_queued_as_stored(self, store: SessionStore) -> None:
        await store.accept_inbound([inbound("wamid.1"), inbound("wamid.2", BOB)])
        first = await store.commit(Changes(ALICE, 50.0, snapshot("browsing_items"),
                                           inbox_processed="wamid.1",
                                           outbox=[reply(ALICE, "one"), reply(ALICE, "two")]))
        second = await store.commit(Changes(BOB, 51.0, inbox_processed="wamid.2",
                                            outbox=[reply(BOB, "three")]))
        assert await store.commit(Changes(ALICE, 52.0, snapshot("checkout"))) == []
        assert [*first, *second] == await store.list_outbox()
        assert [row.id for row in [*first, *second]] == sorted({row.id for row in
                                                                [*first, *second]})

    async def test_processing_twice_fails_and_writes_nothing(self, store: SessionStore) -> None:
        await store.accept_inbound([inbound("wamid.1")])
        await handled(store, "wamid.1", ALICE, 50.0, "Delivery or pickup?")

        with pytest.raises(AlreadyProcessed):
            await store.commit(Changes(ALICE, 60.0, snapshot("checkout"),
                                       orders=[order(ALICE, "LU-0001")],
                                       inbox_processed="wamid.1",
                                       outbox=[reply(ALICE, "second answer")]))

        assert decode_snapshot(await store.load_snapshot(ALICE) or b"")["state"] == (
            "browsing_items")
        assert texts(await store.list_outbox()) == ["Delivery or pickup?"]
        assert await store.list_orders() == []
        [row] = await store.list_sessions()
        assert row.updated_at == 50.0

    async def test_concurrent_processing_of_one_message_commits_once(
        self, store: SessionStore
    ) -> None:
        await store.accept_inbound([inbound("wamid.1")])
        results = await asyncio.gather(
            handled(store, "wamid.1", ALICE, 50.0, "from worker one"),
            handled(store, "wamid.1", ALICE, 51.0, "from worker two"),
            return_exceptions=True,
        )
        assert sorted(type(result).__name__ for result in results) == [
            "AlreadyProcessed", "NoneType"]
        assert texts(await store.list_outbox()) == ["from worker one"]

    async def test_one_message_processed_under_two_customer_ids_commits_once(
        self, store: SessionStore
    ) -> None:
        # Different conversations may share a group commit: the guard must hold within one.
        await store.accept_inbound([inbound("wamid.1")])
        results = await asyncio.gather(
            handled(store, "wamid.1", ALICE, 50.0, "as alice"),
            handled(store, "wamid.1", BOB, 50.0, "as bob"),
            return_exceptions=True,
        )
        assert results[0] is None
        assert isinstance(results[1], AlreadyProcessed)
        assert texts(await store.list_outbox()) == ["as alice"]
        assert await store.load_snapshot(BOB) is None

    async def test_processing_an_unknown_message_fails_and_writes_nothing(
        self, store: SessionStore
    ) -> None:
        with pytest.raises(StorageError) as raised:
            await handled(store, "wamid.never-accepted", ALICE, 5.0, "hello")
        assert not isinstance(raised.value, AlreadyProcessed)
        assert await store.load_snapshot(ALICE) is None
        assert await store.list_outbox() == []
        assert await store.inbox_state("wamid.never-accepted") is None

    async def test_a_refused_commit_does_not_hold_up_others(self, store: SessionStore) -> None:
        await store.accept_inbound([inbound("wamid.1"), inbound("wamid.2", BOB)])
        await handled(store, "wamid.1", ALICE, 10.0, "first answer")
        results = await asyncio.gather(
            handled(store, "wamid.1", ALICE, 20.0, "again"),
            handled(store, "wamid.2", BOB, 20.0, "to bob"),
            store.commit(Changes(CAROL_AT_SUSHI, 20.0, snapshot("start"),
                                 outbox=[reply(CAROL_AT_SUSHI, "to carol")])),
            return_exceptions=True,
        )
        assert isinstance(results[0], AlreadyProcessed)
        assert not any(isinstance(result, BaseException) for result in results[1:])
        assert texts(await store.list_outbox()) == ["first answer", "to bob", "to carol"]


@pytest.mark.parametrize("backend", ["memory", "sqlite"], indirect=True)
class TestOutbox:
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


@pytest.mark.parametrize("backend", ["memory", "sqlite"], indirect=True)
class TestMessageStatus:
    async def test_status_never_goes_backwards(self, store: SessionStore) -> None:
        assert await store.message_status("wamid.out1") is None
        assert await store.record_status("wamid.out1", "sent", 1, 10.0) is True
        assert await store.record_status("wamid.out1", "read", 3, 12.0) is True
        assert await store.record_status("wamid.out1", "delivered", 2, 11.0) is False
        assert await store.record_status("wamid.out1", "read", 3, 13.0) is False
        assert await store.message_status("wamid.out1") == "read"

    async def test_concurrent_statuses_settle_on_the_highest_rank(
        self, store: SessionStore
    ) -> None:
        updates = [("read", 3), ("sent", 1), ("delivered", 2)] * 5
        changed = await asyncio.gather(*(store.record_status("wamid.out1", status, rank, 1.0)
                                         for status, rank in updates))
        assert changed[0] is True
        assert not any(changed[1:])
        assert await store.message_status("wamid.out1") == "read"
        assert await store.message_status("wamid.other") is None
