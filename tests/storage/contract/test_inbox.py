"""The contract of :class:`storage.mail.InboxStorage`: messages acknowledged to Meta."""

import asyncio

from storage.base import InboxRecord, SessionStore
from tests.storage.contract.support import ALICE, BOB, CAROL_AT_SUSHI, handled, inbound


class TestInbox:
    """Acceptance, deduplication, pending messages, identities, pruning."""

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
