"""The contract of :class:`storage.staff.OrderBoard` and of order moves in a commit."""

import asyncio
from dataclasses import replace

import pytest

from storage.base import Changes, SessionKey, SessionStore
from storage.errors import OrderStatusChanged, StorageError
from storage.staff import OrderEvent, OrderMove
from tests.storage.contract.support import ALICE, BOB, CAROL_AT_SUSHI, order


def move(reference: str, from_status: str, to_status: str, at: float,
         actor: str = "sam", reason: str | None = None) -> OrderMove:
    return OrderMove(reference, from_status, to_status, actor, at, reason)


class TestOrderBoard:
    """Orders of a restaurant, newest first, by status, a page at a time."""

    async def test_orders_newest_first_filtered_and_paged(self, store: SessionStore) -> None:
        placed = [order(ALICE, "LU-1", 10.0), order(BOB, "LU-2", 20.0),
                  order(ALICE, "LU-3", 30.0), order(CAROL_AT_SUSHI, "SU-1", 25.0)]
        for placed_order in placed:
            await store.commit(Changes(ALICE, placed_order.created_at, orders=[placed_order]))
        await store.commit(Changes(BOB, 40.0, order_moves=[move("LU-2", "CONFIRMED",
                                                                "PREPARING", 40.0)]))
        lu1, lu2, lu3, su1 = placed
        lu2 = replace(lu2, status="PREPARING", updated_at=40.0)

        assert await store.orders("luigis") == [lu3, lu2, lu1]
        assert await store.orders("sushi") == [su1]
        assert await store.orders("luigis", limit=2) == [lu3, lu2]
        assert await store.orders("luigis", limit=2, before=20.0) == [lu1]
        assert await store.orders("luigis", before=10.0) == []
        assert await store.orders("luigis", status="CONFIRMED") == [lu3, lu1]
        assert await store.orders("luigis", status="CONFIRMED", before=30.0) == [lu1]
        assert await store.orders("luigis", status="PREPARING") == [lu2]
        assert await store.orders("luigis", limit=-1) == []
        assert await store.orders("nowhere") == []

    async def test_equal_times_list_the_later_commit_first(self, store: SessionStore) -> None:
        first, second = order(ALICE, "LU-1", 10.0), order(BOB, "LU-2", 10.0)
        await store.commit(Changes(ALICE, 10.0, orders=[first]))
        await store.commit(Changes(BOB, 10.0, orders=[second]))
        assert await store.orders("luigis") == [second, first]
        assert await store.latest_order(ALICE) == first

    async def test_one_order_and_a_conversations_latest(self, store: SessionStore) -> None:
        early, late = order(ALICE, "LU-1", 10.0), order(ALICE, "LU-2", 20.0)
        await store.commit(Changes(ALICE, 20.0, orders=[late]))
        await store.commit(Changes(ALICE, 21.0, orders=[early]))
        await store.commit(Changes(BOB, 30.0, orders=[order(BOB, "LU-3", 30.0)]))

        assert await store.order("luigis", "LU-1") == early
        assert await store.order("sushi", "LU-1") is None
        assert await store.order("luigis", "LU-9") is None
        assert await store.latest_order(ALICE) == late
        assert await store.latest_order(CAROL_AT_SUSHI) is None


