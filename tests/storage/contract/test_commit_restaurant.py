"""What a commit writes for the restaurant: order moves with their notification and log rows.

A staff action (an order move, a reply) is committed like the bot's own
replies: the move, the outbox row telling the customer and the log row
showing it to staff land together or not at all.
"""

import asyncio

import pytest

from storage.base import Changes, SessionKey, SessionStore
from storage.errors import OrderStatusChanged
from storage.staff import ConversationChange, LoggedMessage, OrderEvent, OrderMove
from tests.storage.contract.support import ALICE, BOB, inbound, order, reply, snapshot, texts


def notified(to_status: str, at: float, from_status: str = "CONFIRMED") -> Changes:
    """Staff move ALICE's LU-1 and tell her, in one commit."""
    text = f"Your order is {to_status.lower()}"
    return Changes(ALICE, at, outbox=[reply(ALICE, text)],
                   log=[LoggedMessage("out", "text", text, "sam", at, outbox_index=0)],
                   conversation=ConversationChange(outbound_at=at),
                   order_moves=[OrderMove("LU-1", from_status, to_status, "sam", at)])


class TestCommitForTheRestaurant:
    """Changes.order_moves, .log and .conversation in one transaction."""

    async def test_a_move_its_notification_and_its_log_row_land_together(
        self, store: SessionStore
    ) -> None:
        await store.commit(Changes(ALICE, 10.0, orders=[order(ALICE, "LU-1", 10.0)]))
        [row] = await store.commit(notified("PREPARING", 20.0))

        assert texts(await store.list_outbox(ALICE)) == ["Your order is preparing"]
        assert (await store.order("luigis", "LU-1") or order(ALICE, "?")).status == "PREPARING"
        assert (await store.conversation(ALICE) or pytest.fail()).last_message_at == 20.0

        async def log() -> list[tuple[str, str, str | None]]:
            return [(m.text, m.author, m.status) for m in await store.messages(ALICE)]

        assert await log() == [("Your order is preparing", "sam", "pending")]
        await store.outbox_sent(row.id, "wamid.out1", 21.0)
        assert await log() == [("Your order is preparing", "sam", "sent")]
        await store.record_status("wamid.out1", "delivered", 2, 22.0)
        assert await log() == [("Your order is preparing", "sam", "delivered")]
        await store.record_status("wamid.out1", "read", 3, 23.0)
        assert await log() == [("Your order is preparing", "sam", "read")]

    async def test_a_stale_move_writes_nothing_of_its_commit(self, store: SessionStore) -> None:
        await store.commit(Changes(ALICE, 10.0, orders=[order(ALICE, "LU-1", 10.0)]))
        await store.commit(Changes(BOB, 11.0, order_moves=[
            OrderMove("LU-1", "CONFIRMED", "CANCELLED", "admin", 11.0, "out of dough")]))
        await store.accept_inbound([inbound("wamid.1")])
        stale = notified("PREPARING", 20.0)
        stale.snapshot = snapshot("browsing_items")
        stale.inbox_processed = "wamid.1"
        stale.log.insert(0, LoggedMessage("in", "text", "hi", "customer", 19.0, "wamid.1"))

        with pytest.raises(OrderStatusChanged) as refused:
            await store.commit(stale)

        assert refused.value.current == "CANCELLED"
        assert await store.list_outbox() == []
        assert await store.messages(ALICE) == []
        assert await store.conversation(ALICE) is None
        assert await store.load_snapshot(ALICE) is None
        assert await store.inbox_state("wamid.1") == "pending"
        assert (await store.order("luigis", "LU-1") or order(ALICE, "?")).status == "CANCELLED"
        assert await store.order_history("luigis", "LU-1") == [
            OrderEvent(None, "CONFIRMED", "customer", 10.0),
            OrderEvent("CONFIRMED", "CANCELLED", "admin", 11.0, "out of dough")]

    async def test_a_refused_move_leaves_its_batch_as_if_it_never_came(
        self, store: SessionStore
    ) -> None:
        # The refused commit names the inbox message and the order first: the
        # commits queued behind it must not see its processed mark or its move.
        await store.commit(Changes(ALICE, 10.0, orders=[order(ALICE, "LU-1", 10.0)]))
        await store.accept_inbound([inbound("wamid.1")])
        stale = notified("READY", 20.0, from_status="PREPARING")
        stale.inbox_processed = "wamid.1"
        results = await asyncio.gather(
            store.commit(stale),
            store.commit(Changes(BOB, 21.0, inbox_processed="wamid.1",
                                 outbox=[reply(BOB, "processed here")])),
            store.commit(Changes(SessionKey("luigis", "447700900009"), 22.0, order_moves=[
                OrderMove("LU-1", "CONFIRMED", "PREPARING", "ana", 22.0)])),
            return_exceptions=True,
        )
        assert isinstance(results[0], OrderStatusChanged)
        assert not any(isinstance(result, BaseException) for result in results[1:])
        assert await store.inbox_state("wamid.1") == "processed"
        assert texts(await store.list_outbox()) == ["processed here"]
        assert await store.messages(ALICE) == []
        assert (await store.order("luigis", "LU-1") or order(ALICE, "?")).status == "PREPARING"
