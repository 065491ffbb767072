"""The contract of :class:`storage.roles.RecordStorage`: orders, drafts, quarantine."""

import asyncio

import pytest

from storage.base import Changes, DraftRecord, QuarantineRecord, SessionStore
from storage.errors import DuplicateOrderReference
from tests.storage.contract.support import ALICE, BOB, CAROL_AT_SUSHI, order, snapshot


class TestRecordStorage:
    """Records a commit writes and the role reads back."""

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