class TestOrderMoves:
    """Changes.order_moves: checked against the order's status, atomically."""

    async def test_a_legal_sequence_moves_the_order_and_writes_its_history(
        self, store: SessionStore
    ) -> None:
        placed = order(ALICE, "LU-1", 10.0)
        await store.commit(Changes(ALICE, 10.0, orders=[placed]))
        await store.commit(Changes(ALICE, 11.0, order_moves=[
            move("LU-1", "CONFIRMED", "PREPARING", 11.0)]))
        await store.commit(Changes(ALICE, 12.0, order_moves=[
            move("LU-1", "PREPARING", "OUT_FOR_DELIVERY", 12.0, actor="admin")]))
        await store.commit(Changes(ALICE, 13.0, order_moves=[
            move("LU-1", "OUT_FOR_DELIVERY", "COMPLETED", 13.0, actor="bot")]))

        moved = await store.order("luigis", "LU-1")
        assert moved == replace(placed, status="COMPLETED", updated_at=13.0)
        assert await store.list_orders(ALICE) == [moved]
        assert await store.order_history("luigis", "LU-1") == [
            OrderEvent(None, "CONFIRMED", "customer", 10.0),
            OrderEvent("CONFIRMED", "PREPARING", "sam", 11.0),
            OrderEvent("PREPARING", "OUT_FOR_DELIVERY", "admin", 12.0),
            OrderEvent("OUT_FOR_DELIVERY", "COMPLETED", "bot", 13.0),
        ]
        assert await store.order_history("luigis", "LU-9") == []
        assert await store.order_history("sushi", "LU-1") == []

    async def test_a_cancellation_keeps_its_reason(self, store: SessionStore) -> None:
        await store.commit(Changes(ALICE, 10.0, orders=[order(ALICE, "LU-1", 10.0)]))
        await store.commit(Changes(ALICE, 11.0, order_moves=[
            move("LU-1", "CONFIRMED", "CANCELLED", 11.0, actor="customer",
                 reason="changed my mind")]))
        history = await store.order_history("luigis", "LU-1")
        assert history[-1] == OrderEvent("CONFIRMED", "CANCELLED", "customer", 11.0,
                                         "changed my mind")

    async def test_a_move_from_a_stale_status_is_refused(self, store: SessionStore) -> None:
        await store.commit(Changes(ALICE, 10.0, orders=[order(ALICE, "LU-1", 10.0)]))
        await store.commit(Changes(ALICE, 11.0, order_moves=[
            move("LU-1", "CONFIRMED", "PREPARING", 11.0)]))
        with pytest.raises(OrderStatusChanged) as refused:
            await store.commit(Changes(BOB, 12.0, order_moves=[
                move("LU-1", "CONFIRMED", "CANCELLED", 12.0)]))
        assert (refused.value.reference, refused.value.expected, refused.value.current) == (
            "LU-1", "CONFIRMED", "PREPARING")
        assert (await store.order("luigis", "LU-1") or order(ALICE, "?")).status == "PREPARING"
        assert len(await store.order_history("luigis", "LU-1")) == 2

    async def test_moving_an_unknown_order_is_refused(self, store: SessionStore) -> None:
        await store.commit(Changes(CAROL_AT_SUSHI, 10.0, orders=[order(CAROL_AT_SUSHI, "LU-1")]))
        with pytest.raises(StorageError) as refused:
            # Moves are of the commit's restaurant: sushi's LU-1 is not luigis's.
            await store.commit(Changes(ALICE, 11.0, order_moves=[
                move("LU-1", "CONFIRMED", "PREPARING", 11.0)]))
        assert not isinstance(refused.value, OrderStatusChanged)
        assert await store.order_history("luigis", "LU-1") == []

    async def test_one_bad_move_refuses_the_others_of_its_commit(
        self, store: SessionStore
    ) -> None:
        await store.commit(Changes(ALICE, 10.0, orders=[order(ALICE, "LU-1"),
                                                        order(ALICE, "LU-2")]))
        with pytest.raises(OrderStatusChanged):
            await store.commit(Changes(ALICE, 11.0, order_moves=[
                move("LU-1", "CONFIRMED", "PREPARING", 11.0),
                move("LU-2", "READY", "COMPLETED", 11.0)]))
        assert [o.status for o in await store.orders("luigis")] == ["CONFIRMED", "CONFIRMED"]
        assert len(await store.order_history("luigis", "LU-1")) == 1

    async def test_two_moves_of_one_order_in_one_commit_apply_in_order(
        self, store: SessionStore
    ) -> None:
        await store.commit(Changes(ALICE, 10.0, orders=[order(ALICE, "LU-1")], order_moves=[
            move("LU-1", "CONFIRMED", "PREPARING", 11.0),
            move("LU-1", "PREPARING", "READY", 12.0)]))
        assert (await store.order("luigis", "LU-1") or order(ALICE, "?")).status == "READY"
        assert [event.to_status for event in await store.order_history("luigis", "LU-1")] == [
            "CONFIRMED", "PREPARING", "READY"]

    async def test_concurrent_moves_of_one_order_decide_in_call_order(
        self, store: SessionStore
    ) -> None:
        # Different conversations may share a group commit: each move must see
        # the one queued before it, and the order's rows end as the last left them.
        await store.commit(Changes(ALICE, 10.0, orders=[order(ALICE, "LU-1")]))
        results = await asyncio.gather(
            store.commit(Changes(ALICE, 11.0, order_moves=[
                move("LU-1", "CONFIRMED", "PREPARING", 11.0)])),
            store.commit(Changes(BOB, 12.0, order_moves=[
                move("LU-1", "CONFIRMED", "CANCELLED", 12.0)])),
            store.commit(Changes(SessionKey("luigis", "447700900009"), 13.0, order_moves=[
                move("LU-1", "PREPARING", "READY", 13.0)])),
            return_exceptions=True,
        )
        assert results[0] == [] and results[2] == []
        assert isinstance(results[1], OrderStatusChanged)
        assert results[1].current == "PREPARING"
        assert await store.order("luigis", "LU-1") == replace(
            order(ALICE, "LU-1"), status="READY", updated_at=13.0)
        assert [event.to_status for event in await store.order_history("luigis", "LU-1")] == [
            "CONFIRMED", "PREPARING", "READY"]

    async def test_an_order_created_by_a_concurrent_commit_can_be_moved(
        self, store: SessionStore
    ) -> None:
        results = await asyncio.gather(
            store.commit(Changes(ALICE, 10.0, orders=[order(ALICE, "LU-1", 10.0)])),
            store.commit(Changes(BOB, 11.0, order_moves=[
                move("LU-1", "CONFIRMED", "PREPARING", 11.0)])),
        )
        assert list(results) == [[], []]
        assert (await store.order("luigis", "LU-1") or order(ALICE, "?")).status == "PREPARING"
