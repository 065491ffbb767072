"""The contract of :class:`storage.roles.UnitOfWork` open/close: durability, closed stores."""

import pytest

from storage.base import Changes, DraftRecord, SessionStore
from storage.errors import AlreadyProcessed, StoreClosed
from tests.storage.contract.support import (
    ALICE,
    BOB,
    Backend,
    handled,
    inbound,
    order,
    snapshot,
    texts,
)


class TestLifecycle:
    """What survives close and open, and what a closed store does."""

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
