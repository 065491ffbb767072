"""One behaviour, every backend: the contract of :class:`storage.base.SessionStore`."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from storage.base import (
    Changes,
    DraftRecord,
    OrderRecord,
    QuarantineRecord,
    SessionKey,
    SessionStore,
    order_lines,
)
from storage.codec import MAX_SNAPSHOT_BYTES, decode_snapshot, encode_snapshot
from storage.errors import DuplicateOrderReference, SnapshotTooLarge, StoreClosed
from storage.memory import MemoryStore
from storage.sqlite import SQLiteStore

ALICE = SessionKey("luigis", "447700900001")
BOB = SessionKey("luigis", "447700900002")
CAROL_AT_SUSHI = SessionKey("sushi", "447700900003")


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
